#!/usr/bin/env bash
# The full tier, from nothing (what CI runs through .ci/run): Python env, lint, unit tests,
# collection build, test host image, vLLM CPU wheelhouse, tiny AWQ model, and every molecule
# scenario on one shared test host with real systemd and a real vLLM.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
# Tests never skip for a missing system tool here (tests/conftest.py): bootstrap installed them.
export OPENCLAW_VLLM_FULL_TIER=1

# OPENCLAW_VLLM_TIER_UNTIL="<step name>": stop, green, before that step of the main line.
# OPENCLAW_VLLM_TIER_NO_TEST_HOSTS=1: no podman (scripts/rehearse-fresh.sh runs the tier in a
# container that cannot run test hosts): the test hosts' lane makes the wheelhouse only, and the
# tier stops, green, where the molecule scenarios would begin.
declare -A started_at started_pid
# The one place UNTIL is read: step and step_start (the main line's side steps) both stop there.
stop_if_until() {
  local name=$1
  [[ $name == "${OPENCLAW_VLLM_TIER_UNTIL:-}" ]] || return 0
  if [[ -n ${in_lane:-} ]]; then
    echo "=== OPENCLAW_VLLM_TIER_UNTIL names '$name', a step of the test hosts' lane: name a step of the main line, or set OPENCLAW_VLLM_TIER_NO_TEST_HOSTS=1"
    exit 2
  fi
  for started in "${!started_pid[@]}"; do step_join "$started"; done
  echo "=== stopped before '$name' (OPENCLAW_VLLM_TIER_UNTIL), all green in ${SECONDS}s"
  exit 0
}
step() {
  local name=$1
  shift
  stop_if_until "$name"
  local start=$SECONDS rc=0 log
  log=$(step_log "$name")
  echo "=== $name"
  "$@" 2>&1 | tee "$log" || rc=$?
  step_failed "$name" "$rc" "$start" "$log"
  echo "=== $name: ok in $((SECONDS - start))s"
}

# Every step's output is also kept in .cache/tier-logs; a failed step ends the tier with the few
# lines that say why (scripts/failure-summary.py), as its last lines: CI shows only the tail.
logs=.cache/tier-logs
step_log() {
  mkdir -p "$logs"
  echo "$logs/${1//[^A-Za-z0-9]/_}.log"
}
step_failed() {
  local name=$1 rc=$2 start=$3 log=$4
  [[ $rc -eq 0 ]] && return 0
  python3 scripts/failure-summary.py "$log" || true
  echo "=== $name: FAILED (exit $rc) after $((SECONDS - start))s"
  exit "$rc"
}

