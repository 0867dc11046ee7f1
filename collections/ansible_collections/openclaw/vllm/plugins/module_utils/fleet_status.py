# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet status: one document and one table from each host's ``openclaw-vllm status --json``
facts (module ``openclaw.vllm.vllm_status_info``). The one home of that logic; the filters
``openclaw.vllm.fleet_status`` and ``openclaw.vllm.fleet_status_table`` call it, and the
playbook ``openclaw.vllm.status`` uses them.

Document::

    {"generated": "<ISO 8601 UTC>",
     "hosts": {"<inventory_hostname>": {"reachable": bool, "error": str|null, ...facts...}}}

where the facts are vllm_status.FACT_KEYS (absent when the host gave none), and ``lanes``: every
lane of the host (lane_status.lane_rows), the other columns being its default lane's.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .host import status as vllm_status

COLUMNS = ("HOST", "UNIT", "RESTARTS", "HEALTH", "MODEL", "VLLM", "PORT", "LAST GUARD EVENT", "GPU MEM", "LANES")
# Widest a cell may be; a longer one is cut and ends with MARKER.
WIDTHS = {"HOST": 28, "UNIT": 26, "RESTARTS": 8, "HEALTH": 26, "MODEL": 72, "VLLM": 36, "PORT": 48,
          "LAST GUARD EVENT": 46, "GPU MEM": 24, "LANES": 48}
MARKER = "..."
_SHA = re.compile(r"^[0-9a-f]{40}$")
UNREACHABLE_WIDTH = 120  # at least, for the reason of an unreachable or failed row
PENDING = " *"  # after the model: the unit names another build or model
PENDING_NOTE = ("* the unit names another build or model than the running process: "
                "a restart switches to it (JSON: served.pending)")


def host_entry(result):
    """One host of the document from what the status task registered for it: the module's
    result, an unreachable result (``ignore_unreachable``), a failed one, a skipped one, or
    nothing (None: the host never ran the task)."""
    if not isinstance(result, dict) or not result:
        return {"reachable": False, "error": "no status gathered (the host did not run the status task)"}
    if result.get("unreachable"):
        return {"reachable": False, "error": _why(result.get("msg") or "unreachable")}
    if result.get("skipped"):
        return {"reachable": True, "error": "skipped: %s" % _one_line(result.get("skip_reason") or "")}
    if "healthy" not in result:  # the module failed (bad service config, no psutil, become failed)
        return {"reachable": True, "error": _why(result.get("msg") or result.get("module_stderr")
                                                 or "the status module gave no facts")}
    entry = {"reachable": True, "error": None}
    for key in vllm_status.FACT_KEYS + ("lanes",):
        entry[key] = result.get(key)
    return entry


def document(results, generated=None):
    """{'generated', 'hosts'} for {inventory_hostname: registered result}, hosts in the order given."""
    if generated is None:
        generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"generated": generated, "hosts": {host: host_entry(result) for host, result in results.items()}}


def _why(msg):
    """A failure's reason on one line, without the "Task failed: " that ansible-core 2.19 puts first."""
    line = _one_line(msg)
    return line[len("Task failed: "):] if line.startswith("Task failed: ") else line


def _one_line(text):
    return " ".join(str(text).split())


def _ascii(text):
    """Printable ASCII for the table (a holder's cmd is anyone's text): escapes for the rest."""
    return "".join(char if " " <= char <= "~" else char.encode("unicode_escape").decode("ascii")
                   for char in _one_line(text))


def cut(text, width):
    """``text`` on one line, at most ``width`` characters; a cut one ends with MARKER (and
    keeps the PENDING mark of a model cell)."""
    text = _ascii(text)
    keep = PENDING if text.endswith(PENDING) else ""
    if width and len(text) > width:
        return text[:max(width - len(MARKER) - len(keep), 0)] + MARKER + keep
    return text


def _health(facts):
    health = facts.get("health") or {}
    owner = facts.get("owner") or {}
    if health.get("ok") and owner.get("ours", True):
        return "up"
    if health.get("ok"):  # something answers, but not our service: never "up" (PORT names the holder)
        return "held, not ours"
    reason = health.get("status") or health.get("error") or "?"
    reason = str(reason)
    if reason.startswith("[Errno"):
        reason = reason.split("] ", 1)[-1]
    return "down (%s)" % reason


def _unit(facts):
    unit = facts.get("unit")
    if not unit:
        return "unknown"
    return "%s/%s" % (unit.get("ActiveState") or "?", unit.get("SubState") or "?")


def _model(facts):
    served = facts.get("served") or {}
    model = served.get("model")
    if not model:
        return "-"
    text = "%s %s" % (served.get("served_model_name") or "?", model.get("version") or "?")
    revision = str(model.get("hf_revision") or "")
    if revision:  # a commit sha as git shortens it; the JSON has all of it
        text += " @" + (revision[:12] if _SHA.match(revision) else revision)
    return text + (PENDING if served.get("pending") else "")


