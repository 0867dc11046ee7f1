"""The facts ``openclaw-vllm status --json`` adds for the fleet status: what the service serves
(from the running process, the unit's ExecStart, or our port holder), the guard's last journal
event and GPU memory. Real processes serving real HTTP on real ports; the journal and the GPU
come from test doubles of journalctl and nvidia-smi (no journald and no GPU here)."""
import json
import os
import subprocess
import sys
import textwrap

import pytest


from helpers.fake_vllm import BUILD, VERSION, executable
from helpers.gpu_double import FAKES, H100, gpu_host
from helpers.paths import STATUS
from helpers.procs import free_port

from ansible_collections.openclaw.vllm.plugins.module_utils.host import served as served_facts
from ansible_collections.openclaw.vllm.plugins.module_utils.host.served import exec_start_argv, parse_serve_argv


# What journalctl --output=json prints for one entry (fields as journald records them).
JOURNAL_ENTRY = {
    "__CURSOR": "s=0f1e;i=2a;b=9c;m=1;t=62;x=3", "__REALTIME_TIMESTAMP": "1796200000123456",
    "__MONOTONIC_TIMESTAMP": "81234567", "_BOOT_ID": "9c", "PRIORITY": "4", "SYSLOG_FACILITY": "1",
    "SYSLOG_IDENTIFIER": "openclaw-vllm-port-guard", "SYSLOG_PID": "4242", "_PID": "4242", "_UID": "1000",
    "MESSAGE": 'VLLM_PORT_HELD_UNKNOWN port=8001 pid=777 cmd="python3 -m http.server 8001"',
}
FAKE_JOURNALCTL = textwrap.dedent("""\
    #!{python}
    # TEST DOUBLE for journalctl: prints $FAKE_JOURNAL (JSON lines, oldest first) for the one call
    # status makes: newest first, as many as --lines says.
    import os, sys
    want = ["--quiet", "--no-pager", "--output=json", "--identifier=openclaw-vllm-port-guard", "--reverse"]
    if sys.argv[1:-1] != want or not sys.argv[-1].startswith("--lines="):
        sys.stderr.write("fake journalctl: unexpected call %r\\n" % (sys.argv[1:],))
        sys.exit(2)
    if os.environ.get("FAKE_JOURNAL_FAIL"):
        sys.stderr.write(os.environ["FAKE_JOURNAL_FAIL"] + "\\n")
        sys.exit(int(os.environ.get("FAKE_JOURNAL_RC", "1")))
    lines = open(os.environ["FAKE_JOURNAL"]).read().splitlines(True)
    sys.stdout.write("".join(lines[::-1][:int(sys.argv[-1].split("=")[1])]))
    """)


