"""Who can reach the service: a non-loopback bind without an API key is refused in preflight,
unless vllm_service_allow_unauthenticated says the network is trusted (real runs on localhost)."""
import os

import pytest

from test_role_guardrails import run_role

pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths"),
]
REFUSED = "which is not loopback, and vllm_service_api_key is empty"


def preflight(tmp_path, **more):
    venv, model = tmp_path / "venv", tmp_path / "model"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    (venv / "bin" / "vllm").write_text("#!/bin/sh\n")
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    return run_role(tmp_path, "vllm_service", {"vllm_service_venv_path": str(venv),
                                               "vllm_service_model_path": str(model), **more},
                    tags="vllm_service_preflight")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "gpu-a01.example.internal"])
def test_network_bind_without_a_key_is_refused_and_says_why(tmp_path, host):
    rc, failed, results, _ = preflight(tmp_path, vllm_service_host=host)
    assert rc != 0
    msg = failed[-1]["msg"]
    assert "vllm_service_host is '%s', %s" % (host, REFUSED) in msg
    assert "could use the model." in msg
    assert "vllm_service_allow_unauthenticated: true" in msg
    assert "every route asks for it but /health and /metrics, which stay open" in msg
    assert not [name for name, result in results if result.get("changed")]


@pytest.mark.parametrize("more", [
    {"vllm_service_host": "0.0.0.0", "vllm_service_allow_unauthenticated": True},
    {"vllm_service_host": "0.0.0.0", "vllm_service_api_key": "k-123"},
    {"vllm_service_host": "127.0.0.1"},
    {"vllm_service_host": "127.0.0.2"},
    {"vllm_service_host": "::1"},
    {"vllm_service_host": "localhost"},
])
def test_loopback_a_key_or_an_explicit_opt_out_pass(tmp_path, more):
    rc, failed, _, _ = preflight(tmp_path, **more)
    assert rc == 0, failed
