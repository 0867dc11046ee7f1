"""What a lane's unit and config are called on the host (module_utils/host/lanes.py), and the host
commands reading a lane's config: `openclaw-vllm status --lane`, the GPU gate's `--config` (its
metrics go to the lane's port). Real CLIs, real configs in a temporary XDG_CONFIG_HOME; the GPU
gate runs against the nvidia-smi TEST DOUBLE (no GPU here)."""
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils.host import lanes
from ansible_collections.openclaw.vllm.plugins.module_utils.host.health import check_health, health_url
from ansible_collections.openclaw.vllm.plugins.module_utils.host.inputs import UsageError
from helpers.gpu_double import GATE, H100, env_for, gpu_host
from helpers.paths import ROOT, STATUS
from helpers.procs import free_port
from helpers.promtool import samples


def test_the_default_lane_keeps_the_unit_and_config_of_a_host_without_lanes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert lanes.lane_unit("default") == "openclaw-vllm.service"
    assert lanes.lane_config_path("default") == str(tmp_path / "openclaw-vllm" / "service.conf")
    assert lanes.lane_unit("chat") == "openclaw-vllm-chat.service"
    assert lanes.lane_config_path("chat") == str(tmp_path / "openclaw-vllm" / "lanes" / "chat" / "service.conf")
    assert lanes.lane_config_dir("chat") == "lanes/chat" and lanes.lane_config_dir("default") == ""


@pytest.mark.parametrize("name", ["", "Chat", "a_b", "-a", "a-", "a/b", "..", "x" * 33, None, 7])
def test_a_name_that_cannot_be_a_unit_or_directory_is_refused(name):
    with pytest.raises(UsageError, match="lane %s: expected lowercase letters, digits and inner dashes"
                       % repr(name).replace("(", r"\(").replace("[", r"\[")):
        lanes.lane_unit(name)


def write_config(home, lane, port, **more):
    folder = home / "openclaw-vllm" / lanes.lane_config_dir(lane)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["port=%d" % port, "unit=%s" % lanes.lane_unit(lane)] + ["%s=%s" % item for item in more.items()]
    (folder / "service.conf").write_text("\n".join(lines) + "\n")
    return folder


def status(home, *args):
    return subprocess.run([STATUS, "status", "--json", *args], env=dict(os.environ, XDG_CONFIG_HOME=str(home)),
                          capture_output=True, text=True, timeout=60)


def test_status_reads_the_lanes_config(tmp_path):
    write_config(tmp_path, "default", 18001)
    write_config(tmp_path, "code", 18002)
    default, code = status(tmp_path), status(tmp_path, "--lane", "code")
    assert json.loads(default.stdout)["port"] == 18001, default.stderr
    assert json.loads(code.stdout)["port"] == 18002, code.stderr
    assert json.loads(status(tmp_path, "--lane", "default").stdout)["port"] == 18001


def test_status_names_a_lane_without_a_config_and_bad_flags(tmp_path):
    missing = status(tmp_path, "--lane", "nope")
    assert missing.returncode == 2
    assert "config %s does not exist" % (tmp_path / "openclaw-vllm" / "lanes" / "nope" / "service.conf") \
        in missing.stderr
    bad = status(tmp_path, "--lane", "No")
    assert bad.returncode == 2 and "lane 'No': expected lowercase letters" in bad.stderr
    both = status(tmp_path, "--lane", "a", "--config", "/x")
    assert both.returncode == 2 and "--lane and --config both name a service config" in both.stderr


def test_the_gpu_gate_writes_a_lanes_decision_under_the_lanes_port(tmp_path):
    default_port, lane_port = free_port(), free_port()
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    write_config(tmp_path / "config", "default", default_port, metrics_dir=metrics)
    lane = write_config(tmp_path / "config", "code", lane_port, metrics_dir=metrics)
    run_env = dict(env_for(gpu_host(tmp_path / "ok", [H100])), XDG_CONFIG_HOME=str(tmp_path / "config"),
                   PYTHONPATH=str(ROOT / "collections"))
    run_env.pop("CUDA_VISIBLE_DEVICES", None)
    gate = subprocess.run(GATE + ["--wait", "0", "--config", str(lane / "service.conf")], env=run_env,
                          capture_output=True, text=True, timeout=30)
    assert gate.returncode == 0, gate.stderr
    assert sorted(os.listdir(metrics)) == ["openclaw-vllm-%d.prom" % lane_port]
    values = samples((metrics / ("openclaw-vllm-%d.prom" % lane_port)).read_text())
    assert values['openclaw_vllm_gpu_gate_decisions_total{port="%d",unit="openclaw-vllm-code.service",'
                  'decision="passed"}' % lane_port] == 1


