"""Real ports and real processes: a free port, a spawned holder, the guard CLI, waiting for a pid."""
import socket
import subprocess
import time

import psutil

from helpers.paths import GUARD


def free_port(host="127.0.0.1"):
    """A port nobody holds right now (the kernel picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Spawned:
    """A holder process started by the ``spawn`` fixture (tests/conftest.py)."""

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
