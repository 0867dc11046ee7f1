"""The guard's and the GPU gate's decisions as Prometheus textfile metrics: the real CLIs, real
ports and processes, the file checked by Debian's promtool (`promtool check metrics`).

The GPU gate runs against the nvidia-smi TEST DOUBLE (tests/fakes/nvidia-smi): there is no GPU
here, and the gate, not the driver, is under test."""
import os
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers.gpu_double import GATE, H100, env_for, gpu_host, held
from helpers.paths import GUARD, ROOT
from helpers.procs import free_port, wait_gone
from helpers.promtool import promtool, samples

UNIT = "openclaw-vllm.service"


def configure(tmp_path, port, metrics_dir=None):
    """A service config naming a metrics directory (created unless told otherwise)."""
    metrics_dir = metrics_dir or tmp_path / "metrics"
    if not os.path.exists(metrics_dir):
        os.makedirs(metrics_dir)
    config = tmp_path / "config" / "openclaw-vllm"
    config.mkdir(parents=True, exist_ok=True)
    (config / "service.conf").write_text("port=%d\nunit=%s\nmetrics_dir=%s\n" % (port, UNIT, metrics_dir))
    return dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))


def guard(env, *args):
    """The guard as ExecStartPre runs it: umask 0077 (the unit's UMask=), the port from the config."""
    return subprocess.run([GUARD, *args], env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: os.umask(0o077))


def prom(tmp_path, port):
    path = tmp_path / "metrics" / ("openclaw-vllm-%d.prom" % port)
    promtool("check", "metrics", stdin=path.read_bytes())
    return path, samples(path.read_text())


def decisions(values, port, **want):
    labels = 'port="%d",unit="%s",decision="%%s"' % (port, UNIT)
    return {name: values.get('openclaw_vllm_guard_decisions_total{%s}' % (labels % name)) for name in want}


def test_each_start_counts_its_decision_and_the_refusal_shows(tmp_path, spawn):
    port = free_port()
    env = configure(tmp_path, port)
    assert guard(env).returncode == 0
    assert guard(env).returncode == 0
    path, values = prom(tmp_path, port)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644, "node_exporter runs as another user"
    assert decisions(values, port, ok=1) == {"ok": 2}
    assert values['openclaw_vllm_guard_refusing{port="%d",unit="%s"}' % (port, UNIT)] == 0

    holder = spawn("nginx", "--port", port, shell_exec_a=True)
    refused = guard(env)
    assert refused.returncode == 42 and refused.stderr.startswith("VLLM_PORT_HELD_UNKNOWN"), refused.stderr
    _path, values = prom(tmp_path, port)
    assert decisions(values, port, ok=1, held_unknown=1) == {"ok": 2, "held_unknown": 1}
    assert values['openclaw_vllm_guard_refusing{port="%d",unit="%s"}' % (port, UNIT)] == 1
    info = [key for key in values if key.startswith("openclaw_vllm_guard_last_decision_info{")]
    assert len(info) == 1 and 'decision="held_unknown",holder_pid="%d",holder_cmd="nginx ' % holder.pid in info[0]
    assert holder.alive()


def test_a_reclaim_counts_the_stray_and_the_reclaim(tmp_path, spawn):
    port = free_port()
    env = configure(tmp_path, port)
    stray = spawn("vllm-stray", "--port", port, shell_exec_a=True)
    result = guard(env)
    assert result.returncode == 0, result.stderr
    assert wait_gone(stray.pid)
    _path, values = prom(tmp_path, port)
    assert decisions(values, port, reclaim=1, reclaimed=1, ok=1) == {"reclaim": 1, "reclaimed": 1, "ok": 1}
    info = [key for key in values if key.startswith("openclaw_vllm_guard_last_decision_info{")]
    assert info == ['openclaw_vllm_guard_last_decision_info{port="%d",unit="%s",decision="reclaimed"}' % (port, UNIT)]


def test_a_holder_cmd_of_any_text_stays_one_valid_label(tmp_path, spawn):
    """argv is text anyone chooses: quotes, backslashes, newlines and bytes that are not UTF-8."""
    port = free_port()
    env = configure(tmp_path, port)
    spawn('evil"} 1\nopenclaw_vllm_guard_refusing{port="1"} 0 \\ \udcff', "--port", port, shell_exec_a=True)
    assert guard(env).returncode == 42
    _path, values = prom(tmp_path, port)  # promtool parses it
    assert values['openclaw_vllm_guard_refusing{port="%d",unit="%s"}' % (port, UNIT)] == 1
    assert not any(key.startswith('openclaw_vllm_guard_refusing{port="1"') for key in values)
    assert guard(env).returncode == 42  # and the next run reads its own file back
    _path, values = prom(tmp_path, port)
    assert decisions(values, port, held_unknown=1) == {"held_unknown": 2}


def test_concurrent_starts_lose_no_count(tmp_path):
    port = free_port()
    env = configure(tmp_path, port)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: guard(env).returncode, range(16)))
    assert codes == [0] * 16
    _path, values = prom(tmp_path, port)
    assert decisions(values, port, ok=1) == {"ok": 16}
    assert sorted(os.listdir(tmp_path / "metrics")) == ["openclaw-vllm-%d.prom" % port], "no temp file left"


def test_a_look_is_not_a_decision(tmp_path):
    port = free_port()
    env = configure(tmp_path, port)
    assert guard(env, "--probe-only").returncode == 0
    assert os.listdir(tmp_path / "metrics") == []


