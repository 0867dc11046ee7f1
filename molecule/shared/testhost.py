"""Helpers shared by the scenarios' testinfra verifiers (loaded with ``pytest -p testhost``).

``OPENCLAW_TESTHOST`` names the host (default openclaw-testhost); a scenario with several hosts
(fleet) reaches each one with ``connect(name)``.

Everything about the service runs as the service user with its XDG_RUNTIME_DIR, like an
operator on the host would. Commands go through ``podman exec`` (testinfra's podman backend).
On a failed test, the guard's journal lines, the unit's status and the journal tail are
printed: what an operator needs.
"""
import functools
import json
import os
import re
import shlex
import time

import pytest
import testinfra

INSTANCE = os.environ.get("OPENCLAW_TESTHOST", "openclaw-testhost")
SERVICE_USER = "vllm"
UNIT = "openclaw-vllm.service"
PORT = 8001
SERVED_NAME = "local-assistant"
GUARD_TAG = "openclaw-vllm-port-guard"
HOME = "/home/" + SERVICE_USER
BIN = HOME + "/.local/bin"
VENV = "/opt/openclaw-vllm/current"  # the demo inventory's paths
MODEL = "/var/lib/openclaw-vllm/models/tiny-awq"
SQUATTER = "/tmp/openclaw-squatter.py"  # molecule/shared/squatter.py on the host
SQUATTER_LOG = "/tmp/openclaw-squatter.jsonl"


