# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guard's and the GPU gate's decisions as Prometheus metrics, in a file node_exporter's textfile
collector reads: ``<metrics_dir>/openclaw-vllm-<port>.prom``, one file per port.

The guard and the gate are processes that live for one start, so the counters live in the file:
each run reads it, adds its decisions and replaces it (a temp file renamed over it, 0644, under
an flock of the directory, so two starts never lose a count). Writing is best effort and never
decides: the caller logs a failure and the start goes on. Loaded only after the decision, and
only when the service config names a metrics directory: the free-port path stays as it was."""

import fcntl
import math
import os
import time

from .config import read_regular_file

FILE_MODE = 0o644  # node_exporter runs as another user; the unit's UMask is 0077
METRICS_LIMIT = 1024 * 1024  # a file this module writes is a few KiB

# Event lines the guard logs -> the decision counted (one count per line: reclaim counts processes).
GUARD_DECISIONS = {
    "VLLM_PORT_OK": "ok",
    "VLLM_PORT_RECLAIM": "reclaim",
    "VLLM_PORT_RECLAIMED": "reclaimed",
    "VLLM_ORPHAN_RECLAIM": "orphan_reclaim",
    "VLLM_PORT_HELD_UNKNOWN": "held_unknown",
    "VLLM_PORT_PROBE_FAILED": "probe_failed",
    "VLLM_PORT_STUCK": "stuck",
}

HELP = {
    "openclaw_vllm_guard_decisions_total": ("counter", "Port guard decisions before a start (reclaim and "
                                                       "orphan_reclaim count processes)."),
    "openclaw_vllm_guard_refusing": ("gauge", "1 when the last start was refused by the port guard (exit 42)."),
    "openclaw_vllm_guard_last_decision_info": ("gauge", "The last start's port guard decision, and the holder it "
                                                        "refused for (pid, cmd)."),
    "openclaw_vllm_guard_last_decision_timestamp_seconds": ("gauge", "When the port guard last decided."),
    "openclaw_vllm_deployed_info": ("gauge", "What the unit starts: its vLLM build, model version and served name."),
    "openclaw_vllm_gpu_gate_decisions_total": ("counter", "GPU memory gate decisions before a start."),
    "openclaw_vllm_gpu_gate_refusing": ("gauge", "1 when the last start was refused by the GPU gate (exit 43)."),
    "openclaw_vllm_gpu_gate_last_decision_info": ("gauge", "The last start's GPU gate decision, and for a refusal the "
                                                           "GPU (free and needed MiB) and its largest holder."),
    "openclaw_vllm_gpu_gate_last_decision_timestamp_seconds": ("gauge", "When the GPU gate last decided."),
}
LABEL_LIMIT = 200  # characters of a holder's cmd in a label
# The unit's Environment= names what its ExecStart runs (vllm_service's template); ExecStartPre
# inherits it, so a rolled-back unit reports the old versions at its next start.
DEPLOYED_ENV = (("build", "OPENCLAW_VLLM_BUILD"), ("model_version", "OPENCLAW_VLLM_MODEL_VERSION"),
                ("served_model_name", "OPENCLAW_VLLM_SERVED_MODEL_NAME"))


def metrics_path(directory, port):
    return os.path.join(directory, "openclaw-vllm-%d.prom" % port)


def label_value(text, limit=LABEL_LIMIT):
    """A label value as the text format writes it: backslash, double quote and newline escaped."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + "..."
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series(name, **labels):
    """``name{key="value",...}`` with the labels in the order given."""
    return "%s{%s}" % (name, ",".join('%s="%s"' % (key, label_value(value)) for key, value in labels.items()))


def parse_samples(text):
    """({series: value} of the counters, {series: value} of the gauges) of an earlier file; a line
    that is not a sample of a family this module writes is dropped."""
    counters, gauges = {}, {}
    for line in text.splitlines():
        name = line.partition("{")[0]
        if line.startswith("#") or name not in HELP:
            continue
        key, _sep, value = line.rpartition(" ")
        try:
            number = float(value)
        except ValueError:
            continue
        if not math.isfinite(number):
            continue  # not a value this module writes: a hand-edited file must not stop every later write
        (counters if HELP[name][0] == "counter" else gauges)[key] = number
    return counters, gauges


def render(samples):
    """The text format: each family's HELP and TYPE once, then its samples, families sorted."""
    families = {}
    for key, value in samples.items():
        families.setdefault(key.partition("{")[0], []).append((key, value))
    lines = []
    for name in sorted(families):
        kind, text = HELP[name]
        lines.append("# HELP %s %s" % (name, text))
        lines.append("# TYPE %s %s" % (name, kind))
        for key, value in sorted(families[name]):
            lines.append("%s %s" % (key, repr(float(value)) if value != int(value) else int(value)))
    return "\n".join(lines) + "\n"


