#!/usr/bin/env bash
# What Galaxy and a docs site need of the collection, checked with the ecosystem's own tools,
# offline (PyPI packages only). Run after scripts/build-collection.sh (it reads its tarball).
#   1. antsibull-docs lint-collection-docs --plugin-docs   (the docs site would render every page)
#   2. antsibull-changelog lint, and CHANGELOG.md is what changelogs/changelog.yaml generates
#   3. galaxy-importer on the built tarball (Galaxy's own import: README per role, docs, tags)
#   4. `pip install .` in a fresh venv: the wheel carries the whole collection with its version,
#      `ansible-galaxy collection list` and `ansible-doc -l` see it, the console scripts run
#   5. the execution environment: `ansible-builder introspect` reads meta/execution-environment.yml
#      from the installed tarball, `ansible-builder create` writes an EE build context with it
#      (building the image needs a container registry, unreachable here)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
collection=collections/ansible_collections/openclaw/vllm
version=$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$collection/galaxy.yml")
tarball=$PWD/build/collection/openclaw-vllm-$version.tar.gz
[[ -f $tarball ]] || { echo "no $tarball: run scripts/build-collection.sh first" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "--- antsibull-docs lint-collection-docs --plugin-docs"
antsibull-docs lint-collection-docs --plugin-docs "$collection"

echo "--- antsibull-changelog lint; CHANGELOG.md up to date"
(cd "$collection" && antsibull-changelog lint)
cp -r "$collection/." "$scratch/changelog-check"
(cd "$scratch/changelog-check" && antsibull-changelog generate)
cmp "$collection/CHANGELOG.md" "$scratch/changelog-check/CHANGELOG.md" ||
  { echo "CHANGELOG.md is not what antsibull-changelog generates: run it in $collection" >&2; exit 1; }

echo "--- galaxy-importer $(basename "$tarball")"
# ansible-lint already ran on the whole project (production profile); Galaxy's required tags on.
mkdir -p "$scratch/importer"
(cd "$scratch/importer" && GALAXY_IMPORTER_RUN_ANSIBLE_LINT=false GALAXY_IMPORTER_CHECK_REQUIRED_TAGS=true \
  python -m galaxy_importer.main "$tarball" >importer.log 2>&1) || { cat "$scratch/importer/importer.log"; exit 1; }
# It notes every sanity ignore file (ours carry a reason per line); any other warning fails.
grep -E "^(WARNING|ERROR)" "$scratch/importer/importer.log" | grep -v "^WARNING: Ignore files skip ansible-test sanity tests" &&
  { echo "galaxy-importer warned" >&2; exit 1; }
tail -1 "$scratch/importer/importer.log"

echo "--- pip install . in a fresh venv"
python -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --disable-pip-version-check . 2>&1 | grep -v '^WARNING: Location' || true
"$scratch/venv/bin/python" -m pip show openclaw-vllm >/dev/null
site=$("$scratch/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[[ -f $site/ansible_collections/openclaw/vllm/galaxy.yml && -f $site/ansible_collections/openclaw/vllm/LICENSE ]] ||
  { echo "the wheel lacks galaxy.yml or LICENSE" >&2; exit 1; }
ls "$site"/openclaw_vllm-*.dist-info/licenses/LICENSE >/dev/null
(
  cd "$scratch"  # away from this checkout's ansible.cfg and collections/
  export ANSIBLE_COLLECTIONS_PATH="$scratch/none"
  listed=$("$scratch/venv/bin/ansible-galaxy" collection list openclaw.vllm 2>/dev/null | awk '$1 == "openclaw.vllm" {print $2}')
  [[ $listed == "$version" ]] || { echo "ansible-galaxy collection list: openclaw.vllm '$listed', want $version" >&2; exit 1; }
  modules=$("$scratch/venv/bin/ansible-doc" -l openclaw.vllm | wc -l)
  [[ $modules -ge 5 ]] || { echo "ansible-doc -l openclaw.vllm lists $modules modules" >&2; exit 1; }
  "$scratch/venv/bin/ansible-doc" -t role openclaw.vllm.vllm_service >/dev/null
  "$scratch/venv/bin/openclaw-vllm-guard" --help >/dev/null
  "$scratch/venv/bin/openclaw-vllm" status --help >/dev/null
  echo "fresh venv: openclaw.vllm $listed, $modules modules, console scripts run"
)

echo "--- execution environment: ansible-builder introspect + create"
# What the collection declares (meta/execution-environment.yml -> requirements.txt), as
# ansible-builder reads it from the installed artifact.
ANSIBLE_COLLECTIONS_PATH="$scratch/ee-installed" ansible-galaxy collection install --force -p "$scratch/ee-installed" "$tarball" >/dev/null
ansible-builder introspect "$scratch/ee-installed" >"$scratch/ee-deps.yml"
grep -q "psutil.*from collection openclaw.vllm" "$scratch/ee-deps.yml" ||
  { cat "$scratch/ee-deps.yml"; echo "ansible-builder introspect: no psutil from openclaw.vllm" >&2; exit 1; }
# An EE definition as an AWX / Automation Platform user writes it, with this tarball in place of
# Galaxy; `create` stops before the image build (it would pull the base image from quay.io).
mkdir -p "$scratch/ee"
cp "$tarball" "$scratch/ee/"
cat >"$scratch/ee/execution-environment.yml" <<YAML
---
version: 3
images:
  base_image:
    name: quay.io/centos/centos:stream9
dependencies:
  python_interpreter:
    package_system: python3.11
    python_path: /usr/bin/python3.11
  ansible_core:
    package_pip: ansible-core>=2.16,<2.21
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: /build/$(basename "$tarball")
        type: file
additional_build_files:
  - src: $(basename "$tarball")
    dest: .
YAML
# The output file is named: by default ansible-builder picks podman or docker by what is on PATH
# when it is imported and writes a Dockerfile for docker (`create` has no --container-runtime).
(cd "$scratch/ee" && ansible-builder create --output-filename Containerfile --file execution-environment.yml --context context >/dev/null)
[[ -f $scratch/ee/context/Containerfile && -f $scratch/ee/context/_build/$(basename "$tarball") ]] &&
  grep -q "$(basename "$tarball")" "$scratch/ee/context/_build/requirements.yml" ||
  { echo "ansible-builder create: no Containerfile, tarball or requirements.yml in the context" >&2; exit 1; }
echo "execution environment: psutil from meta/execution-environment.yml, build context written"
