# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe: what blocks ``bind(host, port)``, identified. Fails closed: an unreadable table is a
Report with an error (the guard refuses, kills nothing)."""

import errno
import os

from .inputs import UsageError, check_port
from .patterns import DEFAULT_PATTERNS
from .sockets import _port_has_connections, bind_test, bound_only_sockets, overlaps, parse_host, port_sockets


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


def blocking_sockets(port, hosts, listening_only=False):
    """The sockets that overlap ``host:port``, from the kernel tables."""
    return [sock for sock in port_sockets(port, listening_only) if overlaps(sock, hosts)]


def port_is_bindable(port, hosts):
    """The same check vLLM makes: no overlapping socket and a SO_REUSEADDR bind succeeds."""
    return not blocking_sockets(port, hosts) and bind_test(hosts, port, reuse_addr=True) == 0


def probe(port, host=None, patterns=DEFAULT_PATTERNS, unit=None):
    """Find and identify everything that would make vLLM's ``bind(host, port)`` fail.

    Fails closed: anything unexpected while reading the tables or the processes becomes
    a Report with an error (the guard refuses, 42, and kills nothing). Only bad input
    raises (UsageError).
    """
    port = check_port(port)
    hosts = parse_host(host)
    try:
        return _probe(port, host, hosts, patterns, unit)
    except UsageError:
        raise
    except Exception as exc:  # pylint: disable=broad-except  # fail closed, never open
        return Report(port, hosts, error="probe error: %s: %s" % (type(exc).__name__, exc))


def _probe(port, host, hosts, patterns, unit=None):
    # The free port, every start's path, costs two cheap questions: no overlapping listener, and
    # a plain bind succeeds (it fails on any overlapping socket, bound-only ones included). Only
    # otherwise are the bound sockets listed, to name who holds the port.
    if not blocking_sockets(port, hosts, listening_only=True) and bind_test(hosts, port, reuse_addr=False) == 0:
        return Report(port, hosts)
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
    from .identity import identify  # only when something holds the port

    return Report(port, hosts, identify(sockets, patterns, unit))
