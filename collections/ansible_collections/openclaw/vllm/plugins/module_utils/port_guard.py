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
import stat
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
# vLLM titles its processes ${VLLM_PROCESS_NAME_PREFIX:-VLLM}::EngineCore, ::Worker_TP0, ...
# The unit's environment reaches the guard (ExecStartPre), so a custom prefix is followed.
PREFIX_ENV = "VLLM_PROCESS_NAME_PREFIX"


def _title_prefix():
    """The custom process-title prefix, when one is set and specific enough to name ours."""
    prefix = os.environ.get(PREFIX_ENV, "")
    if len(prefix) < 3 or prefix.upper() == "VLLM" or "/" in prefix or not prefix.replace("_", "").isalnum():
        return None
    return prefix


def default_patterns():
    """DEFAULT_PATTERNS, plus ``<prefix>::*`` under a custom VLLM_PROCESS_NAME_PREFIX."""
    prefix = _title_prefix()
    return DEFAULT_PATTERNS + ((prefix + "::*",) if prefix else ())


def engine_patterns():
    """DEFAULT_ENGINE_PATTERNS, plus the same titles under a custom prefix."""
    prefix = _title_prefix()
    return DEFAULT_ENGINE_PATTERNS + ((prefix + "::EngineCore*", prefix + "::Worker*") if prefix else ())


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


class ProbeError(Exception):
    """The kernel tables could not be read reliably: the guard refuses (42), never kills."""


_NLM_F_DUMP_INTR = 0x10
_DIAG_MSG_LEN = 72  # struct inet_diag_msg


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
            if not data:
                raise ProbeError("sock_diag: empty read before the end of the dump")
            for row in parse_diag_messages(data, addr_len):
                if row is None:  # NLMSG_DONE
                    return
                yield row
    finally:
        sock.close()


def parse_diag_messages(data, addr_len):
    """Rows (state, sport, addr, uid, inode, v6only) from one netlink read; None at NLMSG_DONE.

    A truncated message or a dump the kernel flags as interrupted (the table changed while
    it was read) raises ProbeError: a partial table could hide a holder.
    """
    offset = 0
    while offset < len(data):
        if offset + 16 > len(data):
            raise ProbeError("sock_diag: truncated message header")
        length, msg_type, flags = struct.unpack_from("=IHH", data, offset)
        if length < 16 or offset + length > len(data):
            raise ProbeError("sock_diag: truncated message (length %d)" % length)
        if flags & _NLM_F_DUMP_INTR:
            raise ProbeError("sock_diag: dump interrupted (the socket table changed while read)")
        if msg_type == 3:  # NLMSG_DONE
            yield None
            return
        if msg_type == 2:  # NLMSG_ERROR
            code = -struct.unpack_from("=i", data, offset + 16)[0]
            raise OSError(code, "sock_diag: %s" % os.strerror(code))
        if length < 16 + _DIAG_MSG_LEN:
            raise ProbeError("sock_diag: truncated inet_diag message (length %d)" % length)
        body = offset + 16
        state = data[body + 1]
        sport = struct.unpack_from(">H", data, body + 4)[0]
        addr = data[body + 8:body + 8 + addr_len]
        uid, inode = struct.unpack_from("=II", data, body + 64)
        v6only = False
        attr = body + _DIAG_MSG_LEN
        while attr + 4 <= offset + length:
            attr_len, attr_type = struct.unpack_from("=HH", data, attr)
            if attr_len < 4:
                break
            if attr_type == _INET_DIAG_SKV6ONLY and attr + 5 <= offset + length:
                v6only = bool(data[attr + 4])
            attr += (attr_len + 3) & ~3
        yield state, sport, addr, uid, inode, v6only
        offset += (length + 3) & ~3


def _proc_net_dump(family):
    """Fallback without sock_diag: /proc/net/tcp{,6} (LISTEN and connections only).

    These tables do not say whether an IPv6 socket is v6-only: v6only is None (unknown),
    and overlaps() asks a bind test instead of guessing.
    """
    path = PROC_NET + ("/tcp" if family == _socket.AF_INET else "/tcp6")
    try:
        with open(path) as table:
            lines = table.readlines()[1:]
    except OSError:
        return
    for number, line in enumerate(lines, 2):
        try:
            fields = line.split()
            local, state, uid, inode = fields[1], int(fields[3], 16), int(fields[7]), int(fields[9])
            hex_addr, hex_port = local.split(":")
            raw = bytes.fromhex(hex_addr)
            port = int(hex_port, 16)
        except (IndexError, ValueError) as exc:
            raise ProbeError("%s line %d unreadable (%s)" % (path, number, exc))
        # /proc prints each 32-bit word in host (little-endian) order.
        addr = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
        yield state, port, addr, uid, inode, None if family == _socket.AF_INET6 else False


# Test knob: read the socket tables as an older kernel would give them. "legacy": sock_diag
# without bound-only sockets (Linux < 6.10: Ubuntu 22.04/24.04, Debian 12); "proc": the
# /proc/net/tcp{,6} fallback. CI runs the guard suite once per setting.
TABLES_ENV = "OPENCLAW_VLLM_GUARD_TABLES"
PROC_NET = "/proc/net"


