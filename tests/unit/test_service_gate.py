"""The serving gate's judgement (module_utils/service_gate.py) and the service_gate module. The
thing under test is the gate; `openclaw-vllm status --json` is a TEST DOUBLE in the module tests
(a script printing, call by call, the facts a real status gives; tests/unit/test_status*.py test
the real one, and molecule runs the gate against a real vLLM)."""
import json

import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils import service_gate as gate
from helpers.ansible_runs import run_module
from helpers.clock import Clock

OURS = {"healthy": True, "health": {"ok": True, "error": None}, "owner": {"ours": True, "by": "unit", "why": None},
        "unit": {"ActiveState": "active", "SubState": "running"}, "probe": {"holders": [{"kind": "vllm_like"}]},
        "completion": {"ok": True, "error": None}, "hint": None}
LOADING = dict(OURS, healthy=False, health={"ok": False, "error": "connection refused"}, completion=None,
               unit={"ActiveState": "activating", "SubState": "start-pre"}, probe={"holders": []})
WHY = 'port 8001 is held by an unknown process pid=9 uid=65534 cmd="x", not by openclaw-vllm.service'
HELD = dict(LOADING, owner={"ours": False, "by": None, "why": WHY}, probe={"holders": [{"kind": "unknown"}]},
            unit={"ActiveState": "activating", "SubState": "auto-restart"})
DOWN = dict(LOADING, unit={"ActiveState": "activating", "SubState": "auto-restart", "Result": "exit-code"})
# A vLLM of ours that lost its unit answers /health, but the answer is not the unit's.
STRAY = dict(LOADING, health={"ok": True, "error": None}, owner={"ours": False, "by": None, "why": None},
             probe={"holders": [{"kind": "vllm_like"}]})


@pytest.mark.parametrize("facts, verdict", [
    (OURS, "healthy"), (LOADING, "wait"), (HELD, "held"), (DOWN, "down"), (STRAY, "wait"), ({}, "wait"),
    (dict(LOADING, unit={"ActiveState": "failed"}), "down"), ({"owner": None, "probe": "junk", "unit": 7}, "wait"),
])
def test_judge(facts, verdict):
    assert gate.judge(facts) == verdict


@pytest.mark.parametrize("verdict, facts, message", [
    ("healthy", OURS, ""),
    ("held", HELD, WHY),
    ("down", DOWN, "the unit stopped before /health answered (activating/auto-restart, result exit-code)"),
    ("timeout", LOADING, "/health did not answer 200 within 60 s (connection refused)"),
    ("timeout", {}, "/health did not answer 200 within 60 s (Traceback: boom)"),
    ("timeout", STRAY, "the port is not held by our service"),
])
def test_health_message(verdict, facts, message):
    assert gate.health_message(verdict, facts, 60, "Traceback: boom\n") == message


def test_completion_message():
    assert gate.completion_message(OURS, "http://h:1") == ""
    failed = dict(OURS, completion={"ok": False, "error": "HTTP 500"})
    assert gate.completion_message(failed, "http://h:1") == "the completion on http://h:1/v1/completions failed: HTTP 500"
    assert gate.completion_message(dict(OURS, completion=None), "u").endswith("failed: no result")


@pytest.mark.parametrize("stdout, facts", [('{"healthy": true}\n', {"healthy": True}), ("", {}), ("{broken", {}),
                                           ("[1]", {}), ("Traceback", {})])
def test_read_facts(stdout, facts):
    assert gate.read_facts(stdout) == facts


def test_wait_ends_when_healthy_and_at_once_when_held():
    answers = iter([LOADING, LOADING, OURS])
    clock = Clock()
    assert gate.wait(lambda: (next(answers), ""), 60, 2, clock, clock.sleep)[::3] == ("healthy", 3)
    assert clock.now == 4
    assert gate.wait(lambda: (HELD, ""), 60, 2, clock, clock.sleep)[::3] == ("held", 1)


