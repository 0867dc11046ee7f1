"""Pruning through the roles, for real on this machine: two models (one name a prefix of the
other) and several vLLM builds on one host. Nothing another model or a link uses is removed."""
import os
import sys

import pytest

from helpers.ansible_runs import run_role
from helpers.models import fake_vllm_wheel, model_vars, variant


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths"),
]


def stage(tmp_path, name, source, **more):
    rc, failed, _, _ = run_role(tmp_path, "awq_model", model_vars(tmp_path, source, awq_model_name=name, **more))
    assert rc == 0, failed
    return os.path.realpath(tmp_path / "models" / name)


def test_two_models_one_name_a_prefix_of_the_other(tiny_model, tmp_path):
    versions = tmp_path / "models" / ".versions"
    qwen_1 = stage(tmp_path, "qwen", variant(tiny_model, tmp_path, "q1"))
    coder = stage(tmp_path, "qwen-coder", variant(tiny_model, tmp_path, "c1"))
    qwen_2 = stage(tmp_path, "qwen", variant(tiny_model, tmp_path, "q2"))
    qwen_3 = stage(tmp_path, "qwen", variant(tiny_model, tmp_path, "q3"))
    assert len({qwen_1, qwen_2, qwen_3, coder}) == 4
    # keep 2: the newest two of qwen; qwen-coder's only version stays, and its link resolves.
    assert sorted(os.listdir(versions)) == sorted(os.path.basename(p) for p in [qwen_2, qwen_3, coder])
    assert (tmp_path / "models" / "qwen-coder" / "config.json").is_file()
    # A link an operator made (a pinned rollback) keeps its version, even with keep 1, and so
    # does each model's previous link (.previous/<name>, what a rollback returns to).
    (tmp_path / "models" / "qwen-pinned").symlink_to(qwen_2)
    qwen_4 = stage(tmp_path, "qwen", variant(tiny_model, tmp_path, "q4"), awq_model_keep=1)
    assert os.path.realpath(tmp_path / "models" / ".previous" / "qwen") == qwen_3
    assert sorted(os.listdir(versions)) == sorted(os.path.basename(p) for p in [qwen_2, qwen_3, qwen_4, coder])
    coder_2 = stage(tmp_path, "qwen-coder", variant(tiny_model, tmp_path, "c2"), awq_model_keep=1)
    assert sorted(os.listdir(versions)) == sorted(os.path.basename(p) for p in [qwen_2, qwen_3, qwen_4, coder, coder_2])
    # The next qwen version moves qwen's previous link on: qwen_3 is no one's any more and goes.
    qwen_5 = stage(tmp_path, "qwen", variant(tiny_model, tmp_path, "q5"), awq_model_keep=1)
    assert sorted(os.listdir(versions)) == sorted(os.path.basename(p) for p in [qwen_2, qwen_4, qwen_5, coder, coder_2])
    assert os.path.realpath(tmp_path / "models" / "qwen") == qwen_5


def test_a_version_a_lane_still_runs_is_never_pruned(tiny_model, tmp_path):
    """vllm_service links <root>/.serving/<lane> to the version its unit names (serving_links.yml): a
    lane left on an old version (its own rollback, while the others moved on) keeps it."""
    qwen_1 = stage(tmp_path, "qwen", variant(tiny_model, tmp_path, "q1"))
    (tmp_path / "models" / ".serving").mkdir()
    (tmp_path / "models" / ".serving" / "b").symlink_to(qwen_1)
    qwen_2 = stage(tmp_path, "qwen", variant(tiny_model, tmp_path, "q2"), awq_model_keep=1)
    qwen_3 = stage(tmp_path, "qwen", variant(tiny_model, tmp_path, "q3"), awq_model_keep=1)
    assert sorted(os.listdir(tmp_path / "models" / ".versions")) == sorted(
        os.path.basename(p) for p in [qwen_1, qwen_2, qwen_3]), "qwen_1 is neither current nor previous, yet lane b runs it"
    (tmp_path / "models" / ".serving" / "b").unlink()
    qwen_4 = stage(tmp_path, "qwen", variant(tiny_model, tmp_path, "q4"), awq_model_keep=1)
    assert qwen_1 not in [os.path.realpath(p) for p in (tmp_path / "models" / ".versions").iterdir()]
    assert os.path.realpath(tmp_path / "models" / "qwen") == qwen_4


def test_builds_current_and_previous_are_never_pruned(tmp_path):
    root = tmp_path / "venvs"
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    for version in ("0.0.1", "0.0.2", "0.0.3"):
        fake_vllm_wheel(wheelhouse, version)

    def build(version):
        rc, failed, _, _ = run_role(tmp_path, "vllm_venv", {
            "vllm_venv_root": str(root), "vllm_venv_accelerator": "cpu", "vllm_venv_wheelhouse": str(wheelhouse),
            "vllm_venv_cpu_packages": ["vllm==" + version], "vllm_venv_cpu_remove_packages": [],
            "vllm_venv_python": sys.executable, "vllm_venv_min_free_gb": 0})
        assert rc == 0, failed
        return os.readlink(root / "current"), os.path.realpath(root / "previous")

    a, _ = build("0.0.1")
    b, prev = build("0.0.2")
    assert prev == a
    # A rollback to the first pins: no build, current is a again, previous is b.
    again, prev = build("0.0.1")
    assert (again, prev) == (a, b)
    c, prev = build("0.0.3")
    assert prev == a, "previous is the build that was in use"
    # a is the oldest build by mtime, yet previous links it: keep 2 means current and previous.
    os.utime(a, (1_600_000_000,) * 2)
    assert build("0.0.3") == (c, a)
    assert sorted(os.listdir(root / "builds")) == sorted(os.path.basename(p) for p in (a, c))
    assert (root / "previous" / "bin" / "python").exists(), "previous still resolves"
