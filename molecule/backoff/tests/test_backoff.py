"""backoff: on Debian 13 (systemd 257) a refused start backs off instead of retrying every 10 s.

An unknown process holds :8001 before the role's whole flow runs (serve.yml): the unit is
enabled and started, the port guard refuses (exit 42), the gate fails naming the holder and
does not roll back, and systemd retries with growing gaps (RestartSteps=5 from RestartSec=10
towards RestartMaxDelaySec=300: about 10, 20, 39 s). The holder stays alive throughout."""
import json

import pytest

from siteplay import inventory_for, runner
from testhost import BIN, INSTANCE, PORT, UNIT, run_once, wait_for

HOLDER_CMD = "unknown-holder -m http.server %d" % PORT
HINT = ("HINT: vLLM blocked \u2014 port {port} held by unknown process (pid={pid}, cmd=\"{cmd}\"). "
        "Stop it or free :{port}, then restart openclaw-vllm.service.")


def refusal_times(testhost, since_usec):
    """When the guard refused a start (VLLM_PORT_HELD_UNKNOWN), in seconds, oldest first."""
    out = testhost.run("journalctl --no-pager --output=json -t openclaw-vllm-port-guard").stdout
    entries = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [int(e["__REALTIME_TIMESTAMP"]) / 1e6 for e in entries
            if e["MESSAGE"].startswith("VLLM_PORT_HELD_UNKNOWN") and int(e["__REALTIME_TIMESTAMP"]) >= since_usec]


@pytest.fixture(scope="module")
@run_once
def refused(testhost, tmp_path_factory):
    since = int(testhost.run("date +%s%6N").stdout)
    holder = testhost.start_holder("unknown-holder")
    site = runner(inventory_for(tmp_path_factory.mktemp("inventory"), [INSTANCE]), INSTANCE,
                  book="molecule/backoff/serve.yml")
    rc, changed, failed = site()
    return {"holder": holder, "since": since, "rc": rc, "changed": changed, "failed": failed}


def test_the_host_is_debian_13_with_systemd_that_can_back_off(testhost):
    assert testhost.run(". /etc/os-release && echo $VERSION_ID").stdout.strip() == "13"
    assert int(testhost.run("systemctl --version").stdout.split()[1]) >= 254


def test_the_roll_out_fails_naming_the_holder_and_does_not_roll_back(testhost, refused):
    assert refused["rc"] != 0
    message = refused["failed"][-1]["msg"]
    print(message)
    assert message.startswith("%s: vLLM on http://127.0.0.1:%d failed its gate" % (INSTANCE, PORT)), message
    assert "Cause: " + HINT.format(port=PORT, pid=refused["holder"], cmd=HOLDER_CMD) in message
    assert "Not rolled back" in message


def test_the_unit_carries_the_back_off(testhost, refused):
    assert testhost.unit_property("RestartUSec") == "10s"
    assert testhost.unit_property("RestartSteps") == "5"
    assert testhost.unit_property("RestartMaxDelayUSec") == "5min"


def test_refused_starts_back_off(testhost, refused):
    """Four refusals: the gaps between them grow (about 10, 20, 39 s), the start limit is never hit."""
    assert wait_for(lambda: len(refusal_times(testhost, refused["since"])) >= 4, timeout=150, interval=2)
    times = refusal_times(testhost, refused["since"])[:4]
    gaps = [round(later - earlier, 1) for earlier, later in zip(times, times[1:])]
    print("gaps between refused starts: %s s" % gaps)
    assert 9 <= gaps[0] <= 16, gaps
    assert gaps[1] >= 1.6 * gaps[0] and gaps[2] >= 1.6 * gaps[1], gaps
    assert gaps[2] <= 60, gaps
    assert testhost.unit_property("Result") != "start-limit-hit"
    assert int(testhost.unit_property("NRestarts")) >= 3


def test_the_holder_is_alive_and_named_by_status(testhost, refused):
    assert testhost.alive(refused["holder"]) and testhost.listener_pid() == refused["holder"]
    result = testhost.as_user(BIN + "/openclaw-vllm status --verbose")
    print(result.stdout)
    assert result.rc == 1
    assert HINT.format(port=PORT, pid=refused["holder"], cmd=HOLDER_CMD) in result.stdout.splitlines()
    testhost.systemctl("stop", UNIT)
