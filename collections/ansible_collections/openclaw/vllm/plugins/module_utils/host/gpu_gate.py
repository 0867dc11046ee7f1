# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The start-time GPU memory gate (``openclaw-vllm-gpu-gate``, gpu_gate_cli.py; second ExecStartPre, cuda hosts only).

Runs after the port guard, so our own strays and orphans were reaped already. For each GPU the
unit uses (CUDA_VISIBLE_DEVICES, else all), vLLM refuses to start unless free memory >=
total x gpu_memory_utilization. The gate checks that first and, when it is short, says so once
per start and names who holds the memory, instead of a vLLM traceback:

    VLLM_GPU_MEM_LOW gpu=0 free_mib=9000 need_mib=69326
    VLLM_GPU_HELD gpu=0 pid=4242 cmd="python3 train.py" mib=70000

under the port guard's syslog identifier, and exits 43 (the port guard's refusal is 42). A GPU
the unit is to use that nvidia-smi does not list is refused the same way, by name:

    VLLM_GPU_MISSING gpu=7 reason="nvidia-smi does not list GPU 7 (it lists 0 GPU-..., 1 GPU-...)"

It
never kills anything: a GPU holder is not ours unless the port guard proved it (and reaped it).
When nvidia-smi cannot be read it logs VLLM_GPU_GATE_SKIPPED and lets vLLM decide (exit 0).
A GPU short of memory is read again for up to --wait seconds (default 5) before the gate refuses:
the driver frees the memory of a process the port guard just killed a moment after it died.
Decisions live in gpu_facts.py; logging in events.py."""

import re
import time

from . import gpu_facts
from .constants import EXIT_GPU_MEM_LOW, EXIT_OK
from .events import EventLog

DEFAULT_WAIT = 5.0
POLL_INTERVAL = 0.5


def run_gate(utilization, gpus, nvidia_smi="nvidia-smi", wait=DEFAULT_WAIT, log=None, outcome=None):
    """Exit 0 or 43. ``outcome`` (a dict), when given, receives what was decided: ``skipped`` (the
    reason) or ``rows`` (gpu_facts.gate's rows), for the metrics file."""
    log = log or EventLog()
    outcome = {} if outcome is None else outcome
    deadline = time.monotonic() + wait
    while True:
        try:
            facts = gpu_facts.query(nvidia_smi)
        except gpu_facts.GpuError as exc:
            log("VLLM_GPU_GATE_SKIPPED", level="warning", reason=str(exc))
            outcome["skipped"] = str(exc)
            return EXIT_OK
        rows = outcome["rows"] = gpu_facts.gate(facts, gpus, utilization)
        # Memory comes back after a reap; a GPU the driver does not list does not: no waiting for it.
        if all(row["ok"] for row in rows) or any(row["missing"] for row in rows) or time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL)
    short = False
    for row in rows:
        if row["missing"]:
            short = True
            # gpu= is not quoted in the line: text that is not an index or UUID stays in the quoted reason.
            name = row["gpu"] if re.fullmatch(r"[A-Za-z0-9._:-]+", row["gpu"]) else "?"
            log("VLLM_GPU_MISSING", level="warning", gpu=name,
                reason="nvidia-smi does not list GPU %s (it lists %s)" % (row["gpu"], gpu_facts.listed(facts["gpus"])))
            continue
        if row["ok"]:
            log("VLLM_GPU_OK", gpu=row["gpu"], free_mib=row["free_mib"], need_mib=row["need_mib"])
            continue
        short = True
        log("VLLM_GPU_MEM_LOW", level="warning", gpu=row["gpu"], free_mib=row["free_mib"], need_mib=row["need_mib"])
        for app in row["holders"]:
            # "?": nvidia-smi said [N/A] (a process in another PID namespace, or a driver that does not tell).
            log("VLLM_GPU_HELD", level="warning", gpu=row["gpu"], pid="?" if app["pid"] is None else app["pid"],
                cmd=app["cmd"], mib="?" if app["used_mib"] is None else app["used_mib"])
    return EXIT_GPU_MEM_LOW if short else EXIT_OK
