"""GPU host preflight (vllm_venv), run for real on this machine with the nvidia-smi TEST DOUBLE
(tests/fakes/nvidia-smi) standing in for the driver: no GPU here. Each refusal names the fact
found and the fact needed, and comes before anything is downloaded (--tags vllm_venv_preflight
is not needed for that: a refusal stops the play in preflight; it only keeps the passing case
from building)."""
import hashlib
import json
import os
import re
import subprocess
import sys

import pytest

from helpers.ansible_runs import run_role
from helpers.gpu_double import FAKES, H100, T4, V100, gpu_host
from helpers.models import wheel
from helpers.paths import ROOT


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths"),
]


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A fake GPU host: nvidia-smi on PATH prints what gpu_host() recorded."""
    folder = tmp_path / "smi"

    def _host(gpus, **kwargs):
        gpu_host(folder, gpus, **kwargs)
        monkeypatch.setenv("PATH", FAKES + os.pathsep + os.environ["PATH"])
        monkeypatch.setenv("FAKE_NVIDIA_SMI_DIR", str(folder))
    return _host


def fake_python(tmp_path, version, libc="glibc 2.36"):
    """An interpreter double that answers the preflight's one question (version, C library)."""
    path = tmp_path / ("python-" + version)
    path.write_text("#!/bin/sh\necho %s\necho %s\n" % (version, libc))
    path.chmod(0o755)
    return str(path)


def venv_vars(tmp_path, **more):
    return {"vllm_venv_root": str(tmp_path / "venv"), "vllm_venv_python": sys.executable, **more}


def refusal(tmp_path, **more):
    rc, failed, results, _ = run_role(tmp_path, "vllm_venv", venv_vars(tmp_path, **more), tags="vllm_venv_preflight")
    assert rc != 0 and failed, "preflight refused"
    assert not [name for name, result in results if result.get("changed")], "nothing changed"
    return failed[-1]["msg"]


@pytest.mark.parametrize("version, libc, expected", [
    ("3.10", "glibc 2.35", "is Python 3.10, the pinned vLLM needs Python >= 3.11 and < 3.15"),
    ("3.15", "glibc 2.41", "is Python 3.15, the pinned vLLM needs Python >= 3.11 and < 3.15"),
    ("3.12", "glibc 2.28", "runs on C library 'glibc 2.28', the pinned vLLM needs glibc >= 2.31"),
    ("3.12", "", "runs on C library '', the pinned vLLM needs glibc >= 2.31"),
])
def test_python_and_glibc_refusals(tmp_path, version, libc, expected):
    msg = refusal(tmp_path, vllm_venv_accelerator="cpu", vllm_venv_python=fake_python(tmp_path, version, libc))
    assert expected in msg


def test_cuda_without_nvidia_smi_is_an_error_not_a_cpu_build(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != FAKES))
    msg = refusal(tmp_path, vllm_venv_accelerator="cuda")
    assert "cannot run the CUDA build: the accelerator is cuda but nvidia-smi not found on PATH" in msg


