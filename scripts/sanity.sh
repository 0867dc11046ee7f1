#!/usr/bin/env bash
# ansible-test sanity on the collection, offline, once per ansible-core version.
#
#   scripts/sanity.sh                 every version meta/runtime.yml claims (2.16 .. 2.20)
#   scripts/sanity.sh 2.16 2.20       only these
#   SANITY_ARGS="--test pylint" scripts/sanity.sh 2.19     extra ansible-test arguments
#
# Each version gets its own venv with that ansible-core (.cache/ansible-test/venv-<v>, made by
# scripts/ansible-core-venv.sh and shared with scripts/unit-matrix.sh), its own
# HOME for ansible-test's per-test venvs (.cache/ansible-test/home-<v>, kept between runs), and a
# copy of the collection (tracked + untracked, not ignored files) under a path that ends in
# ansible_collections/openclaw/vllm, outside this git repo (inside it, ansible-test would see the
# copy as ignored files and skip them all), so the working tree gets no tests/output.
#
# The offline trick: ansible-test bootstraps each venv with a get-pip.py that it downloads from a
# host outside the package registries, unless HOME/.ansible/test/cache/get_pip_<pip ver>.py is
# already there. We put scripts/get-pip-offline.py there: ensurepip, then pip from the index.
set -euo pipefail
cd "$(dirname "$0")/.."
src=collections/ansible_collections/openclaw/vllm
cache=$PWD/.cache/ansible-test
versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(2.16 2.17 2.18 2.19 2.20)

failed=()
for v in "${versions[@]}"; do
  start=$SECONDS
  venv=$(bash scripts/ansible-core-venv.sh "$v")  # 2.20: Python 3.12; the others 3.11
  pyver=$(cat "$venv/.python")
  home=$cache/home-$v
  pip_version=$("$venv/bin/python" - <<'EOF'
import pathlib, re, ansible_test
text = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", text).group(1))
EOF
)
  mkdir -p "$home/.ansible/test/cache"
  cp scripts/get-pip-offline.py "$home/.ansible/test/cache/get_pip_${pip_version//./_}.py"

  scratch=$(mktemp -d "${TMPDIR:-/tmp}/openclaw-sanity-$v.XXXXXX")
  tree=$scratch/ansible_collections/openclaw/vllm
  mkdir -p "$tree"
  git ls-files -z --cached --others --exclude-standard -- "$src" |
    while IFS= read -r -d '' path; do [[ -e $path ]] && printf '%s\0' "${path#"$src"/}"; done |
    (cd "$src" && xargs -0 cp --parents -t "$tree")

  echo "--- ansible-test sanity, ansible-core $("$venv/bin/python" -c 'import ansible; print(ansible.__version__)'), Python $pyver"
  # shellcheck disable=SC2086  # SANITY_ARGS is a list of words
  if (cd "$tree" && HOME=$home PATH="$venv/bin:$PATH" ansible-test sanity --venv --python "$pyver" --color no ${SANITY_ARGS:-}); then
    echo "--- ansible-core $v: sanity clean in $((SECONDS - start))s"
  else
    echo "--- ansible-core $v: sanity FAILED in $((SECONDS - start))s"
    failed+=("$v")
  fi
  rm -rf "$scratch"
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "sanity failed on ansible-core ${failed[*]}" >&2
  exit 1
fi
