#!/usr/bin/env bash
# Build localhost/openclaw-testhost:fleet: the test host image with the vLLM CPU venv already
# built, for the molecule scenario `fleet` (three hosts). CI affords one venv build per host
# image, not one per host: the build happens once here, and the three fleet hosts find the
# role's marker and skip it.
#
# How: a temporary container from localhost/openclaw-testhost:bookworm with the wheelhouse
# mounted (as .config/molecule/config.yml mounts it), the collection's openclaw.vllm.vllm_venv
# role applied to it alone, with the demo inventory's group_vars (so the build lands at exactly
# the path and build id the role computes on the fleet hosts), `podman commit`, and the
# temporary container removed.
#
# Idempotent: the image carries a label with a hash of what shapes the build (the base image,
# the wheelhouse's stamp and pins, the test aids' stamps, and the build directory name the role computes from its pins,
# also a label, org.openclaw.fleet.build); when it matches, nothing is done. Holds
# /tmp/molecule.lock while it creates containers (others run molecule scenarios on this
# machine), unless OPENCLAW_MOLECULE_LOCK_HELD=1 (the caller holds it).
#
# Environment:
#   FORCE=1            rebuild even if the label matches
#   BASE=NAME:TAG      base image (default localhost/openclaw-testhost:bookworm)
#   IMAGE=NAME:TAG     result (default localhost/openclaw-testhost:fleet)
#   WHEELHOUSE=DIR     default .cache/wheelhouse (scripts/build-wheelhouse.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

BASE=${BASE:-localhost/openclaw-testhost:bookworm}
IMAGE=${IMAGE:-localhost/openclaw-testhost:fleet}
WHEELHOUSE=${WHEELHOUSE:-.cache/wheelhouse}
WHEELHOUSE=$(cd "$WHEELHOUSE" && pwd)
ROLE_DIR=collections/ansible_collections/openclaw/vllm/roles/vllm_venv
GROUP_VARS=inventory/demo/group_vars
BUILDER=openclaw-fleet-image-build
# Bump when this recipe changes in a way the hash cannot see.
RECIPE_VERSION=1
INPUTS_LABEL=org.openclaw.fleet.inputs
BUILD_LABEL=org.openclaw.fleet.build

