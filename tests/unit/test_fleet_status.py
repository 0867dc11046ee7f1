"""The fleet status: the document and the table (module_utils/fleet_status.py, through the
openclaw.vllm.fleet_status filters), and the real playbook `ansible-playbook status.yml` on an
inventory of one host that cannot be reached and localhost serving a stand-in vLLM."""
import json
import os
import shutil
import subprocess
import sys

import pytest


from helpers.fake_vllm import BUILD, VERSION
from helpers.paths import ANSIBLE_PLAYBOOK, FULL_TIER, ROOT, STATUS

from ansible_collections.openclaw.vllm.plugins.module_utils import fleet_status as fleet

UNREACHABLE = ("Failed to connect to the host via ssh: ssh: connect to host 203.0.113.1 port 22: "
               "Connection timed out")


def real_facts(port):
    """What the status module registers: the facts of `openclaw-vllm status --json`."""
    result = subprocess.run([STATUS, "status", "--json", "--port", str(port)], capture_output=True, text=True,
                            timeout=60)
    return dict(json.loads(result.stdout), changed=False, failed=False, lines=["..."])


def test_document_from_each_kind_of_result(vllm_serve):  # noqa: F811
    _, port = vllm_serve()
    doc = fleet.document({
        "gpu1": real_facts(port),
        "gone": {"unreachable": True, "changed": False, "msg": "Task failed: " + UNREACHABLE},
        "broken": {"failed": False, "failed_when_result": False,
                   "msg": "config /home/vllm/.config/openclaw-vllm/service.conf line 3: expected one of ..."},
        "never": None,
    }, generated="2026-11-27T10:00:00+00:00")
    assert list(doc["hosts"]) == ["gpu1", "gone", "broken", "never"]  # the play's order
    assert doc["generated"] == "2026-11-27T10:00:00+00:00"
    gpu1 = doc["hosts"]["gpu1"]
    assert gpu1["reachable"] is True and gpu1["error"] is None
    assert set(gpu1) == {"reachable", "error", "host", "port", "patterns", "health", "healthy", "owner", "hint", "probe",
                         "unit", "served", "guard", "gpu", "lanes"}  # no Ansible bookkeeping (changed, lines, ...)
    assert gpu1["served"]["model"]["version"] == VERSION and gpu1["served"]["build"]["id"] == BUILD
    assert doc["hosts"]["gone"] == {"reachable": False, "error": UNREACHABLE}
    assert doc["hosts"]["broken"]["reachable"] is True
    assert doc["hosts"]["broken"]["error"].startswith("config /home/vllm/.config/openclaw-vllm/service.conf line 3")
    assert doc["hosts"]["never"]["reachable"] is False
    json.dumps(doc)  # JSON-ready


def facts(**more):
    base = {
        "host": "127.0.0.1", "port": 8001, "patterns": ["vllm"], "hint": None,
        "health": {"url": "http://127.0.0.1:8001/health", "ok": True, "status": 200, "error": None}, "healthy": True,
        "probe": {"free": False, "error": None, "holders": [{"pid": 4242, "kind": "vllm_like", "cmd": "vllm serve"}]},
        "unit": {"name": "openclaw-vllm.service", "ActiveState": "active", "SubState": "running", "NRestarts": "0"},
        "served": {"source": "process", "pid": 4242, "served_model_name": "local-assistant", "pending": None,
                   "model": {"version": "qwen2.5-14b-instruct-awq-0123456789ab", "hf_revision": "3f2a9c1"},
                   "build": {"id": "vllm-cuda-abcdef012345", "vllm_version": "0.33.0"}},
        "guard": {"event": "VLLM_PORT_OK", "message": "VLLM_PORT_OK port=8001", "time": "2026-11-27T09:00:00+00:00",
                  "error": None},
        "gpu": {"error": None, "gpus": [{"index": 0, "name": "H100", "memory_used_mib": 70123,
                                         "memory_total_mib": 81559}]},
    }
    base.update(more)
    return base


