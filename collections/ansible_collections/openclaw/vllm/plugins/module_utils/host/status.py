# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The facts of ``openclaw-vllm status`` (status_cli.py): health, port holder and unit state of the
vLLM service, gathered and rendered.

Exit 0 when OUR service is up (``healthy``), 1 otherwise. Ours means: the unit is active with a
live MainPID and every listener on the port belongs to it (its cgroup, or MainPID's process
tree); where no systemd user manager answers (a vLLM started by hand), every holder is ours by
the port guard's rules. Then ``GET /health`` answers 200. A port answered by anyone else is
"held by <who>", never healthy, whatever it answers. ``--verbose`` adds the holders (of the
port, and of GPU memory) and, only when our service is not up AND a port holder is unknown (or a GPU
the unit uses is short of memory that a process not ours holds), one HINT line naming it.
The hint never changes the exit code.


``--json`` also says what the service serves (the build and model version the RUNNING
process was started with, read from /proc/<MainPID>/cmdline, else what the unit's
ExecStart names), the guard's last event from the journal and the GPUs' memory: the
facts of one row of the fleet status (fleet_status.py).

``--complete`` (the role's gate) also sends one real completion when healthy, with the API key
from the environment file beside the config (never from the command line), to our service
only: the key never reaches a holder that is not proven ours, no redirect is followed, and no
answer or error shows the key."""

import json
import shutil

from . import gpu_facts
from .argv import clean_text
from .completion import UnusableKey, api_key, complete
from .config import default_config_path, read_service_config
from .constants import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_UNIT
from .events import quote
from .health import check_health, health_url
from .hints import _known, gpu_hint_for, hint_for
from .identity import classify_pid
from .inputs import check_port
from .journal import last_guard_event
from .owner import port_owner
from .patterns import DEFAULT_PATTERNS, check_patterns
from .probe import probe
from .served import served
from .units import unit_show, unit_state


def gpu_memory(devices=None, utilization=gpu_facts.DEFAULT_UTILIZATION, patterns=None, nvidia_smi="nvidia-smi"):
    """None where nvidia-smi does not exist; else {'gpus': [...], 'error'} (error: nvidia-smi
    failed). Each GPU: index, name, memory used/total/free (MiB); for the GPUs the unit uses
    (``devices``, as CUDA_VISIBLE_DEVICES: else all) also need_mib (what vLLM asks for at
    ``utilization``, as the start-time gate computes it) and short; and its holders (pid, cmd,
    mib, ours: by the port guard's rules, as the gate would never kill them)."""
    if not shutil.which(nvidia_smi):
        return None
    try:
        facts = gpu_facts.query(nvidia_smi)
    except gpu_facts.GpuError as exc:
        return {"gpus": [], "error": str(exc)}
    gated = {row["gpu"]: row for row in gpu_facts.gate(facts, devices, utilization)}
    gpus = []
    for gpu in facts["gpus"]:
        row = gated.get(gpu["index"])
        gpus.append({
            "index": gpu["index"], "name": gpu["name"], "memory_used_mib": gpu["memory_used_mib"],
            "memory_total_mib": gpu["memory_total_mib"], "memory_free_mib": gpu["memory_free_mib"],
            "need_mib": row["need_mib"] if row else None, "short": bool(row and not row["ok"]),
            "holders": [{"pid": app["pid"], "cmd": clean_text(app["cmd"]), "mib": app["used_mib"],
                         "ours": bool(app["pid"]) and classify_pid(app["pid"], patterns or DEFAULT_PATTERNS)[0]
                         == "vllm_like"}
                        for app in gpu_facts.holders(gpu, facts["processes"])]})
    return {"gpus": gpus, "error": None}


def settings(config=None, host=None, port=None, unit=None, patterns=None):
    """What status reports on: the values given, else the service config the role wrote
    beside the unit (``~/.config/openclaw-vllm/service.conf``), else the defaults."""
    found = read_service_config(config)
    return {
        "gpus": found.get("gpus") or None,
        "utilization": found.get("gpu_memory_utilization", gpu_facts.DEFAULT_UTILIZATION),
        "host": host if host is not None else found.get("host", DEFAULT_HOST),
        "port": check_port(port if port is not None else found.get("port", DEFAULT_PORT)),
        "unit": unit or found.get("unit", DEFAULT_UNIT),
        "patterns": check_patterns(patterns or found.get("patterns")),
        "config": config or default_config_path(),
    }


FACT_KEYS = ("host", "port", "patterns", "health", "healthy", "owner", "hint", "probe", "unit", "served", "guard",
             "gpu")


def gather(chosen, completion=None):
    """(facts, the guard's holders) for the settings() chosen: every fact ``status`` reports
    (FACT_KEYS), as one JSON-ready dict (text is valid UTF-8). ``completion`` ({prompt,
    max_tokens, model or None}): also the fact ``completion``: complete()'s result when healthy
    (our service answers), else None when /health does not answer, else a result that says why
    it was not attempted (the key is not even read then)."""
    host, unit, patterns = chosen["host"], chosen["unit"], chosen["patterns"]
    port = check_port(chosen["port"])
    report = probe(port, host, patterns, unit)
    shown = unit_show(unit)
    facts = {
        "host": host,
        "port": port,
        "patterns": list(patterns),
        "health": check_health(health_url(host, port)),
        "probe": {"free": report.free, "error": report.error, "holders": [h.as_dict() for h in report.holders]},
        "owner": port_owner(report, shown, unit),
        "unit": unit_state(unit, shown),
        "served": served(shown, report.holders),
        "guard": last_guard_event(port),
        "gpu": gpu_memory(chosen.get("gpus"), chosen.get("utilization", gpu_facts.DEFAULT_UTILIZATION), patterns),
    }
    facts["healthy"] = facts["health"]["ok"] and facts["owner"]["ours"]
    facts["hint"] = hint_for(facts, unit, report.holders) or gpu_hint_for(facts, unit)
    if completion:
        facts["completion"] = None
    if completion and facts["health"]["ok"] and not facts["healthy"]:
        facts["completion"] = {"ok": False, "status": None, "tokens": 0, "text": None,
                               "error": "not attempted (the API key goes to our service only): %s"
                               % facts["owner"]["why"]}
    if completion and facts["healthy"]:
        model = completion.get("model") or facts["served"].get("served_model_name")
        try:
            key = api_key(chosen["config"])
        except UnusableKey as exc:
            facts["completion"] = {"ok": False, "status": None, "tokens": 0, "text": None, "error": str(exc)}
        else:
            facts["completion"] = complete(facts["health"]["url"].rsplit("/health", 1)[0], model,
                                           completion["prompt"], completion["max_tokens"], key)
    return facts, report.holders


def render_extras(facts):
    """The lines for what is served, the guard's last event and the GPUs (when known)."""
    lines = []
    served_facts = facts.get("served") or {}
    if served_facts.get("source"):
        model, build = served_facts.get("model") or {}, served_facts.get("build") or {}
        revision = " (hf revision %s)" % model["hf_revision"] if model.get("hf_revision") else ""
        vllm = " (vllm %s)" % build["vllm_version"] if build.get("vllm_version") else ""
        lines.append("serving: %s = %s%s on %s%s [from the %s%s]" % (
            served_facts.get("served_model_name"), model.get("version", "?"), revision, build.get("id", "?"), vllm,
            {"process": "running process", "unit": "unit's ExecStart", "port": "port holder"}[served_facts["source"]],
            " pid=%s" % served_facts["pid"] if served_facts.get("pid") else ""))
        pending = served_facts.get("pending")
        if pending:
            lines.append("  the unit names another build or model (a restart switches): %s %s" % (
                pending["build"], pending["model"]))
    event = facts.get("guard") or {}
    if event.get("message"):
        lines.append("guard: last event at %s: %s" % (event["time"] or "?", event["message"]))
    gpu = facts.get("gpu")
    if gpu:
        if gpu["error"]:
            lines.append("gpu: %s" % gpu["error"])
        for item in gpu["gpus"]:
            need = ", needs %s free: short" % item["need_mib"] if item.get("short") else ""
            lines.append("gpu %s: %s/%s MiB used (%s)%s" % (item["index"], item["memory_used_mib"],
                                                            item["memory_total_mib"], item["name"], need))
    return lines


def render_gpu_holders(facts):
    """--verbose: one line per process holding GPU memory."""
    lines = []
    for item in (facts.get("gpu") or {}).get("gpus", []):
        for holder in item.get("holders", []):
            lines.append("  gpu %s: pid=%s (%s) %s MiB cmd=%s" % (
                item["index"], _known(holder["pid"]), "ours" if holder["ours"] else "not ours", _known(holder["mib"]),
                quote(holder["cmd"])))
    return lines


def render(facts, verbose, holders=()):
    """Human-readable lines (holders: the guard's, for their cmd as the guard quotes it)."""
    health = facts["health"]
    lines = ["health: %s (%s%s)" % ("up" if health["ok"] else "down", health["url"],
                                    " -> %s" % (health["status"] or health["error"]))]
    owner = facts.get("owner") or {}
    if health["ok"] and not owner.get("ours", True):
        lines[0] = "health: held, not ours (%s answers, but %s)" % (health["url"], owner["why"])
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
    lines.extend(render_extras(facts))
    done = facts.get("completion")
    if done:
        lines.append("completion: %s" % ("%d tokens: %s" % (done["tokens"], json.dumps(done["text"]))
                                         if done["ok"] else "failed: %s" % done["error"]))
    if verbose:
        for holder in holders:
            lines.append("  pid=%s uid=%s kind=%s on %s: %s cmd=%s" % (
                holder.pid, holder.uid, holder.kind, ",".join(holder.addresses),
                quote(holder.reason, limit=0)[1:-1], quote(holder.cmd)))
        lines.extend(render_gpu_holders(facts))
        if facts["hint"]:
            lines.append(facts["hint"])
    return lines
