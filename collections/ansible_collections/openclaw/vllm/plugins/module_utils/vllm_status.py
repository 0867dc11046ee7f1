# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``openclaw-vllm status``: health, port holder and unit state of the vLLM service.

Exit 0 when ``GET /health`` answers 200, 1 otherwise. ``--verbose`` adds the holders
and, only when health is down AND a holder is unknown, one HINT line naming it.
The hint never changes the exit code. Installed on hosts beside port_guard.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

try:
    from . import port_guard as guard
except ImportError:  # installed on a host as plain files beside each other
    import port_guard as guard

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
DEFAULT_UNIT = "openclaw-vllm.service"
HEALTH_TIMEOUT = 2.0
HINT = ("HINT: vLLM blocked \u2014 port {port} held by unknown process (pid={pid}, cmd={cmd}). "
        "Stop it or free :{port}, then restart {unit}.")


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


def unit_state(unit):
    """ActiveState and friends through ``systemctl --user``; None where that does not work."""
    props = ("LoadState", "ActiveState", "SubState", "Result", "NRestarts", "ExecMainPID")
    try:
        proc = subprocess.run(["systemctl", "--user", "show", unit] + ["--property=" + p for p in props],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    state = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    state["name"] = unit
    return state


def hint_for(facts, unit, holders):
    """The HINT line, or None: only when health is down and the probe names an unknown holder.
    Built from the guard's holders, quoted exactly as the guard's own events quote them."""
    probe = facts["probe"]
    if facts["health"]["ok"] or probe["error"]:
        return None
    unknown = [h for h in holders if h.kind != "vllm_like"]
    if not unknown:
        return None
    holder = unknown[0]
    # A socket whose process cannot be read: the reason says what could not be read and why.
    pid = holder.pid if holder.pid is not None else "?"
    cmd = holder.cmd or "(%s)" % holder.reason
    return HINT.format(port=facts["port"], pid=pid, cmd=guard.quote(cmd), unit=unit)


def settings(config=None, host=None, port=None, unit=None, patterns=None):
    """What status reports on: the values given, else the service config the role wrote
    beside the unit (``~/.config/openclaw-vllm/service.conf``), else the defaults."""
    found = guard.read_service_config(config)
    return {
        "host": host if host is not None else found.get("host", DEFAULT_HOST),
        "port": guard.check_port(port if port is not None else found.get("port", DEFAULT_PORT)),
        "unit": unit or found.get("unit", DEFAULT_UNIT),
        "patterns": guard.check_patterns(patterns or found.get("patterns")),
        "config": config or guard.default_config_path(),
    }


def gather(chosen):
    """(facts, the guard's holders) for the settings() chosen: every fact ``status`` reports,
    as one JSON-ready dict (text is valid UTF-8)."""
    host, unit, patterns = chosen["host"], chosen["unit"], chosen["patterns"]
    port = guard.check_port(chosen["port"])
    report = guard.probe(port, host, patterns)
    facts = {
        "host": host,
        "port": port,
        "patterns": list(patterns),
        "health": check_health(health_url(host, port)),
        "probe": {"free": report.free, "error": report.error, "holders": [h.as_dict() for h in report.holders]},
        "unit": unit_state(unit),
    }
    facts["healthy"] = facts["health"]["ok"]
    facts["hint"] = hint_for(facts, unit, report.holders)
    return facts, report.holders


def render(facts, verbose, holders=()):
    """Human-readable lines (holders: the guard's, for their cmd as the guard quotes it)."""
    health = facts["health"]
    lines = ["health: %s (%s%s)" % ("up" if health["ok"] else "down", health["url"],
                                    " -> %s" % (health["status"] or health["error"]))]
    unit = facts["unit"]
    if unit is None:
        lines.append("unit: unknown (systemctl --user is not available here)")
    else:
        lines.append("unit: %s %s/%s" % (unit["name"], unit.get("ActiveState", "?"), unit.get("SubState", "?")))
    probe = facts["probe"]
    if probe["error"]:
        lines.append("port %d: probe failed: %s" % (facts["port"], probe["error"]))
    elif not probe["holders"]:
        lines.append("port %d: free" % facts["port"])
    else:
        lines.append("port %d: held by %s" % (facts["port"], ", ".join(
            "%s pid=%s" % (h["kind"], h["pid"]) for h in probe["holders"])))
    if verbose:
        for holder in holders:
            lines.append("  pid=%s uid=%s kind=%s on %s: %s cmd=%s" % (
                holder.pid, holder.uid, holder.kind, ",".join(holder.addresses),
                guard.quote(holder.reason, limit=0)[1:-1], guard.quote(holder.cmd)))
        if facts["hint"]:
            lines.append(facts["hint"])
    return lines


def main(argv=None):
    """``openclaw-vllm status [--verbose] [--json] [--host ADDR] [--port N] [--unit NAME]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="openclaw-vllm", description="Inspect the openclaw-vllm service.")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="health, port holder and unit state; exit 0 when healthy")
    status.add_argument("--verbose", "-v", action="store_true", help="holders in detail, and the HINT line")
    status.add_argument("--json", action="store_true", help="the same facts as one JSON object")
    status.add_argument("--config", help="service config (default ~/.config/%s, written by the role)"
                        % guard.SERVICE_CONFIG)
    status.add_argument("--host", help="address vLLM binds (default: the config's, else %s)" % DEFAULT_HOST)
    status.add_argument("--port", help="port vLLM binds (default: the config's, else %d)" % DEFAULT_PORT)
    status.add_argument("--unit", help="systemd user unit (default: the config's, else %s)" % DEFAULT_UNIT)
    status.add_argument("--pattern", action="append", help="identity pattern of our vLLM (default: the config's)")
    args = parser.parse_args(argv)
    try:
        chosen = settings(args.config, args.host, args.port, args.unit, args.pattern)
        facts, holders = gather(chosen)
    except guard.UsageError as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps(facts, indent=2, sort_keys=True))
    else:
        print("\n".join(render(facts, args.verbose, holders)))
    return 0 if facts["healthy"] else 1


if __name__ == "__main__":
    sys.exit(main())
