# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU facts and the decisions made on them: the one home of that logic.

Read by the Ansible module ``openclaw.vllm.gpu_facts`` (preflight refusals) and by the
start-time gate ``openclaw-vllm-gpu-gate`` (gpu_gate.py, installed on hosts with this
file). Stdlib only, importable outside Ansible.

The facts come from ``nvidia-smi`` in its machine formats (``--format=csv,noheader,nounits``):
the driver's own tool, present wherever the driver is, and stable across driver branches."""

import math
import os
import re
import subprocess

# --------------------------------------------------------------------------- requirements

# Pin -> the CUDA its torch is built for. Source of each row: the pinned wheel's own metadata.
PIN_CUDA = {
    # vllm 0.33.0: Requires-Dist torch==2.14.0; PyPI's torch 2.14.0 manylinux wheels are built
    # for CUDA 13.0 (they require nvidia-*-cu13 packages).
    "vllm==0.33.0": ("torch 2.14.0", "13.0"),
    # vllm 0.34.0: Requires-Dist torch==2.14.0 as well.
    "vllm==0.34.0": ("torch 2.14.0", "13.0"),
}
# CUDA -> minimum Linux driver. Source: NVIDIA CUDA Toolkit release notes, table 3 ("CUDA
# Toolkit and Corresponding Driver Versions", the GA release's Linux x86_64 column).
CUDA_MIN_DRIVER = {
    "13.0": "580.65.06",  # CUDA 13.0 GA
    "12.9": "575.51.03",  # CUDA 12.9 GA
    "12.8": "570.26",  # CUDA 12.8 GA
}
# AWQ kernels (awq, awq_marlin) need compute capability 7.5 (Turing); CUDA 13 dropped older ones.
MIN_COMPUTE_CAPABILITY = "7.5"
# vLLM refuses to start below this share of the total being free; our default utilization.
DEFAULT_UTILIZATION = 0.85
# Per GPU, on top of the weights' share: CUDA context and torch allocator (~0.5-1 GiB), vLLM's
# profiling run (activations, sampler) and CUDA graphs (~1 GiB). What is left after weights and
# margin is KV cache, so a model that only just fits leaves vLLM without room for any sequence.
DEFAULT_MARGIN_MIB = 2048

GPU_FIELDS = "index,uuid,compute_cap,memory.total,memory.used,memory.free,driver_version,name"
APP_FIELDS = "gpu_uuid,pid,used_memory,process_name"

# The largest values nvidia-smi can mean. Beyond them a field is garbage and is refused by name:
# a 400-digit number would overflow float arithmetic (need_mib) and psutil's C integers (pids).
MAX_MIB = 2 ** 40  # 1 EiB of memory on one GPU
MAX_PID = 2 ** 22  # Linux PID_MAX_LIMIT
MAX_INDEX = 2 ** 16
# What of a value from nvidia-smi a message shows.
SHOWN_CHARS = 80


class GpuError(Exception):
    """nvidia-smi is missing, fails or prints something we cannot read."""


def shown(text, limit=SHOWN_CHARS):
    """``text`` cut for a message: what nvidia-smi prints can be of any length."""
    text = str(text)
    return text if len(text) <= limit else "%s... (%d characters)" % (text[:limit], len(text))


def version_tuple(text):
    """'580.65.06' -> (580, 65, 6); None when it is not a dotted number (of parts int() can read)."""
    text = str(text).strip()
    if not re.match(r"^[0-9]{1,9}(\.[0-9]{1,9}){0,9}$", text):
        return None
    return tuple(int(part) for part in text.split("."))


def min_driver_for(packages):
    """(driver, cuda, why) for the first pinned package in the table; (None, None, why) if none."""
    for package in packages:
        key = re.sub(r"\s+", "", str(package)).lower()
        if key in PIN_CUDA:
            torch, cuda = PIN_CUDA[key]
            return CUDA_MIN_DRIVER[cuda], cuda, "%s -> %s built for CUDA %s" % (key, torch, cuda)
    return None, None, "no row in gpu_facts.PIN_CUDA for %s" % ", ".join(map(str, packages))


# --------------------------------------------------------------------------- parsing


def _number(text, field, limit, row):
    """A count nvidia-smi printed: None where it is not reported ([N/A], [Not Supported]) or not a
    whole number; GpuError, naming the field and row, where it is beyond what it can mean."""
    text = text.strip()
    if not re.match(r"^[0-9]+$", text):
        return None
    if len(text) > len(str(limit)) or int(text) > limit:
        raise GpuError("nvidia-smi reports %s %s in row %d, more than %d: not a value it can mean"
                       % (field, shown(text), row, limit))
    return int(text)


def _rows(text):
    """The rows of nvidia-smi's CSV: split at newlines only, so a process name holding another line
    separator (U+2028, \\x1c, ...) cannot make a row of its own."""
    return [(number, line.rstrip("\r")) for number, line in enumerate(text.split("\n"), 1) if line.strip()]