@pytest.mark.parametrize("broken", ["missing", "a file", "symlinked file"])
def test_a_failed_write_never_changes_the_decision(tmp_path, spawn, broken):
    port = free_port()
    target = tmp_path / "metrics"
    if broken == "missing":
        env = configure(tmp_path, port, metrics_dir=target)
        os.rmdir(target)
    elif broken == "a file":
        target.write_text("")
        env = configure(tmp_path, port, metrics_dir=target)
    else:
        env = configure(tmp_path, port)
        (target / ("openclaw-vllm-%d.prom" % port)).symlink_to("/etc/passwd")
    command = [GUARD]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "VLLM_PORT_OK port=%d" % port
    assert lines[1].startswith('VLLM_METRICS_WRITE_FAILED reason="'), lines
    assert len(lines) == 2
    if broken == "symlinked file":
        assert (target / ("openclaw-vllm-%d.prom" % port)).is_symlink(), "never written through"

    spawn("nginx", "--port", port, shell_exec_a=True)
    assert subprocess.run(command, env=env, capture_output=True, timeout=60).returncode == 42


def test_the_gpu_gate_counts_passed_refused_and_skipped(tmp_path):
    port = free_port()
    env = configure(tmp_path, port)

    def gate(folder, *args):
        run_env = dict(env_for(folder), XDG_CONFIG_HOME=env["XDG_CONFIG_HOME"], PYTHONPATH=str(ROOT / "collections"))
        run_env.pop("CUDA_VISIBLE_DEVICES", None)
        return subprocess.run(GATE + ["--wait", "0", *args], env=run_env, capture_output=True, text=True, timeout=30)

    assert gate(gpu_host(tmp_path / "ok", [H100])).returncode == 0
    trainer = os.getpid()  # a real process as the GPU's holder: the gate reads its cmd from /proc
    assert gate(gpu_host(tmp_path / "short", [H100, held(H100, 70000)],
                         apps=[(1, trainer, 70000, "python3")])).returncode == 43
    _path, values = prom(tmp_path, port)
    gate_labels = 'port="%d",unit="%s"' % (port, UNIT)
    assert values['openclaw_vllm_gpu_gate_refusing{%s}' % gate_labels] == 1
    info = [key for key in values if key.startswith("openclaw_vllm_gpu_gate_last_decision_info{")]
    assert len(info) == 1, info
    assert ('%s,decision="refused",gpu="1",free_mib="11004",need_mib="69326",holder_pid="%d",holder_cmd="'
            % (gate_labels, trainer)) in info[0] and info[0].endswith('holder_mib="70000"}'), info
    assert gate(gpu_host(tmp_path / "gone", [H100]), "--gpus", "0,7").returncode == 43
    _path, values = prom(tmp_path, port)
    assert [key for key in values if key.startswith("openclaw_vllm_gpu_gate_last_decision_info{")] == [
        'openclaw_vllm_gpu_gate_last_decision_info{%s,decision="refused",gpu="7",missing="true"}' % gate_labels]
    assert gate(gpu_host(tmp_path / "none", [H100], fail="No devices were found\n")).returncode == 0
    assert guard(env).returncode == 0  # the guard's and the gate's metrics share the port's file
    _path, values = prom(tmp_path, port)
    counted = {d: values.get('openclaw_vllm_gpu_gate_decisions_total{%s,decision="%s"}' % (gate_labels, d))
               for d in ("passed", "refused", "skipped")}
    assert counted == {"passed": 1, "refused": 2, "skipped": 1}
    assert values['openclaw_vllm_gpu_gate_refusing{%s}' % gate_labels] == 0
    assert decisions(values, port, ok=1) == {"ok": 1}


def test_what_the_unit_runs_is_reported_at_each_start(tmp_path):
    """The unit's Environment= names its build and model version (ExecStartPre inherits it): a
    rolled-back unit reports the old ones at its next start, and only one series is left."""
    port = free_port()
    env = configure(tmp_path, port)
    for build, version in (("vllm-0.33.0-a1b2", "v2"), ("vllm-0.32.0-c3d4", "v1")):
        deployed = dict(env, OPENCLAW_VLLM_BUILD=build, OPENCLAW_VLLM_MODEL_VERSION=version,
                        OPENCLAW_VLLM_SERVED_MODEL_NAME="assistant")
        assert guard(deployed).returncode == 0
    _path, values = prom(tmp_path, port)
    assert [key for key in values if key.startswith("openclaw_vllm_deployed_info")] == [
        'openclaw_vllm_deployed_info{port="%d",unit="%s",build="vllm-0.32.0-c3d4",model_version="v1",'
        'served_model_name="assistant"}' % (port, UNIT)]


@pytest.mark.parametrize("planted", ["fifo", "non-finite"])
def test_what_a_neighbour_left_in_the_file_place_never_hangs_or_sticks(tmp_path, planted):
    """A FIFO where the file was (a read would block the start) is refused with one warning; a
    NaN a hand edit left is dropped, and the count starts again."""
    port = free_port()
    env = configure(tmp_path, port)
    path = tmp_path / "metrics" / ("openclaw-vllm-%d.prom" % port)
    if planted == "fifo":
        os.mkfifo(path)
    else:
        path.write_text('openclaw_vllm_guard_decisions_total{port="%d",unit="%s",decision="ok"} NaN\n' % (port, UNIT))
    result = subprocess.run([GUARD], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines[0] == "VLLM_PORT_OK port=%d" % port
    if planted == "fifo":
        assert lines[1].startswith('VLLM_METRICS_WRITE_FAILED reason="ValueError: is not a regular file'), lines
    else:
        assert lines == ["VLLM_PORT_OK port=%d" % port]
        _path, values = prom(tmp_path, port)
        assert decisions(values, port, ok=1) == {"ok": 1}
