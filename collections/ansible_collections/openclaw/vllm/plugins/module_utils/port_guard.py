# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Port guard: make the vLLM unit the owner of its TCP port.

The one home of the guard logic. It is imported by the Ansible module
``openclaw.vllm.port_guard``, by the console scripts ``openclaw-vllm-guard`` and
``openclaw-vllm status``, and installed as a plain file on hosts for ``ExecStartPre``.
It must therefore stay stdlib + psutil only and importable outside Ansible.

Flow: probe (which sockets block ``bind(host, port)``) -> identify (who holds them,
ours or not) -> decide -> reclaim (kill our strays and their children) -> verify.

The free-port path imports nothing heavy (no psutil, no socket module, no argparse):
it runs before every start of the unit and should cost little more than the
interpreter itself. The expensive work happens only when the port is held.
"""

from __future__ import annotations

import errno
import os
import struct
import sys
import time

import _socket  # the C module: ``import socket`` costs more than the whole fast path

SYSLOG_IDENT = "openclaw-vllm-port-guard"

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REFUSED = 42

# Identity patterns (fnmatch, case-insensitive) that make a process of ours "vllm_like".
DEFAULT_PATTERNS = ("vllm", "vllm-*", "vllm.*", "vllm::*", "openclaw*")
# Process titles of vLLM's engine processes, reaped when their API server is gone.
DEFAULT_ENGINE_PATTERNS = ("VLLM::EngineCore*", "VLLM::Worker*")
DEFAULT_GRACE = 10.0
DEFAULT_TIMEOUT = 10.0
POLL_INTERVAL = 0.01  # seconds between "is the port bindable yet" checks

_TCP_LISTEN = 10
_TCP_CLOSE = 7  # how inet_diag reports a bound, not listening socket
_TCPF_LISTEN = 1 << _TCP_LISTEN
_TCPF_BOUND_INACTIVE = 1 << 13  # Linux >= 6.10 dumps bound-only sockets for this bit
_TCPF_ALL = 0xFFF
_SOCK_DIAG_BY_FAMILY = 20
_NETLINK_SOCK_DIAG = 4
_INET_DIAG_SKV6ONLY = 11
_V4_MAPPED_PREFIX = b"\0" * 10 + b"\xff\xff"
_INTERPRETERS = ("python", "pypy")


class UsageError(ValueError):
    """Bad input from the caller (port out of range, bad address, ...): exit 2."""


# --------------------------------------------------------------------------- sockets


class PortSocket(object):
    """One TCP socket bound to the port, as the kernel tables list it."""

    __slots__ = ("family", "addr", "port", "uid", "inode", "v6only", "listening")

    def __init__(self, family, addr, port, uid, inode, v6only, listening):
        self.family = family  # AF_INET or AF_INET6
        self.addr = addr  # packed address bytes
        self.port = port
        self.uid = uid
        self.inode = inode
        self.v6only = v6only
        self.listening = listening

    @property
    def address(self):
        text = _socket.inet_ntop(self.family, self.addr)
        return "[%s]:%d" % (text, self.port) if self.family == _socket.AF_INET6 else "%s:%d" % (text, self.port)


def _netlink_dump(family, states):
    """Yield (state, sport, addr, uid, inode, v6only) for TCP sockets via sock_diag."""
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG)
    try:
        request = struct.pack("=BBBBI", family, _socket.IPPROTO_TCP, 0, 0, states) + b"\0" * 48
        header = struct.pack("=IHHII", 16 + len(request), _SOCK_DIAG_BY_FAMILY, 0x301, 1, 0)
        sock.sendto(header + request, (0, 0))
        addr_len = 4 if family == _socket.AF_INET else 16
        while True:
            data = sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, msg_type = struct.unpack_from("=IH", data, offset)
                if msg_type == 3:  # NLMSG_DONE
                    return
                if msg_type == 2:  # NLMSG_ERROR
                    code = -struct.unpack_from("=i", data, offset + 16)[0]
                    raise OSError(code, "sock_diag: %s" % os.strerror(code))
                body = offset + 16
                state = data[body + 1]
                sport = struct.unpack_from(">H", data, body + 4)[0]
                addr = data[body + 8:body + 8 + addr_len]
                uid, inode = struct.unpack_from("=II", data, body + 64)
                v6only = False
                attr = body + 72
                while attr + 4 <= offset + length:
                    attr_len, attr_type = struct.unpack_from("=HH", data, attr)
                    if attr_len < 4:
                        break
                    if attr_type == _INET_DIAG_SKV6ONLY:
                        v6only = bool(data[attr + 4])
                    attr += (attr_len + 3) & ~3
                yield state, sport, addr, uid, inode, v6only
                offset += (length + 3) & ~3
    finally:
        sock.close()


def _proc_net_dump(family):
    """Fallback without sock_diag: /proc/net/tcp{,6} (LISTEN and connections only)."""
    path = "/proc/net/tcp" if family == _socket.AF_INET else "/proc/net/tcp6"
    try:
        with open(path) as table:
            lines = table.readlines()[1:]
    except OSError:
        return
    for line in lines:
        fields = line.split()
        local, state, uid, inode = fields[1], int(fields[3], 16), int(fields[7]), int(fields[9])
        hex_addr, hex_port = local.split(":")
        raw = bytes.fromhex(hex_addr)
        # /proc prints each 32-bit word in host (little-endian) order.
        addr = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
        yield state, int(hex_port, 16), addr, uid, inode, False


def _dump(family, states):
    try:
        return list(_netlink_dump(family, states))
    except OSError as exc:
        if exc.errno == errno.EAFNOSUPPORT and family == _socket.AF_INET6:
            return []  # no IPv6 in this kernel
        return list(_proc_net_dump(family))


def port_sockets(port):
    """Every TCP socket listening on, or bound to, ``port`` (IPv4 and IPv6)."""
    found = []
    for family in (_socket.AF_INET, _socket.AF_INET6):
        for state, sport, addr, uid, inode, v6only in _dump(family, _TCPF_LISTEN | _TCPF_BOUND_INACTIVE):
            if sport == port and state in (_TCP_LISTEN, _TCP_CLOSE):
                found.append(PortSocket(family, addr, sport, uid, inode, v6only, state == _TCP_LISTEN))
    return found


def _port_has_connections(port):
    """True when connections (TIME_WAIT included) use ``port`` as their local port."""
    for family in (_socket.AF_INET, _socket.AF_INET6):
        for state, sport, _addr, _uid, _inode, _v6only in _dump(family, _TCPF_ALL):
            if sport == port and state not in (_TCP_LISTEN, _TCP_CLOSE):
                return True
    return False


def parse_host(host):
    """Return (family, packed address) for ``host``, or None for "any address"."""
    if host in (None, ""):
        return None
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            return family, _socket.inet_pton(family, host.strip("[]"))
        except (OSError, ValueError):
            pass
    try:
        infos = _socket.getaddrinfo(host, None, 0, _socket.SOCK_STREAM)
    except OSError as exc:
        raise UsageError("host %r is not an IP address or a resolvable name (%s)" % (host, exc))
    family, _type, _proto, _canon, sockaddr = infos[0]
    return family, _socket.inet_pton(family, sockaddr[0])


def _unmap(family, addr):
    if family == _socket.AF_INET6 and addr[:12] == _V4_MAPPED_PREFIX:
        return _socket.AF_INET, addr[12:]
    return family, addr


def overlaps(sock, host):
    """Would ``sock`` make ``bind(host, port)`` fail? Linux bind rules; host None = any."""
    if host is None:
        return True
    host_family, host_addr = _unmap(*host)
    family, addr = _unmap(sock.family, sock.addr)
    host_any = host_addr.count(0) == len(host_addr)
    sock_any = addr.count(0) == len(addr)
    if host_family == family:
        return host_any or sock_any or host_addr == addr
    if family == _socket.AF_INET6:  # host is IPv4: only a dual-stack "::" covers it
        return sock_any and not sock.v6only
    # host is IPv6, socket IPv4: vLLM binds "::" dual-stack, which covers every IPv4 address
    return host_any


def bind_test(host, port, reuse_addr):
    """Try ``bind(host, port)``; return 0 or the errno. Without host: dual-stack "::"."""
    family, addr = host if host is not None else (_socket.AF_INET6, b"\0" * 16)
    try:
        sock = _socket.socket(family, _socket.SOCK_STREAM)
    except OSError as exc:
        if host is None and exc.errno == errno.EAFNOSUPPORT:
            return bind_test((_socket.AF_INET, b"\0" * 4), port, reuse_addr)
        return exc.errno
    try:
        if reuse_addr:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        if family == _socket.AF_INET6:
            if host is None:
                sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 0)
            sock.bind((_socket.inet_ntop(family, addr), port, 0, 0))
        else:
            sock.bind((_socket.inet_ntop(family, addr), port))
        return 0
    except OSError as exc:
        return exc.errno
    finally:
        sock.close()


# --------------------------------------------------------------------------- processes


def socket_owners(inodes):
    """Map socket inode -> pids that hold it, for every process we can see."""
    wanted = {"socket:[%d]" % inode: inode for inode in inodes}
    owners = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fd_dir = "/proc/%s/fd" % entry.name
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or another user's process
            continue
        for fd in fds:
            try:
                target = os.readlink("%s/%s" % (fd_dir, fd))
            except OSError:
                continue
            inode = wanted.get(target)
            if inode is not None:
                pids = owners.setdefault(inode, [])
                if int(entry.name) not in pids:
                    pids.append(int(entry.name))
    return owners


def identity_names(argv, comm=""):
    """What a process says it is: argv[0]'s basename, or the program an interpreter runs.

    Arguments further along do not count: ``python3 -m http.server --directory
    /srv/vllm-docs`` is http.server, not vLLM.
    """
    if not argv:
        return [comm] if comm else []
    first = os.path.basename(argv[0])
    names = [argv[0], first] if first != argv[0] else [first]
    if first.startswith(_INTERPRETERS) or comm.startswith(_INTERPRETERS):
        args = iter(argv[1:])
        for arg in args:
            if arg == "-m":
                names.append(next(args, ""))
                break
            if arg.startswith("-m") and len(arg) > 2:
                names.append(arg[2:])
                break
            if arg in ("-c", "-"):
                break
            if arg in ("-W", "-X", "--check-hash-based-pycs"):
                next(args, None)
                continue
            if not arg.startswith("-"):
                names.append(os.path.basename(arg))
                break
    return [name for name in names if name]


def matching_pattern(names, patterns):
    """The first pattern that any identity name matches (case-insensitive), or None."""
    import fnmatch  # held path only: it pulls in re, which costs more than the free path

    for name in names:
        for pattern in patterns:
            if fnmatch.fnmatchcase(name.lower(), pattern.lower()):
                return pattern
    return None


def format_cmd(argv):
    # setproctitle pads a title with spaces over the old argv: drop the padding.
    return " ".join(argv).rstrip()


class Holder(object):
    """A process (or an invisible owner) holding a socket that blocks the port."""

    __slots__ = ("pid", "uid", "argv", "kind", "reason", "addresses", "process")

    def __init__(self, pid, uid, argv, kind, reason, addresses, process=None):
        self.pid = pid
        self.uid = uid
        self.argv = argv
        self.kind = kind  # "vllm_like" or "unknown"
        self.reason = reason
        self.addresses = addresses
        self.process = process  # psutil.Process, kept for PID-reuse protection

    @property
    def cmd(self):
        return format_cmd(self.argv)

    def as_dict(self):
        return {
            "pid": self.pid,
            "uid": self.uid,
            "cmd": self.cmd,
            "argv": list(self.argv),
            "kind": self.kind,
            "reason": self.reason,
            "addresses": list(self.addresses),
        }


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


def _classify(process, patterns, my_uid, protected):
    """(kind, reason, uid, argv) for a visible process."""
    import psutil

    try:
        with process.oneshot():
            uid = process.uids().real
            argv = process.cmdline()
            comm = process.name()
    except psutil.ZombieProcess:
        return "unknown", "a zombie: it cannot hold a socket for long", None, []
    except (psutil.NoSuchProcess, psutil.AccessDenied) as exc:
        return "unknown", "cannot inspect it (%s)" % type(exc).__name__, None, []
    if process.pid in protected:
        return "unknown", "is pid 1, the guard itself or one of its ancestors", uid, argv
    if uid != my_uid:
        return "unknown", "runs as uid %d, not ours (uid %d)" % (uid, my_uid), uid, argv
    names = identity_names(argv, comm)
    pattern = matching_pattern(names, patterns)
    if pattern is None:
        return "unknown", "identity %s matches no pattern" % ", ".join(repr(n) for n in names), uid, argv
    return "vllm_like", "identity matches %r" % pattern, uid, argv


def identify(sockets, patterns=DEFAULT_PATTERNS):
    """Turn blocking sockets into holders, one per process, each with a kind and a reason."""
    import psutil

    my_uid = os.getuid()
    protected = _protected_pids()
    owners = socket_owners(sock.inode for sock in sockets)
    holders = {}
    invisible = []
    for sock in sockets:
        pids = owners.get(sock.inode)
        if not pids:
            if sock.uid != my_uid:
                reason = "socket of uid %d, not ours (uid %d); its process is not visible" % (sock.uid, my_uid)
            else:
                reason = "socket inode %d has no process we can see" % sock.inode
            invisible.append(Holder(None, sock.uid, [], "unknown", reason, [sock.address]))
            continue
        for pid in pids:
            if pid in holders:
                holders[pid].addresses.append(sock.address)
                continue
            try:
                process = psutil.Process(pid)
            except psutil.NoSuchProcess:
                continue  # exited on its own since the scan: normal
            kind, reason, uid, argv = _classify(process, patterns, my_uid, protected)
            holders[pid] = Holder(pid, uid, argv, kind, reason, [sock.address], process)
    _adopt_children(holders, my_uid, protected)
    return sorted(holders.values(), key=lambda h: h.pid) + invisible


def _adopt_children(holders, my_uid, protected):
    """A child that inherited a vllm_like holder's socket (a forked engine) is part of it."""
    import psutil

    vllm_pids = {pid for pid, h in holders.items() if h.kind == "vllm_like"}
    for holder in holders.values():
        if holder.kind != "unknown" or holder.uid != my_uid or holder.pid in protected:
            continue
        try:
            ancestors = [parent.pid for parent in holder.process.parents()]
        except psutil.Error:
            continue
        parent = next((pid for pid in ancestors if pid in vllm_pids), None)
        if parent is not None:
            holder.kind = "vllm_like"
            holder.reason = "child of vllm_like holder pid %d" % parent


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