def parse_gpus(text):
    """Rows of ``--query-gpu=GPU_FIELDS`` -> list of dicts (memory in MiB, None if not reported)."""
    gpus = []
    for row, line in _rows(text):
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 8:
            raise GpuError("unexpected nvidia-smi --query-gpu line: %r" % shown(line))
        gpus.append({
            "index": _number(parts[0], "GPU index", MAX_INDEX, row),
            "uuid": parts[1],
            "compute_capability": parts[2],
            "memory_total_mib": _number(parts[3], "memory.total MiB", MAX_MIB, row),
            "memory_used_mib": _number(parts[4], "memory.used MiB", MAX_MIB, row),
            "memory_free_mib": _number(parts[5], "memory.free MiB", MAX_MIB, row),
            "driver": parts[6],
            "name": ", ".join(parts[7:]),
        })
    return gpus


def proc_cmd(pid, fallback=""):
    """The full command line of ``pid`` from /proc (nvidia-smi prints only the executable)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            data = handle.read()
    except (OSError, ValueError):
        return fallback
    args = [arg.decode("utf-8", "backslashreplace") for arg in data.split(b"\0") if arg]
    return " ".join(args) or fallback


def parse_apps(text):
    """Rows of ``--query-compute-apps=APP_FIELDS`` -> list of dicts (pid, cmd, used MiB)."""
    apps = []
    for row, line in _rows(text):
        if "No running" in line:
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 4:
            raise GpuError("unexpected nvidia-smi --query-compute-apps line: %r" % shown(line))
        pid = _number(parts[1], "pid", MAX_PID, row)
        name = ", ".join(parts[3:])
        apps.append({"gpu_uuid": parts[0], "pid": pid, "used_mib": _number(parts[2], "used_memory MiB", MAX_MIB, row),
                     "process_name": name, "cmd": proc_cmd(pid, name) if pid else name})
    return apps


def _run(nvidia_smi, args):
    """nvidia-smi's output as text. Process names are bytes anyone can choose: what is not UTF-8
    is shown as \\xNN (as proc_cmd shows argv), never a UnicodeDecodeError."""
    try:
        proc = subprocess.run([nvidia_smi] + args, capture_output=True, timeout=30, check=False)
    except FileNotFoundError:
        raise GpuError("%s not found on PATH (no NVIDIA driver installed?)" % nvidia_smi)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GpuError("%s %s: %s" % (nvidia_smi, " ".join(args), exc))
    stdout, stderr = (out.decode("utf-8", "backslashreplace") for out in (proc.stdout, proc.stderr))
    if proc.returncode != 0:
        said = (stdout + stderr).strip().splitlines()
        raise GpuError("%s exited %d: %s" % (nvidia_smi, proc.returncode, shown(said[0]) if said else "no output"))
    return stdout


def query(nvidia_smi="nvidia-smi", with_apps=True):
    """Driver, CUDA, GPUs and compute processes as nvidia-smi reports them. Raises GpuError."""
    gpus = parse_gpus(_run(nvidia_smi, ["--query-gpu=" + GPU_FIELDS, "--format=csv,noheader,nounits"]))
    if not gpus:
        raise GpuError("%s lists no GPU" % nvidia_smi)
    apps = []
    if with_apps:
        apps = parse_apps(_run(nvidia_smi, ["--query-compute-apps=" + APP_FIELDS, "--format=csv,noheader,nounits"]))
    return {"driver": gpus[0]["driver"], "gpus": gpus, "processes": apps}


def cuda_version(nvidia_smi="nvidia-smi"):
    """The highest CUDA the driver supports, from the header of plain ``nvidia-smi``; None if absent."""
    match = re.search(r"CUDA Version:\s*([0-9.]+)", _run(nvidia_smi, []))
    return match.group(1) if match else None


# --------------------------------------------------------------------------- selection


def parse_devices(spec):
    """CUDA_VISIBLE_DEVICES (or a list) -> list of index/UUID strings; None means all GPUs."""
    if spec is None:
        return None
    if isinstance(spec, (list, tuple)):
        items = [str(item).strip() for item in spec]
    else:
        items = [item.strip() for item in str(spec).split(",")]
    items = [item for item in items if item]
    return items or None


def select(gpus, devices):
    """The GPUs the unit will use: ``devices`` are indexes or (prefixes of) UUIDs, as CUDA reads them.

    Returns (selected, unknown) where unknown lists the entries that match no GPU.
    """
    if devices is None:
        return list(gpus), []
    selected, unknown = [], []
    for item in devices:
        if re.match(r"^[0-9]+$", item):
            # No GPU has an index of more than 9 digits (MAX_INDEX); int() refuses 4300 and more.
            found = [gpu for gpu in gpus if len(item) <= 9 and gpu["index"] == int(item)]
        else:
            found = [gpu for gpu in gpus if gpu["uuid"].startswith(item) or gpu["uuid"] == "GPU-" + item]
        if len(found) == 1:
            if found[0] not in selected:
                selected.append(found[0])
        else:
            unknown.append(item)
    return selected, unknown


def need_mib(gpu, utilization):
    """What vLLM asks for on ``gpu``: total x gpu_memory_utilization, in whole MiB."""
    return int(math.ceil(gpu["memory_total_mib"] * float(utilization)))


def holders(gpu, processes):
    return [app for app in processes if app["gpu_uuid"] == gpu["uuid"]]


# --------------------------------------------------------------------------- decisions


def _gib(mib):
    return "%.1f GiB" % (mib / 1024.0)


def preflight_refusals(facts, devices=None, min_driver=None, min_driver_why="", min_cc=MIN_COMPUTE_CAPABILITY,
                       utilization=DEFAULT_UTILIZATION, weights_bytes=None, margin_mib=DEFAULT_MARGIN_MIB,
                       gpus_variable="vllm_service_gpus"):
    """Every reason this host cannot serve the pinned CUDA build; each names what was found and what is needed."""
    refusals = []
    if min_driver:
        found, needed = version_tuple(facts["driver"]), version_tuple(min_driver)
        if found is None or found < needed:
            refusals.append("NVIDIA driver %s is older than %s, the minimum for %s; upgrade the driver"
                            % (shown(facts["driver"]), min_driver, min_driver_why or "the pinned build"))
    selected, unknown = select(facts["gpus"], parse_devices(devices))
    if unknown:
        refusals.append("%s names %s, which match no GPU here (nvidia-smi lists %s)" % (
            gpus_variable, shown(", ".join(unknown)), listed(facts["gpus"])))
    for gpu in selected:
        if (version_tuple(gpu["compute_capability"]) or (0,)) < version_tuple(min_cc):
            refusals.append("GPU %s (%s) has compute capability %s, the AWQ kernels (awq, awq_marlin) of the "
                            "pinned build need %s or newer" % (gpu["index"], shown(gpu["name"]),
                                                               shown(gpu["compute_capability"]), min_cc))
    if weights_bytes is not None and selected:
        if any(gpu["memory_total_mib"] is None for gpu in selected):
            refusals.append("nvidia-smi reports no memory total for GPU %s, so it cannot be checked that the model "
                            "fits" % ", ".join(str(gpu["index"]) for gpu in selected if gpu["memory_total_mib"] is None))
        else:
            budget = sum(int(gpu["memory_total_mib"] * float(utilization)) for gpu in selected)
            weights = int(math.ceil(weights_bytes / 1048576.0))
            needed = weights + margin_mib * len(selected)
            if budget < needed:
                refusals.append(
                    "the model's weights are %d MiB (%s); with %d MiB (%s) margin per GPU they need %d MiB, but GPU %s "
                    "give only %d MiB (%s) at gpu_memory_utilization %s (total %d MiB x %s); use more GPUs "
                    "(%s), a larger vllm_service_gpu_memory_utilization or a smaller model"
                    % (weights, _gib(weights), margin_mib, _gib(margin_mib), needed,
                       ",".join(str(gpu["index"]) for gpu in selected), budget, _gib(budget), utilization,
                       sum(gpu["memory_total_mib"] for gpu in selected), utilization, gpus_variable))
    return refusals


def listed(gpus):
    """The GPUs nvidia-smi lists, for a message: '0 GPU-..., 1 GPU-...'."""
    return shown(", ".join("%s %s" % (gpu["index"], gpu["uuid"]) for gpu in gpus), 400)


def gate(facts, devices=None, utilization=DEFAULT_UTILIZATION):
    """The start-time decision: for each GPU the unit uses, is free >= total x utilization?

    Returns a list of dicts, one per selected GPU: gpu, free_mib, need_mib, ok, holders, missing.
    GPUs whose memory is not reported are passed (vLLM decides; the gate never guesses). A GPU
    ``devices`` names that nvidia-smi does not list is a row with missing=True and ok=False: the
    unit would run on fewer GPUs than it was set up for, or on none.
    """
    selected, unknown = select(facts["gpus"], parse_devices(devices))
    out = [{"gpu": shown(item), "free_mib": None, "need_mib": None, "ok": False, "holders": [], "missing": True}
           for item in unknown]
    for gpu in selected:
        if gpu["memory_total_mib"] is None or gpu["memory_free_mib"] is None:
            out.append({"gpu": gpu["index"], "free_mib": None, "need_mib": None, "ok": True, "holders": [],
                        "missing": False})
            continue
        need = need_mib(gpu, utilization)
        out.append({"gpu": gpu["index"], "free_mib": gpu["memory_free_mib"], "need_mib": need,
                    "ok": gpu["memory_free_mib"] >= need, "holders": holders(gpu, facts["processes"]),
                    "missing": False})
    return out


def safetensors_bytes(path):
    """Sum of the sizes of the *.safetensors files under ``path`` (the model's weights)."""
    total = 0
    for root, _dirs, files in os.walk(path, followlinks=True):
        for name in files:
            if name.endswith(".safetensors"):
                total += os.stat(os.path.join(root, name)).st_size
    return total
