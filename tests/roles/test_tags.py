"""Each documented phase tag works on its own, for real on this machine (roles applied to
localhost in a temp dir). After a full run, every tag alone succeeds and changes nothing; the
preflight checks run under every phase tag. (vllm_service's install, configure and run need a
user manager, which only the test host has: molecule/default/tests/test_phase_tags.py.)"""
import os
import sys

import pytest
import yaml

from helpers.ansible_runs import run_role
from helpers.models import fake_vllm_wheel, model_vars
from helpers.paths import ROOT


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths"),
]
ROLES = ROOT / "collections/ansible_collections/openclaw/vllm/roles"


PHASES = ("preflight", "install", "configure", "run")


def documented_tags(role):
    """The tags of the role's phases, as its phase files declare them (each on its one block)."""
    tags = set()
    for phase in PHASES:
        for entry in yaml.safe_load((ROLES / role / "tasks" / (phase + ".yml")).read_text()):
            tags.update(entry.get("tags", []))
    return sorted(tags)


def test_only_the_phase_files_name_the_phase_tags():
    """One place for each list: the entry points (main, stage, switch) import the phases as they are."""
    for role in ("vllm_venv", "awq_model", "vllm_service"):
        for entry_point in ("main", "stage", "switch"):
            path = ROLES / role / "tasks" / (entry_point + ".yml")
            if path.exists():
                tagged = [e for e in yaml.safe_load(path.read_text()) if set(e.get("tags", [])) - {"always"}]
                assert not tagged, (path, tagged)


def test_every_role_documents_its_phase_tags():
    for role in ("vllm_venv", "awq_model", "vllm_service"):
        tags = documented_tags(role)
        for phase in PHASES:
            assert role + "_" + phase in tags and phase in tags, (role, tags)
        assert role in tags


def run_tagged(tmp_path, role, extra_vars, tag):
    rc, failed, results, stats = run_role(tmp_path, role, extra_vars, tags=tag)
    return rc, failed, [name.split(" : ", 1)[-1] for name, _ in results], stats


def check_each_tag(tmp_path, role, extra_vars, preflight_task):
    rc, failed, _, _ = run_role(tmp_path, role, extra_vars)
    assert rc == 0, failed
    for tag in documented_tags(role):
        rc, failed, names, stats = run_tagged(tmp_path, role, extra_vars, tag)
        assert rc == 0, (tag, failed)
        assert stats["changed"] == 0, (tag, [n for n in names])
        assert preflight_task in names, "preflight runs under %s" % tag


def test_vllm_venv_tags_alone(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    fake_vllm_wheel(wheelhouse, "0.0.1")
    check_each_tag(tmp_path, "vllm_venv", {
        "vllm_venv_root": str(tmp_path / "venvs"), "vllm_venv_accelerator": "cpu",
        "vllm_venv_wheelhouse": str(wheelhouse), "vllm_venv_cpu_packages": ["vllm==0.0.1"],
        "vllm_venv_cpu_remove_packages": [], "vllm_venv_python": sys.executable, "vllm_venv_min_free_gb": 0},
        "Require a Python that the pinned vLLM supports")


def test_awq_model_tags_alone(tiny_model, tmp_path):
    check_each_tag(tmp_path, "awq_model", model_vars(tmp_path, tiny_model), "Look for this version of the model")


def test_vllm_service_preflight_tag_alone(tmp_path):
    venv, model = tmp_path / "venv", tmp_path / "model"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "vllm").write_text("#!/bin/sh\n")
    model.mkdir()
    (model / "config.json").write_text("{}")
    rc, failed, names, stats = run_tagged(tmp_path, "vllm_service", {
        "vllm_service_venv_path": str(venv), "vllm_service_model_path": str(model)}, "vllm_service_preflight")
    assert rc == 0, failed
    assert "Read the service user, the build, the model and systemd" in names
    assert not [n for n in names if n.startswith("Install") or n == "Create the service user"]