def _dump(family, states):
    tables = os.environ.get(TABLES_ENV, "")
    if tables == "proc":
        return list(_proc_net_dump(family))
    if tables == "legacy":
        states &= ~_TCPF_BOUND_INACTIVE
    for attempt in range(3):
        try:
            rows = list(_netlink_dump(family, states))
        except ProbeError:
            if attempt == 2:
                raise
            continue  # an interrupted dump: read the table again
        except OSError as exc:
            if exc.errno == errno.EAFNOSUPPORT and family == _socket.AF_INET6:
                return []  # no IPv6 in this kernel
            return list(_proc_net_dump(family))
        if tables == "legacy":  # older kernels never report a bound-only socket
            rows = [row for row in rows if row[0] != _TCP_CLOSE]
        return rows
    return []


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
    """The addresses vLLM's ``bind(host, port)`` would take, as [(family, packed)], or None
    for "any address".

    vLLM (create_server_socket) opens an AF_INET6 socket only for an IPv6 literal; any
    other host is bound as AF_INET, so a name resolves to its IPv4 addresses only
    (``localhost`` is 127.0.0.1 even where /etc/hosts lists ``::1 localhost`` first).
    Every IPv4 address it resolves to is checked.
    """
    if host is None or host == "":
        return None
    if not isinstance(host, str) or not host.strip() or len(host) > 253:
        raise UsageError("host %r: expected an IP address or a host name" % (host,))
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            return [(family, _socket.inet_pton(family, literal))]
        except (OSError, ValueError):
            pass
    try:
        infos = _socket.getaddrinfo(host, None, _socket.AF_INET, _socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise UsageError("host %r is not an IP address or a resolvable name (%s)" % (host, exc))
    addresses = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        packed = (_socket.AF_INET, _socket.inet_pton(_socket.AF_INET, sockaddr[0]))
        if packed not in addresses:
            addresses.append(packed)
    if not addresses:
        raise UsageError("host %r resolves to no IPv4 address (vLLM binds names as IPv4)" % (host,))
    return addresses


def _unmap(family, addr):
    if family == _socket.AF_INET6 and addr[:12] == _V4_MAPPED_PREFIX:
        return _socket.AF_INET, addr[12:]
    return family, addr


def overlaps(sock, hosts):
    """Would ``sock`` make ``bind(host, port)`` fail for any of ``hosts``? Linux bind rules;
    hosts None = any address."""
    if hosts is None:
        return True
    return any(_overlaps_one(sock, host) for host in hosts)


def _overlaps_one(sock, host):
    host_family, host_addr = _unmap(*host)
    family, addr = _unmap(sock.family, sock.addr)
    host_any = host_addr.count(0) == len(host_addr)
    sock_any = addr.count(0) == len(addr)
    if host_family == family:
        return host_any or sock_any or host_addr == addr
    if family == _socket.AF_INET6:  # host is IPv4: only a dual-stack "::" covers it
        if not sock_any or sock.v6only:
            return False
        if sock.v6only is None:  # the table could not say: let the kernel answer
            return bind_test([host], sock.port, reuse_addr=True) != 0
        return True
    # host is IPv6, socket IPv4: a dual-stack "::" bind covers every IPv4 address
    return host_any


def bind_test(hosts, port, reuse_addr):
    """Try ``bind(host, port)`` for each host; return 0 or the first errno. Without hosts:
    dual-stack "::" (or 0.0.0.0 where the kernel has no IPv6)."""
    if hosts is None:
        code = _bind_one((_socket.AF_INET6, b"\0" * 16), port, reuse_addr, dual_stack=True)
        if code == errno.EAFNOSUPPORT:
            code = _bind_one((_socket.AF_INET, b"\0" * 4), port, reuse_addr)
        return code
    for host in hosts:
        code = _bind_one(host, port, reuse_addr)
        if code:
            return code
    return 0


def _bind_one(host, port, reuse_addr, dual_stack=False):
    family, addr = host
    try:
        sock = _socket.socket(family, _socket.SOCK_STREAM)
    except OSError as exc:
        return exc.errno
    try:
        if reuse_addr:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        if family == _socket.AF_INET6:
            if dual_stack:
                sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 0)
            sock.bind((_socket.inet_ntop(family, addr), port, 0, 0))
        else:
            sock.bind((_socket.inet_ntop(family, addr), port))
        return 0
    except OSError as exc:
        return exc.errno
    finally:
        sock.close()


_PIDFD_GETFD = 438  # syscall number, the same on x86_64 and arm64


def _tcp_inodes():
    """Inodes of every TCP socket the tables list (any state)."""
    inodes = set()
    for family in (_socket.AF_INET, _socket.AF_INET6):
        for _state, _sport, _addr, _uid, inode, _v6only in _dump(family, _TCPF_ALL | _TCPF_BOUND_INACTIVE):
            inodes.add(inode)
    return inodes