def test_table_one_row_per_host_with_an_unreachable_one():
    blocked = facts(
        healthy=False, health={"ok": False, "status": None, "error": "[Errno 111] Connection refused"},
        unit={"ActiveState": "activating", "SubState": "auto-restart", "NRestarts": "17"},
        probe={"free": False, "error": None, "holders": [
            {"pid": 777, "kind": "unknown", "cmd": "python3 -m http.server --directory /srv/" + "x" * 300 + " 8001"}]},
        guard={"event": "VLLM_PORT_HELD_UNKNOWN", "time": "2026-11-27T09:30:05+00:00", "message": "...", "error": None},
        gpu=None)
    doc = fleet.document({"gpu1": facts(), "gpu2": blocked,
                          "gpu3": {"unreachable": True, "msg": "Task failed: " + UNREACHABLE}})
    lines = fleet.table(doc)
    assert [line.split()[0] for line in lines] == ["HOST", "gpu1", "gpu2", "gpu3"]
    header, gpu1, gpu2, gpu3 = lines
    for column in fleet.COLUMNS:
        assert column in header
    assert gpu1.split() == ["gpu1", "active/running", "0", "up", "local-assistant",
                            "qwen2.5-14b-instruct-awq-0123456789ab", "@3f2a9c1", "0.33.0", "vllm-cuda-abcdef012345",
                            "ours", "pid=4242", "VLLM_PORT_OK", "2026-11-27", "09:00:00Z", "68.5/79.6", "GiB", "-"]
    assert "activating/auto-restart  17" in gpu2 and "down (Connection refused)" in gpu2
    # The long cmd is cut to the column's width, with the marker.
    cell = "unknown pid=777 cmd=python3 -m http.server --directory /srv/x"
    cell = cell[:fleet.WIDTHS["PORT"] - len(fleet.MARKER)] + fleet.MARKER
    assert cell.startswith("unknown pid=777 cmd=python3 -m http.server") and cell + "  " in gpu2
    assert "VLLM_PORT_HELD_UNKNOWN 2026-11-27 09:30:05Z" in gpu2 and gpu2.split()[-2:] == ["-", "-"]
    assert gpu3 == "gpu3  unreachable: " + UNREACHABLE
    assert gpu1.index("local-assistant") == header.index("MODEL")
    assert all(line == line.rstrip() for line in lines)
    assert max(len(line) for line in lines) <= sum(fleet.WIDTHS.values()) + 2 * len(fleet.WIDTHS)


def test_columns_line_up():
    doc = fleet.document({"a": facts(), "a-much-longer-host-name": facts(gpu=None)})
    header, first, second = fleet.table(doc)
    for column in ("UNIT", "HEALTH", "MODEL", "PORT", "GPU MEM"):
        start = header.index(column)
        assert first[start - 2:start] == "  " and first[start] != " "
        assert second[start - 2:start] == "  " and second[start] != " "


def test_pending_switch_and_multi_gpu_and_errors():
    pending = facts(served=dict(facts()["served"], pending={"build": "/b", "model": "/m"}))
    two = facts(gpu={"error": None, "gpus": [{"memory_used_mib": 1024, "memory_total_mib": 81920}] * 2})
    failing = facts(gpu={"error": "nvidia-smi exited 9: NVIDIA-SMI has failed", "gpus": []},
                    guard={"event": None, "message": None, "time": None, "error": "journalctl not found"},
                    probe={"free": None, "error": "probe error: OSError: boom", "holders": []},
                    unit=None, served={"source": None, "model": None, "build": None})
    lines = fleet.table(fleet.document({"p": pending, "two": two, "f": failing,
                                        # as ansible-core 2.19 registers a become that sudo asked a password of
                                        "bad": {"failed": True, "changed": False,
                                                "msg": "Task failed: Missing sudo password"}}))
    assert "@3f2a9c1 *" in lines[1]
    assert lines[-1] == fleet.PENDING_NOTE
    assert "2.0/160.0 GiB (2 GPUs)" in lines[2]
    assert lines[3].split()[:2] == ["f", "unknown"]
    assert "? (journalctl not found)" in lines[3] and lines[3].endswith("? (nvidia-smi exited ...  -")
    assert "probe failed: probe error: OSError: boom" in lines[3]
    assert lines[4] == "bad   error: Missing sudo password"


def test_a_host_with_lanes_shows_each_lane_and_its_health():
    rows = [{"lane": "default", "unit": "openclaw-vllm.service", "host": "127.0.0.1", "port": 8001,
             "state": "active/running", "health": "up", "healthy": True},
            {"lane": "code", "unit": "openclaw-vllm-code.service", "host": "127.0.0.1", "port": 8002,
             "state": "activating/auto-restart", "health": "held", "healthy": False}]
    doc = fleet.document({"gpu1": facts(lanes=rows), "gpu2": facts(lanes=rows[:1]), "gpu3": facts()})
    assert doc["hosts"]["gpu1"]["lanes"] == rows
    header, gpu1, gpu2, gpu3 = fleet.table(doc)
    assert header.endswith("  LANES") and gpu1.endswith("  default up, code held")
    assert gpu2.endswith("  -") and gpu3.endswith("  -"), "one default lane, or a host that did not say: -"