def _orphan_candidate_pids():
    """Where an engine lands when its API server dies: children of init, of the user
    manager (a subreaper) and of the guard's own ancestors. Reading a few children lists
    instead of every /proc entry keeps the free-port path fast on busy hosts; without
    /proc/<pid>/task/<tid>/children every process is a candidate."""
    roots = set(_protected_pids()) - {os.getpid()}
    roots.update(_user_manager_pids(os.getuid()))
    candidates = set()
    for root in roots:
        children = _children(root)
        if children is None:
            return [int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()]
        candidates.update(children)
    return sorted(candidates)


def find_orphans(patterns=DEFAULT_PATTERNS, engine_patterns=DEFAULT_ENGINE_PATTERNS):
    """Engine processes of ours whose API server is gone. An engine with a live server stays.

    The scan reads only /proc/<pid>/stat of the candidates (comm is the process title
    cut to 15 characters); psutil is loaded only when one matches.
    """
    prefixes = [p.lower()[:15].rstrip("*") for p in engine_patterns]
    candidates = []
    my_uid = os.getuid()
    for pid in _orphan_candidate_pids():
        stat = _read_stat("/proc/%d" % pid)
        if stat and any(stat[0].lower().startswith(prefix) for prefix in prefixes):
            candidates.append(pid)
    if not candidates:
        return []
    import psutil

    protected = _protected_pids()
    orphans = []
    for pid in candidates:
        try:
            process = psutil.Process(pid)
            argv = process.cmdline()
            if pid in protected or process.uids().real != my_uid:
                continue
            if not matching_pattern([argv[0] if argv else process.name()], engine_patterns):
                continue
            # Its lane is alive when some ancestor is an API server: ours, and not an engine.
            has_server = False
            for parent in process.parents():
                names = identity_names(parent.cmdline(), parent.name())
                if matching_pattern(names, patterns) and not matching_pattern(names, engine_patterns):
                    has_server = True
                    break
            if not has_server:
                orphans.append(Holder(pid, my_uid, argv, "vllm_like", "engine without an API server", [], process))
        except psutil.Error:
            continue  # gone or invisible: not ours to reap
    return orphans


