# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the running unit serves: the build and model version from the running process's argv
(else the unit's ExecStart), read from their markers."""

import json
import os
import re

from .argv import clean_text


BUILD_MARKER = ".openclaw-build.json"  # written by the vllm_venv role into each finished build
MODEL_MANIFEST = ".openclaw-manifest.json"  # written by the awq_model role into each model version
_VERSION_NAME = re.compile(r"^(?P<name>.+)-(?P<hash>[0-9a-f]{12})$")


def exec_start_argv(value):
    """argv of the first command in ``systemctl show -p ExecStart`` output, or None.

    systemd prints ``{ path=... ; argv[]=ARG ARG ... ; ignore_errors=no ; ... }``: the
    arguments joined by single spaces, unquoted (our paths have no spaces)."""
    match = re.search(r"argv\[\]=(.*?) ; ignore_errors=", value or "")
    return match.group(1).split(" ") if match else None


def proc_argv(pid):
    """argv of a live process from /proc/<pid>/cmdline (undecodable bytes as ``\\xNN``), or None."""
    try:
        with open("/proc/%d/cmdline" % int(pid), "rb") as handle:
            data = handle.read()
    except (OSError, ValueError):
        return None
    if not data:
        return None
    return [clean_text(arg.decode("utf-8", "surrogateescape")) for arg in data.rstrip(b"\0").split(b"\0")]


def _option(argv, name):
    """Values of ``--name V [V ...]`` or ``--name=V`` in argv (first occurrence), or None."""
    for index, arg in enumerate(argv):
        if arg == name:
            values = []
            for value in argv[index + 1:]:
                if value.startswith("--"):
                    break
                values.append(value)
            return values or None
        if arg.startswith(name + "="):
            return [arg.split("=", 1)[1]]
    return None


def parse_serve_argv(argv):
    """{'venv', 'model', 'served_model_name'} from a ``vllm serve`` command line
    (``[python] <venv>/bin/vllm serve MODEL ...``, or ``<venv>/bin/python -m
    vllm.entrypoints.openai.api_server --model MODEL``); None for anything else."""
    if not argv:
        return None
    venv = model = None
    for index, arg in enumerate(argv[:3]):
        if arg.rsplit("/", 1)[-1] == "vllm" and "/" in arg and argv[index + 1:index + 2] == ["serve"]:
            venv = os.path.dirname(os.path.dirname(arg))
            rest = argv[index + 2:]
            model = rest[0] if rest and not rest[0].startswith("-") else None
            break
        if arg == "-m" and argv[index + 1:index + 2] == ["vllm.entrypoints.openai.api_server"]:
            venv = os.path.dirname(os.path.dirname(argv[0])) if "/" in argv[0] else None
            break
    else:
        return None
    if model is None:
        model = (_option(argv, "--model") or [None])[0]
    names = _option(argv, "--served-model-name")
    return {"venv": venv, "model": model, "served_model_name": names[0] if names else model}


def _read_json(path):
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def build_facts(venv):
    """{'path', 'id', 'vllm_version', 'accelerator'} of a venv build: its directory name
    (``vllm-cpu-<12 hex>``) and what its ``.openclaw-build.json`` marker says (null when absent)."""
    if not venv:
        return None
    marker = _read_json(os.path.join(venv, BUILD_MARKER)) or {}
    return {"path": venv, "id": os.path.basename(venv.rstrip("/")),
            "vllm_version": marker.get("vllm_version"), "accelerator": marker.get("accelerator")}


def model_facts(path):
    """{'path', 'version', 'name', 'hf_repo', 'hf_revision', 'source'} of a model version: its
    directory name (``<name>-<12 hex>``) and what its ``.openclaw-manifest.json`` says
    (hf_* null when absent or not from the Hugging Face Hub)."""
    if not path:
        return None
    manifest = _read_json(os.path.join(path, MODEL_MANIFEST))
    version = os.path.basename(path.rstrip("/"))
    match = _VERSION_NAME.match(version)
    hf = (manifest or {}).get("hf") or {}
    identity = (manifest or {}).get("identity") or {}
    return {"path": path, "version": version, "name": match.group("name") if match else version,
            "manifest": manifest is not None, "hf_repo": hf.get("repo"), "hf_revision": hf.get("revision"),
            "source": identity.get("source") if isinstance(identity, dict) else None}


def served(shown, holders=()):
    """What the service serves: the build and model version of the RUNNING process (its
    MainPID's cmdline), else of what the unit's ExecStart names, else of our (vllm-like)
    holder of the port (no systemd user manager, e.g. a vLLM started by hand). During a
    roll-out the links and the running process can differ: the process wins, and
    ``pending`` names what the unit would start instead, when that differs."""
    shown = shown or {}
    unit_serve = parse_serve_argv(exec_start_argv(shown.get("ExecStart")))
    source, pid, serve = None, None, None
    main_pid = int(shown.get("MainPID") or 0) if str(shown.get("MainPID") or "0").isdigit() else 0
    if main_pid > 0:
        serve = parse_serve_argv(proc_argv(main_pid))
        if serve:
            source, pid = "process", main_pid
    if serve is None and unit_serve:
        source, serve = "unit", unit_serve
    if serve is None:
        for holder in holders:
            found = parse_serve_argv(list(holder.argv)) if holder.kind == "vllm_like" else None
            if found:
                source, pid, serve = "port", holder.pid, found
                break
    if serve is None:
        return {"source": None, "pid": None, "served_model_name": None, "build": None, "model": None,
                "pending": None}
    pending = None
    if source == "process" and unit_serve and (unit_serve["venv"], unit_serve["model"]) != (
            serve["venv"], serve["model"]):
        pending = {"build": unit_serve["venv"], "model": unit_serve["model"]}
    return {"source": source, "pid": pid, "served_model_name": serve["served_model_name"],
            "build": build_facts(serve["venv"]), "model": model_facts(serve["model"]), "pending": pending}