def test_broken_driver_is_named(tmp_path, host):
    host([H100], fail="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                      "Make sure that the latest NVIDIA driver is installed and running.\n")
    msg = refusal(tmp_path, vllm_venv_accelerator="cuda")
    assert "nvidia-smi exited 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver" in msg


def test_old_driver_is_refused_naming_the_pin(tmp_path, host):
    host([H100], driver="570.133.20", cuda="12.8")
    msg = refusal(tmp_path)  # auto finds the GPU
    assert ("NVIDIA driver 570.133.20 is older than 580.65.06, the minimum for vllm==0.33.0 -> torch 2.14.0 "
            "built for CUDA 13.0; upgrade the driver") in msg


def test_old_gpu_is_refused(tmp_path, host):
    host([T4, V100])
    msg = refusal(tmp_path, vllm_venv_accelerator="cuda")
    assert ("GPU 1 (Tesla V100-SXM2-16GB) has compute capability 7.0, the AWQ kernels (awq, awq_marlin) of the "
            "pinned build need 7.5 or newer") in msg
    assert "GPU 0" not in msg


def test_only_the_gpus_the_unit_uses_are_checked(tmp_path, host):
    host([T4, V100])
    house, lock = stand_in_lock(tmp_path)
    rc, failed, _, _ = run_role(tmp_path, "vllm_venv", cuda_vars(tmp_path, house, lock, vllm_service_gpus=[0],
                                                                 vllm_venv_min_free_gb=0),
                                tags="vllm_venv_preflight")
    assert rc == 0, failed


def test_unknown_gpu_is_named(tmp_path, host):
    host([H100])
    msg = refusal(tmp_path, vllm_venv_gpus=["3"])
    assert "vllm_venv_gpus names 3, which match no GPU here (nvidia-smi lists 0 GPU-5a5b0000-" in msg


def stand_in_lock(tmp_path, *extra):
    """A wheelhouse of stand-in wheels (TEST DOUBLES of PyPI's vllm 0.33.0 and torch 2.14.0) and a
    lock of them with their real sha256, as `uv pip compile --generate-hashes` writes it."""
    house = tmp_path / "wheelhouse"
    house.mkdir(exist_ok=True)
    wheels = [wheel(house, "vllm", "0.33.0", {"vllm/__init__.py": ""}, requires=["torch==2.14.0"]),
              wheel(house, "torch", "2.14.0", {"torch/__init__.py": ""})]
    wheels += [wheel(house, name, "1.0", {name.replace("-", "_") + "/__init__.py": ""}) for name in extra]
    lock = tmp_path / ("lock-%d.txt" % len(wheels))
    lock.write_text("".join("%s==%s \\\n    --hash=sha256:%s\n" % (
        path.name.split("-")[0].replace("_", "-"), path.name.split("-")[1],
        hashlib.sha256(path.read_bytes()).hexdigest()) for path in wheels))
    return house, lock


def cuda_vars(tmp_path, house, lock, **more):
    return venv_vars(tmp_path, vllm_venv_accelerator="cuda", vllm_venv_wheelhouse=str(house),
                     vllm_venv_lock=str(lock), **more)


def test_disk_for_a_build_counts_the_download_and_says_gib(tmp_path, host):
    host([H100])
    house, lock = stand_in_lock(tmp_path)
    msg = refusal(tmp_path, **cuda_vars(tmp_path, house, lock, vllm_venv_min_free_gb=10 ** 6))
    assert re.search(r"^[0-9.]+ GiB free under %s \(and %s/tmp\), a cuda build needs 1000000\.0 GiB there "
                     r"\(vllm_venv_min_free_gb 1000000 GiB installed plus its download\)$"
                     % (re.escape(str(tmp_path / "venv")), re.escape(str(tmp_path / "venv"))), msg), msg
    assert " GB " not in msg


def test_a_good_gpu_host_passes(tmp_path, host):
    host([H100, H100])
    house, lock = stand_in_lock(tmp_path)
    rc, failed, results, _ = run_role(tmp_path, "vllm_venv", cuda_vars(tmp_path, house, lock, vllm_venv_min_free_gb=0),
                                      tags="vllm_venv_preflight")
    assert rc == 0, [result["msg"] for result in failed]
    facts = [result for name, result in results if name.endswith("Read the GPUs and the NVIDIA driver")][0]
    assert facts["driver"] == "580.65.06" and facts["cuda"] == "13.0" and len(facts["gpus"]) == 2


def build_python(root):
    current = root / "current" / "bin" / "python"
    return lambda code: subprocess.run([str(current), "-c", code], capture_output=True, text=True, check=True).stdout


def test_a_cuda_build_installs_its_lock_in_hash_mode_and_a_rerun_changes_nothing(tmp_path, host):
    host([H100])
    house, lock = stand_in_lock(tmp_path)
    given = cuda_vars(tmp_path, house, lock, vllm_venv_min_free_gb=0)
    rc, failed, _, stats = run_role(tmp_path, "vllm_venv", given)
    assert rc == 0, failed
    build = os.path.realpath(tmp_path / "venv" / "current")
    marker = json.loads(open(os.path.join(build, ".openclaw-build.json")).read())
    assert marker["python"] == {"path": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3]}
    assert marker["lock"] == {"file": lock.name, "sha256": hashlib.sha256(lock.read_bytes()).hexdigest(),
                              "left_out": []}
    assert open(os.path.join(build, "openclaw-lock.txt")).read() == lock.read_text()
    assert not os.listdir(tmp_path / "venv" / "tmp"), "the build's temporary directory is gone"
    rc, failed, _, stats = run_role(tmp_path, "vllm_venv", given)
    assert rc == 0 and stats["changed"] == 0, failed
    # A changed lock is a new build; the same lock again is the same build.
    house, bigger = stand_in_lock(tmp_path, "openclaw-extra")
    rc, failed, _, _ = run_role(tmp_path, "vllm_venv", cuda_vars(tmp_path, house, bigger, vllm_venv_min_free_gb=0))
    assert rc == 0, failed
    assert os.path.realpath(tmp_path / "venv" / "current") != build
    assert os.path.realpath(tmp_path / "venv" / "previous") == build


