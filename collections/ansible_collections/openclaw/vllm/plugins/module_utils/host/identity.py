# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who holds the port, and is it ours: holders with a kind (vllm_like or unknown) and the reason,
and vLLM engines whose API server is gone (orphans). psutil is loaded only when needed."""

import os

from .argv import clean_text, format_cmd, identity_names
from .cgroups import own_services, sibling_service
from .patterns import DEFAULT_PATTERNS, matching_pattern
from .processes import _protected_pids, process_facts, socket_owners


class Holder(object):
    """A process (or an invisible owner) holding a socket that blocks the port."""

    __slots__ = ("pid", "uid", "argv", "comm", "kind", "reason", "addresses", "inodes", "process", "unit")

    def __init__(self, pid, uid, argv, kind, reason, addresses, process=None, comm="", inodes=(), unit=None):
        self.pid = pid
        self.uid = uid
        self.argv = argv
        self.comm = comm
        self.kind = kind  # "vllm_like" or "unknown"
        self.reason = reason
        self.addresses = addresses
        self.inodes = set(inodes)  # the blocking sockets it holds
        self.process = process  # psutil.Process, kept for PID-reuse protection
        self.unit = unit  # the running service (not the guard's) it belongs to: a sibling, never a stray

    @property
    def cmd(self):
        return format_cmd(self.argv, self.comm)

    def as_dict(self):
        return {
            "pid": self.pid,
            "uid": self.uid,
            "cmd": clean_text(self.cmd),
            "argv": [clean_text(arg) for arg in self.argv],
            "kind": self.kind,
            "reason": clean_text(self.reason),
            "addresses": list(self.addresses),
            "unit": clean_text(self.unit) if self.unit else None,
        }


def _classify(process, patterns, my_uid, protected, own=None):
    """(kind, reason, uid, argv, comm, unit) for a visible process; unit: the running service
    (none of ``own``) that it belongs to, which makes it a sibling whatever its argv says.
    ``own`` None: no sibling rule (GPU memory of a sibling lane is expected, not a conflict)."""
    try:
        uid, argv, comm = process_facts(process.pid)
    except (OSError, IndexError, ValueError) as exc:
        return "unknown", "cannot inspect it (%s)" % (getattr(exc, "strerror", None) or type(exc).__name__), \
            None, [], "", None
    if process.pid in protected:
        return "unknown", "is pid 1, the guard itself or one of its ancestors", uid, argv, comm, None
    if uid != my_uid:
        return "unknown", "runs as uid %d, not ours (uid %d)" % (uid, my_uid), uid, argv, comm, None
    names = identity_names(argv, comm)
    pattern = matching_pattern(names, patterns)
    if pattern is None:
        shown = ", ".join(repr(clean_text(n)[:100]) for n in names) or "(none)"
        return "unknown", "identity %s matches no pattern" % shown, uid, argv, comm, None
    sibling = sibling_service(process.pid, own) if own is not None else None
    if sibling:
        return "unknown", "runs in %s, a running unit that is not this guard's: its process, never a stray" % (
            clean_text(sibling)), uid, argv, comm, sibling
    return "vllm_like", "identity matches %r" % pattern, uid, argv, comm, None


class _Pid(object):
    def __init__(self, pid):
        self.pid = pid


def classify_pid(pid, patterns=DEFAULT_PATTERNS):
    """(kind, reason) of ``pid`` by the guard's rules ("vllm_like": ours; "unknown" otherwise),
    for processes found by other means than a socket (GPU memory holders)."""
    kind, reason = _classify(_Pid(pid), patterns, os.getuid(), _protected_pids())[:2]
    return kind, reason


def _unreadable_holder(sock, unreadable, my_uid):
    """A socket no readable fd table names: say exactly what could not be read, and why."""
    import psutil

    suspects = []
    for pid, why in sorted(unreadable.items()):
        try:
            process = psutil.Process(pid)
            if pid == 2 or process.ppid() == 2:
                continue  # a kernel thread: no user's socket lives there
            if process.uids().real == sock.uid:
                suspects.append((pid, why, process))
        except psutil.Error:
            continue
    owner = "uid %d" % sock.uid + ("" if sock.uid == my_uid else " (not ours: the guard runs as uid %d)" % my_uid)
    if len(suspects) == 1:
        pid, why, process = suspects[0]
        try:
            _uid, argv, comm = process_facts(pid)
        except (OSError, IndexError, ValueError):
            argv, comm = [], ""
        reason = ("socket inode %d of %s; /proc/%d/fd cannot be read (%s), so pid %d cannot be proven "
                  "to hold it, nor to be ours" % (sock.inode, owner, pid, why, pid))
        return Holder(pid, sock.uid, argv, "unknown", reason, [sock.address], comm=comm, inodes=[sock.inode])
    if suspects:
        whys = sorted(set(why for _pid, why, _process in suspects))
        listed = ", ".join(str(pid) for pid, _why, _process in suspects[:5]) + (", ..." if len(suspects) > 5 else "")
        reason = ("socket inode %d of %s; /proc/<pid>/fd cannot be read (%s) for the %d processes of that uid "
                  "(pid %s), so none can be proven to hold it" % (sock.inode, owner, "; ".join(whys), len(suspects), listed))
    else:
        reason = "socket inode %d of %s; no process this user can see holds it" % (sock.inode, owner)
    return Holder(None, sock.uid, [], "unknown", reason, [sock.address], inodes=[sock.inode])


def identify(sockets, patterns=DEFAULT_PATTERNS, unit=None):
    """Turn blocking sockets into holders, one per process, each with a kind and a reason.
    ``unit``: the service the port belongs to (its processes are judged by identity)."""
    import psutil

    my_uid = os.getuid()
    protected = _protected_pids()
    own = own_services(unit)
    owners, unreadable = socket_owners(sock.inode for sock in sockets)
    holders = {}
    invisible = []
    for sock in sockets:
        pids = owners.get(sock.inode)
        if not pids:
            invisible.append(_unreadable_holder(sock, unreadable, my_uid))
            continue
        for pid in pids:
            if pid in holders:
                holders[pid].addresses.append(sock.address)
                holders[pid].inodes.add(sock.inode)
                continue
            try:
                process = psutil.Process(pid)
            except psutil.NoSuchProcess:
                continue  # exited on its own since the scan: normal
            kind, reason, uid, argv, comm, unit = _classify(process, patterns, my_uid, protected, own)
            holders[pid] = Holder(pid, uid, argv, kind, reason, [sock.address], process, comm, [sock.inode], unit)
    _adopt_children(holders, my_uid, protected)
    return sorted(holders.values(), key=lambda h: h.pid) + invisible


def _adopt_children(holders, my_uid, protected):
    """A descendant that inherited a vllm_like holder's socket (a forked engine) is part of it:
    every blocking socket it holds is the same socket (inode) as its vllm_like ancestor's.
    A descendant that bound a socket of its own is judged by its own identity."""
    import psutil

    vllm_like = {pid: h for pid, h in holders.items() if h.kind == "vllm_like"}
    for holder in holders.values():
        if holder.kind != "unknown" or holder.uid != my_uid or holder.pid in protected or holder.unit:
            continue
        try:
            ancestors = [parent.pid for parent in holder.process.parents()]
        except psutil.Error:
            continue
        parent = next((pid for pid in ancestors if pid in vllm_like), None)
        if parent is not None and holder.inodes <= vllm_like[parent].inodes:
            holder.kind = "vllm_like"
            holder.reason = "child of vllm_like holder pid %d, holding its inherited socket" % parent