class TestHost:
    """The podman test host, seen as root or as the service user."""

    def __init__(self, host):
        self.host = host
        self.uid = host.user(SERVICE_USER).uid

    def run(self, command, *args):
        return self.host.run(command, *args)

    def as_user(self, command, *args):
        """Run a shell command as the service user, in its user-manager environment."""
        env = "XDG_RUNTIME_DIR=/run/user/%d DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%d/bus" % (self.uid, self.uid)
        return self.host.run("runuser -u %s -- env %s sh -c %s" % (
            SERVICE_USER, env, shlex.quote(command % tuple(shlex.quote(str(a)) for a in args))))

    def systemctl(self, *args):
        return self.as_user("systemctl --user " + " ".join(["%s"] * len(args)), *args)

    def unit_property(self, name):
        return self.systemctl("show", UNIT, "--property=" + name, "--value").stdout.strip()

    def mark(self):
        """A point in the host's logs: what a test does next is what comes after it. The guard
        logs to the service user's journal, so its lines are counted rather than located by a
        cursor of the system journal."""
        return {"since": self.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip(), "guard_lines": len(self.guard_lines())}

    def guard_lines(self, after=None):
        """The guard's syslog lines, oldest first (journalctl -t openclaw-vllm-port-guard)."""
        out = self.run("journalctl --no-pager --output=cat -t %s" % GUARD_TAG).stdout
        lines = [line for line in out.splitlines() if line.strip()]
        return lines[after["guard_lines"]:] if after else lines

    def guard_lines_of_this_start(self):
        """The guard's lines since the unit's current start began (InactiveExitTimestamp, in
        the monotonic clock the journal also records): what the ExecStartPre of the running
        instance decided, nothing older."""
        since = int(self.unit_property("InactiveExitTimestampMonotonic"))
        out = self.run("journalctl --no-pager --output=json -t %s" % GUARD_TAG).stdout
        entries = [json.loads(line) for line in out.splitlines() if line.strip()]
        return [entry["MESSAGE"] for entry in entries if int(entry["__MONOTONIC_TIMESTAMP"]) >= since]

    def journal(self, lines=60, after=None):
        """The unit's, its user manager's and the guard's journal lines (all users' journals)."""
        cmd = "journalctl --no-pager --output=short-iso --lines=%d" % lines
        if after:
            cmd += " --since %s" % shlex.quote(after["since"])
        cmd += " _SYSTEMD_USER_UNIT=%s + SYSLOG_IDENTIFIER=%s + _SYSTEMD_UNIT=user@%d.service" % (
            UNIT, GUARD_TAG, self.uid)
        return self.run(cmd).stdout

    def api_key(self):
        line = self.run("cat %s/.config/openclaw-vllm/env" % HOME).stdout.strip()
        return line.split("=", 1)[1].strip("'") if "=" in line else ""

    def http(self, path, body=None, key=True, timeout=120):
        """(status, parsed JSON or text) of a request from inside the host."""
        cmd = "curl -sS -m %d -o /tmp/openclaw-http-body -w '%%{http_code}' " % timeout
        if key:
            cmd += "-H %s " % shlex.quote("Authorization: Bearer " + self.api_key())
        if body is not None:
            cmd += "-H 'Content-Type: application/json' -d %s " % shlex.quote(json.dumps(body))
        result = self.run(cmd + "http://127.0.0.1:%d%s" % (PORT, path))
        status = int(result.stdout.strip() or 0)
        text = self.run("cat /tmp/openclaw-http-body").stdout
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def wait_healthy(self, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.http("/health", key=False, timeout=5)[0] == 200:
                return True
            time.sleep(2)
        return False

    def chat(self, content="Say hello.", max_tokens=16):
        status, reply = self.http("/v1/chat/completions", {
            "model": SERVED_NAME, "max_tokens": max_tokens, "temperature": 0,
            "messages": [{"role": "user", "content": content}]})
        assert status == 200, reply
        return reply

    def start_holder(self, argv0, port=PORT):
        """Start a process that holds the port, as the service user, like the original did
        (nohup bash -lc 'exec -a NAME python3 -m http.server PORT' &). Returns its pid."""
        self.as_user("cd /tmp && nohup bash -lc %s >/tmp/holder-%s.log 2>&1 &",
                     "exec -a %s python3 -m http.server %d" % (argv0, port), argv0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pid = self.listener_pid(port)
            if pid:
                return pid
            time.sleep(0.2)
        raise AssertionError("%s did not start listening on %d" % (argv0, port))

    def start_squatter(self, port=PORT):
        """Start molecule/shared/squatter.py as nobody: it takes ``port`` as soon as it is free and
        answers 200 to everything. Returns its command line (as the guard quotes it)."""
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "squatter.py"), encoding="utf-8") as handle:
            self.run("cat > %s <<'EOF'\n%s\nEOF" % (SQUATTER, handle.read()))
        self.run("rm -f %s && touch %s && chmod 0666 %s && chmod 0644 %s" % (SQUATTER_LOG, SQUATTER_LOG, SQUATTER_LOG,
                                                                            SQUATTER))
        command = "python3 %s %d %s" % (SQUATTER, port, SQUATTER_LOG)
        self.run("cd /tmp && setsid runuser -u nobody -- %s >/dev/null 2>&1 </dev/null &" % command)
        return command

    def squatter_pid(self, port=PORT):
        """The squatter's pid once it holds ``port``, else None. Asked as nobody: in the container
        root may not read other users' fds (no CAP_SYS_PTRACE), so its ss would show no pid."""
        out = self.run("runuser -u nobody -- ss -Hltnp 'sport = :%s'" % port).stdout
        if "pid=" not in out:
            return None
        return int(out.split("pid=", 1)[1].split(",", 1)[0])

    def squatter_heard(self):
        """What reached the squatter: one {path, auth} per request."""
        return [json.loads(line) for line in self.run("cat %s 2>/dev/null" % SQUATTER_LOG).stdout.splitlines()]

    def stop_squatter(self):
        self.run("pkill -u nobody -f %s" % SQUATTER)

    def start_lane(self, port):
        """A second, real vLLM of the service user outside the unit (another lane), on ``port``.
        Returns the API server's pid once /health answers."""
        self.as_user("cd /tmp && HF_HUB_OFFLINE=1 TORCHDYNAMO_DISABLE=1 nohup %s serve %s --host 127.0.0.1 --port %s "
                     "--quantization awq --dtype bfloat16 --max-model-len 512 --kv-cache-memory-bytes 268435456 "
                     "--enforce-eager >/tmp/lane-%s.log 2>&1 &", VENV + "/bin/vllm", MODEL, port, port)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.run("curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/health" % port).stdout == "200":
                return self.listener_pid(port)
            time.sleep(2)
        raise AssertionError("the second vLLM on %d never became healthy:\n%s" % (
            port, self.run("tail -20 /tmp/lane-%d.log" % port).stdout))

    def children(self, pid):
        return [int(child) for child in self.run("ps -o pid= --ppid %d" % pid).stdout.split()]

    def listener_pid(self, port=PORT):
        # As the service user: in the container root may not read other users' fds.
        out = self.as_user("ss -Hltnp 'sport = :%s'", port).stdout
        if "pid=" not in out:
            return None
        return int(out.split("pid=", 1)[1].split(",", 1)[0])

    def cmdline(self, pid):
        result = self.run("cat /proc/%d/cmdline" % pid)
        return result.stdout.replace("\0", " ").strip() if result.rc == 0 else None

    def alive(self, pid):
        state = self.run("ps -o stat= -p %d" % pid).stdout.strip()
        return bool(state) and not state.startswith("Z")

    def processes(self, pattern):
        """(pid, args) of the service user's processes whose args match ``pattern`` (pgrep -f)."""
        out = self.run("pgrep -a -u %s -f %s" % (SERVICE_USER, shlex.quote(pattern))).stdout
        return [(int(line.split(" ", 1)[0]), line.split(" ", 1)[1]) for line in out.splitlines() if line.strip()]

    def ssh_logins(self):
        """The accounts whose key sshd accepted (its journal): who reached the host over ssh."""
        sshd = self.run("journalctl --no-pager --output=cat _COMM=sshd").stdout
        return set(re.findall(r"Accepted publickey for (\S+)", sshd))

    def sudo_lines(self):
        """sudo's journal lines ("ADMIN : PWD=... ; USER=WHOM ; COMMAND=..."): who became whom, running what."""
        return self.run("journalctl --no-pager --output=cat _COMM=sudo").stdout.splitlines()

    def became(self, admin):
        """The accounts ADMIN became through sudo."""
        return {match.group(1) for line in self.sudo_lines()
                for match in [re.search(r"^\s*%s : .*?USER=(\S+) ;" % re.escape(admin), line)] if match}

    def diagnostics(self):
        return "\n".join([
            "--- guard lines (journalctl -t %s, last 20)" % GUARD_TAG,
            "\n".join(self.guard_lines()[-20:]),
            "--- systemctl --user status %s" % UNIT,
            self.systemctl("status", "--no-pager", "--lines=0", UNIT).stdout,
            "--- journal tail",
            self.journal(lines=40),
        ])


