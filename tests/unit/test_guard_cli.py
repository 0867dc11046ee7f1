"""The guard CLI end to end: real sockets, real processes, real signals."""
import os
import sys

import pytest

from helpers.marks import needs_ipv6, needs_root
from helpers.procs import free_port, run_guard, wait_gone


def test_free_port_starts():
    port = free_port()
    result = run_guard(port)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["VLLM_PORT_OK port=%d" % port]


def test_renamed_stray_is_reclaimed(spawn):
    port = free_port()
    stray = spawn("vllm-stray", "--port", port, shell_exec_a=True)
    result = run_guard(port)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        'VLLM_PORT_RECLAIM port=%d pid=%d cmd="vllm-stray %s --port %d"' % (port, stray.pid, pytest.HOLDER, port),
        "VLLM_PORT_RECLAIMED port=%d" % port,
        "VLLM_PORT_OK port=%d" % port,
    ]
    assert wait_gone(stray.pid)


def test_real_http_server_stray_is_reclaimed(tmp_path):
    """The original's own reproduction: exec -a vllm-stray python3 -m http.server PORT."""
    import subprocess
    import threading

    port = free_port()
    proc = subprocess.Popen(["bash", "-c", 'exec -a vllm-stray "$0" -m http.server --bind 127.0.0.1 "$1"',
                             sys.executable, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    threading.Thread(target=proc.wait, daemon=True).start()
    try:
        _wait_listening(port)
        result = run_guard(port)
        assert result.returncode == 0, result.stderr
        assert "VLLM_PORT_RECLAIM port=%d pid=%d" % (port, proc.pid) in result.stderr
        assert wait_gone(proc.pid)
    finally:
        proc.kill()


def _wait_listening(port):
    import socket
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("nothing listens on %d" % port)


def test_unknown_holder_is_refused_and_left_alive(spawn):
    port = free_port()
    holder = spawn("unknown-holder", "--port", port, shell_exec_a=True)
    result = run_guard(port)
    assert result.returncode == 42
    assert result.stderr.splitlines() == [
        'VLLM_PORT_HELD_UNKNOWN port=%d pid=%d cmd="unknown-holder %s --port %d"' % (
            port, holder.pid, pytest.HOLDER, port)]
    assert holder.alive()


def test_vllm_further_along_the_arguments_is_not_identity(spawn):
    """python3 -m http.server --directory /srv/vllm-docs PORT is not vLLM."""
    port = free_port()
    holder = spawn(sys.executable, "--port", port, "--title", "vllm-docs", "--child-title", "/srv/vllm-docs")
    result = run_guard(port)
    assert result.returncode == 42, result.stderr
    assert "VLLM_PORT_HELD_UNKNOWN port=%d pid=%d" % (port, holder.pid) in result.stderr
    assert holder.alive()


def test_stray_ignoring_sigterm_gets_sigkill(spawn):
    port = free_port()
    stray = spawn("vllm-stray", "--port", port, "--ignore-term")
    result = run_guard("--grace", "0.5", port)
    assert result.returncode == 0, result.stderr
    assert "VLLM_PORT_KILL port=%d pid=%d signal=SIGKILL" % (port, stray.pid) in result.stderr
    assert result.stderr.splitlines()[-2:] == ["VLLM_PORT_RECLAIMED port=%d" % port, "VLLM_PORT_OK port=%d" % port]
    assert wait_gone(stray.pid)


def test_stray_children_engine_core_are_killed_too(spawn):
    port = free_port()
    stray = spawn("vllm", "--port", port, "--children", "2", "--child-title", "VLLM::EngineCore")
    assert len(stray.child_pids) == 2
    for pid in stray.child_pids:  # what setproctitle leaves in the kernel's comm
        with open("/proc/%d/comm" % pid) as comm:
            assert comm.read().strip() == "VLLM::EngineCor"
    result = run_guard(port)
    assert result.returncode == 0, result.stderr
    for pid in [stray.pid] + stray.child_pids:
        assert wait_gone(pid), "pid %d survived" % pid


def test_children_sharing_the_socket_are_part_of_the_stray(spawn):
    """A forked engine inherits the API server's socket: it holds the port too."""
    port = free_port()
    stray = spawn("vllm", "--port", port, "--children", "1", "--child-title", "python3")
    result = run_guard(port)
    assert result.returncode == 0, result.stderr
    assert wait_gone(stray.pid) and wait_gone(stray.child_pids[0])


def test_bound_but_not_listening_stray_is_reclaimed(spawn):
    """A vLLM still loading its model has bound the port but does not listen yet."""
    port = free_port()
    stray = spawn("vllm", "--port", port, "--host", "127.0.0.1", "--no-listen")
    probe = run_guard("--probe-only", port)
    assert probe.returncode == 0
    assert "VLLM_PORT_HELD_VLLM port=%d pid=%d" % (port, stray.pid) in probe.stderr
    result = run_guard("--host", "127.0.0.1", port)
    assert result.returncode == 0, result.stderr
    assert "VLLM_PORT_RECLAIM port=%d pid=%d" % (port, stray.pid) in result.stderr
    assert wait_gone(stray.pid)


def test_bound_but_not_listening_unknown_is_refused(spawn):
    port = free_port()
    holder = spawn("unknown-holder", "--port", port, "--no-listen")
    result = run_guard(port)
    assert result.returncode == 42
    assert "VLLM_PORT_HELD_UNKNOWN port=%d pid=%d" % (port, holder.pid) in result.stderr


@needs_ipv6
def test_ipv6_only_holder(spawn):
    port = free_port("::1")
    holder = spawn("unknown-holder", "--port", port, "--host", "::1")
    assert run_guard(port).returncode == 42, "without --host every holder conflicts"
    assert run_guard("--host", "::1", port).returncode == 42
    assert run_guard("--host", "::", port).returncode == 42
    ok = run_guard("--host", "127.0.0.1", port)
    assert ok.returncode == 0 and "VLLM_PORT_OK" in ok.stderr, "::1 does not block 127.0.0.1"
    assert holder.alive()


@needs_ipv6
def test_dual_stack_holder_blocks_ipv4(spawn):
    port = free_port()
    holder = spawn("unknown-holder", "--port", port, "--host", "::", "--v6only", "0")
    result = run_guard("--host", "127.0.0.1", port)
    assert result.returncode == 42
    assert "pid=%d" % holder.pid in result.stderr


@needs_ipv6
def test_v6only_wildcard_does_not_block_ipv4(spawn):
    port = free_port()
    spawn("unknown-holder", "--port", port, "--host", "::", "--v6only", "1")
    assert run_guard("--host", "127.0.0.1", port).returncode == 0
    assert run_guard("--host", "::1", port).returncode == 42


def test_other_loopback_address_does_not_block(spawn):
    port = free_port()
    holder = spawn("unknown-holder", "--port", port, "--host", "127.0.0.2")
    assert run_guard("--host", "127.0.0.1", port).returncode == 0
    assert run_guard("--host", "127.0.0.2", port).returncode == 42
    assert run_guard("--host", "0.0.0.0", port).returncode == 42
    assert holder.alive()


def test_reuseport_holders_one_unknown_kills_nothing(spawn):
    port = free_port()
    ours = spawn("vllm", "--port", port, "--reuseport")
    theirs = spawn("unknown-holder", "--port", port, "--reuseport")
    result = run_guard(port)
    assert result.returncode == 42
    assert result.stderr.splitlines() == [
        'VLLM_PORT_HELD_UNKNOWN port=%d pid=%d cmd="unknown-holder %s --port %d --reuseport"' % (
            port, theirs.pid, pytest.HOLDER, port)]
    assert ours.alive() and theirs.alive()


def test_reuseport_holders_all_ours_are_all_reclaimed(spawn):
    port = free_port()
    first = spawn("vllm", "--port", port, "--reuseport")
    second = spawn("vllm-stray", "--port", port, "--reuseport", "--host", "127.0.0.1")
    result = run_guard(port)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("VLLM_PORT_RECLAIM ") == 2
    assert wait_gone(first.pid) and wait_gone(second.pid)


def test_orphaned_engine_is_reaped_and_a_live_lane_is_left(spawn):
    port = free_port()
    orphan_parent = spawn("vllm", "--children", "1", "--child-title", "VLLM::EngineCore", "--orphan-children")
    orphan = orphan_parent.child_pids[0]
    assert wait_gone(orphan_parent.pid)
    lane = spawn("vllm", "--children", "1", "--child-title", "VLLM::EngineCore")
    result = run_guard(port)
    assert result.returncode == 0, result.stderr
    assert 'VLLM_ORPHAN_RECLAIM pid=%d cmd="VLLM::EngineCore' % orphan in result.stderr
    assert "pid=%d" % lane.child_pids[0] not in result.stderr
    assert wait_gone(orphan)
    assert lane.alive() and lane.alive(lane.child_pids[0])


@needs_root
def test_another_users_vllm_is_never_ours(spawn):
    port = free_port()
    holder = spawn("vllm", "--port", port, shell_exec_a=True, user="nobody")
    result = run_guard(port)
    assert result.returncode == 42
    assert "VLLM_PORT_HELD_UNKNOWN port=%d pid=%d" % (port, holder.pid) in result.stderr
    assert holder.alive()


def test_the_guards_own_ancestor_is_never_killed(spawn, tmp_path):
    """A vllm-named process that runs the guard itself (and holds the port) is protected."""
    import subprocess

    port = free_port()
    script = tmp_path / "parent.py"
    script.write_text(
        "import socket, subprocess, sys\n"
        "s = socket.socket(); s.bind(('127.0.0.1', %d)); s.listen()\n"
        "sys.exit(subprocess.run([%r, '%d']).returncode)\n" % (port, os.path.join(os.path.dirname(sys.executable),
                                                                              "openclaw-vllm-guard"), port))
    result = subprocess.run(["vllm", str(script)], executable=sys.executable, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 42, result.stderr
    assert "VLLM_PORT_HELD_UNKNOWN" in result.stderr


def test_probe_only_kills_nothing(spawn):
    port = free_port()
    stray = spawn("vllm-stray", "--port", port)
    result = run_guard("--probe-only", port)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        'VLLM_PORT_HELD_VLLM port=%d pid=%d cmd="vllm-stray %s --port %d"' % (port, stray.pid, pytest.HOLDER, port)]
    assert stray.alive()


@needs_root
def test_probe_that_cannot_decide_refuses(tmp_path):
    """An unprivileged guard cannot bind a privileged port: it says so and refuses."""
    import subprocess

    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                             sys.executable, "-m", "ansible_collections.openclaw.vllm.plugins.module_utils.host.guard_cli",
                             "80"], capture_output=True, text=True, timeout=30, cwd="/")
    assert result.returncode == 42, result.stderr
    assert result.stderr.startswith('VLLM_PORT_PROBE_FAILED port=80 reason="bind test failed: Permission denied"')


def test_cmd_is_quoted_and_escaped(spawn):
    port = free_port()
    holder = spawn('unknown "quoted"\nholder', "--port", port)
    result = run_guard(port)
    assert result.returncode == 42
    line = result.stderr.splitlines()[0]
    assert line == 'VLLM_PORT_HELD_UNKNOWN port=%d pid=%d cmd="unknown \\"quoted\\"\\nholder %s --port %d"' % (
        port, holder.pid, pytest.HOLDER, port)


@pytest.mark.parametrize("args, expected", [
    (["0"], "port '0' is out of range"),
    (["65536"], "port '65536' is out of range"),
    (["-1"], "option -1 not recognized"),
    (["http"], "port 'http' is not a number"),
    ([], "expected exactly one PORT, got 0"),
    (["8001", "8002"], "expected exactly one PORT, got 2"),
    (["--bogus", "8001"], "option --bogus not recognized"),
    (["--grace", "soon", "8001"], "--grace 'soon': expected seconds"),
    (["--host", "no.such.host.invalid", "8001"], "host 'no.such.host.invalid' is not an IP address"),
])
def test_bad_usage_exits_2_and_names_the_input(args, expected):
    result = run_guard(*args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "usage: openclaw-vllm-guard" in result.stderr
