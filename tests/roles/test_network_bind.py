"""Who can reach the service: a non-loopback bind without an API key is refused in preflight,
unless vllm_service_allow_unauthenticated says the network is trusted (real runs on localhost)."""
import os

import pytest

from helpers.ansible_runs import service_preflight


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths"),
]
REFUSED = "which is not loopback, and vllm_service_api_key is empty"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "gpu-a01.example.internal"])
def test_network_bind_without_a_key_is_refused_and_says_why(tmp_path, host):
    rc, failed, results, _ = service_preflight(tmp_path, vllm_service_host=host)
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
    rc, failed, _, _ = service_preflight(tmp_path, **more)
    assert rc == 0, failed
