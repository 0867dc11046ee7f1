"""unknown_holder, GPU memory: a process that is not ours holds the GPU; the start-time GPU gate
refuses (exit 43), names it, leaves it alive, and the unit starts once it is gone.

No GPU here: the nvidia-smi TEST DOUBLE (tests/fakes/nvidia-smi, NVIDIA's documented output
formats) stands in for the driver on the host, reporting an H100 whose memory a REAL process on
the host holds (its real pid). The thing under test is ours: the gate in the unit's
ExecStartPre, the unit's restart policy, status and its GPU hint. The gate is added with a
drop-in that holds exactly the line the unit template writes for cuda builds (the roles tier,
test_gpu_preflight::test_the_gate_runs_after_the_guard_on_cuda_builds_only, checks that line):
the build on this host is a CPU build, and preflight rightly refuses a cuda unit on it.
Runs before test_unknown_holder.py (which stops the unit first) and leaves the host as it was."""
import math
import os
import subprocess
import tempfile

import pytest

from helpers.gpu_double import FAKES, H100, gpu_host
from testhost import BIN, HOME, INSTANCE, UNIT, run_once, wait_for

DATA = "/srv/fake-gpu"  # what the double prints, and the holder's pid
DOUBLE = "/usr/local/lib/openclaw-test/nvidia-smi-double"
DROP_IN = HOME + "/.config/systemd/user/%s.d/50-gpu-gate-test.conf" % UNIT
TRAINER = DATA + "/trainer.py"
GPU_HINT = ("HINT: vLLM blocked \u2014 GPU 0 has {free} MiB free, needs {need} MiB; held by pid={pid} "
            "cmd=\"python3 {trainer}\" ({mib} MiB). Stop it, then restart {unit}.")


def put(testhost, local, remote):
    subprocess.run(["podman", "cp", str(local), "%s:%s" % (INSTANCE, remote)], check=True, timeout=60)


def report(testhost, **gpu):
    """The double reports one H100 with ``gpu``'s used/free and, while it runs, the trainer."""
    with tempfile.TemporaryDirectory() as folder:
        apps = [(0, "PID:trainer", gpu["used"], "python3")] if gpu.get("held") else []
        gpu_host(folder, [dict(H100, used=gpu["used"], free=gpu["free"])], apps=apps)
        for name in os.listdir(folder):
            put(testhost, os.path.join(folder, name), "%s/%s" % (DATA, name))
    testhost.run("chmod -R a+rX %s" % DATA)


def utilization(testhost):
    """What the unit asks vLLM for: the role writes it into the service config."""
    config = testhost.run("cat %s/.config/openclaw-vllm/service.conf" % HOME).stdout
    return float([line for line in config.splitlines() if line.startswith("gpu_memory_utilization=")][0].split("=")[1])


@run_once
def refused_for_gpu(testhost):
    testhost.run("mkdir -p %s %s" % (DATA, os.path.dirname(DOUBLE)))
    put(testhost, os.path.join(FAKES, "nvidia-smi"), DOUBLE)
    testhost.run("printf '#!/bin/sh\\n# TEST DOUBLE of NVIDIA nvidia-smi (openclaw.vllm tests)\\n"
                 "FAKE_NVIDIA_SMI_DIR=%s exec /usr/bin/python3 %s \"$@\"\\n' > /usr/local/bin/nvidia-smi && "
                 "chmod 0755 /usr/local/bin/nvidia-smi" % (DATA, DOUBLE))
    testhost.run("printf 'import time\\nwhile True:\\n    time.sleep(60)\\n' > %s" % TRAINER)
    testhost.run("chmod -R a+rX %s" % DATA)
    # Someone else's training job, as the service user: same uid, not ours by identity.
    trainer = int(testhost.as_user("cd /tmp && nohup python3 %s >/dev/null 2>&1 & echo $!" % TRAINER).stdout)
    testhost.run("echo %d > %s/trainer.pid" % (trainer, DATA))  # the double reports this pid (PID:trainer)
    need = int(math.ceil(H100["total"] * utilization(testhost)))
    report(testhost, used=78000, free=H100["total"] - 78000, held=True)
    gate = "%s/openclaw-vllm-gpu-gate --utilization %s" % (BIN, utilization(testhost))
    testhost.run("mkdir -p %s && printf '[Service]\\nExecStartPre=+%s\\n' > %s && chown -R vllm:vllm %s" % (
        os.path.dirname(DROP_IN), gate, DROP_IN, os.path.dirname(DROP_IN)))
    assert testhost.systemctl("daemon-reload").rc == 0
    mark = testhost.mark()
    restart = testhost.systemctl("restart", UNIT)
    lines = testhost.guard_lines(after=mark)
    print("guard and gate lines:\n" + "\n".join(lines))
    return {"trainer": trainer, "need": need, "free": H100["total"] - 78000, "restart": restart, "lines": lines,
            "mark": mark, "journal": testhost.journal(after=mark, lines=200)}


