"""``openclaw-vllm status``: health, holders and the one-line HINT, against real servers."""
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from helpers.marks import needs_root
from helpers.paths import STATUS
from helpers.procs import free_port, wait_gone


HINT = ("HINT: vLLM blocked \u2014 port {port} held by unknown process (pid={pid}, cmd=\"{cmd}\"). "
        "Stop it or free :{port}, then restart openclaw-vllm.service.")


def status(*args):
    return subprocess.run([STATUS, "status", *map(str, args)], capture_output=True, text=True, timeout=60)


@pytest.fixture
def http_server(tmp_path):
    """A real HTTP server with a chosen argv[0]; /health answers 200 when ``healthy``."""
    started = []

    def _start(argv0, port, healthy):
        docroot = tmp_path / ("root%d" % len(started))
        docroot.mkdir()
        if healthy:
            (docroot / "health").write_text("")
        proc = subprocess.Popen(["bash", "-c", 'exec -a "$0" "$1" -m http.server --bind 127.0.0.1 '
                                 '--directory "$2" "$3"', argv0, sys.executable, str(docroot), str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        threading.Thread(target=proc.wait, daemon=True).start()
        proc.docroot = docroot
        started.append(proc)
        deadline = time.monotonic() + 10
        while not json.loads(status("--port", port, "--json").stdout)["probe"]["holders"] and time.monotonic() < deadline:
            time.sleep(0.05)
        return proc

    yield _start
    for proc in started:
        proc.kill()
        wait_gone(proc.pid)


def test_unknown_holder_and_health_down_gives_the_hint(http_server):
    port = free_port()
    holder = http_server("unknown-holder", port, healthy=False)
    result = status("--verbose", "--port", port)
    assert result.returncode == 1
    cmd = "unknown-holder -m http.server --bind 127.0.0.1 --directory %s %d" % (holder.docroot, port)
    assert result.stdout.splitlines()[-1] == HINT.format(port=port, pid=holder.pid, cmd=cmd)
    assert result.stdout.count("HINT:") == 1


def test_json_reports_the_same_holder(http_server):
    port = free_port()
    holder = http_server("unknown-holder", port, healthy=False)
    result = status("--json", "--port", port)
    assert result.returncode == 1
    facts = json.loads(result.stdout)
    assert facts["healthy"] is False
    assert facts["probe"]["holders"][0]["pid"] == holder.pid
    assert facts["probe"]["holders"][0]["kind"] == "unknown"
    assert facts["hint"].startswith("HINT: vLLM blocked \u2014 port %d held by unknown process (pid=%d," % (
        port, holder.pid))


def test_no_hint_without_verbose(http_server):
    port = free_port()
    http_server("unknown-holder", port, healthy=False)
    result = status("--port", port)
    assert result.returncode == 1
    assert "HINT" not in result.stdout


def test_vllm_like_holder_gives_no_hint(http_server):
    port = free_port()
    http_server("vllm-stray", port, healthy=False)
    result = status("--verbose", "--port", port)
    assert result.returncode == 1
    assert "vllm_like" in result.stdout
    assert "HINT" not in result.stdout


def test_free_port_gives_no_hint():
    port = free_port()
    result = status("--verbose", "--port", port)
    assert result.returncode == 1
    assert "port %d: free" % port in result.stdout
    assert "HINT" not in result.stdout


def test_healthy_gives_no_hint_and_exit_0(http_server):
    """Ours (vllm-like: no user manager answers here, a vLLM started by hand) and /health 200."""
    port = free_port()
    http_server("vllm", port, healthy=True)
    result = status("--verbose", "--port", port)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("health: up")
    assert "HINT" not in result.stdout
    assert json.loads(status("--json", "--port", port).stdout)["owner"] == {"ours": True, "by": "identity",
                                                                          "why": None}


def test_an_unknown_holder_that_answers_health_is_held_not_healthy(http_server):
    """/health 200 from a process that is not ours: held by it, exit 1, the seed's HINT."""
    port = free_port()
    holder = http_server("unknown-holder", port, healthy=True)
    result = status("--verbose", "--port", port)
    assert result.returncode == 1, result.stdout
    cmd = "unknown-holder -m http.server --bind 127.0.0.1 --directory %s %d" % (holder.docroot, port)
    assert result.stdout.startswith("health: held, not ours (http://127.0.0.1:%d/health answers, but port %d is "
                                    "held by an unknown process pid=%d uid=%d" % (port, port, holder.pid, os.getuid()))
    assert result.stdout.splitlines()[-1] == HINT.format(port=port, pid=holder.pid, cmd=cmd)
    facts = json.loads(status("--json", "--port", port).stdout)
    assert facts["health"]["ok"] is True and facts["healthy"] is False and facts["owner"]["ours"] is False


@needs_root
def test_failed_probe_gives_no_hint():
    """An unprivileged status cannot bind-test port 80: the probe fails, no hint, exit 1."""
    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                             sys.executable, "-m", "ansible_collections.openclaw.vllm.plugins.module_utils.host.status_cli",
                             "status", "--verbose", "--port", "80"], capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 1, result.stderr
    assert "probe failed" in result.stdout
    assert "HINT" not in result.stdout


def test_bad_port_names_the_input():
    result = status("--port", "99999")
    assert result.returncode == 2
    assert "port '99999' is out of range" in result.stderr


@needs_root
def test_hint_for_another_users_invisible_holder(tmp_path):
    """Run as nobody: root's listener is visible as a socket of uid 0, not as a process."""
    import socket as socketlib

    with socketlib.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                                 sys.executable, "-m",
                                 "ansible_collections.openclaw.vllm.plugins.module_utils.host.status_cli",
                                 "status", "--verbose", "--port", str(port)],
                                capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 1, result.stderr
    hint = result.stdout.splitlines()[-1]
    # What could not be read, and why: the socket's owner and the unreadable fd tables.
    assert hint.startswith('HINT: vLLM blocked \u2014 port %d held by unknown process (pid=?, cmd="(socket inode ' % port)
    assert "of uid 0 (not ours: the guard runs as uid 65534); /proc/<pid>/fd cannot be read (Permission denied)" in hint
    assert hint.endswith("Stop it or free :%d, then restart openclaw-vllm.service." % port)
