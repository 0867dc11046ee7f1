"""unknown_holder, a sibling unit: another running unit of the service user (systemd-run --user,
as a second lane would be) holds :8001 with a process whose argv the guard's patterns match
(vllm-stray). Inside a running unit's cgroup it is that unit's, not a stray: the guard refuses
(exit 42), names the unit, and kills nothing; status's HINT names the unit too. Runs after
test_unknown_holder.py (which leaves the unit serving); leaves the unit stopped and the port free
for test_unknown_holder_squatter.py, which starts by stopping it."""
import pytest

from testhost import BIN, PORT, UNIT, run_once, wait_for

SIBLING = "openclaw-vllm-sibling.service"
SIBLING_CMD = "vllm-stray -m http.server %d" % PORT


@pytest.fixture(scope="module")
@run_once
def refused(testhost, request):
    def stop_sibling():
        testhost.systemctl("stop", SIBLING)
        testhost.systemctl("stop", UNIT)
    request.addfinalizer(stop_sibling)
    assert testhost.systemctl("stop", UNIT).rc == 0
    started = testhost.as_user("systemd-run --user --collect --unit=%s bash -c %s", SIBLING,
                               "cd /tmp && exec -a vllm-stray python3 -m http.server %d" % PORT)
    assert started.rc == 0, started.stderr
    pid = wait_for(testhost.listener_pid, timeout=20)
    assert pid, "the sibling unit did not take :%d" % PORT
    mark = testhost.mark()
    restart = testhost.systemctl("restart", UNIT)
    lines = testhost.guard_lines(after=mark)
    print("guard lines:\n" + "\n".join(lines))
    return {"pid": pid, "restart": restart, "lines": lines}


def test_the_start_is_refused_naming_the_sibling_unit(refused):
    assert refused["restart"].rc != 0
    assert ('VLLM_PORT_HELD_UNKNOWN port=%d pid=%d cmd="%s" unit="%s"' % (PORT, refused["pid"], SIBLING_CMD, SIBLING)
            in refused["lines"])
    assert not [line for line in refused["lines"] if line.startswith(("VLLM_PORT_RECLAIM", "VLLM_ORPHAN_RECLAIM"))]


def test_the_sibling_is_alive_and_still_serves(testhost, refused):
    assert testhost.alive(refused["pid"]) and testhost.listener_pid() == refused["pid"]
    assert testhost.systemctl("is-active", SIBLING).stdout.strip() == "active"


def test_status_names_the_sibling_unit(testhost, refused):
    result = testhost.as_user(BIN + "/openclaw-vllm status --verbose")
    print(result.stdout)
    assert result.rc == 1
    assert result.stdout.splitlines()[-1].startswith(
        'HINT: vLLM blocked \u2014 port %d held by the running unit "%s" (pid=%d,' % (PORT, SIBLING, refused["pid"]))