def _vllm(facts):
    build = (facts.get("served") or {}).get("build")
    if not build:
        return "-"
    return "%s %s" % (build.get("vllm_version") or "?", build.get("id") or "?")


def _port(facts):
    probe = facts.get("probe") or {}
    if probe.get("error"):
        return "probe failed: %s" % probe["error"]
    holders = probe.get("holders") or []
    if not holders:
        return "free"
    ours = [str(h.get("pid")) for h in holders if h.get("kind") == "vllm_like"]
    parts = ["ours pid=%s" % ",".join(ours)] if ours else []
    for holder in holders:
        if holder.get("kind") != "vllm_like":
            pid = holder.get("pid") if holder.get("pid") is not None else "?"
            parts.append("unknown pid=%s cmd=%s" % (pid, holder.get("cmd") or "(%s)" % holder.get("reason", "")))
    return "; ".join(parts)


def _guard(facts):
    event = facts.get("guard") or {}
    if event.get("event"):
        when = (event.get("time") or "?").replace("T", " ").replace("+00:00", "Z")
        return "%s %s" % (event["event"], when)
    if event.get("error"):
        return "? (%s)" % event["error"]
    return "-"


def _gib(mib):
    return "%.1f" % (mib / 1024.0)


def _gpu(facts):
    gpu = facts.get("gpu")
    if not gpu:
        return "-"
    if gpu.get("error"):
        return "? (%s)" % gpu["error"]
    gpus = gpu.get("gpus") or []
    if not gpus:
        return "-"
    if any(g.get("memory_used_mib") is None or g.get("memory_total_mib") is None for g in gpus):
        return "%d GPU(s), memory not reported" % len(gpus)
    used = sum(g["memory_used_mib"] for g in gpus)
    total = sum(g["memory_total_mib"] for g in gpus)
    return "%s/%s GiB%s" % (_gib(used), _gib(total), " (%d GPUs)" % len(gpus) if len(gpus) > 1 else "")


def _lanes(facts):
    """Each lane and its health on a host with lanes besides the default one (the other columns are
    the default lane's), else -."""
    rows = facts.get("lanes") or []
    if not any(lane.get("lane") != "default" for lane in rows):
        return "-"
    return ", ".join("%s %s" % (lane.get("lane"), lane.get("health")) for lane in rows)


def row(host, entry):
    """The cells of one host (uncut); an unreachable or failed host has two: the host and why."""
    if not entry.get("reachable"):
        return [host, "unreachable: %s" % (entry.get("error") or "?")]
    if entry.get("error"):
        return [host, "error: %s" % entry["error"]]
    unit = entry.get("unit") or {}
    restarts = unit.get("NRestarts")
    return [host, _unit(entry), "-" if restarts in (None, "") else str(restarts), _health(entry), _model(entry),
            _vllm(entry), _port(entry), _guard(entry), _gpu(entry), _lanes(entry)]


def table(doc, widths=None):
    """The fleet as lines of text: a header and one row per host, columns aligned, each cell
    at most ``widths[column]`` wide (cut with MARKER). The cell after the host of an
    unreachable or failed row runs across the remaining columns."""
    unknown = sorted(set(widths or {}) - set(COLUMNS))
    if unknown:
        raise ValueError("widths: no column %s (the columns: %s)" % (", ".join(unknown), ", ".join(COLUMNS)))
    widths = dict(WIDTHS, **{name: int(width) for name, width in (widths or {}).items()})
    caps = [widths[name] for name in COLUMNS]
    hosts = doc.get("hosts", {})
    rows = [row(host, entry) for host, entry in hosts.items()]
    full = [[cut(cell, cap) for cell, cap in zip(cells, caps)] for cells in rows if len(cells) == len(COLUMNS)]
    sizes = [max([len(name)] + [len(cells[index]) for cells in full]) for index, name in enumerate(COLUMNS)]
    sizes[0] = max([sizes[0]] + [len(cut(cells[0], caps[0])) for cells in rows])
    span = max(sum(sizes[1:]) + 2 * (len(COLUMNS) - 2), UNREACHABLE_WIDTH)

    def join(cells):
        return "  ".join(cell.ljust(size) for cell, size in zip(cells, sizes)).rstrip()

    lines = [join(list(COLUMNS))]
    for cells in rows:
        if len(cells) == len(COLUMNS):
            lines.append(join([cut(cell, cap) for cell, cap in zip(cells, caps)]))
        else:
            lines.append(join([cut(cells[0], caps[0]), cut(cells[1], span)]))
    if any((entry.get("served") or {}).get("pending") for entry in hosts.values()
           if entry.get("reachable") and not entry.get("error")):
        lines.append(PENDING_NOTE)
    return lines