@pytest.fixture(scope="module")
def held(testhost):
    try:
        yield refused_for_gpu(testhost)
    finally:
        # Leave the host as it was: no drop-in, no double, no trainer (the next tests stop the
        # unit before they start it).
        testhost.run("test -f {data}/trainer.pid && kill $(cat {data}/trainer.pid); rm -f {drop_in} "
                     "/usr/local/bin/nvidia-smi; rmdir --ignore-fail-on-non-empty {drop_ins}; rm -rf {data} {lib}".format(
                         data=DATA, drop_in=DROP_IN, drop_ins=os.path.dirname(DROP_IN), lib=os.path.dirname(DOUBLE)))
        testhost.systemctl("daemon-reload")


def test_the_start_is_refused_with_exit_43(testhost, held):
    assert held["restart"].rc != 0
    assert "Control process exited, code=exited, status=43" in held["journal"]


def test_the_gate_names_the_gpu_and_the_holder(held):
    assert "VLLM_GPU_MEM_LOW gpu=0 free_mib=%d need_mib=%d" % (held["free"], held["need"]) in held["lines"]
    assert 'VLLM_GPU_HELD gpu=0 pid=%d cmd="python3 %s" mib=78000' % (held["trainer"], TRAINER) in held["lines"]
    # The port guard ran first and found the port free (its own rules, its own line).
    assert held["lines"].index("VLLM_PORT_OK port=8001") < held["lines"].index(
        "VLLM_GPU_MEM_LOW gpu=0 free_mib=%d need_mib=%d" % (held["free"], held["need"]))


def test_the_holder_is_alive(testhost, held):
    assert testhost.run("kill -0 %d" % held["trainer"]).rc == 0
    assert not [line for line in held["lines"] if "KILL" in line or "RECLAIM" in line]


def test_status_verbose_prints_the_gpu_hint(testhost, held):
    result = testhost.as_user(BIN + "/openclaw-vllm status --verbose")
    print(result.stdout)
    assert result.rc == 1
    text = result.stdout.splitlines()
    assert "gpu 0: 78000/%d MiB used (%s), needs %d free: short" % (H100["total"], H100["name"], held["need"]) in text
    assert any(line.startswith("  gpu 0: pid=%d (not ours) 78000 MiB" % held["trainer"]) for line in text), text
    assert text[-1] == GPU_HINT.format(free=held["free"], need=held["need"], pid=held["trainer"], trainer=TRAINER,
                                       mib=78000, unit=UNIT)


def test_refused_starts_are_retried_not_stuck(testhost, held):
    """Debian 12's systemd (252) has no RestartSteps=: a retry every RestartSec, never the start limit."""
    assert wait_for(lambda: len([line for line in testhost.guard_lines(after=held["mark"])
                                 if line.startswith("VLLM_GPU_MEM_LOW")]) >= 2, timeout=40)
    assert testhost.unit_property("Result") != "start-limit-hit"


def test_the_unit_starts_once_the_holder_is_gone(testhost, held):
    """The operator stops the training job; the next automatic retry passes the gate and serves."""
    assert testhost.run("kill %d" % held["trainer"]).rc == 0
    report(testhost, used=0, free=H100["free"])
    assert testhost.wait_healthy(timeout=300)
    assert testhost.chat("Hello after the GPU was freed")["usage"]["completion_tokens"] > 0
    assert "VLLM_GPU_OK gpu=0 free_mib=%d need_mib=%d" % (H100["free"], held["need"]) in \
        testhost.guard_lines(after=held["mark"])