# --------------------------------------------------------------------------- probe + decide


class Report(object):
    """What the probe saw: the holders that block ``bind(host, port)``, or why it could not tell."""

    __slots__ = ("port", "address", "holders", "error")

    def __init__(self, port, address, holders=(), error=None):
        self.port = port
        self.address = address  # parse_host() of the host asked for
        self.holders = list(holders)
        self.error = error

    @property
    def free(self):
        return self.error is None and not self.holders

    @property
    def unknown(self):
        return [h for h in self.holders if h.kind != "vllm_like"]


def check_port(port):
    """Validate a port number: an int in 1..65535, else UsageError naming the input."""
    try:
        value = int(str(port).strip())
    except (TypeError, ValueError):
        raise UsageError("port %r is not a number; expected an integer in 1..65535" % (port,))
    if not 1 <= value <= 65535:
        raise UsageError("port %r is out of range; expected an integer in 1..65535" % (port,))
    return value


def blocking_sockets(port, host):
    """The sockets that overlap ``host:port``, from the kernel tables."""
    return [sock for sock in port_sockets(port) if overlaps(sock, host)]


def port_is_bindable(port, host):
    """The same check vLLM makes: no overlapping socket and a SO_REUSEADDR bind succeeds."""
    return not blocking_sockets(port, host) and bind_test(host, port, reuse_addr=True) == 0