def test_cells_are_cut_and_escaped():
    assert fleet.cut("abcdef", 5) == "ab..."
    assert fleet.cut("abc", 5) == "abc"
    assert fleet.cut("evil\ncmd\u202etxt.exe \x1b[31m", 0) == "evil cmd\\u202etxt.exe \\x1b[31m"
    holder = facts(probe={"free": False, "error": None, "holders": [
        {"pid": 1, "kind": "unknown", "cmd": "\u00e9vil\u2028" + "y" * 500}]})
    line = fleet.table(fleet.document({"h": holder}))[1]
    assert line.isascii() and "\\xe9vil" in line and "y..." in line
    assert len(line) < 400


def test_filters_are_what_ansible_loads():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.openclaw.vllm.plugins.filter.fleet_status import FilterModule

    filters = FilterModule().filters()
    doc = filters["fleet_status"]({"h": {"unreachable": True, "msg": "x"}}, "2026-11-27T10:00:00+00:00")
    assert filters["fleet_status_table"](doc, {"HOST": 10})[1] == "h     unreachable: x"
    with pytest.raises(AnsibleFilterError, match="widths: no column PROT"):
        filters["fleet_status_table"](doc, {"PROT": 10})


# --------------------------------------------------------------------------- the playbook


@pytest.mark.ansible
def test_status_playbook_with_an_unreachable_host(vllm_serve, tmp_path):  # noqa: F811
    """`ansible-playbook status.yml`: one row per host, an unreachable host included, and the JSON."""
    proc, port = vllm_serve()
    config = tmp_path / "config" / "openclaw-vllm"
    config.mkdir(parents=True)
    (config / "service.conf").write_text("port=%d\nhost=127.0.0.1\nunit=openclaw-vllm.service\n" % port)
    hosts = {
        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                      "ansible_become": False},
        # TEST-NET-3 (RFC 5737): nothing answers there.
        "gone": {"ansible_host": "203.0.113.1", "ansible_connection": "ssh", "ansible_ssh_timeout": 2,
                 "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}}
    if shutil.which("podman") or FULL_TIER:  # a test host whose container is gone (none is touched)
        hosts["ghost"] = {"ansible_connection": "containers.podman.podman",
                          "ansible_python_interpreter": "/usr/bin/python3",
                          "ansible_host": "openclaw-status-test-no-such-container-%d" % os.getpid()}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"vllm_hosts": {"hosts": hosts}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    run = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(ROOT / "status.yml")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    output = json.loads(run.stdout)
    tasks = {task["task"]["name"]: task["hosts"] for play in output["plays"] for task in play["tasks"]}
    lines = tasks["Print the fleet status"]["localhost"]["msg"]
    assert lines[0].split()[:2] == ["HOST", "UNIT"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == set(hosts)
    for host in set(hosts) - {"localhost"}:
        assert rows[host].split()[1] == "unreachable:", rows[host]
    # No systemd user manager here: unit unknown; the rest from the stand-in vLLM on the port.
    assert rows["localhost"].split()[:8] == ["localhost", "unknown", "-", "up", "tiny", VERSION, "@3f2a9c1",
                                             "0.32.0+cpu"]
    assert "ours pid=%d" % proc.pid in rows["localhost"]

    doc = json.loads((tmp_path / "openclaw-vllm-status.json").read_text())  # the default: the current directory
    assert set(doc["hosts"]) == set(hosts)
    for host in set(hosts) - {"localhost"}:
        assert doc["hosts"][host]["reachable"] is False and doc["hosts"][host]["error"], doc["hosts"][host]
    local = doc["hosts"]["localhost"]
    assert local["reachable"] is True and local["error"] is None and local["healthy"] is True
    assert local["port"] == port and local["served"]["source"] == "port"
    assert local["served"]["build"]["vllm_version"] == "0.32.0+cpu" and local["unit"] is None
    assert doc["generated"].endswith("+00:00")

    # -e openclaw_status_json=PATH
    elsewhere = tmp_path / "out" / "fleet.json"
    elsewhere.parent.mkdir()
    run = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(ROOT / "status.yml"), "-l", "localhost",
                          "-e", "openclaw_status_json=%s" % elsewhere], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert set(json.loads(elsewhere.read_text())["hosts"]) == {"localhost"}
