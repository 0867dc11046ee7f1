"""``openclaw-vllm status --complete``: the gate's one real completion, sent by the real CLI.

The server is a TEST DOUBLE of vLLM's OpenAI API (a real HTTP server in its own process):
what is under test is the client, its key handling and its verdict, not vLLM. The molecule
scenarios send the same completion to a real vLLM.
"""
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers.marks import needs_root
from helpers.paths import STATUS, SYSTEM_PYTHON
from helpers.procs import free_port, wait_gone


# The test double of vLLM: /health, and /v1/completions behind a bearer key. Each POST is
# appended to requests.jsonl (its Authorization header and body) so the tests see what was sent.
FAKE_VLLM = r'''
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port, tokens, healthy, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "up", sys.argv[4]
key = os.environ["FAKE_VLLM_KEY"]  # not in argv: status shows the port holder's command line
# "redirect:<url>": every POST answers 307 to <url>; "echo": a 401 that echoes the Authorization.
mode = os.environ.get("FAKE_VLLM_MODE", "")

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, data):
        body = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(200 if self.path == "/health" and healthy else 503, {})

    def do_POST(self):
        sent = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open(log, "a") as handle:
            handle.write(json.dumps({"auth": self.headers.get("Authorization"), "body": sent}) + "\n")
        if mode.startswith("redirect:"):
            self.send_response(307)
            self.send_header("Location", mode.split(":", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "echo":
            return self.answer(401, {"error": "bad key: %s" % self.headers.get("Authorization")})
        if self.headers.get("Authorization") != "Bearer " + key:
            return self.answer(401, {"error": "Unauthorized"})
        self.answer(200, {"choices": [{"text": " Ada" * tokens}], "usage": {"completion_tokens": tokens}})

HTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''

KEY = "k3y-100%-$not-secret"


@pytest.fixture
def fake_vllm(tmp_path):
    """Start the test double; returns (port, requests log, config path)."""
    started, cleanup = [], []

    def _start(tokens=4, healthy=True, key=KEY, env_line=None, mode="", user=None):
        port = free_port()
        log = tmp_path / ("requests%d.jsonl" % len(started))
        # Named vllm: ours by the guard's rules (a vLLM started by hand, no user manager here).
        (tmp_path / "bin").mkdir(exist_ok=True)
        script = tmp_path / "bin" / "vllm"
        script.write_text(FAKE_VLLM)
        argv = [sys.executable, str(script), str(port), str(tokens), "up" if healthy else "down", str(log)]
        if user:  # another user's squatter: the system interpreter, a script and a log it may use
            shared = Path(tempfile.mkdtemp(prefix="openclaw-squatter-"))
            shared.chmod(0o755)
            (shared / "bin").mkdir()
            (shared / "bin" / "vllm").write_text(FAKE_VLLM)
            log = shared / "requests.jsonl"
            log.touch()
            log.chmod(0o666)
            cleanup.append(shared)
            argv = ["setpriv", "--reuid=" + user, "--regid=nogroup", "--clear-groups", "--", SYSTEM_PYTHON,
                    str(shared / "bin" / "vllm")] + argv[2:-1] + [str(log)]
        proc = subprocess.Popen(argv, env={"FAKE_VLLM_KEY": key, "FAKE_VLLM_MODE": mode, "PATH": "/usr/bin:/bin"})
        started.append(proc)
        config_dir = tmp_path / "openclaw-vllm"
        config_dir.mkdir(exist_ok=True)
        config = config_dir / "service.conf"
        config.write_text("port=%d\nhost=127.0.0.1\nunit=openclaw-vllm-test-none.service\n" % port)
        env = config_dir / "env"
        env.write_text((env_line if env_line is not None else "VLLM_API_KEY='%s'" % KEY) + "\n")
        env.chmod(0o600)
        deadline = time.monotonic() + 10
        while subprocess.run(["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', %d), 1)" % port],
                             capture_output=True).returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        return port, log, config

    yield _start
    for proc in started:
        proc.kill()
        wait_gone(proc.pid)
    for path in cleanup:
        shutil.rmtree(path)


def complete(config, *more):
    proc = subprocess.run([STATUS, "status", "--json", "--config", str(config), "--complete", *more],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.startswith("{") else None, proc


def sent(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_completion_uses_the_key_from_the_environment_file(fake_vllm):
    port, log, config = fake_vllm(tokens=3)
    rc, facts, proc = complete(config, "--model", "local-assistant", "--prompt", "Hello", "--max-tokens", "3")
    assert rc == 0, proc.stdout + proc.stderr
    assert facts["completion"] == {"ok": True, "status": 200, "tokens": 3, "text": " Ada Ada Ada", "error": None}
    assert sent(log) == [{"auth": "Bearer " + KEY, "body": {"model": "local-assistant", "prompt": "Hello",
                                                             "max_tokens": 3, "temperature": 0}}]
    assert KEY not in proc.stdout + proc.stderr


def test_a_refused_key_fails_and_is_not_shown(fake_vllm):
    port, log, config = fake_vllm(env_line="VLLM_API_KEY='another-key'")
    rc, facts, proc = complete(config, "--model", "m")
    assert rc == 1
    assert facts["healthy"] is True
    assert facts["completion"]["ok"] is False and facts["completion"]["status"] == 401
    assert facts["completion"]["error"].startswith("HTTP 401: ")
    assert "another-key" not in proc.stdout + proc.stderr


def test_no_tokens_is_a_failed_completion(fake_vllm):
    port, log, config = fake_vllm(tokens=0)
    rc, facts, proc = complete(config, "--model", "m")
    assert rc == 1
    assert facts["completion"]["ok"] is False
    assert facts["completion"]["error"].startswith("the completion returned no tokens: ")


def test_no_completion_while_health_is_down(fake_vllm):
    port, log, config = fake_vllm(healthy=False)
    rc, facts, proc = complete(config, "--model", "m")
    assert rc == 1
    assert facts["healthy"] is False and facts["completion"] is None
    assert sent(log) == []


def test_without_complete_nothing_is_sent(fake_vllm):
    port, log, config = fake_vllm()
    proc = subprocess.run([STATUS, "status", "--json", "--config", str(config)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    assert "completion" not in json.loads(proc.stdout)
    assert sent(log) == []


def test_max_tokens_below_one_names_the_input(fake_vllm):
    port, log, config = fake_vllm()
    rc, facts, proc = complete(config, "--max-tokens", "0")
    assert rc == 2 and "--max-tokens must be at least 1, got 0" in proc.stderr
    assert sent(log) == []


# --------------------------------------------------------------------------- the key reaches our vLLM only

@needs_root
def test_a_squatter_of_another_user_never_receives_the_key(fake_vllm):
    """nobody's process, named vllm, answers /health 200 and would answer any completion: it is
    not ours, so status is not healthy, the completion is not attempted and nothing is sent."""
    port, log, config = fake_vllm(user="nobody")
    rc, facts, proc = complete(config, "--model", "m")
    assert rc == 1, proc.stdout
    assert facts["health"]["ok"] is True and facts["healthy"] is False
    assert facts["owner"]["ours"] is False and "uid=65534" in facts["owner"]["why"]
    assert facts["completion"]["ok"] is False
    assert facts["completion"]["error"].startswith("not attempted (the API key goes to our service only): port %d "
                                                   "is held by an unknown process pid=" % port)
    assert sent(log) == []
    assert facts["hint"].startswith("HINT: vLLM blocked \u2014 port %d held by unknown process (pid=" % port)


def test_a_redirect_is_not_followed_with_the_key(fake_vllm):
    """Our vLLM answers 307 to another server: the key goes nowhere else, the 3xx is the failure."""
    target_port, target_log, _ = fake_vllm()
    port, log, config = fake_vllm(mode="redirect:http://127.0.0.1:%d/v1/completions" % target_port)
    rc, facts, proc = complete(config, "--model", "m")
    assert rc == 1
    assert facts["completion"]["status"] == 307
    assert facts["completion"]["error"].startswith(
        "HTTP 307 (a redirect to http://127.0.0.1:%d/v1/completions: not followed)" % target_port)
    assert len(sent(log)) == 1 and sent(target_log) == []


def test_an_answer_that_echoes_the_key_is_redacted(fake_vllm):
    port, log, config = fake_vllm(mode="echo")
    rc, facts, proc = complete(config, "--model", "m")
    assert rc == 1
    assert sent(log)[0]["auth"] == "Bearer " + KEY  # it was sent, and echoed back
    assert "bad key: Bearer [REDACTED]" in facts["completion"]["error"]
    assert KEY not in proc.stdout + proc.stderr


@pytest.mark.parametrize("ending", ["\r", "\r\n\r\n"])
def test_a_key_file_with_crlf_endings_works(fake_vllm, ending):
    """A CRLF environment file (or a block scalar's newline): the line ending is not the key."""
    port, log, config = fake_vllm(tokens=2, env_line="VLLM_API_KEY='%s'%s" % (KEY, ending))
    rc, facts, proc = complete(config, "--model", "m")
    assert rc == 0, proc.stdout
    assert sent(log)[0]["auth"] == "Bearer " + KEY


def test_a_key_with_a_control_character_is_refused_without_its_value(fake_vllm):
    port, log, config = fake_vllm(env_line="VLLM_API_KEY='abc\x1bdef-secret'")
    rc, facts, proc = complete(config, "--model", "m")
    assert rc == 1
    assert facts["completion"]["error"] == "the API key has a control character (14 characters; not shown)"
    assert sent(log) == []
    assert "def-secret" not in proc.stdout + proc.stderr
