"""The guard under hostile input and faults (issue 10): real processes, real sockets.

Each class of defect has its own tests: identity from names only, children judged by
the socket they hold, patterns that match everything, event output that cannot crash or
forge a line, bad usage, wrong addresses, unreadable holders, and failing closed.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from helpers.ansible_runs import run_module
from helpers.marks import needs_root
from helpers.paths import FULL_TIER, GUARD, HOLDER, STATUS
from helpers.procs import free_port, run_guard, wait_gone


PG = "ansible_collections.openclaw.vllm.plugins.module_utils.host.guard_cli"


def exec_a(argv0, *args, **popen):
    """Start ``python3 ARGS`` with argv[0] set to ``argv0`` (bash ``exec -a``), as an operator would."""
    proc = subprocess.Popen(["bash", "-c", 'exec -a "$0" "$@"', argv0, sys.executable, *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **popen)
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


def wait_held(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.05)
    raise AssertionError("nothing holds %d" % port)


@pytest.fixture
def started():
    procs = []
    yield procs
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass


def alive(pid):
    return not wait_gone(pid, timeout=0.2)


# --------------------------------------------------------------------------- 1. wrong kills

@pytest.mark.parametrize("argv0, args", [
    # a checkout named openclaw-vllm: the directory is not the identity, http.server is
    ("openclaw-vllm/.venv/bin/python", ["-m", "http.server", "--bind", "127.0.0.1", "{port}"]),
    ("/opt/vllm/bin/python3", ["-m", "http.server", "--bind", "127.0.0.1", "{port}"]),
    ("vllm.d/sleep", ["-m", "http.server", "--bind", "127.0.0.1", "{port}"]),
    ("vllm-env/bin/python3", [HOLDER, "--port", "{port}"]),
    # python-* is not an interpreter: an option's value is not its script
    ("python-proxy", [HOLDER, "--port", "{port}", "--argv", '["python-proxy", "--config", "vllm.yaml"]']),
    ("python3-proxy", [HOLDER, "--port", "{port}", "--argv", '["python3-proxy", "vllm"]']),
    # a real interpreter whose option value only looks like a script
    ("python3", [HOLDER, "--port", "{port}", "--argv", '["python3", "-X", "vllm", "holder.py"]']),
    ("python3", [HOLDER, "--port", "{port}", "--argv", '["python3", "-W", "vllm", "-c", "pass"]']),
    # -c code never names a program, whatever it contains
    ("python3", ["-c", "import runpy,sys; sys.argv=['x','--bind','127.0.0.1','{port}']; "
                       "runpy.run_module('http.server', run_name='__main__')", "vllm"]),
    # look-alike letters are not ours: KELVIN SIGN, fullwidth v
    ("\u212allm-stray", ["-m", "http.server", "--bind", "127.0.0.1", "{port}"]),
    ("\uff56llm", ["-m", "http.server", "--bind", "127.0.0.1", "{port}"]),
])
def test_identity_comes_from_names_never_directories(started, argv0, args):
    port = free_port()
    proc = exec_a(argv0, *[a.format(port=port) for a in args])
    started.append(proc)
    wait_held(port)
    result = run_guard(port)
    assert result.returncode == 42, result.stderr
    assert "VLLM_PORT_HELD_UNKNOWN port=%d pid=%d" % (port, proc.pid) in result.stderr
    assert alive(proc.pid)
    probe = run_guard("--probe-only", port)
    assert probe.returncode == 42 and "HELD_VLLM" not in probe.stderr


def test_custom_wildcard_pattern_never_matches_a_directory(started):
    port = free_port()
    proc = exec_a("/opt/vllm/bin/python3", pytest.HOLDER, "--port", port)
    started.append(proc)
    wait_held(port)
    result = run_guard("--pattern", "*vllm*", port)
    assert result.returncode == 42, result.stderr
    assert alive(proc.pid)


@pytest.mark.parametrize("argv0, args", [
    ("python3", ["-m", "vllm_stray_module"]),        # -m names the module
    ("python3.11", ["-I", "-u", "-X", "dev", "-W", "ignore", "{script}"]),  # options with values
    ("python3", ["-um", "vllm_stray_module"]),       # a cluster ending in -m
    (".venv/bin/python", ["-Wignore", "-Xdev", "{script}"]),
])
def test_real_interpreter_forms_are_parsed_like_cpython(started, tmp_path, argv0, args):
    """The program an interpreter runs is its identity: vllm (script) or vllm.* (module)."""
    port = free_port()
    script = tmp_path / "vllm"
    script.write_text("import runpy; runpy.run_path(%r, run_name='__main__')\n" % pytest.HOLDER)
    (tmp_path / "vllm_stray_module.py").write_text(script.read_text())
    proc = exec_a(argv0, *[a.format(script=script) for a in args], "--port", port, cwd=str(tmp_path),
                  env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    started.append(proc)
    wait_held(port)
    patterns = ["--pattern", "vllm", "--pattern", "vllm_stray*"]
    result = run_guard(*patterns, port)
    assert result.returncode == 0, result.stderr
    assert "VLLM_PORT_RECLAIM port=%d pid=%d" % (port, proc.pid) in result.stderr
    assert wait_gone(proc.pid)


def test_child_with_its_own_socket_is_judged_by_its_own_identity(spawn):
    """A vllm stray on 127.0.0.1:P whose child bound 127.0.0.2:P itself: nothing is killed."""
    port = free_port()
    stray = spawn("vllm", "--port", port, "--host", "127.0.0.1", "--children", "1",
                  "--child-title", "unknown-child", "--child-own-socket", "127.0.0.2")
    child = stray.child_pids[0]
    result = run_guard(port)
    assert result.returncode == 42, result.stderr
    assert result.stderr.splitlines() == ['VLLM_PORT_HELD_UNKNOWN port=%d pid=%d cmd="unknown-child %s --title '
                                          'unknown-child --port %d --host 127.0.0.2"' % (
                                              port, child, pytest.HOLDER, port)]
    assert stray.alive() and stray.alive(child)
    # Only 127.0.0.1 matters to a guard that binds there: the stray alone is reclaimed, with its tree.
    result = run_guard("--host", "127.0.0.1", port)
    assert result.returncode == 0, result.stderr
    assert wait_gone(stray.pid)


@pytest.mark.parametrize("pattern", ["*", "**", "?*", "*?*", "py*", "python*", "*.py", "*on*", "[a-z]*", "*/vllm",
                                     "", "*-*"])
def test_patterns_that_match_everything_are_refused(pattern):
    result = run_guard("--pattern", pattern, free_port())
    assert result.returncode == 2
    assert "pattern %r" % pattern in result.stderr


# --------------------------------------------------------------------------- 2. crashes and hangs

@pytest.fixture
def dev_log():
    """A real syslog socket at /dev/log (this machine has none): collects what the guard sends."""
    if os.path.exists("/dev/log") or os.geteuid() != 0:
        pytest.skip("needs root and no /dev/log of the host's own")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind("/dev/log")
    sock.settimeout(0.5)
    received = []

    def drain():
        while True:
            try:
                received.append(sock.recv(1 << 20))
            except socket.timeout:
                return received

    try:
        yield drain
    finally:
        sock.close()
        os.unlink("/dev/log")


def test_non_utf8_argv_reaches_syslog_and_is_reclaimed(spawn, dev_log):
    port = free_port()
    stray = spawn(b"vllm-stray\xff\xfe".decode("utf-8", "surrogateescape"), "--port", port)
    result = run_guard(port)
    assert result.returncode == 0, result.stderr
    assert wait_gone(stray.pid)
    messages = b"".join(dev_log())
    assert b"openclaw-vllm-port-guard" in messages
    assert b'VLLM_PORT_RECLAIM port=%d pid=%d cmd="vllm-stray\\xff\\xfe' % (port, stray.pid) in messages
    assert b"VLLM_PORT_RECLAIMED port=%d" % port in messages


def test_non_utf8_unknown_holder_is_refused_with_42(spawn, dev_log):
    port = free_port()
    holder = spawn(b"unknown\xff".decode("utf-8", "surrogateescape"), "--port", port)
    result = run_guard(port)
    assert result.returncode == 42, result.stderr
    assert 'cmd="unknown\\xff ' in result.stderr
    assert b"VLLM_PORT_HELD_UNKNOWN port=%d pid=%d" % (port, holder.pid) in b"".join(dev_log())
    assert holder.alive()


def test_huge_argv_is_truncated_with_a_marker_in_stderr_and_syslog(spawn, dev_log):
    port = free_port()
    holder = spawn("unknown-holder", "--port", port, "--pad", *["x" * 100000] * 3)
    result = run_guard(port)
    assert result.returncode == 42
    line = result.stderr.splitlines()[0]
    assert len(line) < 3000
    assert "...[truncated: 2048 of " in line
    assert any(b"VLLM_PORT_HELD_UNKNOWN port=%d pid=%d" % (port, holder.pid) in m and b"[truncated" in m
               for m in dev_log())


def test_status_and_module_survive_non_utf8_holders(spawn):
    port = free_port()
    holder = spawn(b"unknown\xff\xc3".decode("utf-8", "surrogateescape"), "--port", port)
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="en_US.UTF-8", PYTHONIOENCODING="")
    result = subprocess.run([STATUS, "status", "--verbose", "--port", str(port)], capture_output=True, timeout=60,
                            env=env)
    assert result.returncode == 1, result.stderr
    assert b"Traceback" not in result.stderr
    hint = result.stdout.decode("utf-8").splitlines()[-1]
    assert hint.startswith('HINT: vLLM blocked \u2014 port %d held by unknown process (pid=%d, cmd="unknown\\xff\\xc3 '
                           % (port, holder.pid))
    as_json = subprocess.run([STATUS, "status", "--json", "--port", str(port)], capture_output=True, timeout=60, env=env)
    facts = json.loads(as_json.stdout)
    assert facts["probe"]["holders"][0]["argv"][0] == "unknown\\xff\\xc3"

    task = run_module("port_guard", "port=%d state=probed" % port)
    assert task.get("failed"), task
    assert task["holders"][0]["cmd"].startswith("unknown\\xff\\xc3 ")
    assert holder.alive()


@pytest.mark.parametrize("stderr_mode", ["closed", "broken-pipe"])
def test_logging_failure_never_changes_the_decision(spawn, stderr_mode):
    port = free_port()
    free = free_port()
    unknown = spawn("unknown-holder", "--port", port)
    stray_port = free_port()
    stray = spawn("vllm-stray", "--port", stray_port)

    def guard(p):
        if stderr_mode == "closed":
            return subprocess.run(["bash", "-c", 'exec 2>&-; exec "$0" "$1"', GUARD, str(p)], timeout=60).returncode
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            return subprocess.run([GUARD, str(p)], stderr=write_end, timeout=60).returncode
        finally:
            os.close(write_end)

    assert guard(free) == 0
    assert guard(port) == 42
    assert unknown.alive()
    assert guard(stray_port) == 0
    assert wait_gone(stray.pid)


@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".example", "bad host", "[::1", "-"])
def test_bad_host_is_usage_with_a_message(host):
    result = run_guard("--host", host, free_port())
    assert result.returncode == 2, result.stderr
    assert "host %r" % host in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("port", ["1_000", "+8001", "\uff18\uff10\uff10\uff11", "8001.0", " ", "0x1f41"])
def test_ports_are_ascii_digits(port):
    result = run_guard(port)
    assert result.returncode == 2
    assert "is not a number" in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "-inf", "3601"])
def test_grace_and_timeout_are_bounded(value):
    for flag in ("--grace", "--timeout"):
        result = run_guard(flag, value, free_port())
        assert result.returncode == 2 and "%s %r" % (flag, value) in result.stderr


def test_status_health_timeout_covers_the_whole_request():
    """A holder that accepts and drips its headers: status still answers within ~2 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    stop = threading.Event()

    def drip():
        conn, _ = listener.accept()
        for char in b"HTTP/1.1 200 OK\r\n":
            if stop.wait(0.5):
                break
            try:
                conn.send(bytes([char]))
            except OSError:
                break
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    start = time.monotonic()
    result = subprocess.run([STATUS, "status", "--port", str(port)], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    stop.set()
    listener.close()
    assert result.returncode == 1
    assert "health: down" in result.stdout
    assert elapsed < 4.5, "status took %.1fs" % elapsed


def test_status_does_not_follow_redirects():
    class Redirect(__import__("http.server").server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:%d/ok" % self.server.server_address[1])
            self.end_headers()

        def log_message(self, *args):
            pass

    import http.server

    server = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = subprocess.run([STATUS, "status", "--json", "--port", str(server.server_address[1])],
                                capture_output=True, text=True, timeout=60)
    finally:
        server.shutdown()
    facts = json.loads(result.stdout)
    assert facts["health"]["status"] == 302 and facts["healthy"] is False


# --------------------------------------------------------------------------- 3. decisions and words

def test_localhost_is_checked_the_way_vllm_binds_it(spawn, tmp_path):
    """vLLM binds a name as IPv4: 'localhost' is 127.0.0.1 even where /etc/hosts lists ::1
    first (stock Debian). The guard runs with such an /etc/hosts in a private mount namespace."""
    if os.geteuid() != 0 or (not shutil.which("unshare") and not FULL_TIER):
        pytest.skip("needs root and unshare for a private /etc/hosts")
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 localhost ip6-localhost\n127.0.0.1 localhost\n")
    port = free_port()
    holder = spawn("unknown-holder", "--port", port, "--host", "127.0.0.1")
    result = subprocess.run(["unshare", "-m", "--", "bash", "-c", 'mount --bind "$0" /etc/hosts && '
                             'getent ahosts localhost | head -1 >&2 && exec "$@"', str(hosts), GUARD,
                             "--host", "localhost", str(port)], capture_output=True, text=True, timeout=60)
    assert result.stderr.startswith("::1 "), "the private /etc/hosts lists ::1 first: " + result.stderr
    assert result.returncode == 42, result.stderr
    assert "VLLM_PORT_HELD_UNKNOWN port=%d pid=%d" % (port, holder.pid) in result.stderr


@pytest.mark.parametrize("argv0, expected", [("unknown-holder", 42), ("vllm-stray", 0)])
def test_socket_kept_by_a_thread_after_the_leader_exited(spawn, argv0, expected):
    port = free_port()
    holder = spawn(argv0, "--port", port, "--leader-exits", "--ignore-term")
    result = run_guard("--grace", "0.5", port)
    assert result.returncode == expected, result.stderr
    assert "pid=%d cmd=\"%s %s" % (holder.pid, argv0, pytest.HOLDER) in result.stderr
    if expected == 0:  # the leader is a zombie, its thread ignores SIGTERM: SIGKILL ends it
        assert "VLLM_PORT_KILL port=%d pid=%d signal=SIGKILL" % (port, holder.pid) in result.stderr
        assert "VLLM_PORT_RECLAIMED port=%d" % port in result.stderr


def test_visible_holder_with_an_empty_cmdline_is_named_by_comm(spawn):
    port = free_port()
    holder = spawn("unknown-holder", "--port", port, "--clear-argv", "--title", "wiped-argv")
    result = run_guard(port)
    assert result.returncode == 42
    assert 'VLLM_PORT_HELD_UNKNOWN port=%d pid=%d cmd="[wiped-argv]"' % (port, holder.pid) in result.stderr
    hint = subprocess.run([STATUS, "status", "--verbose", "--port", str(port)], capture_output=True, text=True,
                          timeout=60).stdout.splitlines()[-1]
    assert '(pid=%d, cmd="[wiped-argv]")' % holder.pid in hint


@needs_root
def test_unreadable_holder_is_refused_and_says_what_could_not_be_read(spawn):
    """A non-dumpable vllm-named process of the guard's own user: its fds are root's to read."""
    port = free_port()
    holder = spawn("vllm", "--port", port, "--non-dumpable", shell_exec_a=True, user="nobody")
    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                             sys.executable, "-m", PG, str(port)], capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 42, result.stderr
    line = result.stderr.splitlines()[0]
    assert line.startswith("VLLM_PORT_HELD_UNKNOWN port=%d pid=%d uid=65534 cmd=\"vllm " % (port, holder.pid)), line
    assert "/proc/%d/fd cannot be read (Permission denied)" % holder.pid in line
    assert holder.alive()


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\r", "\u202e"])
def test_no_character_can_forge_a_log_line(spawn, char):
    port = free_port()
    spawn("unknown%sVLLM_PORT_OK port=1" % char, "--port", port)
    result = subprocess.run([GUARD, str(port)], capture_output=True, timeout=60)
    text = result.stderr.decode("utf-8")
    assert result.returncode == 42
    assert len(text.splitlines()) == 1, text
    assert text.count("VLLM_PORT_OK") == 1 and not text.startswith("VLLM_PORT_OK")


# --------------------------------------------------------------------------- fail closed

def test_corrupted_proc_net_table_refuses_and_kills_nothing(spawn, tmp_path, monkeypatch):
    """A /proc/net/tcp line the guard cannot parse (a copy of the real table with one line
    corrupted stands in for the kernel's): 42 with the reason, the stray stays."""
    from ansible_collections.openclaw.vllm.plugins.module_utils.host import events, reclaim, sockets

    port = free_port()
    stray = spawn("vllm-stray", "--port", port)
    with open("/proc/net/tcp") as table:
        lines = table.readlines()
    (tmp_path / "tcp").write_text(lines[0] + "   9: GARBAGE\n" + "".join(lines[1:]))
    with open("/proc/net/tcp6") as table:
        (tmp_path / "tcp6").write_text(table.read())
    monkeypatch.setattr(sockets, "PROC_NET", str(tmp_path))
    monkeypatch.setenv(sockets.TABLES_ENV, "proc")
    log = events.EventLog(stderr=False, syslog=False)
    outcome = reclaim.run_guard(port, log=log)
    assert outcome.exit_code == 42
    assert log.lines[0].startswith('VLLM_PORT_PROBE_FAILED port=%d reason="probe error: ProbeError: %s/tcp line 2 '
                                   'unreadable' % (port, tmp_path)), log.lines
    assert stray.alive()


def test_time_wait_leftovers_do_not_block(tmp_path):
    """Connections in TIME_WAIT block a plain bind but not vLLM's (SO_REUSEADDR): OK.
    The server sets SO_REUSEADDR, as vLLM's uvicorn does (its TIME_WAIT sockets inherit it)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = listener.accept()
    conn.close()  # the server closes first: its side (local port = port) enters TIME_WAIT
    time.sleep(0.1)
    client.close()
    listener.close()
    with socket.socket() as plain:
        with pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))
    result = run_guard("--host", "127.0.0.1", port)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["VLLM_PORT_OK port=%d" % port]


def test_engine_whose_api_server_is_alive_is_left_alone(tmp_path):
    """An engine that is a child of an orphan root (here: of the guard's own ancestor, a live
    vLLM API server) belongs to a live lane: never reaped."""
    port = free_port()
    script = tmp_path / "server.py"
    script.write_text(
        "import os, subprocess\n"
        "engine = subprocess.Popen(['VLLM::EngineCore', %r, '--title', 'VLLM::EngineCore'],\n"
        "                          executable=os.readlink('/proc/self/exe'), stdout=subprocess.PIPE)\n"
        "engine_pid = engine.stdout.readline().split()[1].decode()\n"
        "guard = subprocess.run([%r, '%d'], capture_output=True, text=True)\n"
        "alive = open('/proc/%%s/stat' %% engine_pid).read().split(')')[1].split()[0] != 'Z'\n"
        "print(engine_pid, guard.returncode, alive, repr(guard.stderr))\n"
        "engine.kill()\n" % (pytest.HOLDER, GUARD, port))
    result = subprocess.run(["vllm", str(script)], executable=sys.executable, capture_output=True, text=True,
                            timeout=60)
    engine_pid, code, engine_alive, stderr = result.stdout.split(" ", 3)
    assert code == "0", result.stdout + result.stderr
    assert "VLLM_ORPHAN_RECLAIM" not in stderr
    assert engine_alive == "True"


def test_unexpected_error_while_probing_gives_42_and_a_reason(monkeypatch):
    """A kernel reader that returns garbage (a test double for sock_diag): refuse, kill nothing."""
    import struct

    from ansible_collections.openclaw.vllm.plugins.module_utils.host import events, reclaim, sockets

    def broken_dump(family, states):
        raise struct.error("unpack_from requires a buffer of at least 72 bytes")

    monkeypatch.setattr(sockets, "_netlink_dump", broken_dump)
    monkeypatch.delenv(sockets.TABLES_ENV, raising=False)
    log = events.EventLog(stderr=False, syslog=False)
    outcome = reclaim.run_guard(free_port(), log=log)
    assert outcome.exit_code == 42
    assert outcome.event == "VLLM_PORT_PROBE_FAILED"
    assert log.lines == ['VLLM_PORT_PROBE_FAILED port=%d reason="probe error: error: unpack_from requires a buffer '
                         'of at least 72 bytes"' % outcome.report.port]
    assert not outcome.reclaimed


def test_truncated_or_interrupted_sock_diag_messages_are_errors():
    from ansible_collections.openclaw.vllm.plugins.module_utils.host import sockets

    message = bytearray(16 + 72)
    message[0:8] = (16 + 72).to_bytes(4, "little") + (20).to_bytes(2, "little") + (0).to_bytes(2, "little")
    assert len(list(sockets.parse_diag_messages(bytes(message), 4))) == 1
    with pytest.raises(sockets.ProbeError, match="truncated"):
        list(sockets.parse_diag_messages(bytes(message[:40]), 4))
    interrupted = bytearray(message)
    interrupted[6:8] = (0x10).to_bytes(2, "little")
    with pytest.raises(sockets.ProbeError, match="interrupted"):
        list(sockets.parse_diag_messages(bytes(interrupted), 4))


def test_custom_process_title_prefix_is_followed(spawn):
    """VLLM_PROCESS_NAME_PREFIX in the unit's environment renames vLLM's engines: their
    orphans are still reaped, and a holder titled with the prefix is ours."""
    import subprocess as sp

    port = free_port()
    parent = spawn("vllm", "--children", "1", "--child-title", "MYLLM::EngineCore", "--orphan-children")
    orphan = parent.child_pids[0]
    assert wait_gone(parent.pid)
    plain = sp.run([GUARD, str(port)], capture_output=True, text=True, timeout=60)
    assert "VLLM_ORPHAN_RECLAIM" not in plain.stderr and alive(orphan), "without the prefix it is not ours"
    env = dict(os.environ, VLLM_PROCESS_NAME_PREFIX="MYLLM")
    result = sp.run([GUARD, str(port)], capture_output=True, text=True, timeout=60, env=env)
    assert 'VLLM_ORPHAN_RECLAIM pid=%d cmd="MYLLM::EngineCore' % orphan in result.stderr, result.stderr
    assert wait_gone(orphan)
    server = spawn("MYLLM::APIServer_0", "--port", port)
    assert sp.run([GUARD, str(port)], capture_output=True, text=True, timeout=60, env=env).returncode == 0
    assert wait_gone(server.pid)


def test_case_folding_is_ascii_only(spawn):
    """KELVIN SIGN lower-cases to an ASCII "k": it must not make a foreign name match a custom pattern."""
    port = free_port()
    holder = spawn("my-llm-\u212aserve", "--port", port)
    result = run_guard("--pattern", "my-llm-k*", port)
    assert result.returncode == 42, result.stderr
    assert holder.alive()
    ascii_port = free_port()
    ours = spawn("my-llm-Kserve", "--port", ascii_port)  # ASCII K: matches, case-insensitively
    assert run_guard("--pattern", "my-llm-k*", ascii_port).returncode == 0
    assert wait_gone(ours.pid)
