"""hf_source against a hostile or broken Hub: redirects to other schemes and endless redirects, listings
that page forever, repeat themselves or lie (sizes, digests, names), bodies longer than listed, 429 and
503 answers, and a token that the server echoes or that carries a line end.

The server is a TEST DOUBLE of the Hub (and of its CDN): real HTTP on 127.0.0.1, per test a function
that answers each request. The code under test is the real hf_source."""
import base64
import hashlib
import http.server
import json
import os
import threading
import time

import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils import hf_source

TOKEN = "hf_HostileTestTokenNeverShown77"
REPO = "org/ok"
REV = "b" * 40
CONFIG = b'{"architectures": ["LlamaForCausalLM"]}'
WEIGHTS = os.urandom(200000)


def git_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def blob_entry(path, data):
    return {"type": "file", "path": path, "size": len(data), "oid": git_oid(data)}


def lfs_entry(path, data):
    return {"type": "file", "path": path, "size": len(data), "oid": "1" * 40,
            "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130}}


def listing():
    return [blob_entry("config.json", CONFIG), lfs_entry("model.safetensors", WEIGHTS)]


def reply(handler, code, body=b"", headers=()):
    handler.send_response(code)
    for key, value in headers:
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def hub_answer(handler, entries=None, sha=REV, files=None):
    """What the Hub answers for REPO: the tree listing, the revision info, the files' bytes."""
    path = handler.path.split("?")[0]
    if path.startswith("/api/models/%s/tree/" % REPO):
        return reply(handler, 200, json.dumps(listing() if entries is None else entries).encode())
    if path.startswith("/api/models/%s/revision/" % REPO):
        return reply(handler, 200, json.dumps({"sha": sha}).encode())
    name = path.split("/resolve/%s/" % REV, 1)[-1]
    body = (files or {"config.json": CONFIG, "model.safetensors": WEIGHTS}).get(name)
    if body is None:
        return reply(handler, 404, b"", [("X-Error-Code", "EntryNotFound")])
    return reply(handler, 200, body)


class Double(object):
    """A TEST DOUBLE server: ``answer(handler)`` decides each reply; ``seen`` records every request."""

    def __init__(self, answer=hub_answer):
        self.answer = answer
        self.seen = []
        double = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                double.seen.append((self.command, self.path, self.headers.get("Authorization")))
                double.answer(self)

            do_HEAD = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def gets(self, name):
        return [seen for seen in self.seen if seen[1].endswith("/" + name)]


@pytest.fixture
def serve():
    doubles = []

    def start(answer=hub_answer):
        doubles.append(Double(answer))
        return doubles[-1]
    yield start
    for double in doubles:
        double.server.shutdown()
        double.server.server_close()


def plan_and_fetch(hub_url, stage, token=""):
    result = hf_source.plan(REPO, REV, stage, endpoint=hub_url, token=token)
    return result, hf_source.fetch(result, stage, token=token)


# 1. Redirects


@pytest.mark.parametrize("target", ["file", "data"])
def test_a_redirect_to_another_scheme_is_refused_and_nothing_lands_in_the_model(serve, tmp_path, target):
    secret = os.urandom(4096)
    local = tmp_path / "root-only"
    local.write_bytes(secret)
    local.chmod(0o600)
    location = ("file://%s" % local) if target == "file" else \
        "data:application/octet-stream;base64," + base64.b64encode(secret).decode()

    def answer(handler):
        if handler.path.endswith("/resolve/%s/model.safetensors" % REV) and handler.command == "GET":
            return reply(handler, 302, b"", [("Location", location)])
        # The listing gives the local file's own size and digest: only the scheme check stops it.
        return hub_answer(handler, [blob_entry("config.json", CONFIG), lfs_entry("model.safetensors", secret)])
    hub = serve(answer)
    stage = str(tmp_path / "stage")
    with pytest.raises(hf_source.HfError) as info:
        plan_and_fetch(hub.url, stage)
    assert "model.safetensors of %s at revision %s on %s was redirected to '%s" % (REPO, REV, hub.url, target) \
        in str(info.value)
    assert "only http(s) redirects are followed" in str(info.value)
    assert not os.path.exists(os.path.join(stage, "model.safetensors"))
    assert not os.path.exists(hf_source._part_path(stage, "model.safetensors"))


def test_redirects_are_bounded_and_the_error_names_the_file(serve, tmp_path):
    def answer(handler):
        if "/resolve/" in handler.path and not handler.path.endswith("config.json"):
            return reply(handler, 302, b"", [("Location", handler.path + "x")])  # a new URL each hop
        return hub_answer(handler)
    hub = serve(answer)
    with pytest.raises(hf_source.HfError) as info:
        plan_and_fetch(hub.url, str(tmp_path / "stage"))
    assert "model.safetensors of %s at revision %s on %s: more than %d redirects" % (
        REPO, REV, hub.url, hf_source.MAX_REDIRECTS) in str(info.value)
    hops = [seen for seen in hub.seen if "model.safetensors" in seen[1] and seen[0] == "GET"]
    assert len(hops) == hf_source.MAX_REDIRECTS + 1


def test_a_cdn_on_another_origin_serves_the_file_without_the_token(serve, tmp_path):
    cdn = serve(lambda handler: reply(handler, 200, WEIGHTS))
    hub = serve(lambda handler: reply(handler, 307, b"", [("Location", cdn.url + "/signed/blob?x=1")])
                if handler.path.endswith("/model.safetensors") and handler.command == "GET" else hub_answer(handler))
    stage = str(tmp_path / "stage")
    plan_and_fetch(hub.url, stage, token=TOKEN)
    with open(os.path.join(stage, "model.safetensors"), "rb") as handle:
        assert handle.read() == WEIGHTS
    assert [auth for _method, _path, auth in cdn.seen] == [None], "the CDN never gets the token"
    assert all(auth == "Bearer " + TOKEN for _method, _path, auth in hub.seen)


# 2. Listings


def test_endless_pagination_ends_at_the_page_bound(serve, tmp_path):
    def answer(handler):
        if "/tree/" not in handler.path:
            return hub_answer(handler)
        page = int(handler.path.rsplit("cursor=", 1)[1]) if "cursor=" in handler.path else 0
        more = [("Link", '<%s/api/models/%s/tree/%s?cursor=%d>; rel="next"' % (hub.url, REPO, REV, page + 1))]
        entries = listing() if page == 0 else [blob_entry("extra/%d.bin" % page, b"x")]
        # The double stops after the bound (so that the code as it was returns instead of hanging).
        return reply(handler, 200, json.dumps(entries).encode(), more if page < hf_source.MAX_PAGES + 5 else [])
    hub = serve(answer)
    with pytest.raises(hf_source.HfError, match="the file list of %s at revision %s on %s has more than %d pages"
                       % (REPO, REV, hub.url, hf_source.MAX_PAGES)):
        hf_source.plan(REPO, REV, str(tmp_path / "stage"), endpoint=hub.url)
    assert len(hub.seen) == hf_source.MAX_PAGES


def test_a_page_that_links_to_itself_is_refused(serve, tmp_path):
    def answer(handler):
        if "/tree/" not in handler.path:
            return hub_answer(handler)
        more = [("Link", '<%s>; rel="next"' % handler.path)] if len(hub.seen) < 20 else []
        return reply(handler, 200, json.dumps(listing()).encode(), more)
    hub = serve(answer)
    with pytest.raises(hf_source.HfError, match="links back to a page it gave already"):
        hf_source.plan(REPO, REV, str(tmp_path / "stage"), endpoint=hub.url)
    assert len(hub.seen) == 1


def test_a_body_longer_than_listed_is_cut_at_the_size_and_refused(serve, tmp_path):
    sent = []

    def answer(handler):
        if not (handler.path.endswith("/model.safetensors") and handler.command == "GET"):
            return hub_answer(handler)
        handler.send_response(200)  # no Content-Length: the body ends when the server closes
        handler.end_headers()
        try:
            handler.wfile.write(WEIGHTS)
            for _ in range(1024):  # 64 MiB more, unless the client stops reading
                handler.wfile.write(b"\0" * 65536)
                sent.append(65536)
        except OSError:
            pass
    hub = serve(answer)
    stage = str(tmp_path / "stage")
    with pytest.raises(hf_source.HfError) as info:
        plan_and_fetch(hub.url, stage)
    assert "model.safetensors of %s at revision %s on %s is longer than the %d bytes the file list gives it" % (
        REPO, REV, hub.url, len(WEIGHTS)) in str(info.value)
    assert sum(sent) < 16 * 2**20, "the client stopped reading at the listed size"
    assert not os.path.exists(os.path.join(stage, "model.safetensors"))
    assert not os.path.exists(hf_source._part_path(stage, "model.safetensors"))


def weights_with(**fields):
    entry = lfs_entry("model.safetensors", WEIGHTS)
    for key, value in fields.items():
        if key.startswith("lfs_"):
            entry["lfs"][key[4:]] = value
        else:
            entry[key] = value
    return entry


SHA = hashlib.sha256(WEIGHTS).hexdigest()


@pytest.mark.parametrize("entry, expected", [
    (weights_with(lfs_oid=None), "lists model.safetensors without a digest it can be checked against"),
    (weights_with(lfs_oid=SHA.upper()), "lists model.safetensors without a digest"),
    (weights_with(lfs_oid="sha256:" + SHA), "lists model.safetensors without a digest"),
    ({"type": "file", "path": "model.safetensors", "size": len(WEIGHTS)}, "lists model.safetensors without a digest"),
    ({"type": "file", "path": "model.safetensors", "size": len(WEIGHTS), "oid": SHA},
     "lists model.safetensors without a digest"),
    ({"type": "file", "path": "model.safetensors", "size": len(WEIGHTS), "oid": git_oid(WEIGHTS).upper()},
     "lists model.safetensors without a digest"),
    (weights_with(lfs="yes"), "lists model.safetensors with an lfs field that is not an object"),
    (weights_with(size=-2**50, lfs_size=-2**50), "lists model.safetensors with size -1125899906842624: expected a "
                                                 "whole number of bytes"),
    (weights_with(lfs_size=12.0), "lists model.safetensors with size 12.0: expected a whole number"),
    (weights_with(lfs_size="abc"), "lists model.safetensors with size 'abc'"),
    (weights_with(lfs_size=True), "lists model.safetensors with size True"),
    (weights_with(size=None, lfs_size=None), "lists model.safetensors with size None"),
    (weights_with(path="./model.safetensors"), "lists a path that is not a relative path inside the repository"),
    (weights_with(path="sub//model.safetensors"), "lists a path that is not a relative path"),
    (weights_with(path="\ud800.safetensors"), "lists a path that is not a relative path"),
    (weights_with(path="model\n.safetensors"), "lists a path that is not a relative path"),
    (weights_with(path="../../etc/x.safetensors"), "lists a path that is not a relative path"),
    (weights_with(path=["model.safetensors"]), "lists a path that is not a relative path"),
    ("model.safetensors", "has an entry that is neither a file nor a directory"),
    (weights_with(type="File"), "has an entry that is neither a file nor a directory"),
])
def test_a_listing_entry_that_cannot_be_trusted_is_refused_naming_it(serve, tmp_path, entry, expected):
    hub = serve(lambda handler: hub_answer(handler, [blob_entry("config.json", CONFIG), entry]))
    with pytest.raises(hf_source.HfError) as info:
        hf_source.plan(REPO, REV, str(tmp_path / "stage"), endpoint=hub.url)
    assert "the file list of %s at revision %s" % (REPO, REV) in str(info.value)
    assert expected in str(info.value)
    assert not [seen for seen in hub.seen if "/resolve/" in seen[1]], "refused before any file is asked for"


@pytest.mark.parametrize("entries, expected", [
    (listing() + [lfs_entry("model.safetensors", WEIGHTS)], "lists model.safetensors twice"),
    (listing() + [blob_entry("model.safetensors/config.json", CONFIG)],
     "lists model.safetensors both as a file and as a directory of other files"),
    (listing() + [blob_entry("a/b", b"x"), blob_entry("a/b/c/d", b"y")], "lists a/b both as a file and as a directory"),
])
def test_a_listing_that_names_a_file_twice_is_refused(serve, tmp_path, entries, expected):
    hub = serve(lambda handler: hub_answer(handler, entries))
    with pytest.raises(hf_source.HfError, match=expected):
        hf_source.plan(REPO, REV, str(tmp_path / "stage"), endpoint=hub.url)


def test_a_negative_size_cannot_bypass_the_disk_preflight(serve, tmp_path):
    entries = listing() + [lfs_entry("model-00002.safetensors", b"x"), blob_entry("tokenizer.json", b"{}")]
    entries[2]["size"] = entries[2]["lfs"]["size"] = 2**50
    entries[3]["size"] = -2**50
    hub = serve(lambda handler: hub_answer(handler, entries))
    with pytest.raises(hf_source.HfError, match="lists tokenizer.json with size -1125899906842624"):
        hf_source.plan(REPO, REV, str(tmp_path / "stage"), endpoint=hub.url)


@pytest.mark.parametrize("body, expected", [
    (b"[" * 100000, "with something that is not JSON"),
    (b"[" + b" " * (hf_source.MAX_JSON_BYTES + 10) + b"]", "is longer than 32.0 MiB: refused"),
    (b'{"error": "x"}', "with dict, expected a list"),
    (b"\xff\xfe[]", "with something that is not JSON"),
])
def test_a_listing_that_is_not_a_list_of_files_is_an_error_not_a_traceback(serve, tmp_path, body, expected):
    hub = serve(lambda handler: reply(handler, 200, body) if "/tree/" in handler.path else hub_answer(handler))
    with pytest.raises(hf_source.HfError, match=expected):
        hf_source.plan(REPO, REV, str(tmp_path / "stage"), endpoint=hub.url)


# 3. Transient errors


def test_429_and_503_are_retried_honouring_retry_after(serve, tmp_path):
    failures = {"/tree/": [(429, "0")], "config.json": [(503, None), (429, "0")], "model.safetensors": [(429, "1")]}

    def answer(handler):
        for key, left in failures.items():
            if key in handler.path and left:
                code, after = left.pop(0)
                return reply(handler, code, b"slow down", [("Retry-After", after)] if after else [])
        return hub_answer(handler)
    hub = serve(answer)
    stage = str(tmp_path / "stage")
    started = time.monotonic()
    plan_and_fetch(hub.url, stage, token=TOKEN)
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was honoured"
    with open(os.path.join(stage, "model.safetensors"), "rb") as handle:
        assert handle.read() == WEIGHTS
    assert not any(failures.values()), "every failure was answered and retried"


@pytest.mark.parametrize("retry_after", ["86400", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_a_long_retry_after_is_capped(serve, retry_after):
    answers = [429]
    hub = serve(lambda handler: reply(handler, answers.pop(0), b"", [("Retry-After", retry_after)]) if answers
                else reply(handler, 200, b"[]"))
    started = time.monotonic()
    entries, _headers = hf_source.Hub(hub.url, retry_wait_cap=0.2).get_json(hub.url + "/api/x", REPO, REV, "file list")
    assert entries == [] and time.monotonic() - started < 5


def test_a_503_that_stays_names_the_file_and_revision_after_bounded_attempts(serve, tmp_path):
    hub = serve(lambda handler: reply(handler, 503, b"", [("Retry-After", "0"), ("X-Error-Message", "busy")])
                if handler.path.endswith("/model.safetensors") and handler.command == "GET" else hub_answer(handler))
    stage = str(tmp_path / "stage")
    with pytest.raises(hf_source.HfError) as info:
        plan_and_fetch(hub.url, stage)
    assert str(info.value) == ("%s answered HTTP 503 to the file request for model.safetensors of %s at revision %s "
                               "on %s: busy (after %d attempts)" % (hub.url, REPO, REV, hub.url, hf_source.ATTEMPTS))
    assert len(hub.gets("model.safetensors")) == hf_source.ATTEMPTS
    progress = hf_source.read_progress(hf_source.default_progress_file(stage))
    assert progress["state"] == "failed" and "model.safetensors of %s" % REPO in progress["error"]


def test_a_connection_cut_mid_file_is_continued_with_a_range(serve, tmp_path):
    def answer(handler):
        if not (handler.path.endswith("/model.safetensors") and handler.command == "GET"):
            return hub_answer(handler)
        if not handler.headers.get("Range"):
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(WEIGHTS)))
            handler.end_headers()
            handler.wfile.write(WEIGHTS[:50000])  # then the connection closes
            return
        start = int(handler.headers["Range"].split("=")[1].rstrip("-"))
        reply(handler, 206, WEIGHTS[start:], [("Content-Range", "bytes %d-%d/%d" % (start, len(WEIGHTS) - 1,
                                                                                   len(WEIGHTS)))])
    hub = serve(answer)
    stage = str(tmp_path / "stage")
    _plan, result = plan_and_fetch(hub.url, stage)
    assert result["fetched_bytes"] == len(WEIGHTS) + len(CONFIG)
    with open(os.path.join(stage, "model.safetensors"), "rb") as handle:
        assert handle.read() == WEIGHTS


# 4. Secrets


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_token_with_a_line_end_is_stripped(serve, tmp_path, line_end):
    hub = serve()
    stage = str(tmp_path / "stage")
    plan_and_fetch(hub.url, stage, token=TOKEN + line_end)
    assert hub.seen and all(auth == "Bearer " + TOKEN for _method, _path, auth in hub.seen)


def test_a_token_with_a_line_break_inside_is_refused_without_showing_it(serve, tmp_path):
    hub = serve()
    with pytest.raises(hf_source.HfError) as info:
        hf_source.plan(REPO, REV, str(tmp_path / "stage"), endpoint=hub.url, token="hf_FirstHalf\r\nX-Evil: 1")
    assert "has a space, a line break or a character that is not printable ASCII inside it" in str(info.value)
    assert "FirstHalf" not in str(info.value) and "Evil" not in str(info.value)
    assert hub.seen == []


@pytest.mark.parametrize("echo", ["path", "sha", "location", "error message"])
def test_a_server_that_echoes_the_token_never_gets_it_into_a_message(serve, tmp_path, echo):
    def answer(handler):
        if echo == "path" and "/tree/" in handler.path:
            return hub_answer(handler, listing() + [blob_entry("../" + TOKEN, b"x")])
        if echo == "sha":
            return hub_answer(handler, sha=TOKEN)
        if echo == "location" and handler.path.endswith("/model.safetensors"):
            return reply(handler, 302, b"", [("Location", "file:///" + TOKEN)])
        if echo == "error message" and handler.path.endswith("/model.safetensors"):
            return reply(handler, 503, b"", [("Retry-After", "0"), ("X-Error-Message", "bad token " + TOKEN)])
        return hub_answer(handler)
    hub = serve(answer)
    stage = str(tmp_path / "stage")
    with pytest.raises(hf_source.HfError) as info:
        plan_and_fetch(hub.url, stage, token=TOKEN + "\r\n")
    assert TOKEN not in str(info.value) and "[REDACTED]" in str(info.value)
    assert info.value.__cause__ is None and (info.value.__context__ is None or info.value.__suppress_context__)
    progress = hf_source.default_progress_file(stage)
    if os.path.exists(progress):
        with open(progress) as handle:
            assert TOKEN not in handle.read()
