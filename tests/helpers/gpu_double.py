"""Writes what the nvidia-smi test double (tests/fakes/nvidia-smi) prints, in the driver's real
formats (NVIDIA's nvidia-smi documentation: --query-gpu / --query-compute-apps with
--format=csv,noheader,nounits: ", "-separated, no units, [N/A] where not reported). Nothing here
ran on a real GPU: the values are an H100 80GB's as NVIDIA documents them."""
import os
import sys
from pathlib import Path

FAKES = str(Path(__file__).resolve().parents[1] / "fakes")

H100 = {"name": "NVIDIA H100 80GB HBM3", "cc": "9.0", "total": 81559, "used": 0, "free": 81004}
T4 = {"name": "Tesla T4", "cc": "7.5", "total": 15360, "used": 0, "free": 14913}
V100 = {"name": "Tesla V100-SXM2-16GB", "cc": "7.0", "total": 16384, "used": 0, "free": 16144}

HEADER = """Fri Nov 27 06:00:00 2026
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI {driver:<21s} Driver Version: {driver:<14s} CUDA Version: {cuda:<8s} |
|-----------------------------------------+------------------------+----------------------+
"""


def uuid(index):
    return "GPU-5a5b%04d-1c2d-3e4f-5a6b-7c8d9e0f1a2b" % index


def gpu_host(folder, gpus, driver="580.65.06", cuda="13.0", apps=(), fail=None):
    """gpus: dicts like H100 (copies, with used/free overridden as needed); apps: (gpu index, pid or
    'PID:<name>', MiB, process_name)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["%d, %s, %s, %s, %s, %s, %s, %s" % (i, uuid(i), g["cc"], g["total"], g["used"], g["free"], driver, g["name"])
            for i, g in enumerate(gpus)]
    (folder / "query-gpu.csv").write_text("".join(row + "\n" for row in rows))
    (folder / "query-compute-apps.csv").write_text(
        "".join("%s, %s, %s, %s\n" % (uuid(i), pid, mib, name) for i, pid, mib, name in apps))
    (folder / "header.txt").write_text(HEADER.format(driver=driver, cuda=cuda))
    (folder / "list.txt").write_text("".join("GPU %d: %s (UUID: %s)\n" % (i, g["name"], uuid(i))
                                             for i, g in enumerate(gpus)))
    if fail:
        (folder / "fail").write_text(fail)
    return folder


def env_for(folder, base=None):
    env = dict(os.environ if base is None else base)
    env["PATH"] = FAKES + os.pathsep + env.get("PATH", "")
    env["FAKE_NVIDIA_SMI_DIR"] = str(folder)
    return env


# The start-time gate as the unit runs it (a whole process), against the nvidia-smi double.
GATE = [sys.executable, "-m", "ansible_collections.openclaw.vllm.plugins.module_utils.host.gpu_gate_cli"]


def held(gpu, used):
    """``gpu`` with ``used`` MiB taken by someone (the driver keeps 555 MiB of its own)."""
    return dict(gpu, used=used, free=gpu["total"] - used - 555)
