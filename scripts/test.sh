#!/usr/bin/env bash
# The full tier, from nothing (what CI runs through .ci/run): Python env, lint, unit tests,
# collection build, test host image, vLLM CPU wheelhouse, tiny AWQ model, and every molecule
# scenario on one shared test host with real systemd and a real vLLM.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

step() {
  local name=$1
  shift
  local start=$SECONDS
  echo "=== $name"
  "$@"
  echo "=== $name: ok in $((SECONDS - start))s"
}

step "python environment" bash scripts/venv.sh
step "ansible-lint (production profile)" ansible-lint
step "unit tests" pytest -q tests
step "collection build" bash scripts/build-collection.sh
step "test host image" bash scripts/testhost-image.sh
step "vLLM CPU wheelhouse" bash scripts/build-wheelhouse.sh .cache/wheelhouse
step "tiny AWQ model" python scripts/make-tiny-awq-model.py .cache/tiny-awq-model
# A host (or molecule's record of one) left by an interrupted run would be reused as if
# freshly created: destroy both first.
step "molecule destroy (leftovers)" molecule destroy --all
step "molecule (default, normal_start, reclaim, unknown_holder)" molecule test --all
echo "=== all green in ${SECONDS}s"
