"""Lanes on the real test host, as an operator lists them: vllm_service_lanes in the host's
inventory, served by site.yml on a host that site.yml provisioned without lanes. Two real vLLM
units, each answering its own completions; a stray of ours on lane b's port reclaimed while the
default lane serves; lane b's guard refusing the default lane's vLLM and naming its unit; both lanes
started together, one after the other; a change to the default lane that fails its gate rolling back
that lane alone while lane b serves on, and rollback.yml choosing a lane of the list; lane b removed
(state: absent in the list)."""
import json
import time

import pytest

from siteplay import inventory_for, runner
from testhost import BIN, HOME, INSTANCE, PORT, UNIT

LANE, LANE_PORT, LANE_UNIT = "b", 8002, "openclaw-vllm-b.service"
LANE_CONFIG = HOME + "/.config/openclaw-vllm/lanes/b"
METRICS = "/var/lib/openclaw-vllm/metrics/openclaw-vllm-%d.prom"  # vllm_service_metrics_dir's default
DEFAULT_LANE = {"name": "default"}
LANE_B = {"name": LANE, "port": LANE_PORT, "served_model_name": "lane-b"}


@pytest.fixture(scope="module")
def lane(testhost, tmp_path_factory):
    """run(state, default) of site.yml with lane b present or absent beside the default lane, as the
    host's vllm_service_lanes (default: fields of the default lane to change); lane b is removed after
    the module, whatever happened."""
    inventory = inventory_for(tmp_path_factory.mktemp("lanes"), [INSTANCE])
    (inventory / "host_vars").mkdir()
    run = runner(inventory, INSTANCE)

    def serve(state="present", default=None):
        (inventory / "host_vars" / (INSTANCE + ".yml")).write_text(json.dumps(
            {"vllm_service_lanes": [dict(DEFAULT_LANE, **(default or {})), dict(LANE_B, state=state)]}))
        serve.state = state
        result = run()
        serve.output = run.output
        return result
    serve.fleet_status = lambda path: run("-e", "openclaw_status_json=%s" % path, book="status.yml")

    def rollback(*args):
        result = run(*args, book="rollback.yml")
        serve.output = run.output
        return result
    serve.rollback = rollback
    yield serve
    if serve.state != "absent":  # the last test removed it already, when it passed
        serve("absent")


def tasks(changed):
    """The changed tasks' names without their role's prefix."""
    return {name.split(" : ", 1)[-1] for name in changed}


def main_pid(testhost, unit):
    return int(testhost.systemctl("show", unit, "--property=MainPID", "--value").stdout.strip() or 0)


def status(testhost, *args):
    return testhost.as_user("cd /tmp && %s/openclaw-vllm status --complete " % BIN + " ".join(["%s"] * len(args)),
                            *args)


def test_a_second_lane_serves_beside_the_default_one(testhost, lane, tmp_path):
    default_pid = main_pid(testhost, UNIT)
    rc, changed, failed = lane()
    assert rc == 0, failed or lane.output[-3000:]
    assert {"Install the user unit", "Write the service config for status and the guard",
            "Write the API key environment file"} <= tasks(changed), changed
    for args, port in ((("--lane", LANE), LANE_PORT), ((), PORT)):
        result = status(testhost, *args)
        assert result.rc == 0, result.stdout + result.stderr
        assert "health: up (http://127.0.0.1:%d/health -> 200)" % port in result.stdout
    assert "unit: %s active/running" % LANE_UNIT in status(testhost, "--lane", LANE).stdout
    listed = status(testhost).stdout.splitlines()  # no --lane: one line per lane
    assert "lane default: %s 127.0.0.1:%d active/running, health up" % (UNIT, PORT) in listed, listed
    assert "lane b: %s 127.0.0.1:%d active/running, health up" % (LANE_UNIT, LANE_PORT) in listed, listed
    assert testhost.run("stat -c '%%a %%U' %s/env" % LANE_CONFIG).stdout.split() == ["600", "vllm"]
    assert main_pid(testhost, UNIT) == default_pid, "adding a lane never restarts another"
    # The fleet status lists both lanes.
    rc, _, failed = lane.fleet_status(tmp_path / "status.json")
    assert rc == 0, failed
    rows = json.loads((tmp_path / "status.json").read_text())["hosts"][INSTANCE]["lanes"]
    assert [(row["lane"], row["port"], row["health"]) for row in rows] == [("default", PORT, "up"),
                                                                         (LANE, LANE_PORT, "up")], rows
    # Each lane's serving links name what its unit runs: no prune removes a version a lane runs.
    for root, link in (("/opt/openclaw-vllm", "current"), ("/var/lib/openclaw-vllm/models", "tiny-awq")):
        for name in ("default", LANE):
            assert testhost.run("readlink -f %s/.serving/%s" % (root, name)).stdout == testhost.run(
                "readlink -f %s/%s" % (root, link)).stdout, (root, name)
    rc, changed, failed = lane()
    assert (rc, changed) == (0, []), failed


