# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET /health of the local vLLM: whether it answers, never following a redirect."""


HEALTH_TIMEOUT = 2.0


def health_url(host, port):
    """/health URL for ``host``; a wildcard bind is probed on loopback."""
    if host in (None, "", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = "[%s]" % host.strip("[]")
    return "http://%s:%d/health" % (host, port)


def check_health(url, timeout=HEALTH_TIMEOUT):
    """{'url', 'ok', 'status', 'error'} for one GET /health.

    ``timeout`` bounds the whole request (connect, send, status line), so a holder that
    drips its headers cannot stall ``status``; redirects are not followed (a 3xx is not
    healthy). Only the status line is read: that is all health needs.
    """
    import socket
    import time

    result = {"url": url, "ok": False, "status": None, "error": None}
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.sendall(("GET /%s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, hostport)).encode())
            data = b""
            while b"\r\n" not in data and len(data) < 1024:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("no status line within %.1fs" % timeout)
                sock.settimeout(left)
                chunk = sock.recv(1024)
                if not chunk:
                    break
                data += chunk
        fields = data.split(b"\r\n", 1)[0].split()
        if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
            result["error"] = "not an HTTP response: %r" % data[:80]
        else:
            result["status"] = int(fields[1])
    except (OSError, ValueError) as exc:
        result["error"] = str(exc) or type(exc).__name__
    result["ok"] = result["status"] == 200
    return result