def test_a_file_that_is_not_the_locked_one_fails_the_build_and_keeps_the_current_one(tmp_path, host):
    host([H100])
    house, lock = stand_in_lock(tmp_path)
    rc, failed, _, _ = run_role(tmp_path, "vllm_venv", cuda_vars(tmp_path, house, lock, vllm_venv_min_free_gb=0))
    assert rc == 0, failed
    build = os.path.realpath(tmp_path / "venv" / "current")
    house, bigger = stand_in_lock(tmp_path, "openclaw-extra")
    # The same name and version with other bytes (a registry that changed a file): pip's hash check.
    wheel(house, "openclaw-extra", "1.0", {"openclaw_extra/__init__.py": "tampered = True\n"})
    rc, failed, _, _ = run_role(tmp_path, "vllm_venv", cuda_vars(tmp_path, house, bigger, vllm_venv_min_free_gb=0))
    assert rc != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in failed[-1]["msg"] and "was not touched" in failed[-1]["msg"]
    assert os.path.realpath(tmp_path / "venv" / "current") == build
    assert [path.name for path in (tmp_path / "venv" / "builds").iterdir()] == [os.path.basename(build)]


def test_a_package_the_source_does_not_serve_is_refused_before_any_download(tmp_path, host):
    host([H100])
    house, lock = stand_in_lock(tmp_path)
    (house / "torch-2.14.0-py3-none-any.whl").unlink()
    msg = refusal(tmp_path, **cuda_vars(tmp_path, house, lock, vllm_venv_min_free_gb=0))
    assert msg == ("The CUDA build of %s cannot be installed on localhost (nothing was downloaded): "
                   "torch==2.14.0: %s has no project torch" % (lock.name, house))


def test_a_made_up_pin_is_refused_naming_it(tmp_path, host):
    host([H100])
    msg = refusal(tmp_path, vllm_venv_accelerator="cuda", vllm_venv_pin="9.9.9")
    assert msg.startswith("There is no lock for vllm 9.9.9 with Python %d.%d (vllm_venv_pin, vllm_venv_python %s); "
                          "the collection has locks for: vllm-0.33.0-cuda-py3.11, " % (
                              sys.version_info[0], sys.version_info[1], sys.executable)), msg


def test_a_lock_of_a_vllm_without_a_known_cuda_runtime_fails_closed(tmp_path, host):
    """The driver check reads the vllm version the lock pins, not vllm_venv_pin."""
    host([H100])
    house, lock = stand_in_lock(tmp_path)
    lock.write_text(lock.read_text().replace("vllm==0.33.0", "vllm==9.9.9"))
    msg = refusal(tmp_path, **cuda_vars(tmp_path, house, lock, vllm_venv_min_free_gb=0))
    assert ("no CUDA runtime is known for vllm==9.9.9 (gpu_facts.PIN_CUDA), so the driver it needs cannot be checked; "
            "set vllm_venv_min_nvidia_driver to the driver its torch needs") in msg
    # Told the driver its torch needs, the same lock goes on to the next check (the wheelhouse has no 9.9.9).
    msg = refusal(tmp_path, **cuda_vars(tmp_path, house, lock, vllm_venv_min_free_gb=0,
                                        vllm_venv_min_nvidia_driver="580.65.06"))
    assert "vllm==9.9.9: %s has no version 9.9.9 of vllm (newest: 0.33.0)" % house in msg


def test_a_lock_that_is_not_a_file_is_named(tmp_path, host):
    host([H100])
    msg = refusal(tmp_path, vllm_venv_accelerator="cuda", vllm_venv_lock=str(tmp_path / "nope.txt"))
    assert msg == ("vllm_venv_lock %s is not a file on the controller (expected the path of a lock, "
                   "`uv pip compile --generate-hashes` output)" % (tmp_path / "nope.txt"))


