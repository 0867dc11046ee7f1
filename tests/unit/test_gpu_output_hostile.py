"""What nvidia-smi prints is partly anyone's to choose (process names) or garbage (a broken driver):
bytes that are not UTF-8, numbers of 400 digits, line separators in a name, and a GPU the unit is
to use that nvidia-smi does not list. The gate, ``openclaw-vllm status`` and the gpu_facts module
each answer with a line that names what was wrong, never a traceback. nvidia-smi is a byte-exact
double here (a shell script that prints the recorded files as they are); the rest is real."""
import json
import os
import subprocess
import time

import pytest


from helpers.ansible_runs import run_module
from helpers.gpu_double import GATE, H100, gpu_host, held, uuid
from helpers.paths import ROOT, STATUS
from helpers.procs import free_port

from ansible_collections.openclaw.vllm.plugins.module_utils.host import gpu_facts

FAKE = """#!/bin/sh
# TEST DOUBLE of nvidia-smi: prints what gpu_host() recorded in %(folder)s, byte for byte.
case "$*" in
  "") exec cat '%(folder)s/header.txt' ;;
  --query-gpu=*) exec cat '%(folder)s/query-gpu.csv' ;;
  --query-compute-apps=*) exec cat '%(folder)s/query-compute-apps.csv' ;;
esac
echo "fake nvidia-smi: no recording for $*" >&2
exit 2
"""
NOT_UTF8 = b"/opt/tr\xffain\xc3"  # a lone 0xff and a cut-off two-byte sequence
SHOWN = "/opt/tr\\xffain\\xc3"      # as the gate, status and the module show it
BIG = "1" * 400


@pytest.fixture
def smi(tmp_path):
    """(folder of the recordings, the nvidia-smi double's path, an env with it first on PATH)."""
    folder = tmp_path / "smi"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nvidia-smi"
    fake.write_text(FAKE % {"folder": folder})
    fake.chmod(0o755)
    env = dict(os.environ, PATH="%s%s%s" % (bin_dir, os.pathsep, os.environ["PATH"]),
               PYTHONPATH=str(ROOT / "collections"))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return folder, str(fake), env


def record_apps(folder, *rows):
    """query-compute-apps.csv as bytes: (gpu index, pid, MiB, process name bytes)."""
    (folder / "query-compute-apps.csv").write_bytes(b"".join(
        b"%s, %s, %s, %s\n" % (uuid(i).encode(), pid.encode(), mib.encode(), name) for i, pid, mib, name in rows))


def record_gpu_field(folder, column, value):
    """Replace one column of the first --query-gpu row (0 index .. 7 name)."""
    lines = (folder / "query-gpu.csv").read_text().splitlines()
    parts = lines[0].split(", ")
    parts[column] = value
    lines[0] = ", ".join(parts)
    (folder / "query-gpu.csv").write_text("\n".join(lines) + "\n")


def run_gate(env, *args):
    return subprocess.run(GATE + ["--nvidia-smi", env["PATH"].split(os.pathsep)[0] + "/nvidia-smi", *args],
                          env=env, capture_output=True, text=True, timeout=60)


