"""Real ports and real processes: a free port, a spawned holder, the guard CLI, waiting for a pid."""
import ctypes
import os
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


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def become_subreaper():
    """Orphans of the processes this test process starts are re-parented to it, as they are to
    the systemd user manager on a host, instead of to init. The guard reaps orphaned engines it
    finds under init, the user manager or its own ancestors: with this, a guard started by another
    test process at the same time (pytest-xdist's other worker, the guard suites run side by side)
    does not see, and reap, this process's orphans; the guards this process starts still do."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap(pid):
    """Collect a re-parented orphan's exit status once it is dead (it is this process's child now)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child, or reaped already


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
