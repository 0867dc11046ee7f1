#!/usr/bin/env bash
# Build the local podman image the molecule scenarios boot as a test host with
# real systemd (PID 1), and apply the host fixes podman needs on this kind of VM.
# See DESIGN.md, "A test host with real systemd". Run as root; idempotent:
# a second run installs nothing, changes nothing and rebuilds nothing.
#
# Environment:
#   FORCE=1          rebuild the image even if one with the same recipe hash exists
#   MIRROR=URL       Debian mirror (default: the one this host's apt sources use,
#                    else http://deb.debian.org/debian)
#   SUITE=NAME       Debian suite: bookworm (Debian 12, default) or trixie (Debian 13)
#   IMAGE=NAME:TAG   image name (default localhost/openclaw-testhost:$SUITE)
#   SKIP_HOST_FIXES=1  do not touch cgroups or /etc/containers
#   PACKAGES=a,b,... the image's packages instead of the test host's (with IMAGE)
# The mmdebstrap hooks are shell snippets; "$1" is the chroot, expanded by mmdebstrap.
# shellcheck disable=SC2016
set -euo pipefail

# SUITE=trixie builds the Debian 13 host (systemd 257: RestartSteps=), beside the Debian 12 one.
SUITE=${SUITE:-bookworm}
IMAGE=${IMAGE:-localhost/openclaw-testhost:${SUITE}}
# Packages in the image (mmdebstrap --variant=minbase adds the Essential set).
IMAGE_PACKAGES=(
  systemd systemd-sysv dbus libpam-systemd dbus-user-session
  python3 python3-venv python3-apt python3-psutil sudo openssh-server
  iproute2 procps ca-certificates curl
  libnuma1 libgomp1
)
# PACKAGES="a,b,...": another package list (scripts/rehearse-fresh.sh's clean machine), with IMAGE.
[[ -n ${PACKAGES:-} ]] && IFS=, read -ra IMAGE_PACKAGES <<<"$PACKAGES"
# Units that are useless (or harmful: apt timers) in a test container.
# systemd-logind stays: linger (user managers at boot) needs it.
MASK_UNITS=(
  getty.target console-getty.service getty@tty1.service
  apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer
  e2scrub_all.timer e2scrub_reap.service fstrim.timer
  systemd-remount-fs.service
)
# cgroup v1 in the container has no release agent, so PID 1 often misses that
# a lingering user@UID.service emptied its cgroup and waits out TimeoutStopSec
# (120 s): container stop and `loginctl disable-linger` hang. Cap it (a host where
# fix_cgroup_events below applies no longer needs the cap; kept for the others).
USER_MANAGER_DROPIN=$'[Service]\nTimeoutStopSec=3s'
# No acl: vllm_service installs it (setfacl, for become with pipelining off), and the fleet
# scenario checks that it did.
# Reached over ssh (the fleet scenario and reclaim, as real fleets are): two admin accounts with
# sudo, ocadmin without a password and ocpasswd with one it cannot give (sudo asks: the failure
# case). Their keys: /etc/ssh/openclaw-test-keys/<user>, a directory the scenarios mount read-only
# (scripts/test-ssh-key.sh makes it), so the image holds no key.
ADMIN_USERS=(ocadmin ocpasswd)
SUDOERS=$'ocadmin ALL=(ALL:ALL) NOPASSWD: ALL\nocpasswd ALL=(ALL:ALL) ALL'
SSHD_DROPIN=$'AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/openclaw-test-keys/%u\nPasswordAuthentication no\nKbdInteractiveAuthentication no'
# Bump when the build recipe below changes in a way the hash cannot see.
RECIPE_VERSION=1
HASH_LABEL=org.openclaw.testhost.recipe
CA_DIR=/usr/local/share/ca-certificates

