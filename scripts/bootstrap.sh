#!/usr/bin/env bash
# Every system package the full tier needs, installed first (scripts/test.sh's first step), so
# no step depends on what a later one installs: a fresh machine and one that ran the tier before
# behave the same. Idempotent: installs nothing when all are present. Run as root (apt).
# Tools that would detect something from the machine are told explicitly where they run
# (ansible-builder create --output-filename Containerfile in scripts/publish-checks.sh).
set -euo pipefail

# One line per reason; keep each package's reason next to it.
SYSTEM_PACKAGES=(
  podman mmdebstrap        # the test host images and the molecule scenarios (rootful podman)
  systemd                  # systemd-analyze verify (tests/unit/test_systemd_quote.py)
  util-linux               # setpriv, unshare (tests that run a process as another user, mount namespaces)
  iproute2 procps          # ss, ps, kill in scripts and tests
  git make                 # the checkout itself; ansible-test and sanity.sh list files through git
  openssh-client           # Ansible's ssh connection (tests/unit/test_fleet_status.py: an unreachable host)
  libpython3.11            # tests run the venv's interpreter as another user (setpriv): it cannot read pyenv's
                           # libpython under /root, and the loader falls back to Debian's
  ca-certificates          # HTTPS to the package index
  python3.11-venv          # the wheelhouse is resolved with Debian's python3.11 (the test hosts' interpreter)
                           # in a venv of its own: without ensurepip a fresh machine fails there
)

log() { printf '[bootstrap] %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || { log "ERROR: run as root (apt-get install)"; exit 1; }

missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A broken third-party source must not stop us; the install below still fails loudly.
  apt-get update -qq || log "apt-get update reported errors; trying the install anyway"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "system packages present (${#SYSTEM_PACKAGES[@]})"
fi
