"""vllm_service's gate (tasks/gate.yml) judging status's facts: it passes on our service, and fails
at once naming the holder when the port is held by a process that is not ours. The thing under
test is the role's gate; `openclaw-vllm status --json` is a TEST DOUBLE here (a script printing
the facts a real status gives in each case; tests/unit/test_status*.py test the real one)."""
import json
import os
import subprocess
import sys

import pytest

from helpers.paths import ANSIBLE_PLAYBOOK, ROOT


pytestmark = [pytest.mark.ansible,
              pytest.mark.skipif(os.geteuid() != 0, reason="the gate becomes the service user (here root)")]
OURS = {"healthy": True, "health": {"ok": True, "error": None}, "owner": {"ours": True, "by": "unit", "why": None},
        "unit": {"ActiveState": "active", "SubState": "running"}, "probe": {"holders": [{"kind": "vllm_like"}]},
        "completion": {"ok": True, "error": None}, "hint": None}
WHY = 'port 8001 is held by an unknown process pid=9 uid=65534 cmd="x", not by openclaw-vllm.service'
HELD = dict(OURS, healthy=False, owner={"ours": False, "by": None, "why": WHY}, completion=None,
            unit={"ActiveState": "activating", "SubState": "auto-restart"}, probe={"holders": [{"kind": "unknown"}]},
            hint="HINT: vLLM blocked")


def gate(tmp_path, facts):
    """(rc, output) of the role's gate.yml against a status double that prints ``facts``."""
    bin_dir = tmp_path / "home" / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    (tmp_path / "facts.json").write_text(json.dumps(facts))
    (bin_dir / "openclaw-vllm").write_text("#!/bin/sh\ncat %s\n" % (tmp_path / "facts.json"))
    (bin_dir / "openclaw-vllm").chmod(0o755)
    (tmp_path / "play.yml").write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "The gate", "ansible.builtin.include_role": {"name": "openclaw.vllm.vllm_service",
                                                              "tasks_from": "gate.yml"},
        "vars": {"vllm_service_home": str(tmp_path / "home"), "vllm_service_user": "root",
                 "_vllm_service_runtime_dir": "/run/user/0", "vllm_service_health_timeout": 60}}]}]))
    run = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", "-e", "ansible_become_method=su",
                          "-e", "ansible_python_interpreter=%s" % sys.executable, str(tmp_path / "play.yml")],
                         cwd=ROOT, env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")),
                         capture_output=True, text=True, timeout=300)
    return run.returncode, run.stdout + run.stderr


def test_our_service_passes_the_gate(tmp_path):
    rc, output = gate(tmp_path, OURS)
    assert rc == 0, output
    assert "failed=0" in output


def test_a_held_port_fails_at_once_naming_the_holder(tmp_path):
    rc, output = gate(tmp_path, HELD)
    assert rc != 0
    assert "msg: %s" % WHY in output, output
    assert "RETRYING" not in output  # no wait: a held port is not something time fixes
