# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decision and the reclaim: free -> start; ours -> kill the tree and wait for the port;
anyone else -> refuse (42). run_guard() is what the module and the CLI call."""

import os
import time

from .constants import DEFAULT_GRACE, DEFAULT_TIMEOUT, EXIT_OK, EXIT_REFUSED, POLL_INTERVAL
from .events import EventLog
from .orphans import find_orphans
from .inputs import UsageError, check_port, check_seconds
from .patterns import DEFAULT_PATTERNS, check_patterns
from .probe import Report, port_is_bindable, probe
from .processes import _protected_pids
from .sockets import parse_host


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
              probe_only=False, dry_run=False, log=None, unit=None):
    """Probe, decide and (unless ``probe_only``/``dry_run``) reclaim. Returns an Outcome.

    ``probe_only`` reports holders (``VLLM_PORT_HELD_VLLM``) and kills nothing;
    ``dry_run`` (Ansible check mode) says what it would reclaim and kills nothing.
    ``unit``: the service the port belongs to; a process of another running service is never ours.
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
        return _decide(port, host, patterns, grace, timeout, probe_only, dry_run, log, state, outcome, unit)
    except UsageError:
        raise
    except Exception as exc:  # pylint: disable=broad-except  # fail closed
        reason = "guard error: %s: %s" % (type(exc).__name__, exc)
        log("VLLM_PORT_PROBE_FAILED", level="warning", port=port, reason=reason)
        return outcome("VLLM_PORT_PROBE_FAILED", EXIT_REFUSED, reason=reason)


def _decide(port, host, patterns, grace, timeout, probe_only, dry_run, log, state, outcome, unit):
    report = state["report"] = probe(port, host, patterns, unit)
    if report.error:
        log("VLLM_PORT_PROBE_FAILED", level="warning", port=port, reason=report.error)
        return outcome("VLLM_PORT_PROBE_FAILED", EXIT_REFUSED, reason=report.error)
    if report.unknown:
        for holder in report.unknown:
            if holder.process is None:  # not a process we could read: say what and why
                fields = {"uid": holder.uid, "cmd": holder.cmd, "reason": holder.reason}
            else:  # a running unit's process (a sibling) is named by its unit too
                fields = {"cmd": holder.cmd, "unit": holder.unit} if holder.unit else {"cmd": holder.cmd}
            log("VLLM_PORT_HELD_UNKNOWN", level="warning", port=port, pid=holder.pid, **fields)
        return outcome("VLLM_PORT_HELD_UNKNOWN", EXIT_REFUSED)
    if probe_only:
        for holder in report.holders:
            log("VLLM_PORT_HELD_VLLM", port=port, pid=holder.pid, cmd=holder.cmd)
        if not report.holders:
            log("VLLM_PORT_OK", port=port)
        return outcome("VLLM_PORT_HELD_VLLM" if report.holders else "VLLM_PORT_OK", EXIT_OK)

    orphans = find_orphans(patterns, unit=unit)
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
