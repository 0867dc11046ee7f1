# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``openclaw-vllm status``: health, port holder and unit state of the vLLM service.

Exit 0 when OUR service is up (``healthy``), 1 otherwise. Ours means: the unit is active with a
live MainPID and every listener on the port belongs to it (its cgroup, or MainPID's process
tree); where no systemd user manager answers (a vLLM started by hand), every holder is ours by
the port guard's rules. Then ``GET /health`` answers 200. A port answered by anyone else is
"held by <who>", never healthy, whatever it answers. ``--verbose`` adds the holders (of the
port, and of GPU memory) and, only when our service is not up AND a port holder is unknown (or a GPU
the unit uses is short of memory that a process not ours holds), one HINT line naming it.
The hint never changes the exit code. Installed on hosts beside port_guard.py and
gpu_facts.py.

``--json`` also says what the service serves (the build and model version the RUNNING
process was started with, read from /proc/<MainPID>/cmdline, else what the unit's
ExecStart names), the guard's last event from the journal and the GPUs' memory: the
facts of one row of the fleet status (fleet_status.py).

``--complete`` (the role's gate) also sends one real completion when healthy, with the API key
from the environment file beside the config (never from the command line), to our service
only: the key never reaches a holder that is not proven ours, no redirect is followed, and no
answer or error shows the key.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone

try:
    from . import gpu_facts
    from . import port_guard as guard
    from .redact import redact
except ImportError:  # installed on a host as plain files beside each other
    import gpu_facts
    import port_guard as guard
    from redact import redact

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
DEFAULT_UNIT = "openclaw-vllm.service"
HEALTH_TIMEOUT = 2.0
HINT = ("HINT: vLLM blocked \u2014 port {port} held by unknown process (pid={pid}, cmd={cmd}). "
        "Stop it or free :{port}, then restart {unit}.")


def health_url(host, port):
    """/health URL for ``host``; a wildcard bind is probed on loopback."""
    if host in (None, "", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = "[%s]" % host.strip("[]")
    return "http://%s:%d/health" % (host, port)


def check_health(url, timeout=HEALTH_TIMEOUT):
    """{'url', 'ok', 'status', 'error'} for one GET /health.

    ``timeout`` bounds the whole request (connect, send, status line), so a holder that
    drips its headers cannot stall ``status``; redirects are not followed (a 3xx is not
    healthy). Only the status line is read: that is all health needs.
    """
    import socket
    import time

    result = {"url": url, "ok": False, "status": None, "error": None}
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.sendall(("GET /%s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, hostport)).encode())
            data = b""
            while b"\r\n" not in data and len(data) < 1024:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("no status line within %.1fs" % timeout)
                sock.settimeout(left)
                chunk = sock.recv(1024)
                if not chunk:
                    break
                data += chunk
        fields = data.split(b"\r\n", 1)[0].split()
        if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
            result["error"] = "not an HTTP response: %r" % data[:80]
        else:
            result["status"] = int(fields[1])
    except (OSError, ValueError) as exc:
        result["error"] = str(exc) or type(exc).__name__
    result["ok"] = result["status"] == 200
    return result


COMPLETION_TIMEOUT = 300.0
ENV_FILE = "env"  # beside the service config: VLLM_API_KEY='...' (0600, the service user's)


ENV_FILE_LIMIT = 64 * 1024  # an environment file is a few lines; never read a huge one whole


class UnusableKey(ValueError):
    """The API key cannot be used as a header value (its value is never in the message)."""


def usable_key(key):
    """``key`` without the trailing CR/LF a CRLF file or a YAML block scalar leaves; UnusableKey
    (which never holds the value) when what remains has a control character (no header value)."""
    key = (key or "").rstrip("\r\n")
    if any(ord(char) < 0x20 or ord(char) == 0x7f for char in key):
        raise UnusableKey("the API key has a control character (%d characters; not shown)" % len(key))
    return key


def api_key(config):
    """VLLM_API_KEY from the environment, else from the unit's environment file beside
    ``config`` (as the role writes it: single-quoted); '' when neither has one."""
    key = os.environ.get("VLLM_API_KEY")
    if key:
        return usable_key(key)
    try:  # a small regular file of ours, never a FIFO, a device or a symlink to another secret
        lines = guard.read_regular_file(os.path.join(os.path.dirname(config), ENV_FILE), ENV_FILE_LIMIT) \
            .decode("utf-8").splitlines()
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return ""
    for line in lines:
        name, sep, value = line.partition("=")
        if sep and name.strip() == "VLLM_API_KEY":
            value = value.strip()
            return usable_key(value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value)
    return ""


def complete(base_url, model, prompt, max_tokens, key="", timeout=COMPLETION_TIMEOUT):
    """{'ok', 'status', 'tokens', 'text', 'error'} for one POST /v1/completions (greedy).

    ok: the answer is 200 and says it generated at least one token. A redirect is not followed
    (it fails, naming its status). The error is the server's status and the start of its
    answer, with the key redacted wherever the server (or an exception) echoes it."""
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        """A request that carries the key never follows a redirect: the 3xx is the answer."""

        def redirect_request(self, req, fp, code, msg, headers, newurl):
            return None

    result = {"ok": False, "status": None, "tokens": 0, "text": None, "error": None}
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": int(max_tokens), "temperature": 0}).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    request = urllib.request.Request(base_url + "/v1/completions", data=body, headers=headers, method="POST")
    # No proxy: vLLM is on this host, and a proxy from the environment would only get in the way.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as answer:
            result["status"] = answer.status
            data = json.loads(answer.read(1 << 20).decode("utf-8", "replace"))
        result["tokens"] = int(((data.get("usage") or {}).get("completion_tokens")) or 0)
        result["text"] = ((data.get("choices") or [{}])[0] or {}).get("text")
        if result["tokens"] <= 0:
            result["error"] = "the completion returned no tokens: %s" % json.dumps(data)[:300]
    except urllib.error.HTTPError as exc:
        result["status"] = exc.code
        moved = " (a redirect to %s: not followed)" % exc.headers.get("Location") if 300 <= exc.code < 400 else ""
        result["error"] = "HTTP %d%s: %s" % (exc.code, moved, exc.read(300).decode("utf-8", "replace"))
    except (OSError, ValueError, AttributeError, TypeError, IndexError) as exc:
        result["error"] = str(exc) or type(exc).__name__
    result["ok"] = result["status"] == 200 and result["tokens"] > 0
    if result["error"]:
        result["error"] = redact(result["error"], [key])
    if result["text"] is not None:
        result["text"] = redact(str(result["text"]), [key])
    return result


UNIT_PROPERTIES = ("LoadState", "ActiveState", "SubState", "Result", "NRestarts", "MainPID", "ExecMainPID",
                   "ExecMainStartTimestamp")


def unit_show(unit, properties=UNIT_PROPERTIES + ("ExecStart", "ControlGroup")):
    """The unit's properties through ``systemctl --user show``; None where that does not work."""
    try:
        proc = subprocess.run(["systemctl", "--user", "show", unit] + ["--property=" + p for p in properties],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def unit_state(unit, shown=None):
    """ActiveState and friends (UNIT_PROPERTIES and the unit's name); None where
    ``systemctl --user`` does not work. ``shown``: a unit_show() result to reuse."""
    shown = unit_show(unit) if shown is None else shown
    if shown is None:
        return None
    state = {key: value for key, value in shown.items() if key in UNIT_PROPERTIES}
    state["name"] = unit
    return state


# --------------------------------------------------------------------------- who answers the port

def _cgroups(pid):
    """The cgroup paths of ``pid`` (every hierarchy: v2's and v1's name=systemd), or []."""
    try:
        with open("/proc/%d/cgroup" % int(pid), "rb") as handle:
            data = handle.read(64 * 1024).decode("utf-8", "replace")
    except (OSError, ValueError, TypeError):
        return []
    return [line.split(":", 2)[2] for line in data.splitlines() if line.count(":") >= 2]


def _descends_from(pid, ancestor):
    """True when ``pid`` is ``ancestor`` or one of its descendants (from /proc, no signals)."""
    seen = 0
    while pid and pid > 1 and seen < 4096:
        if pid == ancestor:
            return True
        stat = guard._read_stat("/proc/%d" % pid)
        if stat is None:
            return False
        pid, seen = stat[1], seen + 1
    return False


def in_unit(pid, main_pid, control_group):
    """True when the process ``pid`` belongs to the unit: it is in the unit's cgroup (or one
    below it), or it is MainPID or a descendant of it."""
    if pid is None:
        return False
    if control_group and any(path == control_group or path.startswith(control_group.rstrip("/") + "/")
                             for path in _cgroups(pid)):
        return True
    return main_pid > 0 and _descends_from(pid, main_pid)


def describe_holder(holder):
    """``unknown process pid=N uid=U cmd="..."``: a holder as the reasons name it."""
    return "%s process pid=%s uid=%s cmd=%s" % (
        "an unknown" if holder.kind != "vllm_like" else "a vllm-like", "?" if holder.pid is None else holder.pid,
        "?" if holder.uid is None else holder.uid, guard.quote(holder.cmd or "(%s)" % holder.reason))


def port_owner(report, shown, unit):
    """{'ours', 'by', 'why'}: whether our service is what holds the port.

    ours: with a systemd user manager, the unit is active with a live MainPID and every
    holder of the port is in the unit (by: "unit"); without one, every holder is ours by the
    port guard's rules (by: "identity"). why: the reason it is not ours, naming the holder."""
    port = report.port
    if report.error:
        return {"ours": False, "by": None, "why": "the probe of port %d failed: %s" % (port, report.error)}
    if not report.holders:
        return {"ours": False, "by": None, "why": "nothing holds port %d" % port}
    if shown is None:
        strangers = report.unknown
        if strangers:
            return {"ours": False, "by": None, "why": "port %d is held by %s" % (port, describe_holder(strangers[0]))}
        return {"ours": True, "by": "identity", "why": None}
    main = shown.get("MainPID") or "0"
    main_pid = int(main) if main.isdigit() else 0
    outside = [h for h in report.holders if not in_unit(h.pid, main_pid, shown.get("ControlGroup"))]
    if outside:
        return {"ours": False, "by": None, "why": "port %d is held by %s, not by %s" % (
            port, describe_holder(outside[0]), unit)}
    if shown.get("ActiveState") != "active" or main_pid <= 0:
        return {"ours": False, "by": None, "why": "%s is %s/%s (MainPID=%s)" % (
            unit, shown.get("ActiveState", "?"), shown.get("SubState", "?"), main)}
    return {"ours": True, "by": "unit", "why": None}


# --------------------------------------------------------------------------- what is served

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
    return [guard.clean_text(arg.decode("utf-8", "surrogateescape")) for arg in data.rstrip(b"\0").split(b"\0")]


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


# --------------------------------------------------------------------------- guard events and GPUs


def _iso(microseconds):
    return datetime.fromtimestamp(int(microseconds) / 1e6, timezone.utc).isoformat(timespec="seconds")


def last_guard_event(ident=guard.SYSLOG_IDENT):
    """{'event', 'message', 'time', 'error'}: the newest journal entry of the guard (syslog
    identifier ``openclaw-vllm-port-guard``), as this user may read it; all null when there
    is none, ``error`` when journalctl cannot be asked."""
    result = {"event": None, "message": None, "time": None, "error": None}
    try:
        proc = subprocess.run(["journalctl", "--quiet", "--no-pager", "--output=json", "--lines=1",
                               "--identifier=" + ident], capture_output=True, timeout=10, check=False)
    except FileNotFoundError:
        result["error"] = "journalctl not found"
        return result
    except (OSError, subprocess.TimeoutExpired) as exc:
        result["error"] = "journalctl: %s" % (exc,)
        return result
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    said = [line.strip() for line in proc.stderr.decode("utf-8", "backslashreplace").splitlines()
            if line.strip() and not line.startswith("Hint:")]
    if proc.returncode != 0 and not lines:
        result["error"] = "journalctl exited %d: %s" % (proc.returncode, said[0] if said else "no output")
        return result
    if not lines:
        # Nothing found, or nothing this user may read ("No journal files were opened due to
        # insufficient permissions."): say which.
        result["error"] = "journalctl: %s" % said[0] if said else None
        return result
    try:
        entry = json.loads(lines[-1].decode("utf-8", "backslashreplace"))
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # journalctl's form for a message that is not UTF-8
            message = bytes(message).decode("utf-8", "backslashreplace")
        message = guard.clean_text(str(message or ""))
        result["message"] = message
        result["event"] = message.split(" ", 1)[0] or None
        stamp = entry.get("__REALTIME_TIMESTAMP")
        result["time"] = _iso(stamp) if stamp else None
    except (ValueError, TypeError, AttributeError) as exc:
        result["error"] = "journalctl output not understood: %s" % (exc,)
    return result


def gpu_memory(devices=None, utilization=gpu_facts.DEFAULT_UTILIZATION, patterns=None, nvidia_smi="nvidia-smi"):
    """None where nvidia-smi does not exist; else {'gpus': [...], 'error'} (error: nvidia-smi
    failed). Each GPU: index, name, memory used/total/free (MiB); for the GPUs the unit uses
    (``devices``, as CUDA_VISIBLE_DEVICES: else all) also need_mib (what vLLM asks for at
    ``utilization``, as the start-time gate computes it) and short; and its holders (pid, cmd,
    mib, ours: by the port guard's rules, as the gate would never kill them)."""
    if not shutil.which(nvidia_smi):
        return None
    try:
        facts = gpu_facts.query(nvidia_smi)
    except gpu_facts.GpuError as exc:
        return {"gpus": [], "error": str(exc)}
    gated = {row["gpu"]: row for row in gpu_facts.gate(facts, devices, utilization)}
    gpus = []
    for gpu in facts["gpus"]:
        row = gated.get(gpu["index"])
        gpus.append({
            "index": gpu["index"], "name": gpu["name"], "memory_used_mib": gpu["memory_used_mib"],
            "memory_total_mib": gpu["memory_total_mib"], "memory_free_mib": gpu["memory_free_mib"],
            "need_mib": row["need_mib"] if row else None, "short": bool(row and not row["ok"]),
            "holders": [{"pid": app["pid"], "cmd": guard.clean_text(app["cmd"]), "mib": app["used_mib"],
                         "ours": bool(app["pid"]) and guard.classify_pid(app["pid"], patterns or guard.DEFAULT_PATTERNS)[0]
                         == "vllm_like"}
                        for app in gpu_facts.holders(gpu, facts["processes"])]})
    return {"gpus": gpus, "error": None}


def _known(value):
    """A pid or MiB as shown to people: '?' where nvidia-smi said [N/A] (a process in another
    PID namespace, or a driver that does not tell)."""
    return "?" if value is None else value


GPU_HINT = ("HINT: vLLM blocked \u2014 GPU {gpu} has {free} MiB free, needs {need} MiB; held by pid={pid} cmd={cmd} "
            "({mib} MiB). Stop it, then restart {unit}.")


def gpu_hint_for(facts, unit):
    """The GPU HINT line, or None: only when health is down and a GPU the unit uses is short of
    memory while a process that is not ours holds memory on it (the largest such holder)."""
    gpu = facts.get("gpu")
    if facts["healthy"] or not gpu:
        return None
    for item in gpu["gpus"]:
        others = sorted((h for h in item["holders"] if not h["ours"]), key=lambda h: -(h["mib"] or 0))
        if item["short"] and others:
            holder = others[0]
            return GPU_HINT.format(gpu=item["index"], free=item["memory_free_mib"], need=item["need_mib"],
                                   pid=_known(holder["pid"]), cmd=guard.quote(holder["cmd"]), mib=_known(holder["mib"]),
                                   unit=unit)
    return None


def hint_for(facts, unit, holders):
    """The HINT line, or None: only when our service is not up (whatever answers /health) and
    the probe names an unknown holder.
    Built from the guard's holders, quoted exactly as the guard's own events quote them."""
    probe = facts["probe"]
    if facts["healthy"] or probe["error"]:
        return None
    unknown = [h for h in holders if h.kind != "vllm_like"]
    if not unknown:
        return None
    holder = unknown[0]
    # A socket whose process cannot be read: the reason says what could not be read and why.
    pid = holder.pid if holder.pid is not None else "?"
    cmd = holder.cmd or "(%s)" % holder.reason
    return HINT.format(port=facts["port"], pid=pid, cmd=guard.quote(cmd), unit=unit)


def settings(config=None, host=None, port=None, unit=None, patterns=None):
    """What status reports on: the values given, else the service config the role wrote
    beside the unit (``~/.config/openclaw-vllm/service.conf``), else the defaults."""
    found = guard.read_service_config(config)
    return {
        "gpus": found.get("gpus") or None,
        "utilization": found.get("gpu_memory_utilization", gpu_facts.DEFAULT_UTILIZATION),
        "host": host if host is not None else found.get("host", DEFAULT_HOST),
        "port": guard.check_port(port if port is not None else found.get("port", DEFAULT_PORT)),
        "unit": unit or found.get("unit", DEFAULT_UNIT),
        "patterns": guard.check_patterns(patterns or found.get("patterns")),
        "config": config or guard.default_config_path(),
    }


FACT_KEYS = ("host", "port", "patterns", "health", "healthy", "owner", "hint", "probe", "unit", "served", "guard",
             "gpu")


def gather(chosen, completion=None):
    """(facts, the guard's holders) for the settings() chosen: every fact ``status`` reports
    (FACT_KEYS), as one JSON-ready dict (text is valid UTF-8). ``completion`` ({prompt,
    max_tokens, model or None}): also the fact ``completion``: complete()'s result when healthy
    (our service answers), else None when /health does not answer, else a result that says why
    it was not attempted (the key is not even read then)."""
    host, unit, patterns = chosen["host"], chosen["unit"], chosen["patterns"]
    port = guard.check_port(chosen["port"])
    report = guard.probe(port, host, patterns)
    shown = unit_show(unit)
    facts = {
        "host": host,
        "port": port,
        "patterns": list(patterns),
        "health": check_health(health_url(host, port)),
        "probe": {"free": report.free, "error": report.error, "holders": [h.as_dict() for h in report.holders]},
        "owner": port_owner(report, shown, unit),
        "unit": unit_state(unit, shown),
        "served": served(shown, report.holders),
        "guard": last_guard_event(),
        "gpu": gpu_memory(chosen.get("gpus"), chosen.get("utilization", gpu_facts.DEFAULT_UTILIZATION), patterns),
    }
    facts["healthy"] = facts["health"]["ok"] and facts["owner"]["ours"]
    facts["hint"] = hint_for(facts, unit, report.holders) or gpu_hint_for(facts, unit)
    if completion:
        facts["completion"] = None
    if completion and facts["health"]["ok"] and not facts["healthy"]:
        facts["completion"] = {"ok": False, "status": None, "tokens": 0, "text": None,
                               "error": "not attempted (the API key goes to our service only): %s"
                               % facts["owner"]["why"]}
    if completion and facts["healthy"]:
        model = completion.get("model") or facts["served"].get("served_model_name")
        try:
            key = api_key(chosen["config"])
        except UnusableKey as exc:
            facts["completion"] = {"ok": False, "status": None, "tokens": 0, "text": None, "error": str(exc)}
        else:
            facts["completion"] = complete(facts["health"]["url"].rsplit("/health", 1)[0], model,
                                           completion["prompt"], completion["max_tokens"], key)
    return facts, report.holders


def render_extras(facts):
    """The lines for what is served, the guard's last event and the GPUs (when known)."""
    lines = []
    served_facts = facts.get("served") or {}
    if served_facts.get("source"):
        model, build = served_facts.get("model") or {}, served_facts.get("build") or {}
        revision = " (hf revision %s)" % model["hf_revision"] if model.get("hf_revision") else ""
        vllm = " (vllm %s)" % build["vllm_version"] if build.get("vllm_version") else ""
        lines.append("serving: %s = %s%s on %s%s [from the %s%s]" % (
            served_facts.get("served_model_name"), model.get("version", "?"), revision, build.get("id", "?"), vllm,
            {"process": "running process", "unit": "unit's ExecStart", "port": "port holder"}[served_facts["source"]],
            " pid=%s" % served_facts["pid"] if served_facts.get("pid") else ""))
        pending = served_facts.get("pending")
        if pending:
            lines.append("  the unit names another build or model (a restart switches): %s %s" % (
                pending["build"], pending["model"]))
    event = facts.get("guard") or {}
    if event.get("message"):
        lines.append("guard: last event at %s: %s" % (event["time"] or "?", event["message"]))
    gpu = facts.get("gpu")
    if gpu:
        if gpu["error"]:
            lines.append("gpu: %s" % gpu["error"])
        for item in gpu["gpus"]:
            need = ", needs %s free: short" % item["need_mib"] if item.get("short") else ""
            lines.append("gpu %s: %s/%s MiB used (%s)%s" % (item["index"], item["memory_used_mib"],
                                                            item["memory_total_mib"], item["name"], need))
    return lines


def render_gpu_holders(facts):
    """--verbose: one line per process holding GPU memory."""
    lines = []
    for item in (facts.get("gpu") or {}).get("gpus", []):
        for holder in item.get("holders", []):
            lines.append("  gpu %s: pid=%s (%s) %s MiB cmd=%s" % (
                item["index"], _known(holder["pid"]), "ours" if holder["ours"] else "not ours", _known(holder["mib"]),
                guard.quote(holder["cmd"])))
    return lines


def render(facts, verbose, holders=()):
    """Human-readable lines (holders: the guard's, for their cmd as the guard quotes it)."""
    health = facts["health"]
    lines = ["health: %s (%s%s)" % ("up" if health["ok"] else "down", health["url"],
                                    " -> %s" % (health["status"] or health["error"]))]
    owner = facts.get("owner") or {}
    if health["ok"] and not owner.get("ours", True):
        lines[0] = "health: held, not ours (%s answers, but %s)" % (health["url"], owner["why"])
    unit = facts["unit"]
    if unit is None:
        lines.append("unit: unknown (systemctl --user is not available here)")
    else:
        lines.append("unit: %s %s/%s" % (unit["name"], unit.get("ActiveState", "?"), unit.get("SubState", "?")))
    probe = facts["probe"]
    if probe["error"]:
        lines.append("port %d: probe failed: %s" % (facts["port"], probe["error"]))
    elif not probe["holders"]:
        lines.append("port %d: free" % facts["port"])
    else:
        lines.append("port %d: held by %s" % (facts["port"], ", ".join(
            "%s pid=%s" % (h["kind"], h["pid"]) for h in probe["holders"])))
    lines.extend(render_extras(facts))
    done = facts.get("completion")
    if done:
        lines.append("completion: %s" % ("%d tokens: %s" % (done["tokens"], json.dumps(done["text"]))
                                         if done["ok"] else "failed: %s" % done["error"]))
    if verbose:
        for holder in holders:
            lines.append("  pid=%s uid=%s kind=%s on %s: %s cmd=%s" % (
                holder.pid, holder.uid, holder.kind, ",".join(holder.addresses),
                guard.quote(holder.reason, limit=0)[1:-1], guard.quote(holder.cmd)))
        lines.extend(render_gpu_holders(facts))
        if facts["hint"]:
            lines.append(facts["hint"])
    return lines


def main(argv=None):
    """``openclaw-vllm status [--verbose] [--json] [--host ADDR] [--port N] [--unit NAME]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="openclaw-vllm", description="Inspect the openclaw-vllm service.")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="health, port holder and unit state; exit 0 when healthy")
    status.add_argument("--verbose", "-v", action="store_true", help="holders in detail, and the HINT line")
    status.add_argument("--json", action="store_true", help="the same facts as one JSON object")
    status.add_argument("--config", help="service config (default ~/.config/%s, written by the role)"
                        % guard.SERVICE_CONFIG)
    status.add_argument("--host", help="address vLLM binds (default: the config's, else %s)" % DEFAULT_HOST)
    status.add_argument("--port", help="port vLLM binds (default: the config's, else %d)" % DEFAULT_PORT)
    status.add_argument("--unit", help="systemd user unit (default: the config's, else %s)" % DEFAULT_UNIT)
    status.add_argument("--pattern", action="append", help="identity pattern of our vLLM (default: the config's)")
    status.add_argument("--complete", action="store_true",
                        help="when healthy, also send one real completion (the API key: $VLLM_API_KEY, else the "
                             "environment file beside the config); exit 1 when it returns no tokens")
    status.add_argument("--prompt", default="Hello, my name is", help="the completion's prompt")
    status.add_argument("--max-tokens", type=int, default=8, help="the completion's max_tokens (default 8)")
    status.add_argument("--model", help="the model name to ask for (default: the one the running vLLM serves)")
    args = parser.parse_args(argv)
    if args.max_tokens < 1:
        parser.error("--max-tokens must be at least 1, got %d" % args.max_tokens)
    try:
        chosen = settings(args.config, args.host, args.port, args.unit, args.pattern)
        facts, holders = gather(chosen, {"prompt": args.prompt, "max_tokens": args.max_tokens, "model": args.model}
                                if args.complete else None)
    except guard.UsageError as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps(facts, indent=2, sort_keys=True))
    else:
        print("\n".join(render(facts, args.verbose, holders)))
    return 0 if facts["healthy"] and (facts.get("completion") or {}).get("ok", not args.complete) else 1


if __name__ == "__main__":
    sys.exit(main())
