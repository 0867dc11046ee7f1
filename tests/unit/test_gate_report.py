"""The words of a failed gate (module_utils/gate_report.py), branch by branch, with journal lines
as a real vLLM and the guard write them (copied from test hosts' journals)."""
import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils.gate_report import (explaining, failure_message,
                                                                                root_cause)

J = "2026-12-03T10:00:00+0000 gpu1 vllm[4242]: "
ENGINE_INIT = [
    J + "(EngineCore_DP0 pid=4300) Process EngineCore_DP0:",
    J + "(EngineCore_DP0 pid=4300) Traceback (most recent call last):",
    J + '(EngineCore_DP0 pid=4300)   File "/opt/v/lib/python3.11/site-packages/vllm/v1/engine/core.py", line 700',
    J + "nanobind: leaked 12 instances!",
    J + "nanobind: leaked function \"forward\"",
    J + "Traceback (most recent call last):",
    J + "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
]
LOGGED = [
    J + "(EngineCore_DP0 pid=4300) ERROR 12-03 10:00:00 [core.py:700] EngineCore failed to start.",
    J + "(EngineCore_DP0 pid=4300) ERROR 12-03 10:00:00 [core.py:700] RuntimeError: start (0) + length (512) "
        "exceeds dimension size (256)",
    J + "(APIServer pid=4242) ERROR 12-03 10:00:01 [api_server.py:10] RuntimeError: Engine core initialization "
        "failed. See root cause above.",
]
BASE = {"host": "gpu1", "url": "http://127.0.0.1:8001", "failed": "Require /health: the unit stopped before /health "
        "answered (failed/failed, result exit-code)", "cause": "", "rollback": None, "switched": True,
        "auto_rollback": True, "rollback_point": "", "venv": "/opt/openclaw-vllm/vllm-cpu-aaaaaaaaaaaa",
        "model": "/var/lib/m/tiny-awq-bbbbbbbbbbbb", "unit": "openclaw-vllm.service", "journal": LOGGED}


def message(**changes):
    return failure_message(dict(BASE, **changes)).splitlines()


def test_root_cause_is_the_first_logged_error_not_its_wrapper():
    assert root_cause(LOGGED) == "RuntimeError: start (0) + length (512) exceeds dimension size (256)"


def test_root_cause_of_an_engine_that_dies_while_it_loads():
    """No ERROR line at all: the exception the traceback ends with, wrapper or not."""
    assert root_cause(ENGINE_INIT).startswith("RuntimeError: Engine core initialization failed.")


def test_no_root_cause_without_an_exception():
    assert root_cause([J + "INFO started", J + "VLLM_PORT_OK port=8001"]) == ""


def test_the_journal_tail_leaves_out_the_leak_reports():
    assert [line for line in explaining(ENGINE_INIT) if "nanobind" in line] == []
    assert len(explaining(ENGINE_INIT)) == len(ENGINE_INIT) - 2


def test_a_cause_that_is_not_the_new_version():
    lines = message(cause="HINT: vLLM blocked \u2014 port 8001 held by unknown process (pid=9, cmd=\"x\").")
    assert lines[0] == "gpu1: vLLM on http://127.0.0.1:8001 failed its gate: " + BASE["failed"]
    assert lines[1].startswith("Cause: HINT: vLLM blocked")
    assert lines[2] == "Not rolled back: the cause is not the new version, and a rollback cannot fix it."


def test_rolled_back_reads_as_a_sentence():
    lines = message(rollback={"ok": True, "venv": "/opt/v/vllm-cpu-cccccccccccc", "model": "/m/tiny-awq-dddddddddddd"})
    assert lines[1] == ("The new version (vllm-cpu-aaaaaaaaaaaa, model tiny-awq-bbbbbbbbbbbb) was rolled back: the "
                        "host serves again what it served before this run (vllm-cpu-cccccccccccc, model "
                        "tiny-awq-dddddddddddd); /health and a completion pass. The new version stays staged on "
                        "disk: fix it and re-run (or change the inventory back).")


def test_a_failed_rollback_reads_as_a_sentence():
    lines = message(rollback={"ok": False, "task": "Require /health", "error": "the unit stopped",
                              "left": "ActiveState=failed SubState=failed Result=exit-code",
                              "venv": "/opt/v/vllm-cpu-cccccccccccc", "model": "/m/tiny-awq-dddddddddddd"})
    assert lines[1] == ("The new version (vllm-cpu-aaaaaaaaaaaa, model tiny-awq-bbbbbbbbbbbb) failed, and THE "
                        "ROLLBACK FAILED TOO (Require /health: the unit stopped). The host does not serve: unit "
                        "ActiveState=failed SubState=failed Result=exit-code; its unit file is the rollback point "
                        "(vllm-cpu-cccccccccccc, model tiny-awq-dddddddddddd).")
    assert "was THE ROLLBACK" not in "\n".join(lines)


@pytest.mark.parametrize("point, ending", [
    ("/home/vllm/.config/openclaw-vllm/rollback/openclaw-vllm.service",
     "rollback.yml returns to the rollback point /home/vllm/.config/openclaw-vllm/rollback/openclaw-vllm.service "
     "on demand."),
    ("", "there is no rollback point to return to."),
])
def test_not_switched_names_the_rollback_point_when_there_is_one(point, ending):
    lines = message(switched=False, rollback_point=point)
    assert lines[1].startswith("Not rolled back: this run did not change the unit")
    assert lines[1].endswith(ending)
    assert "nothing to return to" not in lines[1] or not point


def test_auto_rollback_off():
    assert message(auto_rollback=False)[1].startswith("Not rolled back: vllm_service_auto_rollback is false")


def test_the_root_cause_and_the_tail():
    lines = message(journal=ENGINE_INIT, auto_rollback=False)
    assert lines[2].startswith("vLLM's error: RuntimeError: Engine core initialization failed.")
    assert lines[3] == "Last journal lines of openclaw-vllm.service and its gates:"
    assert lines[4:] == explaining(ENGINE_INIT)


def test_an_unreadable_journal_says_so():
    lines = message(journal=None)
    assert lines[-1] == "(journal not readable)" and not any(line.startswith("vLLM's error") for line in lines)
