"""``openclaw-vllm status --complete``: the gate's one real completion, sent by the real CLI.

The server is a TEST DOUBLE of vLLM's OpenAI API (a real HTTP server in its own process):
what is under test is the client, its key handling and its verdict, not vLLM. The molecule
scenarios send the same completion to a real vLLM.
"""
import json
import subprocess
import sys
import time

import pytest

from conftest import STATUS, free_port, wait_gone

# The test double of vLLM: /health, and /v1/completions behind a bearer key. Each POST is
# appended to requests.jsonl (its Authorization header and body) so the tests see what was sent.
FAKE_VLLM = r'''
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port, tokens, healthy, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "up", sys.argv[4]
key = os.environ["FAKE_VLLM_KEY"]  # not in argv: status shows the port holder's command line

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
        if self.headers.get("Authorization") != "Bearer " + key:
            return self.answer(401, {"error": "Unauthorized"})
        self.answer(200, {"choices": [{"text": " Ada" * tokens}], "usage": {"completion_tokens": tokens}})

HTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''

KEY = "k3y-100%-$not-secret"


@pytest.fixture
def fake_vllm(tmp_path):
    """Start the test double; returns (port, requests log, config path)."""
    started = []

    def _start(tokens=4, healthy=True, key=KEY, env_line=None):
        port = free_port()
        log = tmp_path / "requests.jsonl"
        script = tmp_path / "fake_vllm.py"
        script.write_text(FAKE_VLLM)
        proc = subprocess.Popen([sys.executable, str(script), str(port), str(tokens), "up" if healthy else "down",
                                 str(log)], env={"FAKE_VLLM_KEY": key, "PATH": "/usr/bin:/bin"})
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