def test_the_lanes_are_the_service_configs_found(tmp_path):
    assert lanes.lane_names(str(tmp_path / "openclaw-vllm")) == []
    write_config(tmp_path, "default", 18001)
    write_config(tmp_path, "zeta", 18003)
    write_config(tmp_path, "code", 18002)
    (tmp_path / "openclaw-vllm" / "lanes" / "Not_A_Lane").mkdir()
    (tmp_path / "openclaw-vllm" / "lanes" / "Not_A_Lane" / "service.conf").write_text("port=1\n")
    (tmp_path / "openclaw-vllm" / "lanes" / "empty").mkdir()
    assert lanes.lane_names(str(tmp_path / "openclaw-vllm")) == ["default", "code", "zeta"]


@pytest.fixture
def squatter(tmp_path):
    """A process not ours answering GET /health with 200 (a file named health, served by http.server)."""
    folder = tmp_path / "squat"
    folder.mkdir()
    (folder / "health").write_text("ok")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not check_health(health_url("127.0.0.1", port))["ok"]:
        assert time.monotonic() < deadline, "the squatter did not answer"
        time.sleep(0.05)
    yield port
    proc.kill()
    proc.wait()


def test_status_lists_every_lane_with_its_own_health(tmp_path, vllm_serve, squatter):
    """Our vLLM on the default lane (up), nothing on lane code (down), a stranger answering /health
    on lane web (held: never up). The exit status stays the default lane's."""
    _proc, port = vllm_serve()
    write_config(tmp_path, "default", port)
    free = free_port()
    write_config(tmp_path, "code", free)
    write_config(tmp_path, "web", squatter)
    result = status(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(result.stdout)["lanes"]
    assert [(row["lane"], row["unit"], row["port"], row["health"], row["healthy"]) for row in rows] == [
        ("default", "openclaw-vllm.service", port, "up", True),
        ("code", "openclaw-vllm-code.service", free, "down", False),
        ("web", "openclaw-vllm-web.service", squatter, "held", False)]
    text = subprocess.run([STATUS, "status"], env=dict(os.environ, XDG_CONFIG_HOME=str(tmp_path)),
                          capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "health: up (http://127.0.0.1:%d/health -> 200)" % port
    state = rows[0]["state"]
    assert lines[-3:] == [
        "lane default: openclaw-vllm.service 127.0.0.1:%d %s, health up" % (port, state),
        "lane code: openclaw-vllm-code.service 127.0.0.1:%d %s, health down" % (free, state),
        "lane web: openclaw-vllm-web.service 127.0.0.1:%d %s, health held" % (squatter, state)]
    # One lane asked for: its facts alone, its exit status.
    held = status(tmp_path, "--lane", "web")
    assert held.returncode == 1 and "lanes" not in json.loads(held.stdout)


def test_a_host_without_lanes_reads_as_before(tmp_path, vllm_serve):
    _proc, port = vllm_serve()
    write_config(tmp_path, "default", port)
    assert [row["lane"] for row in json.loads(status(tmp_path).stdout)["lanes"]] == ["default"]
    text = subprocess.run([STATUS, "status"], env=dict(os.environ, XDG_CONFIG_HOME=str(tmp_path)),
                          capture_output=True, text=True, timeout=60).stdout
    assert "lane " not in text, text


def test_a_lane_whose_config_cannot_be_read_never_hides_the_others(tmp_path, vllm_serve):
    _proc, port = vllm_serve()
    write_config(tmp_path, "default", port)
    (write_config(tmp_path, "bad", 18009) / "service.conf").write_bytes(b"port=\xff\n")
    (write_config(tmp_path, "huge", 18010) / "service.conf").write_bytes(b"# x\n" * 200000)
    os.mkfifo(write_config(tmp_path, "fifo", 18011) / "service.conf.fifo")
    fifo = tmp_path / "openclaw-vllm" / "lanes" / "fifo"
    (fifo / "service.conf").unlink()
    (fifo / "service.conf.fifo").rename(fifo / "service.conf")  # a FIFO where the config was: not a lane
    result = status(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["lane"]: row for row in json.loads(result.stdout)["lanes"]}
    assert sorted(rows) == ["bad", "default", "huge"]
    assert rows["default"]["health"] == "up" and rows["default"]["error"] is None
    for name in ("bad", "huge"):
        assert (rows[name]["health"], rows[name]["healthy"]) == ("unknown", False)
        assert rows[name]["error"].startswith("config %s" % (tmp_path / "openclaw-vllm" / "lanes" / name
                                                             / "service.conf")), rows[name]
    assert "line 1 is not UTF-8" in rows["bad"]["error"]
    text = subprocess.run([STATUS, "status"], env=dict(os.environ, XDG_CONFIG_HOME=str(tmp_path)),
                          capture_output=True, text=True, timeout=60)
    assert text.returncode == 0 and "lane bad: openclaw-vllm-bad.service config " in text.stdout, text.stdout
