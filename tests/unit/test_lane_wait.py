"""openclaw-vllm-lane-wait (module_utils/host/lane_wait.py): a lane starting after others waits until
each has settled, within one deadline, and never refuses the start. The unit state comes from the
user manager, which this machine has not: wait_lanes() is driven by a SETTLED TEST DOUBLE and a fake
clock here; the real wait runs on the test host (molecule default's test_lanes, lanes started together)."""
import os
import subprocess
import sys

from ansible_collections.openclaw.vllm.plugins.module_utils.host import lane_wait
from helpers.clock import Clock
from helpers.procs import free_port

WAIT = [sys.executable, "-c", "import sys; from ansible_collections.openclaw.vllm.plugins.module_utils.host.lane_wait "
        "import main; sys.exit(main())"]


def write_config(home, lane, port):
    folder = home / "openclaw-vllm" / ("lanes/" + lane if lane != "default" else "")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.conf").write_text("port=%d\nunit=u-%s.service\n" % (port, lane))


def test_each_lane_is_waited_for_in_turn_within_one_deadline(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    write_config(tmp_path, "default", 18001)
    write_config(tmp_path, "chat", 18002)
    clock = Clock()
    ready_at = {"u-default.service": 30.0, "u-chat.service": 1000.0}  # SETTLED TEST DOUBLE: when each settles
    asked = []

    def settled_double(unit, host, port):
        asked.append((unit, host, port))
        return clock.now >= ready_at[unit]

    results = lane_wait.wait_lanes(["default", "chat", "gone"], 100, clock=clock, sleep=clock.sleep,
                                   is_settled=settled_double)
    assert results == [("default", 30.0, True), ("chat", 70.0, False), ("gone", 0.0, True)]
    assert asked[0] == ("u-default.service", "127.0.0.1", 18001)
    assert ("u-chat.service", "127.0.0.1", 18002) in asked


def test_the_command_never_refuses_a_start_and_names_bad_input(tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    write_config(tmp_path, "default", free_port())
    done = subprocess.run(WAIT + ["--timeout", "5", "default", "nowhere"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["openclaw-vllm-lane-wait: lane default settled after 0 s",
                                        "openclaw-vllm-lane-wait: lane nowhere settled after 0 s"]
    for args, why in ((["Bad_Lane"], "lane 'Bad_Lane': expected lowercase"), (["--timeout", "soon", "a"], "--timeout"),
                      ([], "name at least one lane"), (["--fast", "a"], "unknown option --fast")):
        bad = subprocess.run(WAIT + args, env=env, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and why in bad.stderr, (args, bad.stderr)


def test_a_closed_stderr_never_refuses_the_start(tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    write_config(tmp_path, "default", free_port())
    closed = subprocess.run(["sh", "-c", '"$@" 2>&-', "sh"] + WAIT + ["--timeout", "5", "default"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert closed.returncode == 0, closed.stdout
