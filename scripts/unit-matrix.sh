#!/usr/bin/env bash
# The unit tests that exercise Ansible, on other ansible-core versions than the project venv's:
#
#   scripts/unit-matrix.sh              2.16 and 2.20, the oldest and newest meta/runtime.yml claims
#   scripts/unit-matrix.sh 2.18         any other
#
# "Exercise Ansible": the tests marked `ansible` in tests/unit (the modules through `ansible -m`,
# `ansible-playbook status.yml` with the fleet_status filters, the hf_model_progress action's
# modules) and the filter plugins loaded in this process. They run in the venv that
# scripts/sanity.sh uses for that version (.cache/ansible-test/venv-<v>, made by
# scripts/ansible-core-venv.sh), with pytest and the test imports added once; the collection
# comes from this checkout (PYTHONPATH for in-process imports, ansible.cfg for Ansible).
# The tests' other collections come from the project venv's "ansible" package, and only these two,
# through a collections dir of symlinks: ansible.posix (the `json` stdout callback that the tests
# parse; ansible-core redirects `json` there) and containers.podman (status.yml's connection to a
# test host whose container is gone). Both claim ansible-core >= 2.15.
set -euo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(2.16 2.20)

# One per version list: scripts/test.sh runs 2.16 and 2.20 side by side.
extra=$PWD/.cache/unit-matrix/collections-$(IFS=-; echo "${versions[*]}")
for name in ansible.posix containers.podman; do
  ns=${name%%.*} coll=${name#*.}
  from=$(.venv/bin/python -c "import ansible_collections.$name as c; print(list(c.__path__)[0])")
  mkdir -p "$extra/ansible_collections/$ns"
  ln -sfn "$from" "$extra/ansible_collections/$ns/$coll"
done

failed=()
for v in "${versions[@]}"; do
  start=$SECONDS
  venv=$(bash scripts/ansible-core-venv.sh "$v" --unit-deps)
  echo "--- unit tests (ansible), ansible-core $("$venv/bin/python" -c 'import ansible; print(ansible.__version__)'), Python $(cat "$venv/.python")"
  pytest=(env PYTHONPATH="$PWD/collections" ANSIBLE_COLLECTIONS_PATH="$PWD/collections:$extra"
          "$venv/bin/python" -m pytest -q -p no:cacheprovider)
  # The filter plugins as Ansible loads them, in this process (not marked: -m would drop it).
  if "${pytest[@]}" -m ansible tests/unit &&
     "${pytest[@]}" tests/unit/test_fleet_status.py::test_filters_are_what_ansible_loads; then
    echo "--- ansible-core $v: unit tests passed in $((SECONDS - start))s"
  else
    echo "--- ansible-core $v: unit tests FAILED in $((SECONDS - start))s"
    failed+=("$v")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "unit tests failed on ansible-core ${failed[*]}" >&2
  exit 1
fi
