# openclaw.vllm - the two commands that matter:
#   make demo   build and start a local test host, run site.yml on it, print its status
#   make test   everything CI runs, from nothing: lint, unit tests, collection build, molecule
# and the fast inner loop:
#   make unit   pytest on the guard, modules, status and filters (seconds)
#   make roles  the roles' guardrails, run for real on this machine (about a minute)
#   make rehearsal  a fresh machine in a container: .ci/run from a clean clone, up to the test hosts
#   make status one table for the fleet (one row per host) and openclaw-vllm-status.json
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# ansible-core 2.19 imports DSA from cryptography for its ssh agent, and cryptography warns about
# it on every ansible command: not ours to fix, and a newcomer's `make demo` should not read as broken.
export PYTHONWARNINGS := ignore::UserWarning:ansible._internal._ssh._ssh_agent

.PHONY: locks wheelhouse-lock cuda-check gpu-check testhost-bookworm rehearsal test unit unit-matrix roles lint build sanity publish-checks docs molecule demo demo-clean venv testhost assets bench clean status

test:
	bash scripts/test.sh

venv:
	bash scripts/venv.sh

# The CUDA build's locks (roles/vllm_venv/files/locks/): resolve every supported pin again with uv,
# from the registry's metadata (no wheel is downloaded). make test checks them (lock-venv.py --check).
locks: venv
	python scripts/lock-venv.py

# The CPU wheelhouse's lock (the test hosts' vLLM): resolved afresh from the registry, rewritten.
wheelhouse-lock: venv
	WHEELHOUSE_RELOCK=1 bash scripts/build-wheelhouse.sh .cache/wheelhouse

# The real CUDA build from the registry on a CPU test host (about 4.3 GB down, 14 GiB of disk, 5-10
# min): hash mode, versions, import, vLLM's parser on the unit's flags, a changed=0 re-run, figures.
cuda-check: venv testhost-bookworm
	bash scripts/cuda-check.sh

# On a machine with a real NVIDIA GPU and torch (the device tool's machine): gpu_facts and the
# start-time gate against the real driver, with and without a real CUDA allocation held.
gpu-check:
	bash scripts/gpu-check.sh

# CONTRIBUTING.md says when: before resolving anything that changes setup (REF=, UNTIL=, CMD=)
rehearsal:
	bash scripts/rehearse-fresh.sh

unit: venv
	pytest -q tests/unit

# the unit tests that run Ansible, on the oldest and newest ansible-core that meta/runtime.yml
# claims (2.16, 2.20; V="2.18" for another), each in scripts/sanity.sh's venv for that version
unit-matrix: venv
	bash scripts/unit-matrix.sh $(V)

roles: venv
	pytest -q tests/roles

lint: venv
	ansible-lint

build: venv
	bash scripts/build-collection.sh

# ansible-test sanity on every ansible-core that meta/runtime.yml claims (V="2.16 2.20" for some)
sanity: venv
	bash scripts/sanity.sh $(V)

# antsibull-docs lint, antsibull-changelog, galaxy-importer, pip install . in a fresh venv,
# ansible-builder introspect + create (execution environment)
publish-checks: build
	bash scripts/publish-checks.sh

# the collection's docs site (antsibull-docs + Sphinx, offline, warnings fail) -> build/docs/html
docs: venv
	bash scripts/docs.sh

testhost: testhost-bookworm
	SUITE=trixie bash scripts/testhost-image.sh

testhost-bookworm:
	bash scripts/testhost-image.sh

assets: venv
	bash scripts/build-wheelhouse.sh .cache/wheelhouse
	bash scripts/build-test-wheels.sh .cache/wheelhouse
	python scripts/make-tiny-awq-model.py .cache/tiny-awq-model
	python scripts/make-tiny-awq-model.py .cache/tiny-awq-model-v2 --seed 1
	python scripts/make-tiny-awq-model.py .cache/tiny-awq-model-v2-fault --seed 1 --fault-intermediate-size 512

# the scenarios scripts/test.sh runs (the tier runs backoff and the fleet beside the others): the
# shared-host scenarios, then Debian 13 and the three-host fleet on their own hosts
molecule: venv testhost assets
	bash scripts/test-ssh-key.sh
	bash scripts/fleet-image.sh
	molecule destroy --all --exclude fleet --exclude backoff  # a stale record of a created host would make create skip
	molecule destroy -s fleet --no-shared-state
	molecule destroy -s backoff --no-shared-state
	molecule test --all --exclude fleet --exclude backoff
	molecule test -s backoff --no-shared-state
	molecule test -s fleet --no-shared-state

demo: venv testhost-bookworm assets
	bash scripts/demo.sh

# one table for the fleet (inventory from ansible.cfg, or INVENTORY=path) and openclaw-vllm-status.json;
# more options through ARGS, e.g. make status ARGS="-e openclaw_hosts=gpu_fleet"
status: venv
	ansible-playbook $(if $(INVENTORY),-i $(INVENTORY)) status.yml $(ARGS)

demo-clean:
	podman rm -f openclaw-demo

bench: venv
	python benchmarks/guard_bench.py

clean:
	rm -rf .cache build dist *.egg-info
