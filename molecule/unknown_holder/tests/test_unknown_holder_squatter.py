"""unknown_holder, a squatter that answers: another user's process (nobody; molecule/shared/
squatter.py) takes :8001 while the unit is down and answers 200 to everything, a plausible
completion included. Nothing of ours believes it: status is not healthy and names it (the
seed's HINT), the API key never reaches it, and a roll-out fails its gate at once naming it,
without a rollback (which cannot help), with the rollback point as the switch left it. Then
the squatter leaves while the unit waits to retry the held start (auto-restart, RestartSec=120
here so that the wait is long): the same roll-out run again starts it at once and passes its
gate (it once failed it, taking the wait for "the unit stopped"), and site.yml converges the
host back: healthy, ours, on the unit it asks for.
Runs last (after test_unknown_holder.py); the squatter is stopped at the end, the scenario destroys the host."""
import json

import pytest

from siteplay import inventory_for, runner
from testhost import BIN, HOME, INSTANCE, PORT, UNIT, wait_for

HINT = ("HINT: vLLM blocked \u2014 port {port} held by unknown process (pid={pid}, cmd=\"{cmd}\"). "
        "Stop it or free :{port}, then restart openclaw-vllm.service.")
ROLLBACK = HOME + "/.config/openclaw-vllm/rollback/" + UNIT
# The roll-out: a new setting, and a long wait between the unit's own retries (its auto-restart).
ROLL_OUT = ("-e", "vllm_service_max_num_seqs=5", "-e", "vllm_service_restart_sec=120")


@pytest.fixture(scope="module")
def squatted(testhost, request):
    request.addfinalizer(testhost.stop_squatter)  # whatever happens: the next module needs the port
    assert testhost.systemctl("stop", UNIT).rc == 0
    command = testhost.start_squatter()
    pid = wait_for(testhost.squatter_pid, timeout=20)
    assert pid, "the squatter did not take :%d:\n%s" % (PORT, testhost.run("ps -eo user,pid,args").stdout)
    return {"pid": pid, "cmd": command, "hint": HINT.format(port=PORT, pid=pid, cmd=command)}


def test_status_says_held_not_healthy(testhost, squatted):
    result = testhost.as_user(BIN + "/openclaw-vllm status --verbose")
    print(result.stdout)
    assert result.rc == 1
    assert result.stdout.startswith("health: held, not ours (http://127.0.0.1:%d/health answers, but port %d is held "
                                    "by an unknown process pid=%d uid=65534" % (PORT, PORT, squatted["pid"]))
    assert result.stdout.splitlines()[-1] == squatted["hint"]


def test_the_key_never_reaches_the_squatter(testhost, squatted):
    result = testhost.as_user(BIN + "/openclaw-vllm status --json --complete --model local-assistant")
    facts = json.loads(result.stdout)
    assert result.rc == 1
    assert facts["health"]["ok"] is True and facts["healthy"] is False
    assert facts["completion"]["error"].startswith("not attempted (the API key goes to our service only)")
    assert [hit for hit in testhost.squatter_heard() if hit["auth"]] == []


def test_a_roll_out_fails_fast_naming_the_squatter_without_a_rollback(testhost, squatted, tmp_path_factory):
    unit_before = testhost.run("cat %s/.config/systemd/user/%s" % (HOME, UNIT)).stdout
    site = runner(inventory_for(tmp_path_factory.mktemp("inventory"), [INSTANCE]), INSTANCE)
    rc, _, failed = site(*ROLL_OUT)
    assert rc != 0
    message = failed[-1]["msg"]
    print(message)
    lines = message.splitlines()
    assert lines[0] == ("%s: vLLM on http://127.0.0.1:%d failed its gate: Require /health: port %d is held by an "
                        "unknown process pid=%d uid=65534 cmd=\"%s\", not by %s"
                        % (INSTANCE, PORT, PORT, squatted["pid"], squatted["cmd"], UNIT)), message
    assert lines[1] == "Cause: " + squatted["hint"]
    assert lines[2] == "Not rolled back: the cause is not the new version, and a rollback cannot fix it."
    # The switch happened (the new unit is in place) and the rollback point is the unit it replaced.
    assert "--max-num-seqs 5" in testhost.run("cat %s/.config/systemd/user/%s" % (HOME, UNIT)).stdout
    assert testhost.run("cat %s" % ROLLBACK).stdout == unit_before
    assert [hit for hit in testhost.squatter_heard() if hit["auth"]] == []
    assert testhost.alive(squatted["pid"])


def test_once_the_port_is_free_the_same_roll_out_goes_through(testhost, squatted, tmp_path_factory):
    """The operator frees the port and runs the roll-out again: its unit is already in place, so
    nothing restarts it but the run itself, while the unit waits (up to 120 s) for its next
    retry. The run starts it at once; the gate never takes the wait for a failed start."""
    state = (testhost.unit_property("ActiveState"), testhost.unit_property("SubState"))
    assert state == ("activating", "auto-restart"), testhost.diagnostics()
    testhost.stop_squatter()
    assert wait_for(lambda: not testhost.alive(squatted["pid"]), timeout=10)
    unit_before = testhost.run("cat %s/.config/systemd/user/%s" % (HOME, UNIT)).stdout
    site = runner(inventory_for(tmp_path_factory.mktemp("inventory"), [INSTANCE]), INSTANCE)
    rc, changed, failed = site(*ROLL_OUT)
    assert rc == 0, "\n".join(str(result.get("msg", result)) for result in failed)
    assert [name for name in changed if name.endswith(": Start the unit that waits to retry its start")], changed
    assert testhost.run("cat %s/.config/systemd/user/%s" % (HOME, UNIT)).stdout == unit_before
    facts = json.loads(testhost.as_user(BIN + "/openclaw-vllm status --json").stdout)
    assert facts["healthy"] is True and facts["owner"] == {"ours": True, "by": "unit", "why": None}, facts
    assert "--max-num-seqs 5" in testhost.cmdline(int(testhost.unit_property("MainPID")))


def test_then_site_yml_converges_the_host_back(testhost, tmp_path_factory):
    held_unit = testhost.run("cat %s/.config/systemd/user/%s" % (HOME, UNIT)).stdout
    site = runner(inventory_for(tmp_path_factory.mktemp("inventory"), [INSTANCE]), INSTANCE)
    rc, _, failed = site()
    assert rc == 0, "\n".join(str(result.get("msg", result)) for result in failed)
    unit = testhost.run("cat %s/.config/systemd/user/%s" % (HOME, UNIT)).stdout
    assert "--max-num-seqs 5" not in unit and "--max-num-seqs 8" in unit, unit
    assert testhost.run("cat %s" % ROLLBACK).stdout == held_unit
    facts = json.loads(testhost.as_user(BIN + "/openclaw-vllm status --json --complete --model local-assistant").stdout)
    assert facts["healthy"] is True and facts["owner"] == {"ours": True, "by": "unit", "why": None}, facts
    assert facts["completion"]["ok"] is True, facts["completion"]
    pid = int(testhost.unit_property("MainPID"))
    assert "--max-num-seqs 8" in testhost.cmdline(pid), testhost.cmdline(pid)