def bound_only_sockets(port, hosts):
    """Bound-only sockets on ``port`` where sock_diag cannot list them (Linux < 6.10).

    A TCP socket that no table lists is bound but not listening, or not bound at all.
    For each such socket of a process this user may trace, a duplicate taken with
    pidfd_getfd (Linux >= 5.6) tells its address. Sockets of processes we may not trace
    stay unknown: the caller then refuses.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    listed = _tcp_inodes()
    my_uid = os.getuid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if my_uid != 0 and entry.stat().st_uid != my_uid:
                continue
            targets = _fd_targets("/proc/%d/fd" % pid)
        except OSError:
            continue
        candidates = []
        for fd, target in targets.items():
            if not target.startswith("socket:["):
                continue
            inode = int(target[8:-1])
            if inode in listed:
                continue
            try:
                proto = os.getxattr("/proc/%d/fd/%s" % (pid, fd), "system.sockprotoname")
            except OSError:
                continue
            if proto.rstrip(b"\0") in (b"TCP", b"TCPv6"):
                candidates.append((int(fd), inode))
        if not candidates:
            continue
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            for fd, inode in candidates:
                dup = libc.syscall(_PIDFD_GETFD, pidfd, fd, 0)
                if dup < 0:
                    continue
                sock = _socket.socket(fileno=dup)
                try:
                    name = sock.getsockname()
                    v6only = False
                    if sock.family == _socket.AF_INET6:
                        v6only = bool(sock.getsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY))
                    found_sock = PortSocket(sock.family, _socket.inet_pton(sock.family, name[0]), name[1],
                                            entry.stat().st_uid, inode, v6only, False)
                except OSError:
                    continue
                finally:
                    sock.close()
                if found_sock.port == port and overlaps(found_sock, hosts):
                    found.append(found_sock)
        finally:
            os.close(pidfd)
    return found


# --------------------------------------------------------------------------- processes


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


def _is_interpreter(name):
    """python, python3, python3.11, pypy3, ... (and nothing else named python-*)."""
    lowered = name.lower()
    for prefix in ("python", "pypy"):
        if lowered.startswith(prefix):
            version = lowered[len(prefix):]
            return all(part.isdigit() and part.isascii() for part in version.split(".")) if version else True
    return False


# CPython short options that take a value (``-W arg``, ``-Xopt``); -c and -m end the options.
_VALUE_FLAGS = "WX"


def interpreter_program(args):
    """What ``python [options] ...`` runs, parsed the way CPython parses its options:
    ("module", name) for -m, ("script", path) for a script, None for -c, stdin or no program.
    """
    args = list(args)
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            return ("script", args[index]) if index < len(args) and args[index] != "-" else None
        if arg.startswith("--"):
            if arg == "--check-hash-based-pycs":
                index += 1
                continue
            if arg.startswith("--check-hash-based-pycs="):
                continue
            return None  # --help, --version, ... or an option we do not know: no program
        if arg == "-" or not arg.startswith("-"):
            return ("script", arg) if arg != "-" else None
        flags = arg[1:]
        for position, flag in enumerate(flags):
            rest = flags[position + 1:]
            if flag in "cm":
                if rest:
                    value = rest
                elif index < len(args):
                    value = args[index]
                else:
                    return None
                return ("module", value) if flag == "m" else None
            if flag in _VALUE_FLAGS:
                if not rest:
                    index += 1
                break
            if not flag.isalpha() or not flag.isascii():
                return None  # not an option CPython has: do not guess
    return None


def identity_names(argv, comm=""):
    """What a process says it is, built from names only, never from directories.

    argv[0]'s basename (a process title such as ``VLLM::EngineCore`` is argv[0] too);
    when argv[0] is a Python interpreter (python, python3, python3.N, pypy3), the module it
    runs (``-m vllm.entrypoints.openai.api_server``) or its script's basename
    (``.../bin/vllm``) instead. ``-c`` code and stdin have no name. Without argv (a
    kernel thread, or a process that cleared it): comm. Arguments further along never
    count: ``python3 -m http.server --directory /srv/vllm-docs`` is http.server.
    """
    if not argv or not argv[0]:
        return [comm] if comm else []
    first = argv[0].rsplit("/", 1)[-1]
    if not _is_interpreter(first):
        return [first] if first else []
    program = interpreter_program(argv[1:])
    if program is None:
        return [first]
    kind, value = program
    name = value if kind == "module" else value.rsplit("/", 1)[-1]
    return [name] if name else [first]


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _fold(text):
    """Lower-case ASCII letters only: look-alike letters (the Kelvin sign lower-cases to
    "k") never turn a foreign name into ours."""
    return text.translate(_ASCII_LOWER)


_TOKENS = {}


def _tokens(pattern):
    """A glob as tokens: "*", "?", ("set", negate, chars, ranges) or a literal character.
    Parsed by hand: ``re`` would cost more than the whole free-port path."""
    tokens = _TOKENS.get(pattern)
    if tokens is not None:
        return tokens
    tokens = []
    folded = _fold(pattern)
    index = 0
    while index < len(folded):
        char = folded[index]
        index += 1
        if char in "*?":
            if not (char == "*" and tokens and tokens[-1] == "*"):
                tokens.append(char)
            continue
        if char == "[":
            end = index + (1 if folded[index:index + 1] in ("!", "^") else 0)
            end = folded.find("]", end + 1)
            if end > 0:
                body = folded[index:end]
                index = end + 1
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                chars, ranges, at = set(), [], 0
                while at < len(body):
                    if at + 2 < len(body) and body[at + 1] == "-":
                        ranges.append((body[at], body[at + 2]))
                        at += 3
                    else:
                        chars.add(body[at])
                        at += 1
                tokens.append(("set", negate, chars, ranges))
                continue
        tokens.append(char)
    _TOKENS[pattern] = tokens
    return tokens


def _token_matches(token, char):
    if token == "?":
        return True
    if isinstance(token, tuple):
        _kind, negate, chars, ranges = token
        inside = char in chars or any(low <= char <= high for low, high in ranges)
        return inside != negate
    return token == char


def pattern_matches(name, pattern):
    """fnmatch-style glob, case-insensitive for ASCII. Identities are names: a name with
    a "/" never matches (so ``*`` never crosses a directory)."""
    if "/" in name:
        return False
    tokens = _tokens(pattern)
    name = _fold(name)
    i = j = 0
    star_j, star_i = -1, 0
    while i < len(name):
        if j < len(tokens) and tokens[j] != "*" and _token_matches(tokens[j], name[i]):
            i += 1
            j += 1
        elif j < len(tokens) and tokens[j] == "*":
            star_j, star_i = j, i
            j += 1
        elif star_j >= 0:  # let the last "*" take one more character, and retry
            star_i += 1
            i, j = star_i, star_j + 1
        else:
            return False
    while j < len(tokens) and tokens[j] == "*":
        j += 1
    return j == len(tokens)


def matching_pattern(names, patterns):
    """The first pattern that any identity name matches, or None."""
    for name in names:
        for pattern in patterns:
            if pattern_matches(name, pattern):
                return pattern
    return None


# Names that are never vLLM: a pattern that matches one of them would make every such
# process of the service user a reclaim target. What a pattern matches is what counts, not
# its spelling: bracket expressions and negations are tried against these names.
_FOREIGN_NAMES = (
    "python3", "python", "python3.11", "pypy3", "bash", "sh", "dash", "zsh", "sleep", "tail", "cat", "env",
    "nginx", "node", "npm", "java", "ruby", "perl", "php-fpm", "sshd", "ssh", "systemd", "systemd-journald",
    "dbus-daemon", "cron", "tmux", "screen", "sudo", "su", "login", "git", "make", "gcc",
    "http.server", "holder.py", "x.py", "app.py", "server.py", "main.py", "unknown-holder",
    "gunicorn", "uvicorn", "celery", "jupyter-lab", "jupyter", "ipykernel_launcher", "postgres", "redis-server",
    "mysqld", "mongod", "memcached", "haproxy", "caddy", "envoy", "containerd", "dockerd", "podman", "conmon",
    "ollama", "llama-server", "tritonserver", "text-generation-launcher", "sglang.launch_server", "torchrun",
    "ray", "raylet", "nvidia-smi", "prometheus", "node_exporter", "grafana-server",
    "a", "z", "1", "-", ".", "_", "aaa", "zzz", "xq7", "q9zk2w", "qzx-yvw.jkq")


def _literal_run(pattern):
    """The longest run of literal letters or digits: characters inside a bracket expression,
    "*" and "?" are not literal (``[abcdefghij]*`` names nothing)."""
    longest = run = 0
    for token in _tokens(pattern):
        run = run + 1 if isinstance(token, str) and len(token) == 1 and token.isalnum() else 0
        longest = max(longest, run)
    return longest


def check_patterns(patterns):
    """Validate identity patterns; an empty list means the defaults (the CLI and the module
    agree). A pattern must name something: refused when it contains a "/", has no run of
    three literal letters or digits, or matches a common foreign name."""
    if not patterns or tuple(patterns) == DEFAULT_PATTERNS:
        return default_patterns()
    if isinstance(patterns, str):
        patterns = [patterns]
    checked = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.strip():
            raise UsageError("pattern %r: expected a non-empty glob such as 'vllm-*'" % (pattern,))
        if "/" in pattern:
            raise UsageError("pattern %r: identities are names, never paths; remove the '/'" % (pattern,))
        foreign = next((name for name in _FOREIGN_NAMES if pattern_matches(name, pattern)), None)
        if _literal_run(pattern) < 3 or foreign is not None:
            raise UsageError("pattern %r is too broad: %s; a pattern needs three literal letters or digits in a "
                             "row naming vLLM (characters in [...] do not count), such as 'vllm-*'" % (
                                 pattern, "it would make %r a reclaim target" % foreign if foreign
                                 else "it names nothing in particular"))
        checked.append(pattern)
    return tuple(checked) or default_patterns()


def format_cmd(argv, comm=""):
    """argv as one line; ``[comm]`` (as ps prints it) for a process with an empty argv."""
    if not argv or not any(argv):
        return "[%s]" % comm if comm else ""
    # setproctitle pads a title with spaces over the old argv: drop the padding.
    return " ".join(argv).rstrip()


def clean_text(text):
    """``text`` as valid UTF-8: bytes argv could not decode (surrogateescape) become ``\\xNN``.
    What JSON, Ansible and a UTF-8 terminal receive."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Holder(object):
    """A process (or an invisible owner) holding a socket that blocks the port."""

    __slots__ = ("pid", "uid", "argv", "comm", "kind", "reason", "addresses", "inodes", "process")

    def __init__(self, pid, uid, argv, kind, reason, addresses, process=None, comm="", inodes=()):
        self.pid = pid
        self.uid = uid
        self.argv = argv
        self.comm = comm
        self.kind = kind  # "vllm_like" or "unknown"
        self.reason = reason
        self.addresses = addresses
        self.inodes = set(inodes)  # the blocking sockets it holds
        self.process = process  # psutil.Process, kept for PID-reuse protection

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


