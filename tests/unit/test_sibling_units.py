"""A process inside a running unit's cgroup is that unit's, whatever its argv says: the guard
refuses (exit 42) and names the unit, and never kills it. Real processes in real cgroups (named
like systemd's), real sockets, the real guard and status CLIs. A stray outside every service (a
login session's scope, no unit) is reclaimed as before, and so is one in the guard's own unit."""
import os
import subprocess

import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils.host.cgroups import service_of
from helpers.cgroups import cgroup, move, needs_cgroups
import json

from helpers.paths import GUARD, STATUS
from helpers.ansible_runs import run_module
from helpers.procs import free_port, run_guard, wait_gone

pytestmark = needs_cgroups
USER_MANAGER = ("user.slice", "user-990.slice", "user@990.service")


@pytest.mark.parametrize("parts, service", [
    (USER_MANAGER + ("app.slice", "openclaw-vllm-b.service"), "openclaw-vllm-b.service"),
    (USER_MANAGER + ("init.scope",), None),                      # the user manager itself
    (("user.slice", "user-990.slice", "session-4.scope"), None),  # a login shell
    (("system.slice", "run-u7.service"), "run-u7.service"),       # systemd-run
    (USER_MANAGER + ("app.slice",), None),                        # a slice only
])
def test_service_of_reads_the_deepest_unit(spawn, parts, service):
    holder = spawn("sleeper", "--port", free_port())
    with cgroup(*parts) as path:
        move(holder.pid, path)
        assert service_of(holder.pid) == service
    assert service_of(holder.pid) is None


def test_a_sibling_units_vllm_is_refused_named_and_left_alive(spawn):
    port = free_port()
    sibling = spawn("vllm-stray", "--port", port, shell_exec_a=True)
    with cgroup(*USER_MANAGER, "app.slice", "openclaw-vllm-lane-a.service") as path:
        move(sibling.pid, path)
        result = run_guard(port)
        assert result.returncode == 42, result.stderr
        assert result.stderr.splitlines()[0] == (
            'VLLM_PORT_HELD_UNKNOWN port=%d pid=%d cmd="vllm-stray %s --port %d" unit="openclaw-vllm-lane-a.service"'
            % (port, sibling.pid, pytest.HOLDER, port))
        assert not wait_gone(sibling.pid, timeout=0.5), "a running unit's process was killed"

        status = subprocess.run([STATUS, "status", "--verbose", "--port", str(port)], capture_output=True, text=True,
                                timeout=60)
        assert status.stdout.splitlines()[-1].startswith(
            "HINT: vLLM blocked \u2014 port %d held by the running unit \"openclaw-vllm-lane-a.service\" (pid=%d,"
            % (port, sibling.pid)), status.stdout


def test_a_stray_in_a_login_session_is_reclaimed(spawn):
    port = free_port()
    stray = spawn("vllm-stray", "--port", port, shell_exec_a=True)
    with cgroup("user.slice", "user-990.slice", "session-9.scope") as path:
        move(stray.pid, path)
        result = run_guard(port)
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines()[0].startswith("VLLM_PORT_RECLAIM port=%d pid=%d " % (port, stray.pid))
        assert wait_gone(stray.pid)


def test_a_stray_in_the_guards_own_unit_is_reclaimed(spawn):
    """ExecStartPre runs in the unit's cgroup: what the unit left there is its own, a stray."""
    port = free_port()
    stray = spawn("vllm-stray", "--port", port, shell_exec_a=True)
    with cgroup(*USER_MANAGER, "app.slice", "openclaw-vllm.service") as path:
        move(stray.pid, path)
        result = subprocess.run([GUARD, str(port)], capture_output=True, text=True, timeout=60,
                                preexec_fn=lambda: move(os.getpid(), path))
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines()[0].startswith("VLLM_PORT_RECLAIM port=%d pid=%d " % (port, stray.pid))
        assert wait_gone(stray.pid)


def test_an_engine_without_its_server_inside_a_running_unit_is_not_an_orphan(spawn):
    """An engine whose API server is gone is reaped as an orphan only outside every running unit:
    inside one (a sibling stopping or restarting), it is that unit's to handle."""
    port = free_port()
    parent = spawn("vllm", "--children", "1", "--child-title", "VLLM::EngineCore", "--orphan-children")
    engine = parent.child_pids[0]
    assert wait_gone(parent.pid)
    with cgroup(*USER_MANAGER, "app.slice", "openclaw-vllm-lane-a.service") as path:
        move(engine, path)
        result = run_guard(port)
        assert result.returncode == 0, result.stderr
        assert "VLLM_ORPHAN_RECLAIM" not in result.stderr
        assert not wait_gone(engine, timeout=0.3)
    result = run_guard(port)  # out of the unit again: an orphan like any other
    assert 'VLLM_ORPHAN_RECLAIM pid=%d ' % engine in result.stderr
    assert wait_gone(engine)


def test_the_unit_the_port_belongs_to_is_ours_from_a_shell_too(spawn, tmp_path):
    """status (and the guard) run from a login shell or over ssh are in no unit: the service named
    by --unit / service.conf's unit= is theirs to judge by identity, not a sibling."""
    port = free_port()
    server = spawn("vllm", "--port", port, shell_exec_a=True)
    with cgroup(*USER_MANAGER, "app.slice", "openclaw-vllm-a.service") as path:
        move(server.pid, path)
        ours = subprocess.run([STATUS, "status", "--json", "--port", str(port), "--unit", "openclaw-vllm-a.service"],
                              capture_output=True, text=True, timeout=60)
        holders = json.loads(ours.stdout)["probe"]["holders"]
        assert [(h["pid"], h["kind"], h["unit"]) for h in holders] == [(server.pid, "vllm_like", None)]
        other = subprocess.run([STATUS, "status", "--json", "--port", str(port), "--unit", "openclaw-vllm-b.service"],
                               capture_output=True, text=True, timeout=60)
        holders = json.loads(other.stdout)["probe"]["holders"]
        assert [(h["pid"], h["kind"], h["unit"]) for h in holders] == [(server.pid, "unknown", "openclaw-vllm-a.service")]

        config = tmp_path / "service.conf"
        config.write_text("port=%d\nunit=openclaw-vllm-a.service\n" % port)
        probed = subprocess.run([GUARD, "--probe-only", "--config", str(config)], capture_output=True, text=True,
                                timeout=60)
        assert probed.returncode == 0, probed.stderr
        assert probed.stderr.startswith("VLLM_PORT_HELD_VLLM port=%d pid=%d " % (port, server.pid))
        assert server.alive()


@pytest.mark.ansible
def test_the_module_judges_the_units_process_by_identity_and_any_other_as_unknown(spawn):
    port = free_port()
    server = spawn("vllm", "--port", port, shell_exec_a=True)
    with cgroup(*USER_MANAGER, "app.slice", "openclaw-vllm-a.service") as path:
        move(server.pid, path)
        ours = run_module("port_guard", {"port": port, "state": "probed", "unit": "openclaw-vllm-a.service"})
        assert [(h["pid"], h["kind"]) for h in ours["holders"]] == [(server.pid, "vllm_like")]
        theirs = run_module("port_guard", {"port": port, "state": "free"})
        assert theirs.get("failed"), theirs
        assert [(h["pid"], h["kind"], h["unit"]) for h in theirs["holders"]] == [
            (server.pid, "unknown", "openclaw-vllm-a.service")]
        assert server.alive()
