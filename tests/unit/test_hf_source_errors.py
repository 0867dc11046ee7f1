"""hf_source against answers olah cannot give (it serves local repos without auth): a gated repo,
a rejected token, a token without permission, a redirect to another host (the Hub's CDN), and a
server that honours range requests. The stand-in answers with the status codes and X-Error-*
headers that the Hub sends and that huggingface_hub's own client tells apart."""
import hashlib
import http.server
import json
import os
import threading

import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils import hf_source

TOKEN = "hf_UnitTokenNeverInAMessage"
REV = "a" * 40
CONTENT = os.urandom(300000)
CONFIG = b'{"architectures": ["LlamaForCausalLM"]}'


def git_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub(http.server.BaseHTTPRequestHandler):
    """Answers as the Hub does, per repo name: gated, bad-token, forbidden, ok (resolve redirects to a CDN)."""
    cdn = None
    seen = []

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.seen.append((self.path, self.headers.get("Authorization")))
        repo = self.path.split("/")[3] if self.path.startswith("/api/") else self.path.split("/")[2]
        if repo == "bad-token" and self.headers.get("Authorization"):
            return self.reply(401, b'{"error":"Invalid credentials"}', [
                ("X-Error-Message", "Invalid credentials in Authorization header")])
        if "/tree/" in self.path:
            return self.reply(200, json.dumps([
                {"type": "file", "path": "config.json", "size": len(CONFIG), "oid": git_oid(CONFIG)},
                {"type": "file", "path": "model.safetensors", "size": len(CONTENT), "oid": "1" * 40,
                 "lfs": {"oid": hashlib.sha256(CONTENT).hexdigest(), "size": len(CONTENT), "pointerSize": 130}},
            ]).encode())
        if "/revision/" in self.path:
            return self.reply(200, json.dumps({"sha": REV, "gated": repo == "gated" and "manual"}).encode())
        if repo == "gated":
            return self.reply(401 if not self.headers.get("Authorization") else 403, b"", [
                ("X-Error-Code", "GatedRepo"), ("X-Error-Message", "Access to model org/gated is restricted.")])
        if repo == "forbidden":
            return self.reply(403, b"", [("X-Error-Message", "token has no read access")])
        name = self.path.rsplit("/", 1)[1]
        if name == "config.json":
            return self.reply(200, CONFIG)
        return self.reply(302, b"", [("Location", "%s/blob/%s" % (self.cdn, name))])


class Cdn(http.server.BaseHTTPRequestHandler):
    """Another origin, as the Hub's CDN; honours range requests."""
    seen = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.seen.append((self.path, self.headers.get("Authorization"), self.headers.get("Range")))
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        body = CONTENT[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(CONTENT) - 1, len(CONTENT)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def hub():
    servers = []
    for handler in (Cdn, Hub):
        handler.seen = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
    Hub.cdn = "http://127.0.0.1:%d" % servers[0].server_address[1]
    yield "http://127.0.0.1:%d" % servers[1].server_address[1]
    for server in servers:
        server.shutdown()


@pytest.mark.parametrize("repo, token, expected", [
    ("org/gated", "", "config.json of org/gated at revision %s on {hub} is a gated repository and access was "
                      "refused without a token (awq_model_hf_token is empty)" % REV),
    ("org/gated", TOKEN, "is a gated repository and access was refused with the token given (HTTP 403)"),
    ("org/bad-token", TOKEN, "{hub} rejected the token (HTTP 401: invalid credentials)"),
    ("org/forbidden", TOKEN, "refused access to config.json of org/forbidden at revision %s on {hub} with the "
                             "token given (HTTP 403: token has no read access)" % REV),
])
def test_access_is_refused_in_the_plan_naming_why_never_the_token(hub, tmp_path, repo, token, expected):
    with pytest.raises(hf_source.HfError) as info:
        hf_source.plan(repo, REV, str(tmp_path / "stage"), endpoint=hub, token=token)
    assert expected.format(hub=hub) in str(info.value)
    assert TOKEN not in str(info.value)
    assert not (tmp_path / "stage").exists()


def test_token_goes_to_the_endpoint_only_and_a_partial_file_continues_with_a_range(hub, tmp_path):
    stage = str(tmp_path / "stage")
    plan = hf_source.plan("org/ok", REV, stage, endpoint=hub, token=TOKEN)
    assert plan["download_bytes"] == len(CONTENT) + len(CONFIG)
    # What a killed run leaves: a complete config.json, and a third of the weights in their .part.
    os.makedirs(stage)
    os.makedirs(os.path.join(hf_source.work_dir(stage), "parts"))
    with open(hf_source._state_path(stage), "w") as handle:
        json.dump({"repo": "org/ok", "revision": REV}, handle)
    with open(os.path.join(stage, "config.json"), "wb") as handle:
        handle.write(CONFIG)
    with open(hf_source._part_path(stage, "model.safetensors"), "wb") as handle:
        handle.write(CONTENT[:100000])
    plan = hf_source.plan("org/ok", REV, stage, endpoint=hub, token=TOKEN)
    assert (plan["staged_bytes"], plan["partial_bytes"]) == (len(CONFIG), 100000)
    result = hf_source.fetch(plan, stage, token=TOKEN)
    assert result["fetched_bytes"] == len(CONTENT) - 100000 and result["reused_files"] == ["config.json"]
    with open(os.path.join(stage, "model.safetensors"), "rb") as handle:
        assert handle.read() == CONTENT
    assert Cdn.seen == [("/blob/model.safetensors", None, "bytes=100000-")], "no token to another host"
    assert all(auth == "Bearer " + TOKEN for _path, auth in Hub.seen)


def test_a_file_that_does_not_match_its_digest_is_removed(hub, tmp_path):
    stage = str(tmp_path / "stage")
    plan = hf_source.plan("org/ok", REV, stage, endpoint=hub)
    plan["files"][-1]["sha256"] = "0" * 64
    with pytest.raises(hf_source.HfError, match="model.safetensors of org/ok at revision %s does not match its "
                                                "digest" % REV):
        hf_source.fetch(plan, stage)
    assert not os.path.exists(os.path.join(stage, "model.safetensors"))


@pytest.mark.parametrize("path, patterns, expected", [
    ("model.safetensors", hf_source.DEFAULT_ALLOW_PATTERNS, True),
    ("model-00001-of-00003.safetensors", hf_source.DEFAULT_ALLOW_PATTERNS, True),
    ("model.safetensors.index.json", hf_source.DEFAULT_ALLOW_PATTERNS, True),
    ("pytorch_model.bin", hf_source.DEFAULT_ALLOW_PATTERNS, False),
    ("onnx/model.safetensors", hf_source.DEFAULT_ALLOW_PATTERNS, False),
    ("model.gguf", hf_source.DEFAULT_ALLOW_PATTERNS, False),
    ("original/params.json", ["original/*"], True),
])
def test_allow_patterns(path, patterns, expected):
    assert hf_source.allowed(path, patterns) is expected


@pytest.mark.parametrize("repo, revision, expected", [
    ("org/model", "main", "revision 'main' of org/model is not a pinned commit"),
    ("org/model", "A" * 40, "is not a pinned commit"),
    ("../etc", REV, "repository '../etc' is not a Hugging Face repo id"),
])
def test_spec_is_checked_before_any_request(repo, revision, expected):
    with pytest.raises(hf_source.HfError, match=expected):
        hf_source.check_spec(repo, revision)