def _split_cmdline(data):
    """/proc/<pid>/cmdline bytes -> argv, as psutil splits it (bytes that are not UTF-8 are
    kept with surrogateescape; a title set over argv is split on spaces)."""
    text = data.decode("utf-8", "surrogateescape")
    if not text:
        return []
    sep = "\0" if text.endswith("\0") else " "
    text = text[:-1] if text.endswith(sep) else text
    argv = text.split(sep)
    if sep == "\0" and len(argv) == 1 and " " in text:  # a title with spaces, no NUL
        argv = text.split(" ")
    return argv


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


def _classify(process, patterns, my_uid, protected):
    """(kind, reason, uid, argv, comm) for a visible process."""
    try:
        uid, argv, comm = process_facts(process.pid)
    except (OSError, IndexError, ValueError) as exc:
        return "unknown", "cannot inspect it (%s)" % (getattr(exc, "strerror", None) or type(exc).__name__), \
            None, [], ""
    if process.pid in protected:
        return "unknown", "is pid 1, the guard itself or one of its ancestors", uid, argv, comm
    if uid != my_uid:
        return "unknown", "runs as uid %d, not ours (uid %d)" % (uid, my_uid), uid, argv, comm
    names = identity_names(argv, comm)
    pattern = matching_pattern(names, patterns)
    if pattern is None:
        shown = ", ".join(repr(clean_text(n)[:100]) for n in names) or "(none)"
        return "unknown", "identity %s matches no pattern" % shown, uid, argv, comm
    return "vllm_like", "identity matches %r" % pattern, uid, argv, comm


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