def probe(port, host=None, patterns=DEFAULT_PATTERNS):
    """Find and identify everything that would make vLLM's ``bind(host, port)`` fail."""
    port = check_port(port)
    parsed = parse_host(host)
    sockets = blocking_sockets(port, parsed)
    if not sockets:
        code = bind_test(parsed, port, reuse_addr=False)
        if code == 0:
            return Report(port, parsed)
        if code == errno.EADDRINUSE:
            # Connections that linger (TIME_WAIT) block a plain bind but not vLLM's,
            # which sets SO_REUSEADDR. Anything else is a socket the tables hide.
            if _port_has_connections(port) and bind_test(parsed, port, reuse_addr=True) == 0:
                return Report(port, parsed)
            return Report(port, parsed, error="port in use, but no socket table names a holder "
                                              "(bound-only sockets are listed from Linux 6.10)")
        if code == errno.EADDRNOTAVAIL:
            raise UsageError("host %r is not an address of this machine" % (host,))
        return Report(port, parsed, error="bind test failed: %s" % os.strerror(code))
    try:
        holders = identify(sockets, patterns)
    except OSError as exc:
        return Report(port, parsed, error="cannot identify holders: %s" % exc)
    return Report(port, parsed, holders)


# --------------------------------------------------------------------------- events


