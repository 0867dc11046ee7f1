#!/usr/bin/env bash
# A venv of its own for olah (a self-hosted Hugging Face Hub mirror), which the hf source's tests
# serve local git repos with. Not in .venv: olah's fastapi-utils pins psutil<6, and the guard is
# tested with the psutil that pyproject.toml resolves.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OLAH=olah==0.5.4
dir=.cache/olah-venv
if [[ -x $dir/bin/olah-cli && $(cat "$dir/.openclaw-installed" 2>/dev/null) == "$OLAH" ]]; then
  exit 0
fi
rm -rf "$dir"
"$PYTHON" -m venv "$dir"
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$OLAH"
echo "$OLAH" >"$dir/.openclaw-installed"
echo "olah: $dir ready"