def identify(sockets, patterns=DEFAULT_PATTERNS):
    """Turn blocking sockets into holders, one per process, each with a kind and a reason."""
    import psutil

    my_uid = os.getuid()
    protected = _protected_pids()
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
            kind, reason, uid, argv, comm = _classify(process, patterns, my_uid, protected)
            holders[pid] = Holder(pid, uid, argv, kind, reason, [sock.address], process, comm, [sock.inode])
    _adopt_children(holders, my_uid, protected)
    return sorted(holders.values(), key=lambda h: h.pid) + invisible


def _adopt_children(holders, my_uid, protected):
    """A descendant that inherited a vllm_like holder's socket (a forked engine) is part of it:
    every blocking socket it holds is the same socket (inode) as its vllm_like ancestor's.
    A descendant that bound a socket of its own is judged by its own identity."""
    import psutil

    vllm_like = {pid: h for pid, h in holders.items() if h.kind == "vllm_like"}
    for holder in holders.values():
        if holder.kind != "unknown" or holder.uid != my_uid or holder.pid in protected:
            continue
        try:
            ancestors = [parent.pid for parent in holder.process.parents()]
        except psutil.Error:
            continue
        parent = next((pid for pid in ancestors if pid in vllm_like), None)
        if parent is not None and holder.inodes <= vllm_like[parent].inodes:
            holder.kind = "vllm_like"
            holder.reason = "child of vllm_like holder pid %d, holding its inherited socket" % parent


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


def find_orphans(patterns=DEFAULT_PATTERNS, engines=None):
    """Engine processes of ours whose API server is gone. An engine with a live server stays.

    The scan reads only /proc/<pid>/stat of the candidates (comm is the process title
    cut to 15 characters); psutil is loaded only when one matches.
    """
    engines = engines or engine_patterns()
    prefixes = [p.lower()[:15].rstrip("*") for p in engines]
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
            uid, argv, comm = process_facts(pid)
            if pid in protected or uid != my_uid:
                continue
            if not matching_pattern(identity_names(argv, comm), engines):
                continue
            # Its lane is alive when some ancestor is an API server: ours, and not an engine.
            has_server = False
            for parent in process.parents():
                _parent_uid, parent_argv, parent_comm = process_facts(parent.pid)
                names = identity_names(parent_argv, parent_comm)
                if matching_pattern(names, patterns) and not matching_pattern(names, engines):
                    has_server = True
                    break
            if not has_server:
                orphans.append(Holder(pid, my_uid, argv, "vllm_like", "engine without an API server", [], process,
                                      comm))
        except (psutil.Error, OSError, IndexError, ValueError):
            continue  # gone or invisible: not ours to reap
    return orphans


# --------------------------------------------------------------------------- probe + decide


class Report(object):
    """What the probe saw: the holders that block ``bind(host, port)``, or why it could not tell."""

    __slots__ = ("port", "hosts", "holders", "error")

    def __init__(self, port, hosts, holders=(), error=None):
        self.port = port
        self.hosts = hosts  # parse_host() of the host asked for
        self.holders = list(holders)
        self.error = error

    @property
    def free(self):
        return self.error is None and not self.holders

    @property
    def unknown(self):
        return [h for h in self.holders if h.kind != "vllm_like"]


def check_port(port):
    """Validate a port number: ASCII digits (or an int) in 1..65535, else UsageError naming
    the input. ``1_000``, ``+8001``, ``８００１`` and booleans are not port numbers."""
    if isinstance(port, bool):
        raise UsageError("port %r is not a number; expected an integer in 1..65535" % (port,))
    if isinstance(port, int):
        value = port
    else:
        text = str(port).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 5:
            raise UsageError("port %r is not a number; expected an integer in 1..65535" % (port,))
        value = int(text)
    if not 1 <= value <= 65535:
        raise UsageError("port %r is out of range; expected an integer in 1..65535" % (port,))
    return value


