"""The Ansible module openclaw.vllm.port_guard, run through Ansible itself."""

import pytest

from helpers.ansible_runs import run_module
from helpers.procs import free_port, wait_gone


pytestmark = pytest.mark.ansible


def test_free_port_is_ok_and_unchanged():
    port = free_port()
    result = guard_module("port=%d host=127.0.0.1" % port)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["decision"] == "VLLM_PORT_OK"
    assert result["holders"] == []
    assert result["events"] == ["VLLM_PORT_OK port=%d" % port]


def test_check_mode_reports_the_reclaim_and_kills_nothing(spawn):
    port = free_port()
    stray = spawn("vllm-stray", "--port", port)
    result = guard_module("port=%d" % port, check=True)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["decision"] == "VLLM_PORT_RECLAIM"
    assert [h["pid"] for h in result["reclaimed"]] == [stray.pid]
    assert stray.alive()


def test_reclaims_a_stray(spawn):
    port = free_port()
    stray = spawn("vllm-stray", "--port", port, "--children", "1")
    result = guard_module("port=%d grace=2" % port)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["decision"] == "VLLM_PORT_RECLAIMED"
    assert result["holders"][0]["kind"] == "vllm_like"
    assert result["events"][-2:] == ["VLLM_PORT_RECLAIMED port=%d" % port, "VLLM_PORT_OK port=%d" % port]
    assert wait_gone(stray.pid) and wait_gone(stray.child_pids[0])
    again = guard_module("port=%d" % port)
    assert again["changed"] is False, "a second run changes nothing"


def test_unknown_holder_fails_naming_pid_and_cmd(spawn):
    port = free_port()
    holder = spawn("unknown-holder", "--port", port)
    result = guard_module("port=%d" % port)
    assert result["failed"] is True
    assert "pid=%d" % holder.pid in result["msg"]
    assert 'cmd="unknown-holder ' in result["msg"]
    assert result["decision"] == "VLLM_PORT_HELD_UNKNOWN"
    assert result["holders"][0]["reason"].startswith("identity ")
    assert holder.alive()


def test_probed_reports_without_killing(spawn):
    port = free_port()
    stray = spawn("vllm", "--port", port)
    result = guard_module("port=%d state=probed" % port)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["decision"] == "VLLM_PORT_HELD_VLLM"
    assert result["holders"][0]["pid"] == stray.pid
    assert stray.alive()


def test_custom_patterns_make_a_wrapper_ours(spawn):
    port = free_port()
    wrapper = spawn("my-llm-wrapper", "--port", port)
    assert guard_module("port=%d" % port)["failed"] is True
    result = guard_module("port=%d patterns=my-llm-*" % port)
    assert result["decision"] == "VLLM_PORT_RECLAIMED", result
    assert wait_gone(wrapper.pid)


def test_bad_port_is_a_clear_error():
    result = guard_module("port=70000")
    assert result["failed"] is True
    assert "port 70000 is out of range; expected an integer in 1..65535" in result["msg"]


@pytest.mark.parametrize("args, expected", [
    ("grace=nan", "grace nan: expected seconds between 0 and 3600"),
    ("grace=inf", "grace inf: expected seconds between 0 and 3600"),
    ("grace=-1", "grace -1.0: expected seconds between 0 and 3600"),
    ("timeout=-0.5", "timeout -0.5: expected seconds between 0 and 3600"),
    ("host=a..b", "host 'a..b' is not an IP address or a resolvable name"),
    ("host=%s.example" % ("x" * 64), "is not an IP address or a resolvable name"),
    ("patterns=*", "pattern '*' is too broad"),
    ("patterns=*.py", "pattern '*.py' is too broad"),
])
def test_bad_input_fails_cleanly_and_names_it(spawn, args, expected):
    """Checked before anything is probed: a stray that ignores SIGTERM is never waited on forever."""
    port = free_port()
    stray = spawn("vllm-stray", "--port", port, "--ignore-term")
    result = guard_module("port=%d %s" % (port, args))
    assert result["failed"] is True, result
    assert expected in result["msg"]
    assert "Traceback" not in result.get("module_stderr", "")
    assert stray.alive()


def test_empty_patterns_mean_the_defaults_as_in_the_cli(spawn):
    port = free_port()
    stray = spawn("vllm-stray", "--port", port)
    result = guard_module('{"port": %d, "patterns": [], "grace": 2}' % port)
    assert result["decision"] == "VLLM_PORT_RECLAIMED", result
    assert wait_gone(stray.pid)


def guard_module(args, check=False):
    return run_module("port_guard", args, check=check)
