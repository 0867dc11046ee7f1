#!/usr/bin/env bash
# The test aids the test hosts install from their wheelhouse (tests/aids/*: each a small Python
# project), built as wheels into DIR. Rebuilt only when an aid's source changes or its wheel is
# gone (scripts/build-wheelhouse.sh drops wheels its lock does not name when it rebuilds).
#   bash scripts/build-test-wheels.sh .cache/wheelhouse
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p "$DIR"
# One scratch directory for every aid, removed however the script ends.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for src in tests/aids/*/; do
  name=$(basename "$src")
  stamp="$DIR/.test-aid-$name"
  hash=$(find "$src" -type f \( -name '*.py' -o -name pyproject.toml \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [[ -f $stamp ]] && read -r built wheel <"$stamp" && [[ $built == "$hash" && -f $DIR/$wheel ]]; then
    echo "test aid $name: $wheel is current"
    continue
  fi
  # From a copy: setuptools writes build/ and *.egg-info beside the sources.
  aid="$work/$name"
  cp -r "$src" "$aid"
  "$PYTHON" -m build --wheel --outdir "$aid/dist" "$aid" >"$aid/build.log" 2>&1 ||
    { cat "$aid/build.log" >&2; echo "building the test aid $src failed" >&2; exit 1; }
  wheel=$(basename "$(ls "$aid"/dist/*.whl)")
  cp "$aid/dist/$wheel" "$DIR/"
  echo "$hash $wheel" >"$stamp"
  echo "test aid $name: built $wheel"
done