# Steps that wait mostly on the network, on timers or on a single core run beside the others:
# started with step_start (output kept in .cache/tier-logs only), joined with step_join, which
# prints their output and fails the tier as step does. Of the CPU-bound steps, only the test hosts'
# lane's builds (images, the fleet image's venv, when not cached) share the cores with the front half.
step_start() {
  local name=$1
  shift
  stop_if_until "$name"
  echo "=== $name (started beside the next steps)"
  started_at[$name]=$SECONDS
  "$@" >"$(step_log "$name")" 2>&1 &
  started_pid[$name]=$!
}
# A tier that fails or is interrupted leaves nothing of its own running behind it: what a side
# step started (a molecule run, a pip build) would race the next run's destroy and wheelhouse.
stop_side_steps() {
  local pid tree=()
  for pid in "${started_pid[@]}"; do tree+=("$pid" $(descendants "$pid")); done
  [[ ${#tree[@]} -gt 0 ]] && kill "${tree[@]}" 2>/dev/null || true
}
descendants() {
  local child
  for child in $(pgrep -P "$1"); do echo "$child"; descendants "$child"; done
}
trap stop_side_steps EXIT
trap 'exit 130' INT TERM
step_join() {
  local name=$1 rc=0
  wait "${started_pid[$name]}" || rc=$?
  echo "=== $name (joined)"
  cat "$(step_log "$name")"
  step_failed "$name" "$rc" "${started_at[$name]}" "$(step_log "$name")"
  echo "=== $name: ok in $((SECONDS - ${started_at[$name]}))s (beside other steps)"
  unset "started_pid[$name]"
}

step "system packages" bash scripts/bootstrap.sh
step "python environment" bash scripts/venv.sh
# The CUDA build's locks against the registry, from its metadata only (no wheel; `make cuda-check`
# is the real build): each lock is the one index.json names and every locked file is still served.
# It waits on the registry, so it runs beside the unit tests.
step_start "CUDA locks (registry metadata)" python scripts/lock-venv.py --check

# The test hosts' lane, beside the front half (lint, unit tests, sanity, publishing): what the
# scenarios boot from, and the backoff scenario, which needs no vLLM and spends its minutes waiting
# on systemd's back-off timers. The front half is CPU-bound; this lane waits on the registry, on
# Debian's mirror and on timers, so running the two side by side costs each little.
test_hosts_lane() {
  started_pid=() started_at=() in_lane=1  # the main line's side steps are not this lane's to join
  step "vLLM CPU wheelhouse" bash scripts/build-wheelhouse.sh .cache/wheelhouse
  # The test aids the hosts install beside vLLM (tests/aids: the AWQ kernel for CPUs without AVX-512).
  step "test aids (wheels)" bash scripts/build-test-wheels.sh .cache/wheelhouse
  [[ ${OPENCLAW_VLLM_TIER_NO_TEST_HOSTS:-} == 1 ]] && return 0
  step "test host image" bash scripts/testhost-image.sh
  step "test host image (Debian 13)" env SUITE=trixie bash scripts/testhost-image.sh
  step "tiny AWQ model" python scripts/make-tiny-awq-model.py .cache/tiny-awq-model
  # The fleet scenario's second model version (other weights) and host 2's faulty copy of it
  # (config.json's intermediate_size disagrees with the tensors: the AWQ checks pass, vLLM cannot
  # load it; tests/unit/test_fleet_fault_model.py). Under a second each.
  step "fleet models (v2, faulty v2)" bash -c '
    python scripts/make-tiny-awq-model.py .cache/tiny-awq-model-v2 --seed 1 &&
    python scripts/make-tiny-awq-model.py .cache/tiny-awq-model-v2-fault --seed 1 --fault-intermediate-size 512'
  # A host (or molecule's record of one) left by an interrupted run would be reused as if freshly
  # created: destroy it first. Debian 13 (systemd 257): the service role, and a refused start
  # that backs off. Its own host and state.
  step "molecule destroy (backoff leftovers)" molecule destroy -s backoff --no-shared-state
  step "molecule backoff (Debian 13)" molecule test -s backoff --no-shared-state
  # The controller's key for the fleet's hosts, reached over ssh as a non-root admin.
  step "ssh key for the test hosts" bash scripts/test-ssh-key.sh
  # The test host image with the vLLM venv built once (the vllm_venv role), for the three fleet hosts.
  step "fleet image" bash scripts/fleet-image.sh
}
step_start "test hosts (wheelhouse, images, models, backoff scenario, fleet image)" test_hosts_lane

step "Prometheus tools (from Debian's packages, unpacked)" bash scripts/prometheus-tools.sh
step "ansible-lint (production profile)" ansible-lint
# Two pytest-xdist workers; a test file stays on one worker (module fixtures: the olah mirror).
# The roles tier's long files first (tests/conftest.py), in that order: xdist's own order (the
# files with the most tests first) left one worker alone on a long file for minutes at the end.
step "unit tests" pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests
# The guard suite again as older kernels give the socket tables: sock_diag without bound-only
# sockets (Linux < 6.10: Ubuntu 22.04/24.04, Debian 12), and the /proc/net/tcp fallback; the two
# side by side, one core each.
guard_suite=(tests/unit/test_guard_cli.py tests/unit/test_guard_hostile.py tests/unit/test_status.py
             tests/unit/test_port_guard_module.py tests/unit/test_identity_property.py)
step_start "guard suite, kernel < 6.10 tables" env OPENCLAW_VLLM_GUARD_TABLES=legacy pytest -q -p no:cacheprovider "${guard_suite[@]}"
step "guard suite, /proc/net fallback" env OPENCLAW_VLLM_GUARD_TABLES=proc pytest -q -p no:cacheprovider "${guard_suite[@]}"
step_join "guard suite, kernel < 6.10 tables"
step_join "CUDA locks (registry metadata)"
step "collection build" bash scripts/build-collection.sh
# Publishing: ansible-test sanity on the oldest and newest ansible-core that meta/runtime.yml
# claims (`bash scripts/sanity.sh` runs all five; each version has its own venv, HOME and copy of
# the collection, so the two run side by side), then antsibull-docs lint, antsibull-changelog,
# galaxy-importer on the tarball, `pip install .` in a fresh venv and ansible-builder (execution
# environment); then the docs site.
step_start "ansible-test sanity, ansible-core 2.20" bash scripts/sanity.sh 2.20
step "ansible-test sanity, ansible-core 2.16" bash scripts/sanity.sh 2.16
step_join "ansible-test sanity, ansible-core 2.20"
# The unit tests that run Ansible (modules, status.yml, filters; `make unit-matrix`) on the same two
# ansible-core versions, in sanity's venvs; the steps above ran them on the project venv's 2.19.
step_start "unit tests, ansible-core 2.20" bash scripts/unit-matrix.sh 2.20
step "unit tests, ansible-core 2.16" bash scripts/unit-matrix.sh 2.16
step_join "unit tests, ansible-core 2.20"
step "publishing checks" bash scripts/publish-checks.sh
step "docs site (antsibull-docs + Sphinx, -W)" bash scripts/docs.sh
step_join "test hosts (wheelhouse, images, models, backoff scenario, fleet image)"
if [[ ${OPENCLAW_VLLM_TIER_NO_TEST_HOSTS:-} == 1 ]]; then
  echo "=== stopped before the test hosts (OPENCLAW_VLLM_TIER_NO_TEST_HOSTS), all green in ${SECONDS}s"
  exit 0
fi
# A host (or molecule's record of one) left by an interrupted run would be reused as if
# freshly created: destroy both first. The fleet has its own hosts and state (not shared).
step "molecule destroy (leftovers)" molecule destroy --all --exclude fleet --exclude backoff
step "molecule destroy (fleet leftovers)" molecule destroy -s fleet --no-shared-state
# Three hosts: provisioned in batches of 1, idempotence, then the roll-out tests (tests/test_fleet.py).
# Its own run: under `--all` the base config's shared_state would skip its create. It runs beside
# the shared scenarios: both wait mostly on vLLM starts and timers (the two cores were about half
# idle through the shared scenarios alone), and their hosts, ports and molecule state are apart.
step_start "molecule fleet (three hosts)" molecule test -s fleet --no-shared-state
step "molecule (default, faults, hf_source, normal_start, reclaim, unknown_holder)" \
  molecule test --all --exclude fleet --exclude backoff
step_join "molecule fleet (three hosts)"
echo "=== all green in ${SECONDS}s"