def status_json(env):
    proc = subprocess.run([STATUS, "status", "--json", "--port", str(free_port())], env=env, capture_output=True,
                          text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------- bytes that are not UTF-8


def test_gate_names_a_holder_whose_name_is_not_utf8(smi):
    folder, _, env = smi
    gpu_host(folder, [held(H100, 70000)])
    record_apps(folder, (0, "[N/A]", "70000", NOT_UTF8))
    proc = run_gate(env, "--wait=0")
    assert proc.returncode == 43, proc.stderr
    assert proc.stderr.splitlines() == ["VLLM_GPU_MEM_LOW gpu=0 free_mib=11004 need_mib=69326",
                                        'VLLM_GPU_HELD gpu=0 pid=? cmd="%s" mib=70000' % SHOWN.replace("\\", "\\\\")]


def test_status_reports_a_holder_whose_name_is_not_utf8(smi):
    folder, _, env = smi
    gpu_host(folder, [held(H100, 70000)])
    record_apps(folder, (0, "[N/A]", "70000", NOT_UTF8))
    facts = status_json(env)
    assert facts["gpu"]["error"] is None
    assert facts["gpu"]["gpus"][0]["holders"] == [{"pid": None, "cmd": SHOWN, "mib": 70000, "ours": False}]
    text = subprocess.run([STATUS, "status", "--verbose", "--port", str(free_port())], env=env, capture_output=True,
                          text=True, timeout=60)
    assert "Traceback" not in text.stderr and "  gpu 0: pid=? (not ours) 70000 MiB" in text.stdout, text.stdout


@pytest.mark.ansible
def test_module_reports_a_process_whose_name_is_not_utf8(smi):
    folder, fake, env = smi
    gpu_host(folder, [H100])
    record_apps(folder, (0, "[N/A]", "100", NOT_UTF8))
    result = module({"nvidia_smi": fake}, env)
    assert not result.get("failed"), result
    assert result["available"] is True
    assert [(p["process_name"], p["cmd"]) for p in result["processes"]] == [(SHOWN, SHOWN)]


def test_a_line_separator_in_a_process_name_cannot_make_a_row():
    """nvidia-smi ends rows with \\n; a name holding U+2028 or \\x1c is one process, not two."""
    forged = "%s, 4242, 99999, /usr/bin/forged" % uuid(0)
    text = "%s, [N/A], 100, evil\u2028%s\n%s, [N/A], 100, evil\x1c%s\n" % (uuid(0), forged, uuid(0), forged)
    apps = gpu_facts.parse_apps(text)
    assert [app["process_name"] for app in apps] == ["evil\u2028" + forged, "evil\x1c" + forged]
    assert all(app["pid"] is None for app in apps)


# --------------------------------------------------------------------------- absurd numbers


def test_gate_skips_with_the_field_named_when_memory_is_400_digits(smi):
    folder, _, env = smi
    gpu_host(folder, [H100])
    record_gpu_field(folder, 3, BIG)
    proc = run_gate(env, "--wait=0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        'VLLM_GPU_GATE_SKIPPED reason="nvidia-smi reports memory.total MiB %s... (400 characters) in row 1, more '
        'than %d: not a value it can mean"' % ("1" * 80, gpu_facts.MAX_MIB)]


@pytest.mark.parametrize("kind, expected", [
    ("memory", "nvidia-smi reports memory.free MiB %s... (400 characters) in row 1, more than %d: not a value it "
               "can mean" % ("1" * 80, 2 ** 40)),
    ("pid", "nvidia-smi reports pid %s... (400 characters) in row 1, more than %d: not a value it can mean"
            % ("1" * 80, 2 ** 22)),
])
def test_status_says_which_number_is_absurd(smi, kind, expected):
    folder, _, env = smi
    gpu_host(folder, [held(H100, 70000)])
    if kind == "memory":
        record_gpu_field(folder, 5, BIG)
    else:
        record_apps(folder, (0, BIG, "70000", b"train.py"))
    facts = status_json(env)
    assert facts["gpu"] == {"gpus": [], "error": expected}


@pytest.mark.ansible
def test_module_refuses_with_the_field_named_when_memory_is_400_digits(smi, tmp_path):
    folder, fake, env = smi
    gpu_host(folder, [H100])
    record_gpu_field(folder, 3, BIG)
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"\0" * 1024)
    result = module({"nvidia_smi": fake, "model_path": str(model)}, env)
    assert not result.get("failed"), result
    assert result["available"] is False
    assert result["refusals"] == [
        "the accelerator is cuda but nvidia-smi reports memory.total MiB %s... (400 characters) in row 1, more than "
        "%d: not a value it can mean: a CUDA build needs a working NVIDIA driver (nvidia-smi)" % ("1" * 80, 2 ** 40)]


