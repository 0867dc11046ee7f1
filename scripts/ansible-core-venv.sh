#!/usr/bin/env bash
# One venv per ansible-core minor version, shared by scripts/sanity.sh and scripts/unit-matrix.sh:
#
#   scripts/ansible-core-venv.sh 2.16              create .cache/ansible-test/venv-2.16 if needed; print its path
#   scripts/ansible-core-venv.sh 2.16 --unit-deps  the same, plus what tests/unit needs (pytest, psutil, ...)
#
# ansible-core 2.20 needs Python >= 3.12 on the controller; 2.16 .. 2.19 run on 3.11 (2.16 supports
# 3.10 .. 3.12). The venv is rebuilt when that Python's minor version changes. The unit-test
# packages do not reach ansible-test sanity's own venvs (`--venv`, without system site packages).
set -euo pipefail
cd "$(dirname "$0")/.."
v=${1:?usage: scripts/ansible-core-venv.sh VERSION [--unit-deps]}
venv=$PWD/.cache/ansible-test/venv-$v

python_for() {
  local want=3.11 candidate
  [[ $1 == 2.20 ]] && want=3.12
  for candidate in "python$want" "$HOME/.pyenv/versions/$want"*/bin/python3 "/usr/local/bin/python$want"; do
    if "$candidate" -c 'import sys' >/dev/null 2>&1; then  # runs (a pyenv shim may not)
      echo "$candidate"
      return
    fi
  done
  echo "no Python $want for ansible-core $1 (apt or pyenv can provide it)" >&2
  return 1
}

pip() { "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2; }

python=$(python_for "$v")
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# Rebuilt too when its scripts point at another place (a venv copied or moved from elsewhere).
if [[ ! -x $venv/bin/ansible-test || $(cat "$venv/.python" 2>/dev/null) != "$pyver" ||
      $(head -1 "$venv/bin/ansible-test") != "#!$venv/bin/"* ]]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  pip "ansible-core==$v.*"
  echo "$pyver" >"$venv/.python"
fi

if [[ ${2:-} == --unit-deps ]]; then
  # tests/unit's imports (hypothesis, psutil; PyYAML and Jinja2 come with ansible-core) and the
  # tiny AWQ model generator's (numpy, safetensors, tokenizers). Versions as pyproject.toml's.
  deps=("pytest>=8" "hypothesis>=6" "psutil>=5.9" numpy safetensors tokenizers)
  want=$(printf '%s\n' "${deps[@]}" | sha256sum | cut -c1-16)
  if [[ $(cat "$venv/.unit-deps" 2>/dev/null) != "$want" ]]; then
    pip "${deps[@]}" "ansible-core==$v.*"  # ansible-core named again: nothing may move it
    echo "$want" >"$venv/.unit-deps"
  fi
fi
echo "$venv"
