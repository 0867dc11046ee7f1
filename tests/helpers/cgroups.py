"""Real cgroups for the guard's sibling rule: a process moved into a cgroup named like a systemd
service is, for /proc/<pid>/cgroup, inside that service. Created under a hierarchy systemd would
use (cgroup v2, or v1's name=systemd), removed at the end."""
import os
import time
import uuid
from contextlib import contextmanager

import pytest

from helpers.paths import FULL_TIER

CANDIDATES = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")


def _writable_hierarchy():
    for root in CANDIDATES:
        if os.path.isfile(os.path.join(root, "cgroup.procs")) and os.access(root, os.W_OK):
            return root
    return None


HIERARCHY = _writable_hierarchy()
needs_cgroups = pytest.mark.skipif(HIERARCHY is None and not FULL_TIER,
                                   reason="no cgroup hierarchy this user can create cgroups in")


def move(pid, path):
    with open(os.path.join(path, "cgroup.procs"), "w") as handle:
        handle.write(str(pid))


@contextmanager
def cgroup(*parts):
    """A cgroup ``<hierarchy>/openclaw-test-<id>/<parts...>``; yields its path and a mover."""
    assert HIERARCHY, "no writable cgroup hierarchy"
    top = os.path.join(HIERARCHY, "openclaw-test-" + uuid.uuid4().hex[:8])
    path = os.path.join(top, *parts)
    os.makedirs(path)
    try:
        yield path
    finally:
        # Back to the root first: a cgroup with processes cannot be removed.
        for directory, _dirs, _files in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
            with open(os.path.join(directory, "cgroup.procs")) as handle:
                for pid in handle.read().split():
                    try:
                        move(pid, HIERARCHY)
                    except OSError:
                        pass
            for _ in range(50):
                try:
                    os.rmdir(directory)
                    break
                except OSError:
                    time.sleep(0.02)