def run_once(function):
    """For a module fixture that acts on the host: pytest would rerun a failing fixture for
    every test of the module (repeating the actions); remember the failure instead."""
    results = {}

    @functools.wraps(function)  # keeps the signature pytest reads for fixture arguments
    def wrapper(*args, **kwargs):
        if "error" in results:
            pytest.fail("the scenario's setup failed earlier: %s" % results["error"], pytrace=False)
        if "value" not in results:
            try:
                results["value"] = function(*args, **kwargs)
            except BaseException as exc:
                results["error"] = "%s: %s" % (type(exc).__name__, exc)
                raise
        return results["value"]

    return wrapper


def connect(instance=INSTANCE):
    """The TestHost of the podman container ``instance``."""
    return TestHost(testinfra.get_host("podman://" + instance))


@pytest.fixture(scope="module")
def testhost():
    return connect()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "testhost" in item.funcargs:
        try:
            report.sections.append(("openclaw test host", item.funcargs["testhost"].diagnostics()))
        except Exception as exc:  # diagnostics must never hide the real failure
            report.sections.append(("openclaw test host", "diagnostics failed: %s" % exc))


def tree(testhost, pid):
    """pid and all its descendants (from ps), for "are the old instance's processes gone"."""
    children = {}
    for line in testhost.run("ps -e -o pid=,ppid=").stdout.splitlines():
        child, parent = (int(field) for field in line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def main_pid(testhost):
    return int(testhost.unit_property("MainPID") or 0)


def wait_for(predicate, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def in_order(lines, expected):
    """True when ``expected`` lines appear in ``lines`` in that order (others may sit between)."""
    position = 0
    for line in lines:
        if position < len(expected) and line == expected[position]:
            position += 1
    return position == len(expected)
