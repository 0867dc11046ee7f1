#!/usr/bin/env bash
# Create .venv with the project and its test extras; re-install only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.openclaw-installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [[ -x .venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
# lenient mode: a plain path entry for collections/ (no import hook that slows every start; the
# 'compat' mode gave the same entry with a deprecation banner).
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  --config-settings editable_mode=lenient -e '.[test]'
echo "$want" >"$stamp"
echo "venv: .venv ready ($(.venv/bin/ansible --version | sed -n 1p))"
