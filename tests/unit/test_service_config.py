"""The service config the vllm_service role writes beside the unit: guard, status and the
vllm_status_info module read it, flags override it. Real holders, real commands."""
import json
import os
import subprocess
import sys

import pytest

from helpers.paths import ANSIBLE, ROOT, STATUS
from helpers.procs import free_port, run_guard, wait_gone


def write_config(path, port, patterns=(), unit="llm-serve.service", host="127.0.0.1"):
    lines = ["# written by openclaw.vllm.vllm_service", "port=%d" % port, "host=%s" % host, "unit=%s" % unit]
    lines += ["pattern=%s" % p for p in patterns]
    path.write_text("\n".join(lines) + "\n")
    return path


def status(*args, home=None):
    env = dict(os.environ, XDG_CONFIG_HOME=str(home)) if home else None
    return subprocess.run([STATUS, "status", *map(str, args)], capture_output=True, text=True, timeout=60, env=env)


def test_status_uses_the_configs_port_patterns_and_unit(spawn, tmp_path):
    """Custom patterns: the service's own holder is ours, not 'unknown', and no wrong HINT."""
    port = free_port()
    holder = spawn("my-llm-server", "--port", port)
    (tmp_path / "openclaw-vllm").mkdir()
    write_config(tmp_path / "openclaw-vllm" / "service.conf", port, ["my-llm-*"])
    result = status("--verbose", "--json", home=tmp_path)
    facts = json.loads(result.stdout)
    assert facts["port"] == port
    assert facts["probe"]["holders"][0]["pid"] == holder.pid
    assert facts["probe"]["holders"][0]["kind"] == "vllm_like"
    assert facts["hint"] is None
    # Without the config: the defaults call the same holder unknown.
    other = json.loads(status("--json", "--port", port).stdout)
    assert other["probe"]["holders"][0]["kind"] == "unknown"


def test_status_hint_names_the_configs_unit(spawn, tmp_path):
    port = free_port()
    holder = spawn("unknown-holder", "--port", port)
    (tmp_path / "openclaw-vllm").mkdir()
    write_config(tmp_path / "openclaw-vllm" / "service.conf", port, unit="llm-serve.service")
    hint = status("--verbose", home=tmp_path).stdout.splitlines()[-1]
    assert hint.startswith("HINT: vLLM blocked \u2014 port %d held by unknown process (pid=%d," % (port, holder.pid))
    assert hint.endswith("then restart llm-serve.service.")


def test_flags_override_the_config(tmp_path):
    config = write_config(tmp_path / "service.conf", free_port())
    other = free_port()
    facts = json.loads(status("--json", "--config", config, "--port", other).stdout)
    assert facts["port"] == other


def test_guard_reads_port_and_patterns_from_the_config(spawn, tmp_path):
    port = free_port()
    stray = spawn("my-llm-server", "--port", port)
    config = write_config(tmp_path / "service.conf", port, ["my-llm-*"])
    result = run_guard("--config", config)
    assert result.returncode == 0, result.stderr
    assert "VLLM_PORT_RECLAIM port=%d pid=%d" % (port, stray.pid) in result.stderr
    assert wait_gone(stray.pid)


@pytest.mark.parametrize("content, expected", [
    ("port=80x\n", "line 1: port '80x' is not a number"),
    ("bogus\n", "line 1: expected one of port=, host=, unit=, pattern=, gpus=, gpu_memory_utilization=, "
                 "metrics_dir=VALUE"),
    ("port=8001\nmetrics_dir=var/metrics\n", "line 2: metrics_dir must be an absolute directory (empty: no metrics), "
                                             "got 'var/metrics'"),
    ("port=8001\npattern=*\n", "pattern '*' is too broad"),
])
def test_bad_config_is_usage_naming_file_and_line(tmp_path, content, expected):
    config = tmp_path / "service.conf"
    config.write_text(content)
    guard = run_guard("--config", config)
    assert guard.returncode == 2 and "config %s" % config in guard.stderr and expected in guard.stderr
    shown = status("--config", config)
    assert shown.returncode == 2 and expected in shown.stderr


@pytest.mark.ansible
def test_status_info_module_reports_from_the_config(spawn, tmp_path):
    port = free_port()
    holder = spawn("unknown-holder", "--port", port)
    config = write_config(tmp_path / "service.conf", port, unit="llm-serve.service")
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([ANSIBLE, "localhost", "-i", "localhost,", "-c", "local", "-e",
                           "ansible_python_interpreter=%s" % sys.executable, "-m", "openclaw.vllm.vllm_status_info",
                           "-a", "config=%s" % config, "--check"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["settings"]["port"] == port and result["settings"]["unit"] == "llm-serve.service"
    assert result["probe"]["holders"][0]["pid"] == holder.pid
    assert result["hint"].endswith("then restart llm-serve.service.")
    assert result["lines"][-1] == result["hint"]