@pytest.mark.ansible
def test_module_refuses_a_compute_capability_of_5000_digits(smi):
    """Past int()'s 4300 digits a version is not a version: refused like any other too-old one."""
    folder, fake, env = smi
    gpu_host(folder, [H100])
    record_gpu_field(folder, 2, "9" * 5000)
    result = module({"nvidia_smi": fake}, env)
    assert not result.get("failed"), result
    assert result["refusals"] == [
        "GPU 0 (%s) has compute capability %s... (5000 characters), the AWQ kernels (awq, awq_marlin) of the pinned "
        "build need 7.5 or newer" % (H100["name"], "9" * 80)]


@pytest.mark.ansible
@pytest.mark.parametrize("args, expected", [
    ({"gpu_memory_utilization": 1e308}, "gpu_memory_utilization must be in (0, 1], got 1e+308"),
    ({"margin_mib": int(BIG)}, "margin_mib must be in 0..%d, got %s... (400 characters)" % (2 ** 40, "1" * 80)),
    ({"min_compute_capability": "seven"}, "min_compute_capability must be a dotted version like 580.65.06"),
])
def test_module_names_a_bad_parameter(smi, args, expected):
    folder, fake, env = smi
    gpu_host(folder, [H100])
    result = module(dict(args, nvidia_smi=fake), env)
    assert result["failed"] is True
    assert expected in result["msg"]


# --------------------------------------------------------------------------- a GPU nvidia-smi does not list


def test_gate_refuses_a_gpu_nvidia_smi_does_not_list_and_names_it(smi):
    folder, _, env = smi
    gpu_host(folder, [H100, H100])
    started = time.monotonic()
    proc = run_gate(env, "--gpus", "0,7", "--wait", "10")
    assert time.monotonic() - started < 5, "a missing GPU is not waited for"
    assert proc.returncode == 43, proc.stderr
    assert proc.stderr.splitlines() == [
        'VLLM_GPU_MISSING gpu=7 reason="nvidia-smi does not list GPU 7 (it lists 0 %s, 1 %s)"' % (uuid(0), uuid(1)),
        "VLLM_GPU_OK gpu=0 free_mib=81004 need_mib=69326"]


def test_gate_refuses_a_visible_device_nvidia_smi_does_not_list(smi):
    folder, _, env = smi
    gpu_host(folder, [H100])
    proc = run_gate(dict(env, CUDA_VISIBLE_DEVICES="GPU-deadbeef"), "--wait=0")
    assert proc.returncode == 43, proc.stderr
    assert proc.stderr.splitlines() == [
        'VLLM_GPU_MISSING gpu=GPU-deadbeef reason="nvidia-smi does not list GPU GPU-deadbeef (it lists 0 %s)"'
        % uuid(0)]


def test_a_missing_gpu_that_is_not_an_index_stays_inside_the_quoted_reason(smi):
    """--gpus is text: what is not an index or UUID cannot add words to the event line."""
    folder, _, env = smi
    gpu_host(folder, [H100])
    proc = run_gate(env, "--gpus", "0 VLLM_GPU_OK gpu=9", "--wait=0")
    assert proc.returncode == 43
    assert proc.stderr.splitlines()[0] == ('VLLM_GPU_MISSING gpu=? reason="nvidia-smi does not list GPU 0 VLLM_GPU_OK '
                                           'gpu=9 (it lists 0 %s)"' % uuid(0))


def test_a_gpu_index_of_5000_digits_is_missing_not_a_traceback(smi):
    """int() refuses 4300 digits and more: such an index names no GPU, and the line says so."""
    folder, _, env = smi
    gpu_host(folder, [H100])
    proc = run_gate(env, "--gpus", "9" * 5000, "--wait=0")
    assert proc.returncode == 43, proc.stderr
    assert proc.stderr.startswith('VLLM_GPU_MISSING gpu=? reason="nvidia-smi does not list GPU %s... (5000 characters) '
                                  '(it lists 0 %s)"' % ("9" * 80, uuid(0))), proc.stderr[:300]


def module(args, env):
    return run_module("gpu_facts", args, env=env)
