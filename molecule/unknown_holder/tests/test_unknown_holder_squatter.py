"""unknown_holder, a squatter that answers: another user's process (nobody; molecule/shared/
squatter.py) takes :8001 while the unit is down and answers 200 to everything, a plausible
completion included. Nothing of ours believes it: status is not healthy and names it (the
seed's HINT), the API key never reaches it, and a roll-out fails its gate at once naming it,
without a rollback (which cannot help), with the rollback point as the switch left it. Then
the squatter leaves while the unit waits to retry the held start (auto-restart, with the
roll-out's unit), and site.yml converges the host back: healthy, ours, on the unit it asks for.
Runs last (after test_unknown_holder.py); the squatter is stopped at the end, the scenario destroys the host."""
import json

import pytest

from siteplay import inventory_for, runner
from testhost import BIN, HOME, INSTANCE, PORT, UNIT, wait_for

HINT = ("HINT: vLLM blocked \u2014 port {port} held by unknown process (pid={pid}, cmd=\"{cmd}\"). "
        "Stop it or free :{port}, then restart openclaw-vllm.service.")
ROLLBACK = HOME + "/.config/openclaw-vllm/rollback/" + UNIT


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
    rc, _, failed = site("-e", "vllm_service_max_num_seqs=5")
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


def test_once_the_port_is_free_the_host_converges_back(testhost, squatted, tmp_path_factory):
    # The held roll-out left the unit retrying its start (auto-restart) on the roll-out's unit.
    assert testhost.unit_property("ActiveState") in ("activating", "failed"), testhost.diagnostics()
    testhost.stop_squatter()
    assert wait_for(lambda: not testhost.alive(squatted["pid"]), timeout=10)
    site = runner(inventory_for(tmp_path_factory.mktemp("inventory"), [INSTANCE]), INSTANCE)
    rc, _, failed = site()
    assert rc == 0, "\n".join(str(result.get("msg", result)) for result in failed)
    unit = testhost.run("cat %s/.config/systemd/user/%s" % (HOME, UNIT)).stdout
    assert "--max-num-seqs 5" not in unit and "--max-num-seqs 8" in unit, unit
    assert "--max-num-seqs 5" in testhost.run("cat %s" % ROLLBACK).stdout
    facts = json.loads(testhost.as_user(BIN + "/openclaw-vllm status --json --complete --model local-assistant").stdout)
    assert facts["healthy"] is True and facts["owner"] == {"ours": True, "by": "unit", "why": None}, facts
    assert facts["completion"]["ok"] is True, facts["completion"]
    pid = int(testhost.unit_property("MainPID"))
    assert "--max-num-seqs 8" in testhost.cmdline(pid), testhost.cmdline(pid)