def test_a_relative_tmpdir_is_refused(tmp_path):
    msg = refusal(tmp_path, vllm_venv_accelerator="cpu", vllm_venv_tmpdir="tmp")
    assert msg == "vllm_venv_root (%s) and vllm_venv_tmpdir (tmp) must be absolute paths" % (tmp_path / "venv")


def test_a_pin_the_registry_cannot_satisfy_is_refused_with_the_reason(tmp_path, host):
    host([H100])
    msg = refusal(tmp_path, vllm_venv_accelerator="cuda", vllm_venv_pin="0.34.0")
    assert msg.startswith("vllm 0.34.0 cannot be installed from https://pypi.org/simple for Python %d.%d: Because "
                          "there is no version of flashinfer-python==0.7.3" % sys.version_info[:2]), msg


def test_extra_packages_on_a_cuda_build_are_refused(tmp_path, host):
    host([H100])
    msg = refusal(tmp_path, vllm_venv_accelerator="cuda", vllm_venv_extra_packages=["six"])
    assert msg.startswith("vllm_venv_extra_packages is set (six), but a CUDA build installs its lock only"), msg


# --------------------------------------------------------------------------- vllm_service

ROLE = ROOT / "collections" / "ansible_collections" / "openclaw" / "vllm" / "roles" / "vllm_service"


