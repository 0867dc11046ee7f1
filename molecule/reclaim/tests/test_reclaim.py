"""reclaim: a stray of ours holds :8001 when the unit restarts; the guard takes the port back."""
import pytest

from testhost import PORT, in_order, run_once, wait_for

STRAY_CMD = "vllm-stray -m http.server %d" % PORT


@pytest.fixture(scope="module")
@run_once
def reclaim(testhost):
    """As the original did it: stop the unit, start a stray on the port, restart the unit."""
    assert testhost.systemctl("stop", "openclaw-vllm.service").rc == 0
    stray = testhost.start_holder("vllm-stray")
    mark = testhost.mark()
    restart = testhost.systemctl("restart", "openclaw-vllm.service")
    healthy = testhost.wait_healthy(timeout=300)
    lines = testhost.guard_lines(after=mark)
    print("guard lines:\n" + "\n".join(lines))
    return {"stray": stray, "restart": restart, "healthy": healthy, "lines": lines}


def test_restart_succeeds(reclaim):
    assert reclaim["restart"].rc == 0, reclaim["restart"].stderr


def test_journal_shows_reclaim_then_reclaimed_then_ok(reclaim):
    assert in_order(reclaim["lines"], [
        'VLLM_PORT_RECLAIM port=%d pid=%d cmd="%s"' % (PORT, reclaim["stray"], STRAY_CMD),
        "VLLM_PORT_RECLAIMED port=%d" % PORT,
        "VLLM_PORT_OK port=%d" % PORT,
    ]), reclaim["lines"]


def test_stray_is_gone(testhost, reclaim):
    assert wait_for(lambda: not testhost.alive(reclaim["stray"]), timeout=10)


def test_unit_is_active_and_healthy(testhost, reclaim):
    assert testhost.systemctl("is-active", "openclaw-vllm.service").stdout.strip() == "active"
    assert reclaim["healthy"]
    assert testhost.listener_pid() != reclaim["stray"]


def test_completion_works(testhost, reclaim):
    reply = testhost.chat("Are you back?")
    assert reply["usage"]["completion_tokens"] > 0


def test_converged_over_ssh_as_a_non_root_admin_with_sudo(testhost):
    """converge.yml went over ssh as ocadmin (molecule/shared/vars/ssh.yml), who became root and the
    service user through sudo: the seed's reclaim case on a host reached as real fleets are."""
    assert testhost.ssh_logins() == {"ocadmin"}
    assert testhost.became("ocadmin") == {"root", "vllm"}, testhost.sudo_lines()[-5:]