def lane_healthy(testhost, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if testhost.run("curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/health" % LANE_PORT).stdout == "200":
            return True
        time.sleep(2)
    return False


def test_a_stray_on_the_lanes_port_is_reclaimed_while_the_default_lane_serves(testhost, lane):
    default_pid = main_pid(testhost, UNIT)
    assert testhost.systemctl("stop", LANE_UNIT).rc == 0
    stray = testhost.start_holder("vllm-stray", LANE_PORT)
    # A request loop on the host against the default lane, through lane b's reclaim and start.
    testhost.run("rm -f /tmp/lanes-asks.log; (for i in $(seq 600); do curl -s -o /dev/null -w '%%{http_code}\\n' "
                 "http://127.0.0.1:%d/health >> /tmp/lanes-asks.log; sleep 0.2; done) >/dev/null 2>&1 & "
                 "echo $! > /tmp/lanes-asks.pid" % PORT)
    mark = testhost.mark()
    assert testhost.systemctl("start", LANE_UNIT).rc == 0
    lines = testhost.guard_lines(after=mark)
    assert any(line.startswith("VLLM_PORT_RECLAIM port=%d pid=%d" % (LANE_PORT, stray)) for line in lines), lines
    assert "VLLM_PORT_RECLAIMED port=%d" % LANE_PORT in lines, lines
    assert not testhost.alive(stray)
    assert lane_healthy(testhost), testhost.journal(lines=40)
    assert status(testhost, "--lane", LANE).rc == 0
    testhost.run("kill $(cat /tmp/lanes-asks.pid)")
    asked = testhost.run("cat /tmp/lanes-asks.log").stdout.split()
    assert len(asked) > 10 and set(asked) == {"200"}, "the default lane failed requests while lane b reclaimed"
    assert main_pid(testhost, UNIT) == default_pid


def test_the_lanes_guard_refuses_a_sibling_and_names_its_unit(testhost, lane):
    """Lane b's guard, asked about the default lane's port: a running unit's vLLM is never a stray."""
    default_pid = main_pid(testhost, UNIT)
    result = testhost.as_user("%s/openclaw-vllm-guard --config %s/service.conf %s" % (BIN, LANE_CONFIG, PORT))
    assert result.rc == 42, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("VLLM_PORT_HELD_UNKNOWN port=%d pid=%d " % (PORT, default_pid)), first
    assert first.endswith(' unit="%s"' % UNIT), first
    assert testhost.alive(default_pid) and main_pid(testhost, UNIT) == default_pid


def test_lanes_started_together_start_one_after_another(testhost, lane):
    """As at boot: both units started in one transaction. Lane b, listed after the default lane on this
    CPU host (the lanes share its memory and cores as lanes share a GPU), waits for the default lane's
    vLLM to answer before its own guard and vLLM run."""
    unit_file = testhost.run("cat %s/.config/systemd/user/%s" % (HOME, LANE_UNIT)).stdout
    assert "After=%s" % UNIT in unit_file.splitlines()
    assert testhost.systemctl("stop", LANE_UNIT, UNIT).rc == 0
    mark = testhost.mark()
    # Returns when lane b's start job is done: its wait, its guard and its exec.
    assert testhost.systemctl("start", UNIT, LANE_UNIT).rc == 0
    default_up = testhost.run("curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/health" % PORT).stdout
    assert default_up == "200", "lane b's start finished before the default lane answered"
    waited = testhost.run("journalctl --no-pager --output=cat --since %s _SYSTEMD_USER_UNIT=%s" % (
        "'%s'" % mark["since"], LANE_UNIT)).stdout
    line = [text for text in waited.splitlines() if text.startswith("openclaw-vllm-lane-wait: lane default ")]
    assert line and line[0].startswith("openclaw-vllm-lane-wait: lane default settled after "), waited[-2000:]
    assert int(line[0].split()[-2]) >= 1, "lane b waited while the default lane's vLLM started: %s" % line[0]
    assert lane_healthy(testhost), testhost.journal(lines=40)
    assert status(testhost).rc == 0 and status(testhost, "--lane", LANE).rc == 0


def test_a_lane_that_fails_its_gate_goes_back_alone(testhost, lane):
    """A new served name and a context longer than the model's for the default lane: its vLLM exits
    while it starts, its gate fails and it goes back to the unit it ran (whose name the gate then asks
    for). Lane b, after it in the list, is not touched: not restarted by the default lane's restarts,
    not switched. The inventory put back, the next run has nothing to do."""
    lane_pid = main_pid(testhost, LANE_UNIT)
    units = "%s/.config/systemd/user/" % HOME
    before = testhost.run("cat %s%s %s%s" % (units, UNIT, units, LANE_UNIT)).stdout
    rc, changed, failed = lane(default={"served_model_name": "tiny-awq-2", "extra_args": ["--max-model-len", "99999"]})
    assert rc != 0 and failed, lane.output[-3000:]
    message = failed[-1]["msg"]
    assert message.startswith("%s: vLLM on http://127.0.0.1:%d failed its gate" % (INSTANCE, PORT)), message
    assert "was rolled back" in message and UNIT in message, message
    assert "User-specified max_model_len (99999)" in message, "not the new unit's own failure: %s" % message
    assert testhost.run("cat %s%s %s%s" % (units, UNIT, units, LANE_UNIT)).stdout == before
    assert testhost.wait_healthy(timeout=10)
    result = status(testhost)
    assert result.rc == 0 and "tiny-awq-2" not in result.stdout, result.stdout
    assert main_pid(testhost, LANE_UNIT) == lane_pid, "the default lane's failed switch touched lane b"
    rc, changed, failed = lane()
    assert (rc, changed) == (0, []), failed or changed
    # rollback.yml rolls back the lane it is told, with the list's settings: lane b has no rollback
    # point (never switched), and a lane the list lacks is refused.
    rc, changed, failed = lane.rollback("-e", "vllm_service_lane=b")
    assert (rc, changed) == (0, []), failed
    assert "nothing to roll back to for lane b (%s/.config/openclaw-vllm/rollback/%s does not exist" % (
        HOME, LANE_UNIT) in lane.output, lane.output[-2000:]
    rc, changed, failed = lane.rollback("-e", "vllm_service_lane=c")
    assert rc != 0 and changed == [] and "vllm_service_lane 'c' is not one of this host's vllm_service_lanes " \
        "(default, b)" in failed[-1]["msg"], failed
    assert main_pid(testhost, LANE_UNIT) == lane_pid


def test_a_removed_lane_leaves_nothing_and_the_other_lane_serving(testhost, lane):
    default_pid = main_pid(testhost, UNIT)
    rc, changed, failed = lane("absent")
    assert rc == 0, failed
    assert {"Stop and disable the lane's unit", "Remove the lane's unit, service config, API key file, rollback point, serving links and metrics"
            } <= tasks(changed), changed
    assert testhost.run("test -e %s/.config/systemd/user/%s || test -e %s || test -e %s" % (
        HOME, LANE_UNIT, LANE_CONFIG, METRICS % LANE_PORT)).rc == 1, "lane b left its unit, config or metrics"
    assert testhost.run("test -e %s" % (METRICS % PORT)).rc == 0, "the default lane's metrics stay"
    assert testhost.run("test -L /opt/openclaw-vllm/.serving/b || test -L /var/lib/openclaw-vllm/models/.serving/b"
                        ).rc == 1, "lane b's serving links stay"
    assert testhost.run("test -L /opt/openclaw-vllm/.serving/default").rc == 0
    assert testhost.run("curl -s -o /dev/null http://127.0.0.1:%d/health" % LANE_PORT).rc != 0, "lane b still answers"
    assert main_pid(testhost, UNIT) == default_pid
    assert status(testhost).rc == 0
    rc, changed, failed = lane("absent")
    assert (rc, changed) == (0, []), failed
