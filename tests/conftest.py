"""Shared fixtures: real ports, real processes, the real guard CLI. Nothing of the guard is mocked."""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
HOLDER = str(Path(__file__).resolve().parent / "holder.py")
BIN = Path(sys.executable).parent
GUARD = str(BIN / "openclaw-vllm-guard")
STATUS = str(BIN / "openclaw-vllm")
# scripts/test.sh sets this: the full tier installed every tool first (scripts/bootstrap.sh), so a
# test never skips there for a missing tool; it runs and fails, the same on every machine.
FULL_TIER = os.environ.get("OPENCLAW_VLLM_FULL_TIER") == "1"


def needs_tools(*tools):
    """Skip in the fast tier where a system tool is missing; run (and fail) in the full tier."""
    missing = [tool for tool in tools if not shutil.which(tool)]
    return pytest.mark.skipif(bool(missing) and not FULL_TIER, reason="not installed: %s" % " ".join(missing))


def free_port(host="127.0.0.1"):
    """A port nobody holds right now (the kernel picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Spawned:
    def __init__(self, popen, pids):
        self.popen = popen
        self.pid = pids[0]
        self.child_pids = pids[1:]

    def alive(self, pid=None):
        pid = self.pid if pid is None else pid
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


@pytest.fixture
def spawn():
    """Start a real holder process with a chosen argv[0]; kill what is left at the end."""
    started = []

    def _spawn(argv0, *holder_args, shell_exec_a=False, user=None):
        holder_args = [str(arg) for arg in holder_args]
        if shell_exec_a:  # exactly how the original's operators started strays
            cmd = ["bash", "-c", 'exec -a "$0" "$@"', argv0, sys.executable, HOLDER, *holder_args]
        else:
            cmd = [argv0, HOLDER, *holder_args]
        if user:
            cmd = ["setpriv", "--reuid=%s" % user, "--regid=%s" % ("nogroup" if user == "nobody" else user), "--clear-groups", "--"] + (
                cmd if shell_exec_a else [SYSTEM_PYTHON] + cmd[1:])
            cmd = [SYSTEM_PYTHON if part == sys.executable else part for part in cmd]
        popen = subprocess.Popen(cmd, executable=None if (shell_exec_a or user) else sys.executable,
                                 stdout=subprocess.PIPE, start_new_session=True)
        line = popen.stdout.readline().decode()
        assert line.startswith("ready"), "holder did not start: %r" % line
        # Reap it the moment it dies, as init or systemd would: a zombie keeps its pid.
        threading.Thread(target=popen.wait, daemon=True).start()
        spawned = Spawned(popen, [int(p) for p in line.split()[1:]])
        started.append(spawned)
        return spawned

    yield _spawn
    for spawned in started:
        for pid in [spawned.pid] + spawned.child_pids:
            try:
                proc = psutil.Process(pid)
                for child in proc.children(recursive=True):
                    child.kill()
                proc.kill()
            except psutil.Error:  # gone already (the guard reclaimed it), or a zombie
                pass
        for pid in [spawned.pid] + spawned.child_pids:
            wait_gone(pid)


def run_guard(*args, timeout=60):
    """The guard CLI as a whole process, as ExecStartPre runs it."""
    return subprocess.run([GUARD, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def wait_gone(pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


# Another user cannot run an interpreter under /root (pyenv): use the system one.
SYSTEM_PYTHON = "/usr/bin/python3"
needs_root = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON) or
                                (not shutil.which("setpriv") and not FULL_TIER),
                                reason="needs root and setpriv to run a process as another user")


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback here")


def pytest_configure(config):
    pytest.HOLDER = HOLDER


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A real 4-bit AWQ checkpoint, made by the project's own generator."""
    pytest.importorskip("safetensors")
    out = tmp_path_factory.mktemp("models") / "tiny-awq"
    subprocess.run([sys.executable, str(ROOT / "scripts/make-tiny-awq-model.py"), str(out)], check=True,
                   capture_output=True)
    return out