def quote(text):
    """Double-quote ``text`` for a key=value log line; argv is text anyone can choose."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char < " " or char == "\x7f":
            out.append("\\x%02x" % ord(char))
        else:
            out.append(char)
    return '"%s"' % "".join(out)


def format_event(event, **fields):
    parts = [event]
    for key, value in fields.items():
        if key in ("cmd", "reason"):
            value = quote(str(value))
        elif value is None:
            value = "-"
        parts.append("%s=%s" % (key, value))
    return " ".join(parts)


class EventLog(object):
    """Collects event lines and writes each to stderr and to syslog (when /dev/log exists)."""

    def __init__(self, stderr=True, syslog=True):
        self.lines = []
        self.stderr = stderr
        self.syslog = syslog and os.path.exists("/dev/log")
        self._opened = False

    def __call__(self, event, level="info", **fields):
        line = format_event(event, **fields)
        self.lines.append(line)
        if self.stderr:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        if self.syslog:
            import syslog

            if not self._opened:
                syslog.openlog(SYSLOG_IDENT, syslog.LOG_PID, syslog.LOG_USER)
                self._opened = True
            syslog.syslog(syslog.LOG_WARNING if level == "warning" else syslog.LOG_INFO, line)
        return line


# --------------------------------------------------------------------------- reclaim


class Outcome(object):
    """The guard's decision and what it did."""

    __slots__ = ("event", "exit_code", "report", "reclaimed", "orphans", "events", "reason")

    def __init__(self, event, exit_code, report, reclaimed=(), orphans=(), events=(), reason=None):
        self.event = event
        self.exit_code = exit_code
        self.report = report
        self.reclaimed = list(reclaimed)
        self.orphans = list(orphans)
        self.events = list(events)
        self.reason = reason

    @property
    def changed(self):
        return bool(self.reclaimed or self.orphans)


