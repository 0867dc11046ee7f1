# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel's view of a TCP port: the sockets that would make vLLM's ``bind(host, port)`` fail,
from sock_diag (netlink) or /proc/net, and the bind test that asks the kernel directly.
Stdlib only, and no ``socket`` module: this is the start path."""

import errno
import os
import sys

import _socket  # the C module: ``import socket`` costs more than the whole fast path

from .inputs import UsageError
from .processes import _fd_targets


_TCP_LISTEN = 10
_TCP_CLOSE = 7  # how inet_diag reports a bound, not listening socket
_TCPF_LISTEN = 1 << _TCP_LISTEN
_TCPF_BOUND_INACTIVE = 1 << 13  # Linux >= 6.10 dumps bound-only sockets for this bit
_TCPF_ALL = 0xFFF
_SOCK_DIAG_BY_FAMILY = 20
_NETLINK_SOCK_DIAG = 4
_INET_DIAG_SKV6ONLY = 11
_V4_MAPPED_PREFIX = b"\0" * 10 + b"\xff\xff"


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


def _native(data, offset, size, signed=False):
    """An integer in the machine's byte order (netlink's), without the struct module's import."""
    return int.from_bytes(data[offset:offset + size], sys.byteorder, signed=signed)


def _native_bytes(value, size):
    return value.to_bytes(size, sys.byteorder)


def _netlink_dump(family, states):
    """Yield (state, sport, addr, uid, inode, v6only) for TCP sockets via sock_diag."""
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG)
    try:
        request = bytes((family, _socket.IPPROTO_TCP, 0, 0)) + _native_bytes(states, 4) + b"\0" * 48
        header = (_native_bytes(16 + len(request), 4) + _native_bytes(_SOCK_DIAG_BY_FAMILY, 2)
                  + _native_bytes(0x301, 2) + _native_bytes(1, 4) + _native_bytes(0, 4))
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
        length, msg_type, flags = _native(data, offset, 4), _native(data, offset + 4, 2), _native(data, offset + 6, 2)
        if length < 16 or offset + length > len(data):
            raise ProbeError("sock_diag: truncated message (length %d)" % length)
        if flags & _NLM_F_DUMP_INTR:
            raise ProbeError("sock_diag: dump interrupted (the socket table changed while read)")
        if msg_type == 3:  # NLMSG_DONE
            yield None
            return
        if msg_type == 2:  # NLMSG_ERROR
            code = -_native(data, offset + 16, 4, signed=True)
            raise OSError(code, "sock_diag: %s" % os.strerror(code))
        if length < 16 + _DIAG_MSG_LEN:
            raise ProbeError("sock_diag: truncated inet_diag message (length %d)" % length)
        body = offset + 16
        state = data[body + 1]
        sport = int.from_bytes(data[body + 4:body + 6], "big")
        addr = data[body + 8:body + 8 + addr_len]
        uid, inode = _native(data, body + 64, 4), _native(data, body + 68, 4)
        v6only = False
        attr = body + _DIAG_MSG_LEN
        while attr + 4 <= offset + length:
            attr_len, attr_type = _native(data, attr, 2), _native(data, attr + 2, 2)
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


def port_sockets(port, listening_only=False):
    """Every TCP socket listening on, or bound to, ``port`` (IPv4 and IPv6); only the listening
    ones with ``listening_only``: a short table, where listing bound-only sockets makes Linux
    (>= 6.10) walk its whole bind hash, 2-3 ms per family on a small VM."""
    states = _TCPF_LISTEN if listening_only else _TCPF_LISTEN | _TCPF_BOUND_INACTIVE
    wanted = (_TCP_LISTEN,) if listening_only else (_TCP_LISTEN, _TCP_CLOSE)
    found = []
    for family in (_socket.AF_INET, _socket.AF_INET6):
        for state, sport, addr, uid, inode, v6only in _dump(family, states):
            if sport == port and state in wanted:
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
