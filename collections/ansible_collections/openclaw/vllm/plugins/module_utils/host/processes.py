# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""/proc, read directly: who holds a socket inode, a process's uid/argv/comm, children, and the
processes the guard must never touch (pid 1, itself, its ancestors)."""

import os

from .argv import _split_cmdline


def _fd_targets(fd_dir):
    """{fd name: link target} for one fd directory; raises OSError when it cannot be listed."""
    targets = {}
    for fd in os.listdir(fd_dir):
        try:
            targets[fd] = os.readlink("%s/%s" % (fd_dir, fd))
        except OSError:
            continue  # closed since the listing
    return targets


def socket_owners(inodes):
    """Map socket inode -> pids that hold it, for every process we can see, and
    {pid: why its fds could not be read} for the processes we could not look into.

    Every thread's fd table counts: a process whose main thread exited while another
    thread keeps the socket has an empty /proc/<pid>/fd, and a thread can unshare its
    table. Threads are read only when their listing differs from the leader's.
    """
    wanted = {"socket:[%d]" % inode: inode for inode in inodes}
    owners = {}
    unreadable = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        tables = []
        try:
            tables.append(_fd_targets("/proc/%d/fd" % pid))
            leader_fds = sorted(tables[0])
        except FileNotFoundError:
            continue  # gone
        except OSError as exc:
            unreadable[pid] = exc.strerror or str(exc)
            continue
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            tids = []
        if len(tids) > 1:
            for tid in tids:
                if tid == entry.name:
                    continue
                fd_dir = "/proc/%d/task/%s/fd" % (pid, tid)
                try:
                    if sorted(os.listdir(fd_dir)) != leader_fds:
                        tables.append(_fd_targets(fd_dir))
                except OSError:
                    continue
        for table in tables:
            for target in table.values():
                inode = wanted.get(target)
                if inode is not None:
                    pids = owners.setdefault(inode, [])
                    if pid not in pids:
                        pids.append(pid)
    return owners, unreadable


_PROTECTED = None


def _ancestor_pids():
    """The guard's parent, grandparent, ... up to init, from /proc/<pid>/stat."""
    ancestors = []
    pid = os.getpid()
    while pid > 1:
        stat = _read_stat("/proc/%d" % pid)
        if stat is None:
            break
        pid = stat[1]
        ancestors.append(pid)
    return ancestors


def _protected_pids():
    """pid 1, the guard itself and its ancestors: never killed. They do not change while
    the guard runs, so the walk is done once."""
    global _PROTECTED
    if _PROTECTED is None:
        _PROTECTED = frozenset([1, os.getpid()] + _ancestor_pids())
    return _PROTECTED


def _read_proc(path):
    with open(path, "rb") as handle:
        return handle.read()


def process_facts(pid):
    """(real uid, argv, comm) of ``pid`` straight from /proc. A thread-group leader that
    exited while its threads live reads as an empty cmdline: a live thread's is used."""
    status = _read_proc("/proc/%d/status" % pid)
    uid = int(status.split(b"\nUid:", 1)[1].split()[0])
    comm = _read_proc("/proc/%d/comm" % pid).rstrip(b"\n").decode("utf-8", "surrogateescape")
    data = _read_proc("/proc/%d/cmdline" % pid)
    if not data:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                data = _read_proc("/proc/%d/task/%s/cmdline" % (pid, tid))
            except OSError:
                continue
            if data:
                break
    return uid, _split_cmdline(data), comm


def _read_stat(pid_dir):
    """(comm, ppid) from /proc/<pid>/stat, cheaply; None if it is gone."""
    try:
        fd = os.open(pid_dir + "/stat", os.O_RDONLY)
        try:
            data = os.read(fd, 512)
        finally:
            os.close(fd)
    except OSError:
        return None
    open_paren, close_paren = data.find(b"("), data.rfind(b")")
    return data[open_paren + 1:close_paren].decode("utf-8", "replace"), int(data[close_paren + 4:].split(None, 1)[0])


def _children(pid):
    """Direct children of ``pid`` (all its threads), or None without CONFIG_PROC_CHILDREN."""
    children = set()
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return children  # gone, or not visible
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as handle:
                children.update(int(child) for child in handle.read().split())
        except FileNotFoundError:
            return None
        except OSError:
            continue
    return children


def _user_manager_pids(uid):
    """The pid(s) of ``systemd --user`` for ``uid`` (cgroup v2 or the v1 name=systemd tree)."""
    scope = "user.slice/user-%d.slice/user@%d.service/init.scope/cgroup.procs" % (uid, uid)
    for root in ("/sys/fs/cgroup/", "/sys/fs/cgroup/systemd/"):
        try:
            with open(root + scope) as procs:
                return [int(pid) for pid in procs.read().split()]
        except (OSError, ValueError):
            continue
    return []
