"""gpu_facts (module_utils and the openclaw.vllm.gpu_facts module) and the start-time gate
openclaw-vllm-gpu-gate, with the nvidia-smi TEST DOUBLE (tests/fakes/nvidia-smi) standing in
for the driver (no GPU here) and real processes as the GPU memory holders it reports."""
import os
import subprocess
import sys
import time

import pytest


from helpers.ansible_runs import run_module
from helpers.gpu_double import FAKES, GATE, H100, T4, env_for, gpu_host, held, uuid
from helpers.paths import ROOT

from ansible_collections.openclaw.vllm.plugins.module_utils.host import gpu_facts


@pytest.fixture
def holder(tmp_path):
    """A real process standing in for someone else's job on the GPU."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "train.py", "--epochs=3"])
    (tmp_path / "smi").mkdir(exist_ok=True)
    (tmp_path / "smi" / "trainer.pid").write_text(str(proc.pid))
    yield proc
    proc.kill()
    proc.wait()


# --------------------------------------------------------------------------- parsing


def test_parse_real_format_rows():
    gpus = gpu_facts.parse_gpus("0, GPU-aa, 9.0, 81559, 555, 81004, 580.65.06, NVIDIA H100 80GB HBM3\n"
                                "1, GPU-bb, 12.1, [N/A], [N/A], [N/A], 580.65.06, NVIDIA GB10\n")
    assert gpus[0] == {"index": 0, "uuid": "GPU-aa", "compute_capability": "9.0", "memory_total_mib": 81559,
                       "memory_used_mib": 555, "memory_free_mib": 81004, "driver": "580.65.06",
                       "name": "NVIDIA H100 80GB HBM3"}
    assert gpus[1]["memory_total_mib"] is None  # unified memory: not reported
    apps = gpu_facts.parse_apps("GPU-aa, 4242, 70000, /usr/bin/python3\n")
    assert apps[0]["pid"] == 4242 and apps[0]["used_mib"] == 70000 and apps[0]["gpu_uuid"] == "GPU-aa"


def test_driver_table_and_selection():
    assert gpu_facts.min_driver_for(["vllm == 0.33.0"])[:2] == ("580.65.06", "13.0")
    assert gpu_facts.min_driver_for(["vllm==9.9"])[0] is None
    gpus = gpu_facts.parse_gpus("0, GPU-aa11, 9.0, 1, 0, 1, 1, A\n1, GPU-bb22, 9.0, 1, 0, 1, 1, B\n")
    assert [g["index"] for g in gpu_facts.select(gpus, gpu_facts.parse_devices("GPU-bb,0"))[0]] == [1, 0]
    assert gpu_facts.select(gpus, gpu_facts.parse_devices("7"))[1] == ["7"]
    assert len(gpu_facts.select(gpus, gpu_facts.parse_devices(""))[0]) == 2  # empty: all


def test_weights_that_do_not_fit_are_refused():
    facts = {"driver": "580.65.06", "gpus": gpu_facts.parse_gpus(
        "0, GPU-aa, 7.5, 15360, 0, 14913, 580.65.06, Tesla T4\n"), "processes": []}
    refusals = gpu_facts.preflight_refusals(facts, None, "580.65.06", "", weights_bytes=12 * 2 ** 30)
    assert refusals == [
        "the model's weights are 12288 MiB (12.0 GiB); with 2048 MiB (2.0 GiB) margin per GPU they need 14336 MiB, "
        "but GPU 0 give only 13056 MiB (12.8 GiB) at gpu_memory_utilization 0.85 (total 15360 MiB x 0.85); use more "
        "GPUs (vllm_service_gpus), a larger vllm_service_gpu_memory_utilization or a smaller model"]
    assert gpu_facts.preflight_refusals(facts, None, "580.65.06", "", weights_bytes=10 * 2 ** 30) == []


# --------------------------------------------------------------------------- the module


@pytest.mark.ansible
def test_module_reports_gpus_holders_and_refusals(tmp_path, holder):
    folder = gpu_host(tmp_path / "smi", [H100, held(T4, 14000)], driver="575.51.03", cuda="12.9",
                      apps=[(1, "PID:trainer", 14000, sys.executable)])
    model = tmp_path / "model"
    model.mkdir()
    with open(model / "model.safetensors", "wb") as handle:
        handle.truncate(20 * 2 ** 30)  # sparse: 20 GiB of weights
    result = module({"packages": ["vllm==0.33.0"], "model_path": str(model), "gpus": ["1"]}, env_for(folder))
    assert not result.get("failed"), result
    assert result["available"] and result["driver"] == "575.51.03" and result["cuda"] == "12.9"
    assert result["gpus"][1]["name"] == "Tesla T4" and result["gpus"][1]["memory_free_mib"] == 805
    assert result["processes"] == [{"gpu_uuid": uuid(1), "pid": holder.pid, "used_mib": 14000,
                                    "process_name": sys.executable,
                                    "cmd": "%s -c import time; time.sleep(60) train.py --epochs=3" % sys.executable}]
    assert result["weights_bytes"] == 20 * 2 ** 30
    assert result["refusals"][0] == ("NVIDIA driver 575.51.03 is older than 580.65.06, the minimum for vllm==0.33.0 "
                                     "-> torch 2.14.0 built for CUDA 13.0; upgrade the driver")
    assert result["refusals"][1].startswith("the model's weights are 20480 MiB (20.0 GiB)")
    assert len(result["refusals"]) == 2


@pytest.mark.ansible
def test_module_without_nvidia_smi(tmp_path):
    env = dict(os.environ, PATH=os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != FAKES))
    result = module({"nvidia_smi": "nvidia-smi-absent"}, env)
    assert result["available"] is False and not result.get("failed")
    assert result["refusals"] == ["the accelerator is cuda but nvidia-smi-absent not found on PATH (no NVIDIA driver "
                                  "installed?): a CUDA build needs a working NVIDIA driver (nvidia-smi)"]


# --------------------------------------------------------------------------- the gate


def gate(folder, *args, visible=None):
    env = env_for(folder)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    env["PYTHONPATH"] = str(ROOT / "collections")
    return subprocess.run(GATE + list(args), env=env, capture_output=True, text=True, timeout=30)


def test_gate_passes_when_memory_is_free(tmp_path):
    proc = gate(gpu_host(tmp_path / "smi", [H100, H100]), "--utilization", "0.85")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["VLLM_GPU_OK gpu=0 free_mib=81004 need_mib=69326",
                                        "VLLM_GPU_OK gpu=1 free_mib=81004 need_mib=69326"]


def test_gate_refuses_and_names_the_holder(tmp_path, holder):
    folder = gpu_host(tmp_path / "smi", [H100, held(H100, 70000)],
                      apps=[(1, "PID:trainer", 70000, "/usr/bin/python3")])
    proc = gate(folder, "--utilization=0.85", "--wait=0")
    assert proc.returncode == 43
    assert proc.stderr.splitlines() == [
        "VLLM_GPU_OK gpu=0 free_mib=81004 need_mib=69326",
        "VLLM_GPU_MEM_LOW gpu=1 free_mib=11004 need_mib=69326",
        'VLLM_GPU_HELD gpu=1 pid=%d cmd="%s -c import time; time.sleep(60) train.py --epochs=3" mib=70000'
        % (holder.pid, sys.executable)]
    assert holder.poll() is None, "the gate never kills a holder"


def test_gate_names_a_holder_the_driver_gives_no_pid_for(tmp_path):
    """nvidia-smi prints [N/A] for a process in another PID namespace: '?' in the journal, not None."""
    folder = gpu_host(tmp_path / "smi", [held(H100, 70000)], apps=[(0, "[N/A]", "[N/A]", "[Not Found]")])
    proc = gate(folder, "--utilization=0.85", "--wait=0")
    assert proc.returncode == 43
    assert proc.stderr.splitlines()[-1] == 'VLLM_GPU_HELD gpu=0 pid=? cmd="[Not Found]" mib=?'


def test_gate_checks_only_the_visible_gpus(tmp_path):
    folder = gpu_host(tmp_path / "smi", [H100, held(H100, 70000)])
    assert gate(folder, visible="0").returncode == 0
    assert gate(folder, "--wait", "0", visible=uuid(1)).returncode == 43
    assert gate(folder, "--gpus", "0", visible="1").returncode == 0  # the flag wins


def test_gate_waits_for_memory_the_driver_is_still_freeing(tmp_path):
    """Our engine was just reaped by the port guard: its memory comes back a moment later."""
    folder = gpu_host(tmp_path / "smi", [held(H100, 70000)])
    proc = subprocess.Popen(GATE + ["--wait", "10"], env=dict(env_for(folder), PYTHONPATH=str(ROOT / "collections")),
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    gpu_host(folder, [H100])
    assert proc.wait(timeout=20) == 0
    assert proc.stderr.read().splitlines() == ["VLLM_GPU_OK gpu=0 free_mib=81004 need_mib=69326"]


def test_gate_without_a_readable_driver_lets_vllm_decide(tmp_path):
    proc = gate(gpu_host(tmp_path / "smi", [H100], fail="No devices were found\n"))
    assert proc.returncode == 0
    assert proc.stderr.startswith('VLLM_GPU_GATE_SKIPPED reason="nvidia-smi exited 9: No devices were found"')


def test_gate_usage_errors(tmp_path):
    assert gate(tmp_path, "--utilization", "2").returncode == 2
    assert gate(tmp_path, "--bogus").returncode == 2
    assert gate(tmp_path, "--wait", "-1").returncode == 2


def module(args, env):
    return run_module("gpu_facts", args, env=env)
