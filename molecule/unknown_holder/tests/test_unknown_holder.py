"""unknown_holder: someone else holds :8001; the guard refuses, names it, and leaves it alive."""
import json

import pytest

import monitoring
from siteplay import inventory_for, runner
from testhost import BIN, HOME, INSTANCE, PORT, UNIT, run_once, wait_for

HOLDER_CMD = "unknown-holder -m http.server %d" % PORT
HINT = ("HINT: vLLM blocked \u2014 port {port} held by unknown process (pid={pid}, cmd=\"{cmd}\"). "
        "Stop it or free :{port}, then restart openclaw-vllm.service.")


_start_monitoring = run_once(monitoring.start)


@pytest.fixture(scope="module")
def prometheus(testhost, request):
    """Prometheus and node_exporter on the host (molecule/shared/monitoring.py), up before the
    holder comes: the alert is seen to fire and to resolve."""
    request.addfinalizer(lambda: monitoring.stop(testhost))
    return _start_monitoring(testhost, INSTANCE, {})


@pytest.fixture(scope="module")
@run_once
def refused(testhost, prometheus):
    assert testhost.systemctl("stop", UNIT).rc == 0
    holder = testhost.start_holder("unknown-holder")
    mark = testhost.mark()
    restart = testhost.systemctl("restart", UNIT)
    lines = testhost.guard_lines(after=mark)
    journal = testhost.journal(after=mark, lines=200)
    print("guard lines:\n" + "\n".join(lines) + "\njournal:\n" + journal)
    return {"holder": holder, "restart": restart, "lines": lines, "journal": journal, "mark": mark}


def test_start_fails(refused):
    assert refused["restart"].rc != 0


def test_control_process_exited_42(testhost, refused):
    assert "Control process exited, code=exited, status=42" in refused["journal"]
    assert "status=42" in testhost.unit_property("ExecStartPre")


def test_guard_names_the_holder(refused):
    assert 'VLLM_PORT_HELD_UNKNOWN port=%d pid=%d cmd="%s"' % (PORT, refused["holder"], HOLDER_CMD) in refused["lines"]
    assert not [line for line in refused["lines"] if line.startswith(("VLLM_PORT_RECLAIM", "VLLM_PORT_KILL"))]


def test_holder_is_alive_and_still_listening(testhost, refused):
    assert testhost.alive(refused["holder"])
    assert testhost.listener_pid() == refused["holder"]


def test_status_verbose_prints_the_exact_hint(testhost, refused):
    result = testhost.as_user(BIN + "/openclaw-vllm status --verbose")
    print(result.stdout)
    assert result.rc == 1, "health is down: exit 1, whatever the hint"
    assert HINT.format(port=PORT, pid=refused["holder"], cmd=HOLDER_CMD) in result.stdout.splitlines()


def test_status_json_reports_the_same_holder(testhost, refused):
    result = testhost.as_user(BIN + "/openclaw-vllm status --json")
    facts = json.loads(result.stdout)
    assert result.rc == 1
    assert facts["healthy"] is False
    holders = facts["probe"]["holders"]
    assert [(h["pid"], h["cmd"], h["kind"]) for h in holders] == [(refused["holder"], HOLDER_CMD, "unknown")]
    assert facts["hint"] == HINT.format(port=PORT, pid=refused["holder"], cmd=HOLDER_CMD)


def test_prometheus_fires_the_port_held_alert_in_the_hints_words(testhost, refused):
    """node_exporter reads the guard's metrics file, Prometheus evaluates the shipped rule: its own
    API shows the alert firing, naming the holder as the status HINT does."""
    firing = wait_for(lambda: [alert for alert in monitoring.alerts(testhost, "OpenClawVLLMPortHeldUnknown")
                               if alert["state"] == "firing"], timeout=30)
    assert len(firing) == 1, monitoring.alerts(testhost, "OpenClawVLLMPortHeldUnknown")
    labels, summary = firing[0]["labels"], firing[0]["annotations"]["summary"]
    assert (labels["host"], labels["port"], labels["holder_pid"]) == (INSTANCE, str(PORT), str(refused["holder"]))
    hint = HINT.format(port=PORT, pid=refused["holder"], cmd=HOLDER_CMD)
    assert summary == "%s: %s" % (INSTANCE, hint[len("HINT: "):])
    assert [sample["value"][1] for sample in monitoring.query(testhost, 'up{job="openclaw-vllm"}')] == ["0"]


def test_refused_start_is_retried_not_stuck(testhost, refused):
    """Restart=on-failure retries the refused start; the retries never reach the start limit."""
    assert wait_for(lambda: len([line for line in testhost.guard_lines(after=refused["mark"])
                                 if line.startswith("VLLM_PORT_HELD_UNKNOWN")]) >= 2, timeout=30)
    assert testhost.unit_property("Result") != "start-limit-hit"


def test_a_roll_out_names_the_holder_and_does_not_roll_back(testhost, refused, tmp_path_factory):
    """site.yml with a changed setting while the holder is there: the new unit is not to blame,
    so the gate's failure names the holder (the HINT) and no rollback happens."""
    site = runner(inventory_for(tmp_path_factory.mktemp("inventory"), [INSTANCE]), INSTANCE)
    rc, _, failed = site("-e", "vllm_service_max_num_seqs=7")
    assert rc != 0
    message = failed[-1]["msg"]
    print(message)
    assert message.startswith("%s: vLLM on http://127.0.0.1:%d failed its gate" % (INSTANCE, PORT)), message
    assert "Cause: " + HINT.format(port=PORT, pid=refused["holder"], cmd=HOLDER_CMD) in message
    assert "Not rolled back: the cause is not the new version" in message
    assert "--max-num-seqs 7" in testhost.run("cat %s/.config/systemd/user/%s" % (HOME, UNIT)).stdout
    assert testhost.alive(refused["holder"]) and testhost.listener_pid() == refused["holder"]


def test_start_succeeds_once_the_holder_is_gone(testhost, refused):
    """The operator frees the port; a plain start works at once (no reset-failed needed)."""
    assert testhost.as_user("kill %s", refused["holder"]).rc == 0
    assert wait_for(lambda: not testhost.alive(refused["holder"]), timeout=10)
    start = testhost.systemctl("start", UNIT)
    assert start.rc == 0, start.stderr
    assert testhost.wait_healthy(timeout=300)
    assert testhost.systemctl("is-active", UNIT).stdout.strip() == "active"
    assert testhost.chat("Hello again")["usage"]["completion_tokens"] > 0
    assert "VLLM_PORT_OK port=%d" % PORT in testhost.guard_lines(after=refused["mark"])


def test_the_alert_resolves_once_the_unit_starts(testhost, refused):
    """After the start above: the guard's decision is ok, the alert is gone from Prometheus, and
    vLLM's own metrics arrive through the generated targets."""
    assert wait_for(lambda: not monitoring.alerts(testhost, "OpenClawVLLMPortHeldUnknown"), timeout=30), \
        monitoring.alerts(testhost, "OpenClawVLLMPortHeldUnknown")
    assert wait_for(lambda: monitoring.query(testhost, 'up{job="openclaw-vllm"} == 1'), timeout=30)
    served = monitoring.query(testhost, "vllm:kv_cache_usage_perc")
    assert [(sample["metric"]["host"], sample["metric"]["port"]) for sample in served] == [(INSTANCE, str(PORT))]