def test_wait_gives_up_after_the_timeout():
    clock = Clock()
    verdict, facts, _, tries = gate.wait(lambda: (LOADING, ""), 10, 2, clock, clock.sleep)
    assert (verdict, facts, tries, clock.now) == ("timeout", LOADING, 6, 10)


def status_double(tmp_path, *answers):
    """An `openclaw-vllm` that prints the next of ``answers`` at each call (the last one again)."""
    (tmp_path / "answers.json").write_text(json.dumps(list(answers)))
    script = tmp_path / "openclaw-vllm"
    script.write_text("""#!/usr/bin/env python3
import json, pathlib, sys
here = pathlib.Path(%r)
answers = json.loads((here / "answers.json").read_text())
calls = here / "calls"
n = len(calls.read_text().splitlines()) if calls.exists() else 0
with calls.open("a") as handle:
    handle.write(" ".join(sys.argv[1:]) + "\\n")
print(json.dumps(answers[min(n, len(answers) - 1)]))
""" % str(tmp_path))
    script.chmod(0o755)
    return str(script)


@pytest.mark.ansible
def test_the_module_waits_then_passes_and_sends_no_key(tmp_path):
    command = status_double(tmp_path, LOADING, OURS)
    result = run_module("service_gate", {"status_command": command, "model": "tiny", "interval": 0.1, "timeout": 30})
    assert (result["healthy"], result["completed"], result["verdict"], result["tries"]) == (True, True, "healthy", 2)
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0] == "status --json --complete --model tiny --prompt Hello --max-tokens 8"


@pytest.mark.ansible
def test_without_a_model_the_completion_asks_for_what_runs(tmp_path):
    """After a rollback the unit may serve another name than the inventory gives now: status asks
    for the name on the running vLLM's command line."""
    command = status_double(tmp_path, OURS)
    result = run_module("service_gate", {"status_command": command, "interval": 0.1, "timeout": 5})
    assert (result["healthy"], result["completed"]) == (True, True), result
    assert (tmp_path / "calls").read_text().splitlines() == [
        "status --json --complete --prompt Hello --max-tokens 8"]


@pytest.mark.ansible
def test_the_module_judges_the_unit_its_config_names(tmp_path):
    """A lane's gate asks the status command about the lane (its config; the key beside it)."""
    command = status_double(tmp_path, OURS)
    config = str(tmp_path / "lanes" / "code" / "service.conf")
    result = run_module("service_gate", {"status_command": command, "config": config, "complete": False})
    assert result["healthy"], result
    assert (tmp_path / "calls").read_text().splitlines() == ["status --json --config %s" % config]


@pytest.mark.ansible
@pytest.mark.parametrize("answers, verdict, health_msg", [
    ([HELD], "held", WHY),
    ([LOADING, DOWN], "down", "the unit stopped before /health answered (activating/auto-restart, result exit-code)"),
    ([LOADING], "timeout", "/health did not answer 200 within 1 s (connection refused)"),
])
def test_the_module_reports_a_closed_gate_without_failing(tmp_path, answers, verdict, health_msg):
    result = run_module("service_gate", {"status_command": status_double(tmp_path, *answers), "model": "m",
                                         "interval": 0.2, "timeout": 1})
    assert not result.get("failed"), result
    assert (result["healthy"], result["verdict"], result["health_msg"], result["completed"]) == (
        False, verdict, health_msg, False)


@pytest.mark.ansible
def test_the_module_names_a_failed_completion_and_bad_input(tmp_path):
    failed = dict(OURS, completion={"ok": False, "error": "HTTP 404: model 'm' does not exist"})
    result = run_module("service_gate", {"status_command": status_double(tmp_path, failed), "model": "m",
                                         "url": "http://127.0.0.1:9"})
    assert (result["healthy"], result["completed"]) == (True, False)
    assert result["completion_msg"] == ("the completion on http://127.0.0.1:9/v1/completions failed: "
                                        "HTTP 404: model 'm' does not exist")
    bad = run_module("service_gate", {"status_command": "/bin/true", "complete": False, "interval": 0})
    assert bad.get("failed") and "interval" in bad["msg"]