log() { printf '[testhost] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (rootful podman, mmdebstrap root mode, host fixes)"

# --- 1. host packages (podman, mmdebstrap: scripts/bootstrap.sh, the tier's one list) ---
bash "$(dirname "$0")/bootstrap.sh"

# --- 2. host fixes --------------------------------------------------------------
cgroup_v1_mounted() { # controller -> true if a v1 hierarchy carries it
  awk -v c="$1" '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) f = 1 }
                 END { exit !f }' /proc/mounts
}

fix_hybrid_cgroups() {
  # crun refuses hybrid mode ("cgroups in hybrid mode not supported") when any
  # controller is bound to the v2 hierarchy: move those to v1. Not persistent
  # across reboots; rerun this script after one.
  local f=/sys/fs/cgroup/unified/cgroup.controllers c
  [[ -r $f ]] || return 0 # (cgroupfs files report size 0: no -s test)
  for c in $(<"$f"); do
    cgroup_v1_mounted "$c" && continue
    log "host fix: moving cgroup controller '$c' from the unified hierarchy to v1"
    mkdir -p "/sys/fs/cgroup/$c"
    mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
  done
}

fix_ulimits() {
  # podman's rootful defaults (nofile 1048576, nproc 4194304) exceed the hard
  # limits on some VMs: "crun: setrlimit RLIMIT_NOFILE: Operation not permitted".
  # Lower the container defaults with a containers.conf drop-in (leaves
  # /etc/containers/containers.conf and any other settings alone).
  local hn hu nofile=20000 nproc=32768
  local dropin=/etc/containers/containers.conf.d/50-openclaw-testhost-ulimits.conf
  hn=$(ulimit -Hn) hu=$(ulimit -Hu)
  if [[ $hn == unlimited || $hn -ge 1048576 ]] && [[ $hu == unlimited || $hu -ge 4194304 ]]; then
    return 0
  fi
  [[ $hn != unlimited && $hn -lt $nofile ]] && nofile=$hn
  [[ $hu != unlimited && $hu -lt $nproc ]] && nproc=$hu
  local want
  want=$(printf '# Written by scripts/testhost-image.sh: podman defaults exceed this host'"'"'s hard limits.\n[containers]\ndefault_ulimits = [\n  "nofile=%s:%s",\n  "nproc=%s:%s",\n]\n' \
    "$nofile" "$nofile" "$nproc" "$nproc")
  if [[ -f $dropin && $(<"$dropin") == "$want" ]]; then
    return 0
  fi
  if [[ -f /etc/containers/containers.conf ]] && grep -q '^[[:space:]]*default_ulimits' /etc/containers/containers.conf; then
    log "note: /etc/containers/containers.conf sets default_ulimits; the drop-in overrides it"
  fi
  log "host fix: container ulimits nofile=$nofile nproc=$nproc ($dropin)"
  mkdir -p "${dropin%/*}"
  printf '%s\n' "$want" >"$dropin"
}

fix_cgroup_events() {
  # On a hybrid host (v1 controllers, cgroup2 at /sys/fs/cgroup/unified) podman gives a
  # container the v1 hierarchies only, so the test host's systemd runs on the legacy hierarchy,
  # where the only news that a cgroup emptied is a release agent, and a container has none: a
  # unit whose last process exits after its main process (vLLM's engine, the resource
  # tracker) waits out TimeoutStopSec on every stop, and so does `podman stop` for a lingering
  # user manager. Given the unified hierarchy too (rw; cgroupns=host, so each container works
  # in its own /libpod_parent/libpod-<id>), systemd runs in hybrid mode and is told by the
  # kernel (cgroup.events): a restart on the test host then costs what it costs on a real host.
  # Measured with a unit whose child outlives its main process by 0.5 s: restart 15.1 s -> 0.3 s
  # (Debian 12 and 13 test hosts), `podman stop` of a host with a lingering user 30.6 s -> 1.3 s.
  local dropin=/etc/containers/containers.conf.d/51-openclaw-testhost-cgroup-events.conf want
  awk '$2 == "/sys/fs/cgroup/unified" && $3 == "cgroup2" { f = 1 } END { exit !f }' /proc/mounts || return 0
  awk '$2 == "/sys/fs/cgroup/systemd" && $3 == "cgroup" { f = 1 } END { exit !f }' /proc/mounts || return 0
  want=$(printf '# Written by scripts/testhost-image.sh: the test hosts'"'"' systemd learns that a cgroup emptied.\n[containers]\nvolumes = [\n  "/sys/fs/cgroup/unified:/sys/fs/cgroup/unified:rw",\n]\n')
  if [[ -f $dropin && $(<"$dropin") == "$want" ]]; then
    return 0
  fi
  log "host fix: containers get the unified cgroup hierarchy (systemd's cgroup-empty events) ($dropin)"
  mkdir -p "${dropin%/*}"
  printf '%s\n' "$want" >"$dropin"
}

if [[ ${SKIP_HOST_FIXES:-0} != 1 ]]; then
  fix_hybrid_cgroups
  fix_ulimits
  fix_cgroup_events
fi

# --- 3. image -------------------------------------------------------------------
detect_mirror() {
  # First archive URI of a one-line or deb822 source that serves "$SUITE" itself.
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk -v s="$SUITE" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while (i <= NF && $(i-1) !~ /\]$/) i++;
                                     if ($(i+1) == s) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v s="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
      { u = ""; ok = 0; deb = 1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { split($i, a, /[ \t]+/); u = a[2] }
          if ($i ~ /^Types:/)  deb = ($i ~ /[ \t]deb([ \t]|$)/)
          if ($i ~ /^Suites:/) { n = split($i, a, /[ \t]+/); for (j = 2; j <= n; j++) if (a[j] == s) ok = 1 }
        }
        if (ok && deb && u != "") { print u; exit } }' "$f"
  done
}
MIRROR=${MIRROR:-$(detect_mirror | head -n1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

ca_files=()
if [[ -d $CA_DIR ]]; then
  mapfile -t ca_files < <(find "$CA_DIR" -type f -name '*.crt' | LC_ALL=C sort)
fi

# The recipe hash covers everything that shapes the image except the mirror.
recipe_hash=$(
  {
    echo "v$RECIPE_VERSION $SUITE"
    printf 'pkg %s\n' "${IMAGE_PACKAGES[@]}" | LC_ALL=C sort
    printf 'mask %s\n' "${MASK_UNITS[@]}" | LC_ALL=C sort
    printf 'user@ %s\n' "$USER_MANAGER_DROPIN"
    printf 'admin %s\n' "${ADMIN_USERS[@]}" "$SUDOERS" "$SSHD_DROPIN"
    ((${#ca_files[@]})) && cat "${ca_files[@]}"
    true
  } | sha256sum | cut -c1-12
)

have_hash=$(podman image inspect --format "{{index .Labels \"$HASH_LABEL\"}}" "$IMAGE" 2>/dev/null || true)
old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
if [[ ${FORCE:-0} != 1 && $have_hash == "$recipe_hash" ]]; then
  log "image $IMAGE is up to date (recipe $recipe_hash)"
else
  [[ -n $have_hash ]] && log "image $IMAGE has recipe '${have_hash}', want $recipe_hash: rebuilding"
  log "building $IMAGE from $MIRROR ($SUITE, ${#IMAGE_PACKAGES[@]} packages, recipe $recipe_hash)"
  tmp=$(mktemp -d /var/tmp/openclaw-testhost.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  printf '%s\n' "$USER_MANAGER_DROPIN" >"$tmp/user-manager.conf"
  printf '%s\n' "$SSHD_DROPIN" >"$tmp/sshd.conf"
  printf '%s\n' "$SUDOERS" >"$tmp/sudoers"
  hooks=(
    --customize-hook='chroot "$1" systemctl mask --quiet '"${MASK_UNITS[*]}"
    --customize-hook='mkdir -p "$1/etc/systemd/system/user@.service.d"'
    --customize-hook="upload $tmp/user-manager.conf /etc/systemd/system/user@.service.d/90-openclaw-testhost.conf"
    --customize-hook='mkdir -p "$1/etc/ssh/sshd_config.d" "$1/etc/sudoers.d"'
    --customize-hook="upload $tmp/sshd.conf /etc/ssh/sshd_config.d/90-openclaw-testhost.conf"
    --customize-hook="upload $tmp/sudoers /etc/sudoers.d/90-openclaw-testhost"
    --customize-hook='chmod 0440 "$1/etc/sudoers.d/90-openclaw-testhost"'
  )
  # A password field of '*': no password login, yet not locked (sshd refuses keys of a locked account).
  for user in "${ADMIN_USERS[@]}"; do
    hooks+=(--customize-hook="chroot \"\$1\" useradd --create-home --shell /bin/bash --password '*' $user")
  done
  if ((${#ca_files[@]})); then
    mkdir -p "$tmp/ca"
    cp "${ca_files[@]}" "$tmp/ca/"
    hooks+=(
      --customize-hook="mkdir -p \"\$1$CA_DIR\" && cp $tmp/ca/*.crt \"\$1$CA_DIR/\""
      --customize-hook='chroot "$1" update-ca-certificates >/dev/null'
    )
  fi
  include=$(IFS=,; echo "${IMAGE_PACKAGES[*]}")
  TMPDIR=$tmp mmdebstrap --quiet --mode=root --variant=minbase --format=tar \
    --include="$include" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    "${hooks[@]}" \
    "$SUITE" "$tmp/rootfs.tar" "$MIRROR"
  podman import --quiet \
    --change 'CMD ["/sbin/init"]' \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    --change "LABEL $HASH_LABEL=$recipe_hash" \
    "$tmp/rootfs.tar" "$IMAGE" >/dev/null
  podman tag "$IMAGE" "${IMAGE}-${recipe_hash}"
  # Drop the previous build unless a container still uses it.
  if [[ -n $old_id && $old_id != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]]; then
    [[ -n $have_hash ]] && podman untag "$old_id" "${IMAGE}-${have_hash}" 2>/dev/null || true
    podman rmi "$old_id" >/dev/null 2>&1 || log "kept previous image ${old_id:0:12} (still in use)"
  fi
  log "built $IMAGE (also tagged ${IMAGE}-${recipe_hash})"
fi

# --- 4. result ------------------------------------------------------------------
echo "$IMAGE"