def update(directory, port, change):
    """Read the port's file, let ``change(counters, gauges)`` add to it, write it back atomically.
    ``counters`` and ``gauges`` hold the samples so far (a source replaces its own gauges).
    The earlier file is read as the service config is (a regular file of this user or root, no
    link followed, no blocking, at most METRICS_LIMIT bytes). Raises OSError or ValueError; callers
    log them."""
    path = metrics_path(directory, port)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        try:
            text = read_regular_file(path, METRICS_LIMIT).decode("utf-8", "replace")
        except FileNotFoundError:
            text = ""
        counters, gauges = parse_samples(text)
        change(counters, gauges)
        samples = dict(gauges)
        samples.update(counters)
        temp = "%s.%d.tmp" % (path, os.getpid())  # not *.prom: the collector never reads a half-written file
        try:
            os.unlink(temp)  # left by a run killed mid-write whose pid came round again
        except FileNotFoundError:
            pass
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            data = render(samples).encode("utf-8")
            if os.write(fd, data) != len(data):  # a full disk: never rename a cut file into place
                raise OSError("short write of %s" % temp)
        finally:
            os.close(fd)
        os.rename(temp, path)
    finally:
        os.close(dir_fd)


def _drop(gauges, prefix):
    for key in [k for k in gauges if k.startswith(prefix)]:
        del gauges[key]


def record_guard(directory, port, unit, outcome, now=None):
    """The guard's run (an Outcome): one count per decision line, and what the last start met."""
    now = time.time() if now is None else now
    labels = {"port": port, "unit": unit}

    def change(counters, gauges):
        for line in outcome.events:
            decision = GUARD_DECISIONS.get(line.partition(" ")[0])
            if decision:
                key = series("openclaw_vllm_guard_decisions_total", **dict(labels, decision=decision))
                counters[key] = counters.get(key, 0) + 1
        _drop(gauges, "openclaw_vllm_guard_")
        refused = outcome.exit_code != 0
        holder = {}
        if outcome.event == "VLLM_PORT_HELD_UNKNOWN" and outcome.report.unknown:
            first = outcome.report.unknown[0]
            holder = {"holder_pid": "?" if first.pid is None else first.pid,
                      "holder_cmd": first.cmd or "(%s)" % first.reason, "holder_unit": first.unit or ""}
        gauges[series("openclaw_vllm_guard_refusing", **labels)] = 1 if refused else 0
        info = dict(labels, decision=GUARD_DECISIONS.get(outcome.event, outcome.event.lower()), **holder)
        gauges[series("openclaw_vllm_guard_last_decision_info", **info)] = 1
        gauges[series("openclaw_vllm_guard_last_decision_timestamp_seconds", **labels)] = now
        _drop(gauges, "openclaw_vllm_deployed_info")
        deployed = {label: os.environ[name] for label, name in DEPLOYED_ENV if os.environ.get(name)}
        if deployed:
            gauges[series("openclaw_vllm_deployed_info", **dict(labels, **deployed))] = 1

    update(directory, port, change)


def gate_decision(exit_code, outcome):
    """passed / refused / skipped, and the labels of what refused: the first GPU short of memory
    (or missing) and its largest holder, as the GPU HINT of status names them."""
    if outcome.get("skipped") is not None:
        return "skipped", {}
    if not exit_code:
        return "passed", {}
    for row in outcome.get("rows", []):
        if row["missing"]:
            return "refused", {"gpu": row["gpu"], "missing": "true"}
        if not row["ok"]:
            found = {"gpu": row["gpu"], "free_mib": row["free_mib"], "need_mib": row["need_mib"]}
            if row["holders"]:
                holder = max(row["holders"], key=lambda app: app["used_mib"] or 0)
                found.update(holder_pid="?" if holder["pid"] is None else holder["pid"], holder_cmd=holder["cmd"],
                             holder_mib="?" if holder["used_mib"] is None else holder["used_mib"])
            return "refused", found
    return "refused", {}


def record_gate(directory, port, unit, exit_code, outcome, now=None):
    """The GPU gate's run (its exit code and run_gate's outcome): passed, refused (exit 43) or
    skipped (nvidia-smi unreadable)."""
    now = time.time() if now is None else now
    labels = {"port": port, "unit": unit}
    decision, refused = gate_decision(exit_code, outcome)

    def change(counters, gauges):
        key = series("openclaw_vllm_gpu_gate_decisions_total", **dict(labels, decision=decision))
        counters[key] = counters.get(key, 0) + 1
        _drop(gauges, "openclaw_vllm_gpu_gate_")
        gauges[series("openclaw_vllm_gpu_gate_refusing", **labels)] = 1 if decision == "refused" else 0
        gauges[series("openclaw_vllm_gpu_gate_last_decision_info", **dict(labels, decision=decision, **refused))] = 1
        gauges[series("openclaw_vllm_gpu_gate_last_decision_timestamp_seconds", **labels)] = now

    update(directory, port, change)


def write_or_log(record, *args):
    """Call ``record(*args)``; a failure is one warning line (VLLM_METRICS_WRITE_FAILED), never the
    start's outcome: the decision was made and logged already."""
    try:
        record(*args)
    except Exception as exc:  # pylint: disable=broad-except  # metrics must never decide
        from .events import EventLog

        EventLog()("VLLM_METRICS_WRITE_FAILED", level="warning", reason="%s: %s" % (type(exc).__name__, exc))
