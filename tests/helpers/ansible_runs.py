"""Ansible as a role or an operator runs it: one module (``ansible -m``) or one role in a play
(``ansible-playbook``), on localhost, with the json callback; the results as Python data."""
import json
import os
import subprocess
import sys

from helpers.paths import ANSIBLE, ANSIBLE_PLAYBOOK, ROOT


def ansible_env(base=None, **more):
    """The environment of a run: the project's ansible.cfg and the json stdout callback."""
    return dict(base if base is not None else os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), **more)


def run_module(name, args, check=False, env=None, timeout=120, extra_vars=None):
    """``ansible localhost -m openclaw.vllm.NAME -a ARGS`` (a dict, sent as JSON, or key=value
    text; NAME with a dot is a module of another collection); returns the task result."""
    cmd = [ANSIBLE, "localhost", "-i", "localhost,", "-c", "local", "-e",
           "ansible_python_interpreter=%s" % sys.executable, "-m", name if "." in name else "openclaw.vllm." + name,
           "-a", args if isinstance(args, str) else json.dumps(args)] + (["--check"] if check else [])
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(env), capture_output=True, text=True, timeout=timeout)
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def run_role(tmp_path, role, extra_vars, check=False, tags=None, tasks_from="main"):
    """Apply one collection role (its entry point ``tasks_from``, checked against its argument_specs)
    to localhost; return (rc, failed task results, all results, stats)."""
    play = tmp_path / ("play-%s.yml" % role)
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "Apply the role", "ansible.builtin.import_role": {"name": "openclaw.vllm." + role,
                                                                  "tasks_from": tasks_from}}]}]))
    cmd = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
           "-e", json.dumps(extra_vars), str(play)]
    if check:
        cmd.append("--check")
    if tags:
        cmd += ["--tags", tags]
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=600)
    output = json.loads(proc.stdout)
    results = [(task["task"]["name"], task["hosts"]["localhost"])
               for play_out in output["plays"] for task in play_out["tasks"] if "localhost" in task["hosts"]]
    failed = [result for name, result in results if result.get("failed")]
    return proc.returncode, failed, results, output["stats"]["localhost"]


def service_preflight(tmp_path, **more):
    """vllm_service's preflight alone (its phase tag), on a stand-in venv and model under tmp_path."""
    venv, model = tmp_path / "venv", tmp_path / "model"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    (venv / "bin" / "vllm").write_text("#!/bin/sh\n")
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    return run_role(tmp_path, "vllm_service", {"vllm_service_venv_path": str(venv),
                                               "vllm_service_model_path": str(model), **more},
                    tags="vllm_service_preflight")
