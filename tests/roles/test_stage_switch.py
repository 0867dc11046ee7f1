"""The roll-out's two halves (openclaw.vllm.serve: stage on every host, then switch in
batches), for real on this machine with the awq_model role's entry points (vllm_venv's are the
same phases: install/configure, then run, which test_prune_roles and test_interrupted_runs
drive). Stage fetches and verifies the new version beside the one in use and touches nothing
that serves; switch moves the link and keeps what it left as previous. (The unit, the gate and
the automatic rollback need a user manager: molecule/fleet.)"""
import json
import os
import subprocess
import sys

import pytest

from helpers.models import model_vars, variant
from helpers.paths import ANSIBLE_PLAYBOOK, ROOT


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths"),
]


def run_entry_points(tmp_path, entry, extra_vars):
    """awq_model's ``entry`` (stage or switch) on localhost, as serve.yml imports it."""
    play = tmp_path / ("play-%s.yml" % entry)
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "awq_model " + entry, "ansible.builtin.import_role": {"name": "openclaw.vllm.awq_model", "tasks_from": entry + ".yml"}},
    ]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
                           "-e", json.dumps(extra_vars), str(play)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc.stdout


def links(tmp_path):
    found = {}
    for link in ("models/tiny", "models/.previous/tiny"):
        path = tmp_path / link
        found[link] = os.readlink(path) if os.path.islink(path) else None
    return found


def test_stage_touches_nothing_that_serves_and_switch_keeps_previous(tiny_model, tmp_path):
    def settings(model):
        return model_vars(tmp_path, model)

    v1 = variant(tiny_model, tmp_path, "v1")
    v2 = variant(tiny_model, tmp_path, "v2")
    run_entry_points(tmp_path, "stage", settings(v1))
    assert links(tmp_path) == dict.fromkeys(links(tmp_path)), "a first stage links nothing"
    run_entry_points(tmp_path, "switch", settings(v1))
    serving = links(tmp_path)
    assert serving["models/tiny"] and not serving["models/.previous/tiny"]

    # A new model version: staged beside the one in use, links untouched.
    run_entry_points(tmp_path, "stage", settings(v2))
    assert links(tmp_path) == serving
    versions = sorted(os.listdir(tmp_path / "models/.versions"))
    assert len(versions) == 2, versions
    assert all((tmp_path / "models/.versions" / v / ".openclaw-manifest.json").is_file() for v in versions)

    # The switch points the link at it and keeps what it left as previous.
    run_entry_points(tmp_path, "switch", settings(v2))
    switched = links(tmp_path)
    assert switched["models/tiny"] != serving["models/tiny"]
    assert os.readlink(tmp_path / "models/.previous/tiny") == serving["models/tiny"]
    # Nothing was pruned that a link (current or previous) points to.
    assert sorted(os.listdir(tmp_path / "models/.versions")) == versions