def _kill_trees(roots, grace, log, port):
    """SIGTERM each root and its descendants, SIGKILL what outlives ``grace``.

    psutil checks the create time before signalling, so a reused PID is never hit.
    """
    import psutil

    protected = _protected_pids()
    my_uid = os.getuid()
    procs = {}
    for root in roots:
        try:
            family = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            continue  # exited on its own: normal
        for proc in family:
            try:
                if proc.pid not in protected and proc.uids().real == my_uid:
                    procs[proc.pid] = proc
            except psutil.Error:
                continue
    for proc in procs.values():
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    alive = _wait_gone(procs.values(), grace)
    for proc in alive:
        try:
            log("VLLM_PORT_KILL", level="warning", port=port, pid=proc.pid, signal="SIGKILL")
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    _wait_gone(alive, 5.0)


def _wait_gone(procs, timeout):
    """Poll until every process has exited (a zombie counts as gone: its sockets are closed).

    psutil.wait_procs would wait out the whole timeout for a zombie whose parent has
    not reaped it yet; polling keeps a reclaim within POLL_INTERVAL of the exit.
    """
    import psutil

    deadline = time.monotonic() + timeout
    alive = list(procs)
    while True:
        still = []
        for proc in alive:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    still.append(proc)
            except psutil.NoSuchProcess:
                pass
        alive = still
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(POLL_INTERVAL)


