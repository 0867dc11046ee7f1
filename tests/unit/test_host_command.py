"""The commands the vllm_service role installs on hosts (templates/command.py.j2, rendered by
Ansible's own template module), run as whole processes against the collection's host package:
exit codes, a closed or broken stdout, and no traceback in any of them."""
import os
import subprocess
import sys

import pytest

from helpers.ansible_runs import run_module
from helpers.paths import ROOT
from helpers.procs import free_port

TEMPLATE = ROOT / "collections/ansible_collections/openclaw/vllm/roles/vllm_service/templates/command.py.j2"
PACKAGE = ROOT / "collections/ansible_collections/openclaw/vllm/plugins/module_utils/host"

pytestmark = pytest.mark.ansible


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    """openclaw-vllm-guard and openclaw-vllm, rendered into a home whose lib is this checkout's package."""
    home = tmp_path_factory.mktemp("home")
    lib = home / ".local/lib/openclaw-vllm"
    lib.mkdir(parents=True)
    (lib / "host").symlink_to(PACKAGE)
    rendered = {}
    for name, module in (("openclaw-vllm-guard", "guard_cli"), ("openclaw-vllm", "status_cli")):
        dest = home / name
        result = run_module("ansible.builtin.template", {"src": str(TEMPLATE), "dest": str(dest), "mode": "0755"},
                            extra_vars={"item": {"name": name, "module": module}, "vllm_service_home": str(home),
                                        "vllm_service_guard_python": sys.executable})
        assert not result.get("failed"), result
        rendered[name] = str(dest)
    return rendered


def test_the_guard_command_exits_with_the_guards_decision(commands, spawn):
    port = free_port()
    ok = subprocess.run([commands["openclaw-vllm-guard"], "--host", "127.0.0.1", str(port)],
                        capture_output=True, text=True, timeout=60)
    assert (ok.returncode, ok.stderr) == (0, "VLLM_PORT_OK port=%d\n" % port)
    holder = spawn("unknown-holder", "--port", port)
    held = subprocess.run([commands["openclaw-vllm-guard"], "--host", "127.0.0.1", str(port)],
                          capture_output=True, text=True, timeout=60)
    assert held.returncode == 42 and held.stderr.startswith("VLLM_PORT_HELD_UNKNOWN port=%d pid=%d" % (port, holder.pid))
    bad = subprocess.run([commands["openclaw-vllm-guard"], "99999"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "port '99999' is out of range" in bad.stderr and "usage:" in bad.stderr


def test_status_output_that_nobody_reads_is_no_traceback(commands):
    port = str(free_port())
    piped = subprocess.run("%s status --json --port %s | head -c 1" % (commands["openclaw-vllm"], port), shell=True,
                           capture_output=True, text=True, timeout=60)
    assert piped.stdout == "{" and "Traceback" not in piped.stderr and "Error" not in piped.stderr
    closed = subprocess.run([commands["openclaw-vllm"], "status", "--port", port], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, timeout=60, close_fds=True,
                            preexec_fn=lambda: os.close(1))
    assert closed.returncode == 1 and "Traceback" not in closed.stderr
    usage = subprocess.run([commands["openclaw-vllm"], "--help"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: openclaw-vllm")