def check_seconds(name, value):
    """A finite number of seconds in 0..3600 (nan, inf and negatives never pass)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if isinstance(value, bool) or not 0 <= seconds <= 3600:  # False for nan
        raise UsageError("%s %r: expected seconds between 0 and 3600" % (name, value))
    return seconds


def blocking_sockets(port, hosts):
    """The sockets that overlap ``host:port``, from the kernel tables."""
    return [sock for sock in port_sockets(port) if overlaps(sock, hosts)]


def port_is_bindable(port, hosts):
    """The same check vLLM makes: no overlapping socket and a SO_REUSEADDR bind succeeds."""
    return not blocking_sockets(port, hosts) and bind_test(hosts, port, reuse_addr=True) == 0


def probe(port, host=None, patterns=DEFAULT_PATTERNS):
    """Find and identify everything that would make vLLM's ``bind(host, port)`` fail.

    Fails closed: anything unexpected while reading the tables or the processes becomes
    a Report with an error (the guard refuses, 42, and kills nothing). Only bad input
    raises (UsageError).
    """
    port = check_port(port)
    hosts = parse_host(host)
    try:
        return _probe(port, host, hosts, patterns)
    except UsageError:
        raise
    except Exception as exc:  # pylint: disable=broad-except  # fail closed, never open
        return Report(port, hosts, error="probe error: %s: %s" % (type(exc).__name__, exc))


def _probe(port, host, hosts, patterns):
    sockets = blocking_sockets(port, hosts)
    if not sockets:
        code = bind_test(hosts, port, reuse_addr=False)
        if code == 0:
            return Report(port, hosts)
        if code == errno.EADDRINUSE:
            # Connections that linger (TIME_WAIT) block a plain bind but not vLLM's,
            # which sets SO_REUSEADDR. Anything else is a socket the tables hide.
            if _port_has_connections(port) and bind_test(hosts, port, reuse_addr=True) == 0:
                return Report(port, hosts)
            sockets = bound_only_sockets(port, hosts)
            if not sockets:
                return Report(port, hosts, error="port in use, but no socket table names a holder "
                                                 "(bound-only sockets are listed from Linux 6.10; below it, "
                                                 "only those of processes this user may trace)")
        elif code == errno.EADDRNOTAVAIL:
            raise UsageError("host %r is not an address of this machine" % (host,))
        else:
            return Report(port, hosts, error="bind test failed: %s" % os.strerror(code))
    return Report(port, hosts, identify(sockets, patterns))


# --------------------------------------------------------------------------- events


CMD_LOG_LIMIT = 2048  # characters of an escaped cmd in one event; syslog drops huge lines
_NAMED_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char):
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    if char == " " or char.isprintable():
        return char
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return "\\x%02x" % (code - 0xDC00)
    if code < 0x100:
        return "\\x%02x" % code
    return "\\u%04x" % code if code < 0x10000 else "\\U%08x" % code


def quote(text, limit=CMD_LOG_LIMIT):
    """Double-quote ``text`` for a key=value log line; argv is text anyone can choose.

    Every character that is not printable is escaped: controls, every Unicode line or
    paragraph separator (U+0085, U+2028, U+2029, ...), format characters and bytes that
    were not UTF-8. So one event is always one line for any reader, and valid UTF-8.
    Beyond ``limit`` escaped characters the text is cut, with a visible marker.
    """
    out = []
    size = 0
    for index, char in enumerate(text):
        piece = _escape_char(char)
        size += len(piece)
        if limit and size > limit:
            out.append("...[truncated: %d of %d characters shown]" % (index, len(text)))
            break
        out.append(piece)
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
    """Collects event lines and writes each to stderr and to syslog (when /dev/log exists).

    Writing is best effort: a closed stderr, a broken pipe or a syslog error never changes
    the guard's decision or its exit code. Lines are valid UTF-8 (quote() escapes the rest).
    """

    def __init__(self, stderr=True, syslog=True):
        self.lines = []
        # Python sets sys.stderr to None when fd 2 was closed at start: the fd may since
        # belong to one of our own files, so never write to a bare 2.
        self.stderr = stderr and sys.stderr is not None
        self.syslog = syslog and os.path.exists("/dev/log")
        self._opened = False

    def __call__(self, event, level="info", **fields):
        line = format_event(event, **fields)
        self.lines.append(line)
        if self.stderr:
            try:
                os.write(sys.stderr.fileno(), (line + "\n").encode("utf-8", "backslashreplace"))
            except (OSError, ValueError, AttributeError):  # closed (2>&-) or a broken pipe: stop writing there
                self.stderr = False
        if self.syslog:
            try:
                import syslog

                if not self._opened:
                    syslog.openlog(SYSLOG_IDENT, syslog.LOG_PID, syslog.LOG_USER)
                    self._opened = True
                syslog.syslog(syslog.LOG_WARNING if level == "warning" else syslog.LOG_INFO, line)
            except Exception:  # pylint: disable=broad-except  # logging must never decide
                self.syslog = False
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
        _signal(proc, "terminate", log, port)
    alive = _wait_gone(procs.values(), grace)
    for proc in alive:
        log("VLLM_PORT_KILL", level="warning", port=port, pid=proc.pid, signal="SIGKILL")
        _signal(proc, "kill", log, port)
    _wait_gone(alive, 5.0)


def _signal(proc, action, log, port):
    """proc.terminate() or proc.kill(); a process that is gone is fine, one we may not
    signal is logged (the port check that follows decides the outcome)."""
    import psutil

    try:
        getattr(proc, action)()
    except psutil.NoSuchProcess:
        pass
    except psutil.Error as exc:
        log("VLLM_PORT_SIGNAL_FAILED", level="warning", port=port, pid=proc.pid,
            reason="%s: %s" % (action, type(exc).__name__))


def _wait_gone(procs, timeout):
    """Poll until every process has exited (a zombie counts as gone: its sockets are closed).

    A thread-group leader that exited while other threads live is a zombie too, but its
    threads still hold the fds: it is gone only when /proc/<pid>/task lists nothing else.
    psutil.wait_procs would wait out the whole timeout for a zombie whose parent has
    not reaped it yet; polling keeps a reclaim within POLL_INTERVAL of the exit.
    """
    import psutil

    deadline = time.monotonic() + timeout
    alive = list(procs)
    while True:
        alive = [proc for proc in alive if _still_running(proc, psutil)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(POLL_INTERVAL)


def _still_running(proc, psutil):
    try:
        if not proc.is_running():
            return False
        if proc.status() != psutil.STATUS_ZOMBIE:
            return True
        return len(os.listdir("/proc/%d/task" % proc.pid)) > 1
    except (psutil.NoSuchProcess, FileNotFoundError):
        return False
    except (psutil.Error, OSError):
        return True


def run_guard(port, host=None, patterns=DEFAULT_PATTERNS, grace=DEFAULT_GRACE, timeout=DEFAULT_TIMEOUT,
              probe_only=False, dry_run=False, log=None):
    """Probe, decide and (unless ``probe_only``/``dry_run``) reclaim. Returns an Outcome.

    ``probe_only`` reports holders (``VLLM_PORT_HELD_VLLM``) and kills nothing;
    ``dry_run`` (Ansible check mode) says what it would reclaim and kills nothing.
    Bad input raises UsageError before anything is probed. Any other error gives a
    refusal (42) with its reason, and nothing is killed after it.
    """
    port = check_port(port)
    parse_host(host)
    patterns = check_patterns(patterns)
    grace = check_seconds("grace", grace)
    timeout = check_seconds("timeout", timeout)
    log = log if log is not None else EventLog()
    state = {"report": Report(port, None)}

    def outcome(event, code, reclaimed=(), orphans=(), reason=None):
        return Outcome(event, code, state["report"], reclaimed, orphans, log.lines, reason)

    try:
        return _decide(port, host, patterns, grace, timeout, probe_only, dry_run, log, state, outcome)
    except UsageError:
        raise
    except Exception as exc:  # pylint: disable=broad-except  # fail closed
        reason = "guard error: %s: %s" % (type(exc).__name__, exc)
        log("VLLM_PORT_PROBE_FAILED", level="warning", port=port, reason=reason)
        return outcome("VLLM_PORT_PROBE_FAILED", EXIT_REFUSED, reason=reason)


def _decide(port, host, patterns, grace, timeout, probe_only, dry_run, log, state, outcome):
    report = state["report"] = probe(port, host, patterns)
    if report.error:
        log("VLLM_PORT_PROBE_FAILED", level="warning", port=port, reason=report.error)
        return outcome("VLLM_PORT_PROBE_FAILED", EXIT_REFUSED, reason=report.error)
    if report.unknown:
        for holder in report.unknown:
            if holder.process is None:  # not a process we could read: say what and why
                log("VLLM_PORT_HELD_UNKNOWN", level="warning", port=port, pid=holder.pid, uid=holder.uid,
                    cmd=holder.cmd, reason=holder.reason)
            else:
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
        while not port_is_bindable(port, report.hosts):
            if time.monotonic() >= deadline:
                reason = "port not bindable %.1fs after the holders were killed" % timeout
                log("VLLM_PORT_STUCK", level="warning", port=port, reason=reason)
                return outcome("VLLM_PORT_STUCK", EXIT_REFUSED, report.holders, orphans, reason)
            time.sleep(POLL_INTERVAL)
        log("VLLM_PORT_RECLAIMED", port=port)
    log("VLLM_PORT_OK", port=port)
    event = "VLLM_PORT_RECLAIMED" if report.holders else "VLLM_PORT_OK"
    return outcome(event, EXIT_OK, report.holders, orphans)


# --------------------------------------------------------------------------- service config

SERVICE_CONFIG = "openclaw-vllm/service.conf"  # under $XDG_CONFIG_HOME (~/.config)
_CONFIG_KEYS = ("port", "host", "unit", "pattern", "gpus", "gpu_memory_utilization")
# CUDA_VISIBLE_DEVICES as the role writes it: indexes or UUIDs, comma-separated (empty: all GPUs).
# No `re`: the guard's free path imports nothing it does not need.
_GPUS_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,-")


def check_utilization(value):
    """gpu_memory_utilization as a float in (0, 1], else UsageError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError("gpu_memory_utilization must be a number in (0, 1], got %r" % str(value)[:80])
    if not 0 < number <= 1:
        raise UsageError("gpu_memory_utilization must be in (0, 1], got %s" % value)
    return number


