#!/usr/bin/env bash
# make cuda-check: the real CUDA build of the vllm_venv role, from the registry, with its defaults
# (vllm_venv_pin and the collection's lock), on a CPU test host. Not part of `make test`: it
# downloads about 4.3 GB and needs about 14 GiB of disk (make test checks the locks against the
# registry's metadata instead, in seconds).
#
# How: a container from the test host image (no systemd needed: the venv role manages files),
# nvidia-smi there a TEST DOUBLE (tests/fakes/nvidia-smi, an H100 with driver 580.65.06: this
# machine has no GPU), this machine's CA bundle given to pip (vllm_venv_ca_bundle), the role
# applied twice. Then it checks:
#   - the lock was installed in hash mode, and every package of the build is the locked version
#     (no more, no fewer);
#   - `import vllm, torch` works, at the pinned versions;
#   - vLLM's own parser accepts every flag the vllm_service unit passes to a CUDA build;
#   - the second run is changed=0;
# and prints the time, the download, the installed size and the peak extra disk.
#
# Environment: PIN=0.33.0 (vllm_venv_pin), KEEP=1 keeps the container, IMAGE=... the base image.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
PIN=${PIN:-0.33.0}
IMAGE=${IMAGE:-localhost/openclaw-testhost:bookworm}
NAME=openclaw-cuda-check
ROLES=collections/ansible_collections/openclaw/vllm/roles
log() { printf '[cuda-check] %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

podman image exists "$IMAGE" || die "no image $IMAGE: run scripts/testhost-image.sh first"
tmp=$(mktemp -d /var/tmp/openclaw-cuda-check.XXXXXX)
cleanup() {
  [[ ${KEEP:-0} == 1 ]] || podman rm --force --time 0 "$NAME" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
podman rm --force --time 0 "$NAME" >/dev/null 2>&1 || true
podman run --detach --name "$NAME" --systemd=false "$IMAGE" sleep infinity >/dev/null

# The nvidia-smi TEST DOUBLE, answering for one H100.
python - "$tmp/smi" <<'EOF'
import sys
sys.path.insert(0, "tests")
from helpers.gpu_double import H100, gpu_host
gpu_host(sys.argv[1], [H100])
EOF
podman cp tests/fakes/nvidia-smi "$NAME:/usr/local/lib/fake-nvidia-smi"
podman cp "$tmp/smi" "$NAME:/etc/fake-nvidia-smi"
podman exec "$NAME" sh -c 'printf "#!/bin/sh\nFAKE_NVIDIA_SMI_DIR=/etc/fake-nvidia-smi exec python3 /usr/local/lib/fake-nvidia-smi \"\$@\"\n" >/usr/local/bin/nvidia-smi && chmod 0755 /usr/local/bin/nvidia-smi'
podman cp /etc/ssl/certs/ca-certificates.crt "$NAME:/etc/openclaw-ca.pem"

cat >"$tmp/hosts.yml" <<EOF
all:
  hosts:
    $NAME:
      ansible_connection: containers.podman.podman
      ansible_python_interpreter: /usr/bin/python3
      vllm_venv_accelerator: cuda
      vllm_venv_pin: "$PIN"
      vllm_venv_ca_bundle: /etc/openclaw-ca.pem
EOF
cat >"$tmp/play.yml" <<'EOF'
- name: The CUDA build, from the registry (the vllm_venv role alone)
  hosts: all
  gather_facts: false
  roles:
    - role: openclaw.vllm.vllm_venv
EOF

net_rx() { podman exec "$NAME" awk 'NR > 2 && $1 != "lo:" { sum += $2 } END { printf "%.0f\n", sum }' /proc/net/dev; }
disk_used() { df --output=used -B1 /var/lib/containers | tail -1; }
run_role() {
  ANSIBLE_COLLECTIONS_PATH="$PWD/collections" ANSIBLE_CALLBACK_RESULT_FORMAT=yaml \
    ansible-playbook -i "$tmp/hosts.yml" "$tmp/play.yml"
}

# The peak: sample the disk every 2 s while the first run builds.
used_before=$(disk_used)
rx_before=$(net_rx)
(while :; do disk_used; sleep 2; done) >"$tmp/disk" &
sampler=$!
start=$SECONDS
run_role | tee "$tmp/first.log" || { kill "$sampler"; die "the first run failed (above)"; }
first_s=$((SECONDS - start))
kill "$sampler"
rx=$(($(net_rx) - rx_before))
peak=$(($(sort -n "$tmp/disk" | tail -1) - used_before))

start=$SECONDS
run_role | tee "$tmp/second.log" || die "the second run failed (above)"
second_s=$((SECONDS - start))
grep -Eq "$NAME +: ok=[0-9]+ +changed=0 " "$tmp/second.log" || die "the second run changed something"

build=$(podman exec "$NAME" readlink -f /opt/openclaw-vllm/current)
# The flags the unit passes to a CUDA build (with a key: --middleware; auto tool choice on), from
# the vllm_service role's own vars.
cat >"$tmp/flags.yml" <<EOF
- name: The vllm_service role's options for a CUDA build
  hosts: localhost
  gather_facts: false
  vars_files:
    - $PWD/$ROLES/vllm_service/defaults/main.yml
    - $PWD/$ROLES/vllm_service/vars/main.yml
  tasks:
    - name: Print them
      ansible.builtin.copy:
        content: "{{ _vllm_service_options | to_json }}"
        dest: "$tmp/flags.json"
        mode: "0644"
EOF
ANSIBLE_COLLECTIONS_PATH="$PWD/collections" ansible-playbook -i localhost, -c local \
  -e ansible_python_interpreter="$(command -v python)" -e "{\"vllm_venv_pin\": \"$PIN\",
    \"vllm_service_api_key\": \"not-a-real-key\", \"vllm_service_enable_auto_tool_choice\": true,
    \"__vllm_service_host\": {\"stdout_lines\": [\"venv_resolved=$build\", \"model_resolved=/m/v1\"]}}" \
  "$tmp/flags.yml" >/dev/null ||
  die "could not render the unit's flags"
podman cp "$tmp/flags.json" "$NAME:/tmp/flags.json"

podman exec -i -e VLLM_TARGET_DEVICE=cpu "$NAME" "$build/bin/python" - "$PIN" <<'EOF' || die "the build's checks (above)"
import importlib.metadata as md, json, re, sys
pin = sys.argv[1]
build = sys.prefix
lock = open(build + "/openclaw-lock.txt").read()
locked = {re.sub(r"[-_.]+", "-", name).lower(): version
          for name, version in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock, re.M)}
installed = {re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower(): dist.version for dist in md.distributions()}
installed.pop("pip", None)  # the venv's own pip
wrong = {name: (installed.get(name), version) for name, version in locked.items() if installed.get(name) != version}
extra = sorted(set(installed) - set(locked))
assert not wrong, "not at the locked version (installed, locked): %s" % wrong
assert not extra, "installed but not locked: %s" % extra
import torch, vllm
assert md.version("vllm") == pin, md.version("vllm")
print("packages: %d, all at the locked version; vllm %s, torch %s (CUDA %s)"
      % (len(locked), md.version("vllm"), torch.__version__, torch.version.cuda))
flags = json.load(open("/tmp/flags.json"))
try:  # where `vllm serve` takes them from (vllm/entrypoints/cli/serve.py, 0.33 and 0.34)
    from vllm.entrypoints.common.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser
except ImportError as exc:
    sys.exit("vLLM's serve parser cannot be imported: %s" % exc)
parser = make_arg_parser(FlexibleArgumentParser())
args = parser.parse_args(["/m/v1"] + flags)  # exits 2 naming a flag it does not know
assert args.gpu_memory_utilization == float(flags[flags.index("--gpu-memory-utilization") + 1])
print("vLLM's own parser accepts the unit's flags: %s" % " ".join(flags))
EOF

installed=$(podman exec "$NAME" du -sb "$build" | cut -f1)
marker=$(podman exec "$NAME" cat "$build/.openclaw-build.json")
lock_bytes=$(python - "$PIN" "$marker" <<'EOF'
import json, sys
python = ".".join(json.loads(sys.argv[2])["python"]["version"].split(".")[:2])
index = json.load(open("collections/ansible_collections/openclaw/vllm/roles/vllm_venv/files/locks/index.json"))
print(index["locks"]["vllm-%s-cuda-py%s" % (sys.argv[1], python)]["download_bytes"])
EOF
)
gib() { python3 -c "print('%.2f GiB' % ($1 / 2**30))"; }
log "vllm $PIN, cuda, lock $(basename "$(podman exec "$NAME" sh -c "ls $build/openclaw-lock.txt")") in $build"
log "first run: ${first_s} s; second run: ${second_s} s, changed=0"
log "downloaded: $(gib "$rx") (network, container), the lock says $(gib "$lock_bytes")"
log "installed: $(gib "$installed"); peak extra disk during the build: $(gib "$peak")"
log "ok"