log() { printf '[fleet-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (rootful podman)"
base_id=$(podman image inspect --format '{{.Id}}' "$BASE" 2>/dev/null) ||
  die "no base image $BASE: run scripts/testhost-image.sh first"
[[ -f $WHEELHOUSE/.wheelhouse-stamp ]] || die "no wheelhouse in $WHEELHOUSE: run scripts/build-wheelhouse.sh first"

# The build directory the role will compute on the fleet hosts (builds/vllm-<accel>-<id>), from
# its own defaults and vars with the demo group_vars, as the role reads them.
expected_build() {
  local play
  play=$(mktemp /tmp/openclaw-fleet-build-id.XXXXXX.yml)
  cat >"$play" <<EOF
- name: The vllm_venv role's build directory for the demo group_vars
  hosts: localhost
  gather_facts: false
  vars_files:
    - $PWD/$ROLE_DIR/defaults/main.yml
    - $PWD/$GROUP_VARS/vllm_hosts.yml
    - $PWD/$ROLE_DIR/vars/main.yml
  tasks:
    - name: Print it
      ansible.builtin.debug:
        msg: "BUILD={{ _vllm_venv_build_dir | basename }}"
EOF
  ANSIBLE_COLLECTIONS_PATH="$PWD/collections" ansible-playbook -i localhost, -c local "$play" 2>/dev/null |
    grep -o 'BUILD=[A-Za-z0-9._-]*' | cut -d= -f2 || true
  rm -f "$play"
}
want_build=$(expected_build)
# What shapes the venv: the base image (its Python), the wheelhouse, and the pins, which the
# build directory's name hashes. If the role no longer computes it that way, fall back to the
# role's tasks, vars and defaults.
inputs=$(
  {
    echo "v$RECIPE_VERSION base=$base_id build=${want_build:-unknown}"
    cat "$WHEELHOUSE/.wheelhouse-stamp" "$WHEELHOUSE/requirements-nodeps.txt"
    # The test aids' wheels (scripts/build-test-wheels.sh): a changed aid keeps its package name,
    # so the build id alone would not see it.
    cat "$WHEELHOUSE"/.test-aid-* 2>/dev/null || true
    if [[ -z $want_build ]]; then
      find "$ROLE_DIR"/tasks "$ROLE_DIR"/vars "$ROLE_DIR"/defaults "$GROUP_VARS"/ -type f -print0 |
        LC_ALL=C sort -z | xargs -0 sha256sum
    fi
  } | sha256sum | cut -c1-16
)
have=$(podman image inspect --format "{{index .Labels \"$INPUTS_LABEL\"}}" "$IMAGE" 2>/dev/null || true)
if [[ ${FORCE:-0} != 1 && $have == "$inputs" ]]; then
  log "image $IMAGE is up to date (inputs $inputs, build $(podman image inspect --format "{{index .Labels \"$BUILD_LABEL\"}}" "$IMAGE"))"
  echo "$IMAGE"
  exit 0
fi
[[ -n $have ]] && log "image $IMAGE has inputs '$have', want $inputs: rebuilding"

if [[ ${OPENCLAW_MOLECULE_LOCK_HELD:-0} != 1 ]]; then
  exec 9>/tmp/molecule.lock
  log "waiting for /tmp/molecule.lock"
  flock 9
fi

start=$SECONDS
tmp=$(mktemp -d /var/tmp/openclaw-fleet-image.XXXXXX)
cleanup() {
  podman rm --force --time 0 "$BUILDER" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
podman rm --force --time 0 "$BUILDER" >/dev/null 2>&1 || true

# No systemd in the builder: the venv role needs none, and nothing of a boot (machine-id,
# journal, user sessions) ends up in the image.
podman run --detach --name "$BUILDER" --systemd=false \
  --volume "$WHEELHOUSE:/srv/wheelhouse:ro" "$BASE" sleep infinity >/dev/null

mkdir -p "$tmp/inventory"
ln -s "$PWD/$GROUP_VARS" "$tmp/inventory/group_vars"
cat >"$tmp/inventory/hosts.yml" <<EOF
all:
  children:
    vllm_hosts:
      hosts:
        $BUILDER:
          ansible_connection: containers.podman.podman
          ansible_python_interpreter: /usr/bin/python3
EOF
cat >"$tmp/venv.yml" <<'EOF'
- name: Build the vLLM venv of the fleet image (the vllm_venv role alone)
  hosts: vllm_hosts
  gather_facts: false
  roles:
    - role: openclaw.vllm.vllm_venv
EOF
log "building the venv in $BUILDER (vllm_venv role, demo group_vars)"
ANSIBLE_COLLECTIONS_PATH="$PWD/collections" ANSIBLE_CALLBACKS_ENABLED=ansible.posix.timer \
  ANSIBLE_CALLBACK_RESULT_FORMAT=yaml \
  ansible-playbook -i "$tmp/inventory/hosts.yml" "$tmp/venv.yml"
build=$(podman exec "$BUILDER" ls /opt/openclaw-vllm/builds | paste -sd, -)
[[ -n $build ]] || die "the role left no build under /opt/openclaw-vllm/builds"
if [[ -n $want_build && $build != "$want_build" ]]; then
  die "the role built $build, expected $want_build: the fleet hosts would build again"
fi
podman exec "$BUILDER" sh -c 'rm -rf /root/.ansible /root/.cache /tmp/* /var/tmp/*'

old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman kill --signal KILL "$BUILDER" >/dev/null # sleep as PID 1 ignores the image's STOPSIGNAL
podman wait "$BUILDER" >/dev/null
podman commit --quiet \
  --change 'CMD ["/sbin/init"]' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change "LABEL $INPUTS_LABEL=$inputs" \
  --change "LABEL $BUILD_LABEL=$build" \
  "$BUILDER" "$IMAGE" >/dev/null
if [[ -n $old_id && $old_id != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]]; then
  podman rmi "$old_id" >/dev/null 2>&1 || log "kept previous image ${old_id:0:12} (still in use)"
fi
log "built $IMAGE (build $build, inputs $inputs) in $((SECONDS - start)) s"
echo "$IMAGE"