def default_config_path():
    """The service user's config, written by the vllm_service role beside the unit."""
    base = os.environ.get("XDG_CONFIG_HOME")
    if not base:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError):
            home = os.path.expanduser("~")
        base = os.path.join(home, ".config")
    return os.path.join(base, SERVICE_CONFIG)


CONFIG_LIMIT = 64 * 1024  # a service config is a few lines


def read_regular_file(path, limit):
    """The bytes of ``path``, a regular file of at most ``limit`` bytes owned by this user or
    root; else ValueError saying what it is instead (a symlink, a FIFO or device, too large,
    another user's). Never blocks on a FIFO, never follows a symlink, never reads past limit.
    FileNotFoundError when there is nothing there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("is a symlink (a regular file is expected)")
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError("cannot be read: %s" % (exc.strerror or exc))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("is not a regular file (a FIFO, device, socket or directory)")
        if info.st_uid not in (os.getuid(), 0):
            raise ValueError("is owned by uid %d, not by this user (uid %d) or root" % (info.st_uid, os.getuid()))
        data = os.read(fd, limit + 1)
        if len(data) > limit:
            raise ValueError("is larger than %d bytes" % limit)
        return data
    except OSError as exc:
        raise ValueError("cannot be read: %s" % (exc.strerror or exc))
    finally:
        os.close(fd)


def read_service_config(path=None):
    """{port, host, unit, patterns} from the service config (``key=value`` lines, one
    ``pattern=`` per pattern; every other key at most once); {} when the default file does not
    exist. A bad line is a UsageError naming the file and the line; values are checked as flags
    are. Only a regular file of this user (or root) of at most CONFIG_LIMIT bytes is read."""
    explicit = path is not None
    path = path or default_config_path()
    try:
        data = read_regular_file(path, CONFIG_LIMIT)
    except FileNotFoundError:
        if explicit:
            raise UsageError("config %s does not exist" % path)
        return {}
    except ValueError as exc:
        raise UsageError("config %s %s" % (path, exc))
    config, seen = {}, {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise UsageError("config %s line %d is not UTF-8" % (path, number))
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in _CONFIG_KEYS:
            raise UsageError("config %s line %d: expected one of %s=VALUE, got %r" % (
                path, number, "=, ".join(_CONFIG_KEYS), line[:80]))
        if key != "pattern" and key in seen:
            raise UsageError("config %s lines %d and %d both set %s=: keep one" % (path, seen[key], number, key))
        seen[key] = number
        try:
            if key == "port":
                config["port"] = check_port(value)
            elif key == "pattern":
                config.setdefault("patterns", []).append(value)
            elif key == "gpus":
                if not set(value) <= _GPUS_CHARS:
                    raise UsageError("gpus must be GPU indexes or UUIDs, comma-separated, got %r" % value[:80])
                config["gpus"] = value
            elif key == "gpu_memory_utilization":
                config["gpu_memory_utilization"] = check_utilization(value)
            else:
                config[key] = value
        except UsageError as exc:
            raise UsageError("config %s line %d: %s" % (path, number, exc))
    if "patterns" in config:
        try:
            config["patterns"] = check_patterns(config["patterns"])
        except UsageError as exc:
            raise UsageError("config %s: %s" % (path, exc))
    return config


# --------------------------------------------------------------------------- CLI

GUARD_USAGE = ("usage: openclaw-vllm-guard [--probe-only] [--config FILE] [--host ADDR] [--grace S] "
               "[--timeout S] [--pattern GLOB ...] [PORT]\n"
               "  PORT, --host and --pattern default to the service config (%s under ~/.config)" % SERVICE_CONFIG)


_FLAGS = ("probe-only", "help")
_VALUE_OPTIONS = ("host", "grace", "timeout", "pattern", "config")


def parse_guard_args(argv):
    """Parse the guard's command line by hand: argparse or getopt (which pulls in gettext
    and re) would cost more than the whole free-port decision."""
    options = {"probe_only": False, "host": None, "grace": DEFAULT_GRACE, "timeout": DEFAULT_TIMEOUT,
               "patterns": [], "help": False, "config": None}
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
                    options[name] = check_seconds("--" + name, value)
                elif name == "pattern":
                    options["patterns"].append(value)
                else:
                    options[name] = value
            else:
                raise UsageError("option %s not recognized" % arg)
        elif arg.startswith("-") and arg != "-":
            raise UsageError("option %s not recognized" % arg)
        else:
            positional.append(arg)
    if options["help"]:
        return options
    # Flags win over the service config, the config over the defaults.
    config = read_service_config(options["config"])
    if len(positional) > 1 or (not positional and "port" not in config):
        raise UsageError("expected exactly one PORT, got %d argument(s): %s%s" % (
            len(positional), " ".join(positional) or "none",
            "" if positional else " (and no port= line in the service config)"))
    options["port"] = check_port(positional[0]) if positional else config["port"]
    if options["host"] is None:
        options["host"] = config.get("host")
    options["patterns"] = check_patterns(options["patterns"] or config.get("patterns"))
    return options


def _say(stream, text):
    """Best-effort write: a closed or broken stdout/stderr never changes the exit code."""
    try:
        stream.write(text)
        stream.flush()
    except (AttributeError, OSError, ValueError):
        pass


def main(argv=None):
    """``openclaw-vllm-guard``: exit 0 = port is ours, 42 = refused, 2 = bad usage."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        options = parse_guard_args(argv)
        if options.get("help"):
            _say(sys.stdout, GUARD_USAGE + "\n")
            return EXIT_OK
        result = run_guard(options["port"], options["host"], options["patterns"], options["grace"],
                           options["timeout"], probe_only=options["probe_only"])
    except UsageError as exc:
        _say(sys.stderr, "openclaw-vllm-guard: %s\n%s\n" % (exc, GUARD_USAGE))
        return EXIT_USAGE
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
