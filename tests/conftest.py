"""Shared fixtures: real ports, real processes, the real guard CLI. Nothing of the guard is mocked.
Plain helpers live in tests/helpers (on pytest's pythonpath); this file holds fixtures only."""
import subprocess
import sys
import threading

import psutil
import pytest

from helpers.paths import HOLDER, ROOT, SYSTEM_PYTHON
from helpers.procs import Spawned, become_subreaper, reap, wait_gone


@pytest.fixture
def spawn():
    """Start a real holder process with a chosen argv[0]; kill what is left at the end."""
    started = []
    become_subreaper()  # "--orphan-children": the orphans stay this test process's, not the host's

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
        for pid in spawned.child_pids:  # the holder itself is its Popen's to reap
            reap(pid)


def pytest_configure(config):
    pytest.HOLDER = HOLDER


def pytest_collection_modifyitems(config, items):
    """The tier marks (``pytest -m unit``, ``-m roles``) from where a test lives; the roles tier
    runs first. Its files are few and long (ansible-playbook runs of the roles, up to two minutes a
    test): started first, the many short unit files fill in beside them (scripts/test.sh runs
    ``-n 2 --dist loadfile --no-loadscope-reorder``; xdist's own order, the most tests first, left
    one worker on a long roles file for the last five minutes)."""
    for item in items:
        tier = item.path.parent.name
        if tier in ("unit", "roles"):
            item.add_marker(tier)
    items.sort(key=lambda item: item.path.parent.name != "roles")  # stable: files stay whole


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A real 4-bit AWQ checkpoint, made by the project's own generator."""
    pytest.importorskip("safetensors")
    out = tmp_path_factory.mktemp("models") / "tiny-awq"
    subprocess.run([sys.executable, str(ROOT / "scripts/make-tiny-awq-model.py"), str(out)], check=True,
                   capture_output=True)
    return out
