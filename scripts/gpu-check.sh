#!/usr/bin/env bash
# make gpu-check: the GPU side of the collection against a real NVIDIA driver and GPU (the device
# tool's machine: one GPU, torch installed, no network, no vLLM, no Ansible). Under 5 minutes.
#
#   1. records what the parsers read: nvidia-smi's header, --query-gpu, --query-compute-apps and
#      -L, into $OUT/nvidia-smi/ in the layout of tests/fakes/nvidia-smi (new fixtures for the tests);
#   2. gpu_facts: the GPUs, the driver, the CUDA version, and the preflight's refusals for vllm 0.33.0;
#   3. the start-time gate (openclaw-vllm-gpu-gate) on GPU 0 with nothing held: passes;
#   4. the same with a real CUDA allocation held by another process (torch): refuses (exit 43),
#      naming that process's pid;
#   5. after that process exits: passes again.
# Writes $OUT/gpu-check.json; exits 1 when an expectation fails.
#
# With the device tool:  run: OUT=$OUT bash scripts/gpu-check.sh   (the working tree is carried as is)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d /tmp/openclaw-gpu-check.XXXXXX)}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/collections${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" - "$OUT" <<'EOF'
import json, os, subprocess, sys, time

from ansible_collections.openclaw.vllm.plugins.module_utils.host import gpu_facts

out = sys.argv[1]
report = {"checks": []}
GATE = [sys.executable, "-m", "ansible_collections.openclaw.vllm.plugins.module_utils.host.gpu_gate_cli"]


def check(name, ok, detail):
    report["checks"].append({"check": name, "ok": bool(ok), "detail": detail})
    print("%s %s: %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)


# 1. What the parsers read, as the nvidia-smi test double replays it.
record = os.path.join(out, "nvidia-smi")
os.makedirs(record, exist_ok=True)
for name, args in [("header.txt", []), ("list.txt", ["-L"]),
                   ("query-gpu.csv", ["--query-gpu=" + gpu_facts.GPU_FIELDS, "--format=csv,noheader,nounits"]),
                   ("query-compute-apps.csv", ["--query-compute-apps=" + gpu_facts.APP_FIELDS,
                                               "--format=csv,noheader,nounits"])]:
    done = subprocess.run(["nvidia-smi"] + args, capture_output=True, text=True, timeout=60)
    with open(os.path.join(record, name), "w") as handle:
        handle.write(done.stdout)
    check("nvidia-smi %s" % " ".join(args[:1]) or "nvidia-smi", done.returncode == 0, "exit %d, %d bytes -> %s"
          % (done.returncode, len(done.stdout), name))

# 2. gpu_facts on the real driver.
facts = gpu_facts.query()
report["facts"] = facts
report["cuda"] = gpu_facts.cuda_version()
min_driver, cuda, why = gpu_facts.min_driver_for(["vllm==0.33.0"])
refusals = gpu_facts.preflight_refusals(facts, None, min_driver, why)
report["preflight_refusals"] = refusals
check("gpu_facts", facts["gpus"] and facts["driver"], "driver %s, CUDA %s, GPUs: %s; preflight for vllm==0.33.0: %s"
      % (facts["driver"], report["cuda"], ", ".join("%s (cc %s, %s MiB, %s MiB free)" % (
          gpu["name"], gpu["compute_capability"], gpu["memory_total_mib"], gpu["memory_free_mib"])
          for gpu in facts["gpus"]), "; ".join(refusals) or "no refusal"))


def gate(utilization, wait):
    done = subprocess.run(GATE + ["--gpus", "0", "--utilization", str(utilization), "--wait", str(wait)],
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stderr.strip()


# 3. Nothing of ours held: the fraction that fits what is free now passes.
gpu0 = facts["gpus"][0]
utilization = round(min(0.9, (gpu0["memory_free_mib"] - 1024) / gpu0["memory_total_mib"]), 2)
rc, lines = gate(utilization, 1)
check("gate, nothing held (utilization %s)" % utilization, rc == 0, "exit %d: %s" % (rc, lines))

# 4. A real CUDA allocation by another process: the free memory drops below the fraction.
hold_mib = int(gpu0["memory_total_mib"] * 0.25)
holder = subprocess.Popen(
    [sys.executable, "-c", "import sys, torch\n"
     "x = torch.empty(%d * 2**20, dtype=torch.uint8, device='cuda:0'); torch.cuda.synchronize()\n"
     "print('ready', flush=True); sys.stdin.read()" % hold_mib],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
ready = holder.stdout.readline().strip()
check("holder allocates %d MiB on GPU 0 (pid %d)" % (hold_mib, holder.pid), ready == "ready", repr(ready))
deadline = time.monotonic() + 30
while time.monotonic() < deadline:  # the driver lists the process a moment after the allocation
    if any(app["pid"] == holder.pid for app in gpu_facts.query()["processes"]):
        break
    time.sleep(0.5)
rc, lines = gate(utilization, 1)
check("gate refuses with the holder named", rc == 43 and "VLLM_GPU_HELD gpu=0 pid=%d " % holder.pid in lines,
      "exit %d: %s" % (rc, lines))

# 5. The holder exits: the memory comes back and the gate passes (its --wait covers the driver's delay).
holder.stdin.close()
holder.wait(timeout=60)
rc, lines = gate(utilization, 10)
check("gate passes after the holder exited", rc == 0, "exit %d: %s" % (rc, lines))

with open(os.path.join(out, "gpu-check.json"), "w") as handle:
    json.dump(report, handle, indent=2, default=str)
failed = [item["check"] for item in report["checks"] if not item["ok"]]
print("gpu-check: %s (report: %s)" % ("FAILED: " + ", ".join(failed) if failed else "all passed",
                                      os.path.join(out, "gpu-check.json")))
sys.exit(1 if failed else 0)
EOF
