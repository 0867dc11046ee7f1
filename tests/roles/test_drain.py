"""Drain on restart: vLLM gets --shutdown-timeout, and preflight keeps TimeoutStopSec above it."""
import os

import pytest

from helpers.ansible_runs import service_preflight


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths"),
]


def test_stop_timeout_shorter_than_the_drain_is_refused(tmp_path):
    rc, failed, _, _ = service_preflight(tmp_path, vllm_service_shutdown_timeout=30, vllm_service_timeout_stop_sec=30)
    assert rc != 0
    assert ("vllm_service_timeout_stop_sec (30) must be at least vllm_service_shutdown_timeout (30) + 5 seconds"
            in failed[-1]["msg"])


def test_default_drain_passes_preflight(tmp_path):
    rc, failed, _, _ = service_preflight(tmp_path)
    assert rc == 0, failed
