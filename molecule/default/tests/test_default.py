"""site.yml on a bare test host: the unit serves a real completion, safely."""
import hashlib
import os
import re

from testhost import BIN, HOME, PORT, SERVED_NAME, SERVICE_USER, UNIT

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
MODULE_UTILS = os.path.join(PROJECT, "collections/ansible_collections/openclaw/vllm/plugins/module_utils")
# `systemd-analyze security --user` on the test host: 9.6 before the unit had a sandbox,
# 2.2 with it (docs guide_security, "Unit hardening"). A change that loosens the sandbox fails here.
MAX_EXPOSURE = 2.2


def test_unit_is_enabled_and_active_for_the_service_user(testhost):
    assert testhost.systemctl("is-enabled", UNIT).stdout.strip() == "enabled"
    assert testhost.systemctl("is-active", UNIT).stdout.strip() == "active"


def test_service_does_not_run_as_root(testhost):
    pid = int(testhost.unit_property("MainPID"))
    assert pid > 0
    assert testhost.run("ps -o user= -p %d" % pid).stdout.strip() == SERVICE_USER


def test_health_and_models(testhost):
    assert testhost.http("/health", key=False)[0] == 200
    status, models = testhost.http("/v1/models")
    assert status == 200
    assert SERVED_NAME in [model["id"] for model in models["data"]]


def test_chat_completion_returns_text(testhost):
    reply = testhost.chat("Say hello.")
    assert reply["usage"]["completion_tokens"] > 0
    assert isinstance(reply["choices"][0]["message"]["content"], str)
    assert reply["choices"][0]["message"]["content"] != ""


def test_api_key_protects_v1(testhost):
    assert testhost.http("/v1/models", key=False)[0] == 401


def test_unit_file_passes_systemd_analyze_verify(testhost):
    result = testhost.as_user("systemd-analyze --user verify %s", HOME + "/.config/systemd/user/" + UNIT)
    assert result.rc == 0, result.stdout + result.stderr


def test_api_key_file_is_0600_and_key_not_in_ps(testhost):
    env_file = testhost.host.file(HOME + "/.config/openclaw-vllm/env")
    assert env_file.mode == 0o600
    assert env_file.user == SERVICE_USER
    key = testhost.api_key()
    assert key
    assert key not in testhost.run("ps -eo args").stdout
    assert key not in testhost.run("cat %s/.config/systemd/user/%s" % (HOME, UNIT)).stdout


def test_vllm_listens_on_loopback_only(testhost):
    listeners = testhost.run("ss -Hltn 'sport = :%d'" % PORT).stdout.split()
    local = [word for word in listeners if word.endswith(":%d" % PORT)]
    assert local == ["127.0.0.1:%d" % PORT]


def test_guard_and_status_come_from_the_collection(testhost):
    """One source: the host runs the collection's host package byte for byte, all of it."""
    package = os.path.join(MODULE_UTILS, "host")
    names = sorted(name for name in os.listdir(package) if name.endswith(".py"))
    assert "guard_cli.py" in names and "status.py" in names
    for name in names:
        with open(os.path.join(package, name), "rb") as source:
            expected = hashlib.sha256(source.read()).hexdigest()
        installed = testhost.host.file(HOME + "/.local/lib/openclaw-vllm/host/" + name)
        assert installed.sha256sum == expected, name
    leftovers = testhost.run("ls %s/.local/lib/openclaw-vllm/*.py" % HOME)
    assert leftovers.rc != 0, "files of the older layout are removed: " + leftovers.stdout


def test_status_reports_healthy(testhost):
    result = testhost.as_user(BIN + "/openclaw-vllm status --verbose")
    assert result.rc == 0, result.stdout
    assert result.stdout.startswith("health: up")
    assert "HINT" not in result.stdout


def test_guard_runs_as_exec_start_pre(testhost):
    assert "openclaw-vllm-guard" in testhost.unit_property("ExecStartPre")


def test_values_reach_vllm_literally(testhost):
    """A value with a space, %, $ and quotes is escaped for systemd and arrives unchanged."""
    pid = int(testhost.unit_property("MainPID"))
    environ = testhost.as_user("cat /proc/%s/environ", pid).stdout.split("\0")
    assert 'OPENCLAW_DEMO_NOTE=tiny model, 100% local, costs $0 "offline"' in environ
    assert "HF_HUB_OFFLINE=1" in environ


def test_unit_exposure_score_stays_at_the_measured_level(testhost):
    result = testhost.as_user("systemd-analyze security --user --no-pager %s", UNIT)
    match = re.search(r"Overall exposure level for \S+: ([0-9]+\.[0-9])", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def test_sandbox_is_in_effect_not_only_configured(testhost):
    """The score reads the unit file only, and a user manager skips the mount and kernel
    settings silently when the unit has no user namespace. Look at the running server."""
    pid = int(testhost.unit_property("MainPID"))
    uid_map = testhost.run("cat /proc/%d/uid_map" % pid).stdout.split()
    assert uid_map == [str(testhost.uid), str(testhost.uid), "1"], uid_map  # PrivateUsers
    status = dict(line.split(":", 1) for line in testhost.run("cat /proc/%d/status" % pid).stdout.splitlines())
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"  # filter mode: SystemCallFilter and friends
    assert int(status["CapBnd"], 16) == 0
    mounts = {}
    for line in testhost.run("cat /proc/%d/mountinfo" % pid).stdout.splitlines():
        fields = line.split()
        mounts[fields[4]] = (fields[3], fields[5].split(","))
    assert "ro" in mounts["/"][1]  # ProtectSystem=strict
    assert "rw" in mounts[HOME][1]  # the caches stay writable
    assert "systemd-private-" in mounts["/tmp"][0]  # PrivateTmp
