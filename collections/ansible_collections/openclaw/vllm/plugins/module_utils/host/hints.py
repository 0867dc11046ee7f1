# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one-line HINTs of status --verbose: an unknown port holder, or a GPU short of memory that
someone else holds. A hint never changes the exit code."""

from .events import quote


HINT = ("HINT: vLLM blocked \u2014 port {port} held by unknown process (pid={pid}, cmd={cmd}). "
        "Stop it or free :{port}, then restart {unit}.")


def _known(value):
    """A pid or MiB as shown to people: '?' where nvidia-smi said [N/A] (a process in another
    PID namespace, or a driver that does not tell)."""
    return "?" if value is None else value


SIBLING_HINT = ("HINT: vLLM blocked \u2014 port {port} held by the running unit {sibling} (pid={pid}, cmd={cmd}). "
                "Stop that unit or give one of them another port, then restart {unit}.")
GPU_HINT = ("HINT: vLLM blocked \u2014 GPU {gpu} has {free} MiB free, needs {need} MiB; held by pid={pid} cmd={cmd} "
            "({mib} MiB). Stop it, then restart {unit}.")


def gpu_hint_for(facts, unit):
    """The GPU HINT line, or None: only when health is down and a GPU the unit uses is short of
    memory while a process that is not ours holds memory on it (the largest such holder)."""
    gpu = facts.get("gpu")
    if facts["healthy"] or not gpu:
        return None
    for item in gpu["gpus"]:
        others = sorted((h for h in item["holders"] if not h["ours"]), key=lambda h: -(h["mib"] or 0))
        if item["short"] and others:
            holder = others[0]
            return GPU_HINT.format(gpu=item["index"], free=item["memory_free_mib"], need=item["need_mib"],
                                   pid=_known(holder["pid"]), cmd=quote(holder["cmd"]), mib=_known(holder["mib"]),
                                   unit=unit)
    return None


def hint_for(facts, unit, holders):
    """The HINT line, or None: only when our service is not up (whatever answers /health) and
    the probe names an unknown holder.
    Built from the guard's holders, quoted exactly as the guard's own events quote them."""
    probe = facts["probe"]
    if facts["healthy"] or probe["error"]:
        return None
    unknown = [h for h in holders if h.kind != "vllm_like"]
    if not unknown:
        return None
    holder = unknown[0]
    # A socket whose process cannot be read: the reason says what could not be read and why.
    pid = holder.pid if holder.pid is not None else "?"
    cmd = holder.cmd or "(%s)" % holder.reason
    if holder.unit:
        return SIBLING_HINT.format(port=facts["port"], sibling=quote(holder.unit), pid=pid, cmd=quote(cmd), unit=unit)
    return HINT.format(port=facts["port"], pid=pid, cmd=quote(cmd), unit=unit)