def served(tmp_path, kind="cuda", weights_gib=20):
    """A build of the given kind (only bin/vllm) and a model with sparse weights of weights_gib."""
    venv = tmp_path / "opt" / "builds" / ("vllm-%s-0123456789ab" % kind)
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "vllm").write_text("#!/bin/sh\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    for part in range(2):
        with open(model / ("model-%05d-of-00002.safetensors" % (part + 1)), "wb") as handle:
            handle.truncate(weights_gib * 2 ** 30 // 2)
    return {"vllm_service_venv_path": str(venv), "vllm_service_model_path": str(model)}


def test_weights_that_do_not_fit_the_gpus_are_refused_before_the_unit(tmp_path, host):
    host([T4, T4])
    rc, failed, results, _ = run_role(tmp_path, "vllm_service", served(tmp_path, weights_gib=24),
                                      tags="vllm_service_preflight")
    assert rc != 0
    assert not [name for name, result in results if result.get("changed")], "nothing changed"
    assert failed[-1]["msg"] == (
        "localhost cannot serve this model on its GPUs: the model's weights are 24576 MiB (24.0 GiB); with 2048 MiB "
        "(2.0 GiB) margin per GPU they need 28672 MiB, but GPU 0,1 give only 26112 MiB (25.5 GiB) at "
        "gpu_memory_utilization 0.85 (total 30720 MiB x 0.85); use more GPUs (vllm_service_gpus), a larger "
        "vllm_service_gpu_memory_utilization or a smaller model")


def test_a_cuda_unit_on_a_cpu_build_is_refused_by_name(tmp_path, host):
    host([H100])
    given = served(tmp_path, kind="cpu", weights_gib=1)
    rc, failed, results, _ = run_role(tmp_path, "vllm_service", dict(given, vllm_service_accelerator="cuda"),
                                      tags="vllm_service_preflight")
    assert rc != 0 and not [name for name, result in results if result.get("changed")]
    assert failed[-1]["msg"] == (
        "vllm_service_accelerator is cuda, but the build in use (%s) is a CPU build: build the CUDA one "
        "(vllm_venv_accelerator: cuda) or leave vllm_service_accelerator at auto" % given["vllm_service_venv_path"])


@pytest.mark.parametrize("gpus, weights, ok", [([0, 1], 20, True), ([1], 20, False)])
def test_model_fit_counts_the_gpus_the_unit_uses(tmp_path, host, gpus, weights, ok):
    host([T4, T4])
    rc, failed, _, _ = run_role(tmp_path, "vllm_service", dict(served(tmp_path, weights_gib=weights),
                                                               vllm_service_gpus=gpus), tags="vllm_service_preflight")
    assert (rc == 0) == ok, failed
    if not ok:
        assert "but GPU 1 give only 13056 MiB (12.8 GiB)" in failed[-1]["msg"]


def render_unit(tmp_path, kind, **more):
    """The unit template, rendered by Ansible with the role's defaults and vars."""
    dest = tmp_path / ("unit-%s" % kind)
    # Preflight's read of the host, as the role would register it on a host with this build.
    read = {"stdout_lines": ["venv_resolved=/opt/openclaw-vllm/builds/vllm-%s-0123456789ab" % kind,
                             "model_resolved=/m/v1", "systemd=" + more.pop("systemd", "systemd 252 (252.39-1~deb12u1)")]}
    play = [{"hosts": "localhost", "gather_facts": False,
             "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
             "vars": {"__vllm_service_host": read},
             "tasks": [{"ansible.builtin.template": {"src": str(ROLE / "templates" / "openclaw-vllm.service.j2"),
                                                    "dest": str(dest), "mode": "0644"}}]}]
    path = tmp_path / "render.json"
    path.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", json.dumps(more),
                           str(path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dest.read_text()


def test_the_gate_runs_after_the_guard_on_cuda_builds_only(tmp_path):
    unit = render_unit(tmp_path, "cuda", vllm_service_gpus=[1, "GPU-5a5b0000"])
    pre = [line for line in unit.splitlines() if line.startswith("ExecStartPre=")]
    assert len(pre) == 2 and "openclaw-vllm-guard" in pre[0]
    assert pre[1] == "ExecStartPre=+/home/vllm/.local/bin/openclaw-vllm-gpu-gate --utilization 0.85"
    assert "Environment=CUDA_VISIBLE_DEVICES=1,GPU-5a5b0000" in unit
    assert "Environment=CUDA_DEVICE_ORDER=PCI_BUS_ID" in unit
    unit = render_unit(tmp_path, "cpu")
    assert "gpu-gate" not in unit and "CUDA_VISIBLE_DEVICES" not in unit


def test_a_lane_that_starts_after_others_waits_for_them_first(tmp_path):
    unit = render_unit(tmp_path, "cuda", vllm_service_lane="code", vllm_service_start_after=["default", "chat"])
    pre = [line for line in unit.splitlines() if line.startswith("ExecStartPre=")]
    assert "After=openclaw-vllm.service openclaw-vllm-chat.service" in unit.splitlines()
    assert pre[0] == "ExecStartPre=+/home/vllm/.local/bin/openclaw-vllm-lane-wait --timeout 240 default chat"
    assert "openclaw-vllm-guard" in pre[1] and "gpu-gate" in pre[2]
    unit = render_unit(tmp_path, "cuda")
    assert "lane-wait" not in unit and "\nAfter=" not in unit, "a lane starting after none is as before"


@pytest.mark.parametrize("version, backoff", [("systemd 257 (257.9-1~deb13u1)", True),
                                              ("systemd 252 (252.39-1~deb12u1)", False)])
def test_restart_backs_off_where_systemd_can(tmp_path, version, backoff):
    unit = render_unit(tmp_path, "cpu", systemd=version)
    lines = unit.splitlines()
    assert "RestartSec=10" in lines
    assert ("RestartSteps=5" in lines and "RestartMaxDelaySec=300" in lines) == backoff


@pytest.mark.parametrize("shares, ok", [((0.5, 0.6), False), ((0.45, 0.45), True)])
def test_lanes_sharing_a_gpu_must_fit_it_together(tmp_path, host, shares, ok):
    host([H100])
    lanes = [{"name": "default", "gpus": [0], "gpu_memory_utilization": shares[0]},
             {"name": "code", "port": 8002, "gpus": [0], "gpu_memory_utilization": shares[1]}]
    rc, failed, results, _ = run_role(tmp_path, "vllm_service", dict(served(tmp_path, weights_gib=1),
                                                                     vllm_service_lanes=lanes),
                                      tags="vllm_service_preflight")
    assert not [name for name, result in results if result.get("changed")], "preflight changes nothing"
    assert (rc == 0) == ok, failed
    checked = [result for name, result in results
               if name.endswith("Require the lanes that share a GPU to fit in it") and not result.get("skipped")]
    assert len(checked) == (2 if ok else 1), "each lane's preflight checks the budget"
    validated = [name for name, _ in results if "Validating arguments against arg spec 'main'" in name]
    assert len(validated) == (3 if ok else 2), "the role's main entry point checks each lane's options too"
    if not ok:
        assert ("GPU 0 is over-committed: lane 'default' 0.50 + lane 'code' 0.60 = 1.10 of its memory, more than "
                "all of it (1.00)") in failed[-1]["msg"], failed[-1]["msg"]
