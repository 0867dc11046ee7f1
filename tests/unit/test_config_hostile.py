"""Hostile service configs and identity patterns: the guard and status read only a small regular
file of their own user, refuse a key set twice, and judge a pattern by what it matches. The real
CLIs, real files, FIFOs, devices and symlinks."""
import os
import subprocess
import time

import pytest

from helpers.marks import needs_root
from helpers.paths import STATUS
from helpers.procs import run_guard

from ansible_collections.openclaw.vllm.plugins.module_utils.host.inputs import UsageError
from ansible_collections.openclaw.vllm.plugins.module_utils.host.patterns import check_patterns


def both(config, timeout=20):
    """(guard, status) run on ``config``; each must answer within ``timeout`` seconds."""
    start = time.monotonic()
    guard = run_guard("--config", config)
    shown = subprocess.run([STATUS, "status", "--config", str(config)], capture_output=True, text=True,
                           timeout=timeout)
    assert time.monotonic() - start < 2 * timeout
    return guard, shown


def assert_refused(config, expected):
    for result in both(config):
        assert result.returncode == 2, result.stdout + result.stderr
        assert "config %s %s" % (config, expected) in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_a_fifo_is_refused_without_blocking(tmp_path):
    config = tmp_path / "service.conf"
    os.mkfifo(config)
    assert_refused(config, "is not a regular file")


def test_a_device_is_refused(tmp_path):
    assert_refused("/dev/zero", "is not a regular file")


def test_a_symlink_to_a_secret_is_refused_and_its_content_never_shown(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("port=THE-SECRET-CONTENT\n")
    config = tmp_path / "service.conf"
    config.symlink_to(secret)
    assert_refused(config, "is a symlink")
    for result in both(config):
        assert "THE-SECRET-CONTENT" not in result.stdout + result.stderr


def test_a_huge_file_is_refused_without_reading_it(tmp_path):
    config = tmp_path / "service.conf"
    with open(config, "wb") as handle:
        handle.truncate(8 << 30)  # sparse: 8 GiB declared, nothing on disk
    assert_refused(config, "is larger than 65536 bytes")


@needs_root
def test_another_users_file_is_refused(tmp_path):
    config = tmp_path / "service.conf"
    config.write_text("port=8001\n")
    os.chown(config, 65534, 65534)
    assert_refused(config, "is owned by uid 65534, not by this user (uid 0) or root")


def test_a_key_set_twice_names_both_lines(tmp_path):
    config = tmp_path / "service.conf"
    config.write_text("port=8001\nhost=127.0.0.1\nport=8002\n")
    for result in both(config):
        assert result.returncode == 2
        assert "config %s lines 1 and 3 both set port=: keep one" % config in result.stderr


def test_patterns_may_repeat_their_key(tmp_path):
    config = tmp_path / "service.conf"
    config.write_text("port=1\npattern=vllm-*\npattern=my-llm-*\n")
    guard = run_guard("--config", config)
    assert "both set" not in guard.stderr


@pytest.mark.parametrize("pattern", [
    "[abcdefghijklmnopqrstuvwxyz]*", "[!q]*", "[a-z][a-z][a-z]*", "[!.][!.][!.]*", "*ser*", "*-*", "*.py",
    "v[l]lm*", "[v][l][l][m]*", "*[!-]*", "?????*", "*a*b*c*",
])
def test_a_pattern_that_matches_almost_anything_is_too_broad(pattern):
    with pytest.raises(UsageError, match="is too broad"):
        check_patterns([pattern])


@pytest.mark.parametrize("pattern", ["vllm-*", "my-llm-*", "*llm*", "openclaw*", "vllm[!.]*", "assistant-8001"])
def test_a_pattern_that_names_something_is_kept(pattern):
    assert check_patterns([pattern]) == (pattern,)