def run_guard(port, host=None, patterns=DEFAULT_PATTERNS, grace=DEFAULT_GRACE, timeout=DEFAULT_TIMEOUT,
              probe_only=False, dry_run=False, log=None):
    """Probe, decide and (unless ``probe_only``/``dry_run``) reclaim. Returns an Outcome.

    ``probe_only`` reports holders (``VLLM_PORT_HELD_VLLM``) and kills nothing;
    ``dry_run`` (Ansible check mode) says what it would reclaim and kills nothing.
    """
    log = log if log is not None else EventLog()
    report = probe(port, host, patterns)
    port = report.port

    def outcome(event, code, reclaimed=(), orphans=(), reason=None):
        return Outcome(event, code, report, reclaimed, orphans, log.lines, reason)

    if report.error:
        log("VLLM_PORT_PROBE_FAILED", level="warning", port=port, reason=report.error)
        return outcome("VLLM_PORT_PROBE_FAILED", EXIT_REFUSED, reason=report.error)
    if report.unknown:
        for holder in report.unknown:
            log("VLLM_PORT_HELD_UNKNOWN", level="warning", port=port, pid=holder.pid, cmd=holder.cmd)
        return outcome("VLLM_PORT_HELD_UNKNOWN", EXIT_REFUSED)
    if probe_only:
        for holder in report.holders:
            log("VLLM_PORT_HELD_VLLM", port=port, pid=holder.pid, cmd=holder.cmd)
        if not report.holders:
            log("VLLM_PORT_OK", port=port)
        return outcome("VLLM_PORT_HELD_VLLM" if report.holders else "VLLM_PORT_OK", EXIT_OK)

    orphans = find_orphans(patterns)
    holder_pids = {h.pid for h in report.holders}
    orphans = [o for o in orphans if o.pid not in holder_pids]
    for holder in report.holders:
        log("VLLM_PORT_RECLAIM", port=port, pid=holder.pid, cmd=holder.cmd)
    for orphan in orphans:
        log("VLLM_ORPHAN_RECLAIM", pid=orphan.pid, cmd=orphan.cmd)
    if dry_run:
        event = "VLLM_PORT_RECLAIM" if report.holders else "VLLM_PORT_OK"
        return outcome(event, EXIT_OK, report.holders, orphans)

    if report.holders or orphans:
        _kill_trees([h.process for h in report.holders + orphans], grace, log, port)
    if report.holders:
        deadline = time.monotonic() + timeout
        while not port_is_bindable(port, report.address):
            if time.monotonic() >= deadline:
                reason = "port not bindable %.1fs after the holders were killed" % timeout
                log("VLLM_PORT_STUCK", level="warning", port=port, reason=reason)
                return outcome("VLLM_PORT_STUCK", EXIT_REFUSED, report.holders, orphans, reason)
            time.sleep(POLL_INTERVAL)
        log("VLLM_PORT_RECLAIMED", port=port)
    log("VLLM_PORT_OK", port=port)
    event = "VLLM_PORT_RECLAIMED" if report.holders else "VLLM_PORT_OK"
    return outcome(event, EXIT_OK, report.holders, orphans)


# --------------------------------------------------------------------------- CLI

GUARD_USAGE = ("usage: openclaw-vllm-guard [--probe-only] [--host ADDR] [--grace S] [--timeout S] "
               "[--pattern GLOB ...] PORT")


def _seconds(flag, value):
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise UsageError("%s %r: expected seconds between 0 and 3600" % (flag, value))
    return seconds


_FLAGS = ("probe-only", "help")
_VALUE_OPTIONS = ("host", "grace", "timeout", "pattern")


def parse_guard_args(argv):
    """Parse the guard's command line by hand: argparse or getopt (which pulls in gettext
    and re) would cost more than the whole free-port decision."""
    options = {"probe_only": False, "host": None, "grace": DEFAULT_GRACE, "timeout": DEFAULT_TIMEOUT,
               "patterns": [], "help": False}
    positional = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            positional.extend(args)
        elif arg in ("-h", "--help"):
            options["help"] = True
        elif arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            if name in _FLAGS and not has_value:
                options[name.replace("-", "_")] = True
            elif name in _VALUE_OPTIONS:
                if not has_value:
                    value = next(args, None)
                    if value is None:
                        raise UsageError("option --%s requires a value" % name)
                if name in ("grace", "timeout"):
                    options[name] = _seconds("--" + name, value)
                elif name == "pattern":
                    options["patterns"].append(value)
                else:
                    options["host"] = value
            else:
                raise UsageError("option %s not recognized" % arg)
        elif arg.startswith("-") and arg != "-":
            raise UsageError("option %s not recognized" % arg)
        else:
            positional.append(arg)
    if options["help"]:
        return options
    if len(positional) != 1:
        raise UsageError("expected exactly one PORT, got %d argument(s): %s" % (
            len(positional), " ".join(positional) or "none"))
    options["port"] = check_port(positional[0])
    options["patterns"] = tuple(options["patterns"]) or DEFAULT_PATTERNS
    return options


def main(argv=None):
    """``openclaw-vllm-guard``: exit 0 = port is ours, 42 = refused, 2 = bad usage."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        options = parse_guard_args(argv)
        if options.get("help"):
            print(GUARD_USAGE)
            return EXIT_OK
        result = run_guard(options["port"], options["host"], options["patterns"], options["grace"],
                           options["timeout"], probe_only=options["probe_only"])
    except UsageError as exc:
        sys.stderr.write("openclaw-vllm-guard: %s\n%s\n" % (exc, GUARD_USAGE))
        return EXIT_USAGE
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