def status_json(*args, env=None):
    result = subprocess.run([STATUS, "status", "--json", *map(str, args)], capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def exec_start(venv, model):
    """``systemctl show -p ExecStart`` as systemd 252 prints it for our unit."""
    argv = "%s/bin/vllm serve %s --served-model-name tiny --host 127.0.0.1 --port 8001" % (venv, model)
    return ("{ path=%s/bin/vllm ; argv[]=%s ; ignore_errors=no ; start_time=[Fri 2026-11-27 09:00:00 UTC] ; "
            "stop_time=[n/a] ; pid=4242 ; code=(null) ; status=0/0 }" % (venv, argv))


# --------------------------------------------------------------------------- what is served


def test_our_vllm_on_the_port_names_build_and_model(vllm_serve, deployed):
    """No systemd user manager here: the facts come from our vLLM holding the port."""
    venv, model = deployed
    proc, port = vllm_serve()
    facts = status_json("--port", port)
    assert facts["healthy"] is True
    served = facts["served"]
    assert served["source"] == "port" and served["pid"] == proc.pid
    assert served["served_model_name"] == "tiny"
    assert served["build"] == {"path": str(venv), "id": BUILD, "vllm_version": "0.32.0+cpu", "accelerator": "cpu"}
    assert served["model"] == {"path": str(model), "version": VERSION, "name": "tiny-awq", "manifest": True,
                               "hf_repo": "org/tiny-awq", "hf_revision": "3f2a9c1", "source": "hf"}
    assert served["pending"] is None
    assert facts["probe"]["holders"][0]["kind"] == "vllm_like"


def test_the_running_process_wins_over_the_unit(vllm_serve, deployed, tmp_path):
    """Mid roll-out the unit already names the next build and model; the process still serves the old."""
    venv, model = deployed
    proc, _ = vllm_serve()
    new_venv = tmp_path / "venvs/builds/vllm-cpu-fedcba987654"
    new_model = tmp_path / "models/.versions/tiny-awq-999999999999"
    served = served_facts.served({"MainPID": str(proc.pid), "ExecStart": exec_start(new_venv, new_model)})
    assert served["source"] == "process" and served["pid"] == proc.pid
    assert served["build"]["id"] == BUILD and served["model"]["version"] == VERSION
    assert served["pending"] == {"build": str(new_venv), "model": str(new_model)}
    # The same paths in the unit: nothing pending.
    assert served_facts.served({"MainPID": str(proc.pid), "ExecStart": exec_start(venv, model)})["pending"] is None


def test_a_stopped_unit_reports_what_its_exec_start_names(deployed):
    venv, model = deployed
    served = served_facts.served({"MainPID": "0", "ExecStart": exec_start(venv, model)})
    assert served["source"] == "unit" and served["pid"] is None
    assert served["build"]["vllm_version"] == "0.32.0+cpu" and served["model"]["hf_revision"] == "3f2a9c1"


def test_a_main_pid_that_is_not_vllm_falls_back_to_the_unit(deployed):
    """MainPID reused, or the main process not (yet) vLLM: its argv is not read as vLLM's."""
    venv, model = deployed
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        served = served_facts.served({"MainPID": str(sleeper.pid), "ExecStart": exec_start(venv, model)})
    finally:
        sleeper.kill()
        sleeper.wait()
    assert served["source"] == "unit" and served["model"]["version"] == VERSION


def test_without_manifest_or_marker_the_names_still_show(tmp_path):
    served = served_facts.served({"ExecStart": exec_start(tmp_path / "b/vllm-cuda-00000000000a",
                                                         tmp_path / "m/qwen-awq-00000000000b")})
    assert served["build"] == {"path": str(tmp_path / "b/vllm-cuda-00000000000a"), "id": "vllm-cuda-00000000000a",
                               "vllm_version": None, "accelerator": None}
    assert served["model"]["version"] == "qwen-awq-00000000000b" and served["model"]["name"] == "qwen-awq"
    assert served["model"]["manifest"] is False and served["model"]["hf_revision"] is None


def test_nothing_known_is_all_null():
    assert served_facts.served(None) == {"source": None, "pid": None, "served_model_name": None, "build": None,
                                        "model": None, "pending": None}


def test_serve_command_lines():
    parse = parse_serve_argv
    argv = ["/usr/bin/python3", "/v/bin/vllm", "serve", "/m", "--served-model-name", "a", "b", "--port", "1"]
    assert parse(argv) == {"venv": "/v", "model": "/m", "served_model_name": "a"}
    assert parse(["/v/bin/vllm", "serve", "/m"]) == {"venv": "/v", "model": "/m", "served_model_name": "/m"}
    assert parse(["/v/bin/python", "-m", "vllm.entrypoints.openai.api_server", "--model=/m"]) == {
        "venv": "/v", "model": "/m", "served_model_name": "/m"}
    assert parse(["python3", "-m", "http.server", "--directory", "/srv/vllm", "8001"]) is None
    assert parse(["/v/bin/vllm", "bench", "/m"]) is None
    assert exec_start_argv("") is None


# --------------------------------------------------------------------------- guard event


@pytest.fixture
def fake_tools(tmp_path):
    """A PATH with the journalctl test double (and nothing else of systemd)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable(bin_dir / "journalctl", FAKE_JOURNALCTL.format(python=sys.executable))
    return bin_dir


def tools_env(bin_dir, **more):
    return dict(os.environ, PATH="%s:/usr/bin:/bin" % bin_dir, **more)


def guard_entry(port, message, stamp="1796200000123456"):
    """A journal entry of the guard about ``port``: ``message`` after the event's port field."""
    event, _, rest = message.partition(" ")
    return dict(JOURNAL_ENTRY, MESSAGE="%s port=%d %s" % (event, port, rest) if rest else "%s port=%d" % (event, port),
                __REALTIME_TIMESTAMP=stamp)


def test_last_guard_event_and_its_time(fake_tools, tmp_path):
    journal, port = tmp_path / "journal.json", free_port()
    entry = guard_entry(port, 'VLLM_PORT_HELD_UNKNOWN pid=777 cmd="python3 -m http.server"')
    journal.write_text(json.dumps(entry) + "\n")
    facts = status_json("--port", port, env=tools_env(fake_tools, FAKE_JOURNAL=str(journal)))
    assert facts["guard"] == {"event": "VLLM_PORT_HELD_UNKNOWN", "message": entry["MESSAGE"],
                              "time": "2026-12-02T08:26:40+00:00", "error": None}


def test_the_last_guard_event_is_the_ports_own(fake_tools, tmp_path):
    """Lanes share the guard's journal: each port's status names its own newest decision, not a newer
    one about another lane's port, nor a line whose command merely quotes its port."""
    journal, port = tmp_path / "journal.json", free_port()
    other = port + 1 if port < 65535 else port - 1
    own = guard_entry(port, "VLLM_PORT_RECLAIMED", "1796200000000000")
    journal.write_text("".join(json.dumps(entry) + "\n" for entry in (
        guard_entry(port, "VLLM_PORT_OK", "1796100000000000"), own,
        guard_entry(other, 'VLLM_PORT_HELD_UNKNOWN pid=9 cmd="x port=%d"' % port, "1796300000000000"),
        dict(JOURNAL_ENTRY, MESSAGE='VLLM_ORPHAN_RECLAIM pid=8 cmd="vllm serve --port=%d"' % port))))
    facts = status_json("--port", port, env=tools_env(fake_tools, FAKE_JOURNAL=str(journal)))
    assert facts["guard"]["message"] == "VLLM_PORT_RECLAIMED port=%d" % port, facts["guard"]
    assert facts["guard"]["time"] == "2026-12-02T08:26:40+00:00"
    facts = status_json("--port", other, env=tools_env(fake_tools, FAKE_JOURNAL=str(journal)))
    assert facts["guard"]["event"] == "VLLM_PORT_HELD_UNKNOWN"
    journal.write_text(json.dumps(guard_entry(other, "VLLM_PORT_OK")) + "\n")
    facts = status_json("--port", port, env=tools_env(fake_tools, FAKE_JOURNAL=str(journal)))
    assert facts["guard"] == {"event": None, "message": None, "time": None, "error": None}


def test_a_message_that_is_not_utf8(fake_tools, tmp_path):
    """journalctl prints such a MESSAGE as an array of bytes."""
    journal, port = tmp_path / "journal.json", free_port()
    journal.write_text(json.dumps(dict(JOURNAL_ENTRY, MESSAGE=list(b"VLLM_PORT_OK port=%d \xff" % port))) + "\n")
    facts = status_json("--port", port, env=tools_env(fake_tools, FAKE_JOURNAL=str(journal)))
    assert facts["guard"]["event"] == "VLLM_PORT_OK"
    assert facts["guard"]["message"] == "VLLM_PORT_OK port=%d \\xff" % port


def test_no_guard_event_yet(fake_tools, tmp_path):
    journal = tmp_path / "journal.json"
    journal.write_text("")
    facts = status_json("--port", free_port(), env=tools_env(fake_tools, FAKE_JOURNAL=str(journal)))
    assert facts["guard"] == {"event": None, "message": None, "time": None, "error": None}


def test_journal_errors_are_reported_not_raised(fake_tools, tmp_path):
    facts = status_json("--port", free_port(), env=tools_env(
        fake_tools, FAKE_JOURNAL_FAIL="No journal files were opened due to insufficient permissions."))
    assert facts["guard"]["error"] == ("journalctl exited 1: No journal files were opened due to insufficient "
                                       "permissions.")
    # journalctl exits 0 when it may read no journal file at all; its hints are not errors.
    facts = status_json("--port", free_port(), env=tools_env(
        fake_tools, FAKE_JOURNAL_RC="0", FAKE_JOURNAL_FAIL="No journal files were opened due to insufficient permissions."))
    assert facts["guard"] == {"event": None, "message": None, "time": None, "error": (
        "journalctl: No journal files were opened due to insufficient permissions.")}
    facts = status_json("--port", free_port(), env=tools_env(
        fake_tools, FAKE_JOURNAL_RC="0", FAKE_JOURNAL_FAIL="Hint: You are currently not seeing messages from other users."))
    assert facts["guard"]["error"] is None
    empty = tmp_path / "empty"
    empty.mkdir()
    facts = status_json("--port", free_port(), env=dict(os.environ, PATH=str(empty)))
    assert facts["guard"]["error"] == "journalctl not found"
    assert facts["unit"] is None and facts["gpu"] is None


# --------------------------------------------------------------------------- GPU memory


def gpu_env(bin_dir, folder):
    os.symlink(os.path.join(FAKES, "nvidia-smi"), bin_dir / "nvidia-smi")
    return tools_env(bin_dir, FAKE_NVIDIA_SMI_DIR=str(folder))


def test_gpu_memory_where_nvidia_smi_exists(fake_tools, tmp_path):
    folder = gpu_host(tmp_path / "smi", [dict(H100, used=70123, free=H100["total"] - 70123), H100])
    facts = status_json("--port", free_port(), env=gpu_env(fake_tools, folder))
    need = -(-H100["total"] * 85 // 100)  # the role's default utilization, 0.85, rounded up as the gate does
    assert facts["gpu"] == {"error": None, "gpus": [
        {"index": 0, "name": H100["name"], "memory_used_mib": 70123, "memory_total_mib": H100["total"],
         "memory_free_mib": H100["total"] - 70123, "need_mib": need, "short": True, "holders": []},
        {"index": 1, "name": H100["name"], "memory_used_mib": 0, "memory_total_mib": H100["total"],
         "memory_free_mib": H100["free"], "need_mib": need, "short": False, "holders": []}]}
    assert facts["hint"] is None  # short, but nobody the driver names holds it


def sleeper(tmp_path, name):
    """A real process whose identity is ``name`` (a script of that name), started for the test."""
    script = tmp_path / name
    script.write_text("#!%s\nimport time\ntime.sleep(120)\n" % sys.executable)
    script.chmod(0o755)
    proc = subprocess.Popen([str(script), "--big-batch"])
    return proc


@pytest.fixture
def gpu_holders(tmp_path):
    procs = []

    def start(name):
        procs.append(sleeper(tmp_path, name))
        return procs[-1]
    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_gpu_hint_names_the_largest_holder_that_is_not_ours(fake_tools, tmp_path, gpu_holders):
    train, other, ours = gpu_holders("train.py"), gpu_holders("notebook"), gpu_holders("vllm")
    folder = gpu_host(tmp_path / "smi", [dict(H100, used=80000, free=1559), H100], apps=[
        (0, train.pid, 60000, "python3"), (0, other.pid, 4000, "python3"), (0, ours.pid, 16000, "vllm")])
    config = tmp_path / "service.conf"
    config.write_text("port=%d\ngpus=0\ngpu_memory_utilization=0.5\n" % free_port())
    env = gpu_env(fake_tools, folder)
    facts = status_json("--config", str(config), env=env)
    gpu0, gpu1 = facts["gpu"]["gpus"]
    assert gpu0["need_mib"] == -(-H100["total"] // 2) and gpu0["short"] is True
    assert gpu1["need_mib"] is None and gpu1["short"] is False  # not a GPU the unit uses
    assert [(h["pid"], h["mib"], h["ours"]) for h in gpu0["holders"]] == [
        (train.pid, 60000, False), (other.pid, 4000, False), (ours.pid, 16000, True)]
    assert gpu0["holders"][0]["cmd"] == "%s %s --big-batch" % (sys.executable, tmp_path / "train.py")
    assert facts["hint"] == (
        "HINT: vLLM blocked \u2014 GPU 0 has 1559 MiB free, needs %d MiB; held by pid=%d cmd=\"%s %s --big-batch\" "
        "(60000 MiB). Stop it, then restart openclaw-vllm.service." % (gpu0["need_mib"], train.pid, sys.executable,
                                                                       tmp_path / "train.py"))
    text = subprocess.run([STATUS, "status", "--verbose", "--config", str(config)], env=env, capture_output=True,
                          text=True, timeout=60).stdout.splitlines()
    assert "gpu 0: 80000/%d MiB used (%s), needs %d free: short" % (H100["total"], H100["name"], gpu0["need_mib"]) in text
    assert any(line.startswith("  gpu 0: pid=%d (ours) 16000 MiB" % ours.pid) for line in text), text
    assert any(line.startswith("  gpu 0: pid=%d (not ours) 60000 MiB" % train.pid) for line in text), text
    assert text[-1] == facts["hint"]


def test_gpu_hint_for_a_holder_the_driver_gives_no_pid_for(fake_tools, tmp_path):
    """nvidia-smi prints [N/A] for a process in another PID namespace: the hint says '?', not None."""
    folder = gpu_host(tmp_path / "smi", [dict(H100, used=80000, free=1559)], apps=[(0, "[N/A]", "[N/A]", "python3")])
    config = tmp_path / "service.conf"
    config.write_text("port=%d\ngpus=0\n" % free_port())
    facts = status_json("--config", str(config), env=gpu_env(fake_tools, folder))
    assert facts["gpu"]["gpus"][0]["holders"] == [{"pid": None, "cmd": "python3", "mib": None, "ours": False}]
    assert "held by pid=? cmd=\"python3\" (? MiB)" in facts["hint"], facts["hint"]


def test_no_gpu_hint_when_only_ours_hold_it_or_it_is_not_short(fake_tools, tmp_path, gpu_holders):
    ours, train = gpu_holders("vllm"), gpu_holders("train.py")
    config = tmp_path / "service.conf"
    config.write_text("port=%d\n" % free_port())
    only_ours = gpu_host(tmp_path / "ours", [dict(H100, used=80000, free=1559)], apps=[(0, ours.pid, 78000, "vllm")])
    facts = status_json("--config", str(config), env=gpu_env(fake_tools, only_ours))
    assert facts["gpu"]["gpus"][0]["short"] and facts["hint"] is None
    roomy = gpu_host(tmp_path / "roomy", [dict(H100, used=2000, free=79559)], apps=[(0, train.pid, 2000, "python3")])
    (fake_tools / "nvidia-smi").unlink()
    facts = status_json("--config", str(config), env=gpu_env(fake_tools, roomy))
    assert not facts["gpu"]["gpus"][0]["short"] and facts["hint"] is None


def test_service_config_gpu_values_are_checked(tmp_path):
    config = tmp_path / "service.conf"
    for line, said in [("gpus=0 1", "gpus must be GPU indexes or UUIDs"),
                       ("gpus=$(reboot)", "gpus must be GPU indexes or UUIDs"),
                       ("gpu_memory_utilization=1.5", "gpu_memory_utilization must be in (0, 1]"),
                       ("gpu_memory_utilization=most", "gpu_memory_utilization must be a number")]:
        config.write_text("port=8001\n%s\n" % line)
        result = subprocess.run([STATUS, "status", "--config", str(config)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and said in result.stderr, (line, result.stderr)


def test_gpu_error_is_reported(fake_tools, tmp_path):
    folder = gpu_host(tmp_path / "smi", [H100], fail="NVIDIA-SMI has failed because it couldn't communicate with "
                                                     "the NVIDIA driver.")
    facts = status_json("--port", free_port(), env=gpu_env(fake_tools, folder))
    assert facts["gpu"]["gpus"] == []
    assert facts["gpu"]["error"].endswith("exited 9: NVIDIA-SMI has failed because it couldn't communicate with "
                                          "the NVIDIA driver.")


def test_verbose_text_names_what_is_served(vllm_serve):
    proc, port = vllm_serve()
    result = subprocess.run([STATUS, "status", "--verbose", "--port", str(port)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    assert ("serving: tiny = %s (hf revision 3f2a9c1) on %s (vllm 0.32.0+cpu) [from the port holder pid=%d]"
            % (VERSION, BUILD, proc.pid)) in result.stdout.splitlines()
