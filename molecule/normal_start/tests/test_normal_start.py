"""normal_start: restarts of a healthy unit, during loading, and after kill -9 of the API server."""
import time

import pytest

from testhost import BIN, PORT, UNIT, main_pid, run_once, tree, wait_for

ENGINE = "VLLM::EngineCore"


def engines(testhost):
    return [pid for pid, args in testhost.processes("^" + ENGINE)]


@pytest.fixture(scope="module")
@run_once
def plain_restart(testhost):
    assert testhost.wait_healthy(timeout=300)
    old = main_pid(testhost)
    old_tree = tree(testhost, old)
    mark = testhost.mark()
    started = time.monotonic()
    restart = testhost.systemctl("restart", UNIT)
    healthy = testhost.wait_healthy(timeout=300)
    print("restart to healthy: %.1f s" % (time.monotonic() - started))
    lines = testhost.guard_lines(after=mark)
    print("guard lines:\n" + "\n".join(lines))
    return {"old": old, "old_tree": old_tree, "restart": restart, "healthy": healthy, "lines": lines}


def test_restart_logs_port_ok_and_kills_nothing(plain_restart):
    assert plain_restart["restart"].rc == 0
    assert plain_restart["healthy"]
    assert "VLLM_PORT_OK port=%d" % PORT in plain_restart["lines"]
    killing = [line for line in plain_restart["lines"]
               if line.startswith(("VLLM_PORT_RECLAIM", "VLLM_PORT_KILL", "VLLM_ORPHAN_RECLAIM"))]
    assert killing == [], "systemd stops the old instance itself; the guard must find nothing to kill"


def test_new_instance_replaced_the_old_one(testhost, plain_restart):
    assert main_pid(testhost) not in (0, plain_restart["old"])
    assert not [pid for pid in plain_restart["old_tree"] if testhost.alive(pid)]
    assert testhost.chat("Hello")["usage"]["completion_tokens"] > 0


def test_restart_while_loading_ends_healthy(testhost):
    """Restart again while the new instance has bound :8001 but does not listen yet."""
    assert testhost.systemctl("restart", UNIT).rc == 0
    loading = main_pid(testhost)

    def bound_not_serving():
        probe = testhost.as_user(BIN + "/openclaw-vllm-guard --probe-only %s", PORT)
        return "VLLM_PORT_HELD_VLLM" in probe.stderr and testhost.http("/health", key=False, timeout=2)[0] != 200

    assert wait_for(bound_not_serving, timeout=120, interval=0.2), "never saw the port bound before health"
    loading_tree = tree(testhost, loading)
    mark = testhost.mark()
    assert testhost.systemctl("restart", UNIT).rc == 0
    assert testhost.wait_healthy(timeout=300)
    print("guard lines:\n" + "\n".join(testhost.guard_lines(after=mark)))
    assert not [pid for pid in loading_tree if testhost.alive(pid)], "the loading instance's processes are gone"
    assert main_pid(testhost) != loading
    assert len(engines(testhost)) == 1
    assert testhost.chat("Still there?")["usage"]["completion_tokens"] > 0


def test_kill_9_of_the_api_server_leaves_no_orphaned_engine(testhost):
    assert testhost.wait_healthy(timeout=300)
    server = main_pid(testhost)
    old_engines = engines(testhost)
    assert old_engines, "a healthy vLLM has an engine process"
    mark = testhost.mark()
    assert testhost.run("kill -9 %d" % server).rc == 0
    assert wait_for(lambda: main_pid(testhost) not in (0, server), timeout=120), "the unit did not come back"
    assert testhost.wait_healthy(timeout=300)
    print("guard lines:\n" + "\n".join(testhost.guard_lines(after=mark)))
    print("journal:\n" + testhost.journal(after=mark, lines=40))
    assert not [pid for pid in old_engines if testhost.alive(pid)], "an engine of the killed server survived"
    current = engines(testhost)
    assert len(current) == 1
    assert current[0] in tree(testhost, main_pid(testhost)), "the one engine belongs to the new server"
    assert testhost.chat("After the crash")["usage"]["completion_tokens"] > 0


def test_orphaned_engine_of_a_dead_lane_is_reaped_at_the_next_start(testhost):
    """A real vLLM outside the unit loses its API server to kill -9: its VLLM::EngineCore
    (and Worker) live on, re-parented, holding memory. The guard reaps them at the next start."""
    lane = testhost.start_lane(8011)
    engine = [pid for pid in testhost.children(lane) if pid in engines(testhost)]
    assert len(engine) == 1, "the lane has its engine"
    engine = engine[0]
    worker = testhost.children(engine)
    assert testhost.run("kill -9 %d" % lane).rc == 0
    time.sleep(5)
    assert testhost.alive(engine), "vLLM's engine outlives its killed API server: the orphan exists"
    mark = testhost.mark()
    assert testhost.systemctl("restart", UNIT).rc == 0
    lines = testhost.guard_lines(after=mark)
    print("guard lines:\n" + "\n".join(lines))
    assert 'VLLM_ORPHAN_RECLAIM pid=%d cmd="VLLM::EngineCore"' % engine in lines
    assert wait_for(lambda: not testhost.alive(engine), timeout=15)
    assert not [pid for pid in worker if testhost.alive(pid)], "the orphan's worker went with it"
    assert testhost.wait_healthy(timeout=300)
    assert len(engines(testhost)) == 1, "only the unit's own engine is left"
