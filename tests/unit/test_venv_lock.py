"""module_utils/venv_lock: reading a hash-pinned lock and asking a package source, before any
download, whether it serves every locked file. The registry is a TEST DOUBLE (a PEP 691 JSON
index served from a real socket here; PyPI is outside the thing under test); the committed
locks are the real ones."""
import base64
import hashlib
import http.server
import json
import threading

import pytest


from helpers.paths import ROOT

from ansible_collections.openclaw.vllm.plugins.module_utils import venv_lock

LOCKS = ROOT / "collections" / "ansible_collections" / "openclaw" / "vllm" / "roles" / "vllm_venv" / "files" / "locks"
A = "a" * 64
B = "b" * 64


def test_every_committed_lock_is_the_one_index_json_names_and_parses():
    index = json.loads((LOCKS / "index.json").read_text())
    locked = {name: entry for name, entry in index["locks"].items() if "unresolvable" not in entry}
    assert "vllm-0.33.0-cuda-py3.11" in locked
    for name, entry in locked.items():
        text = (LOCKS / entry["file"]).read_text()
        assert venv_lock.digest_of(text) == entry["sha256"], name
        pins = {pin[0]: pin for pin in venv_lock.parse(text)}
        assert len(pins) == entry["packages"]
        assert pins["vllm"][1] == entry["pin"] and pins["torch"][1] == entry["top_level"]["torch"]
        assert all(len(digest) == 64 for pin in pins.values() for digest in pin[2])


def test_a_lock_is_pins_with_hashes_and_nothing_else():
    text = "# comment\nTorch_Stuff==1.0 \\\n    --hash=sha256:%s \\\n    --hash=sha256:%s\nsix==1.16.0 \\\n" \
           "    --hash=sha256:%s\n" % (A, B, A)
    assert venv_lock.parse(text) == [("torch-stuff", "1.0", frozenset({A, B})), ("six", "1.16.0", frozenset({A}))]
    with pytest.raises(venv_lock.LockError, match="six==1.16.0 has no --hash"):
        venv_lock.parse("six==1.16.0\n")
    with pytest.raises(venv_lock.LockError, match="line 1 is not"):
        venv_lock.parse("six>=1.16\n")
    with pytest.raises(venv_lock.LockError, match="line 1 is not"):
        venv_lock.parse("--index-url https://elsewhere/simple\n")


@pytest.mark.parametrize("filename, python, fits", [
    ("torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl", "3.11", True),
    ("torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl", "3.12", False),
    ("torch-2.14.0-cp311-cp311-manylinux_2_28_aarch64.whl", "3.11", False),
    ("torch-2.14.0-cp311-cp311-win_amd64.whl", "3.11", False),
    ("vllm-0.33.0-cp38-abi3-manylinux_2_31_x86_64.whl", "3.13", True),
    ("six-1.16.0-py2.py3-none-any.whl", "3.11", True),
    ("six-1.16.0.tar.gz", "3.11", False),
])
def test_wheel_tags_decide_what_fits_the_host(filename, python, fits):
    assert venv_lock.wheel_fits(filename, python, "x86_64") is fits


class Registry:
    """A TEST DOUBLE of a PEP 691 index: project -> files; counts requests; can fail."""

    def __init__(self, projects):
        self.projects, self.requests, self.fail_first, self.auth = projects, [], {}, []
        self.redirect, self.raw = {}, {}
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.strip("/").split("/")[-1]
                registry.requests.append(name)
                if registry.fail_first.get(name, 0) > 0:
                    registry.fail_first[name] -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                if name in registry.redirect:
                    self.send_response(302)
                    self.send_header("Location", registry.redirect[name])
                    self.end_headers()
                    return
                if name in registry.raw:
                    self.send_response(200)
                    self.send_header("Content-Type", venv_lock.JSON_TYPE)
                    self.end_headers()
                    self.wfile.write(registry.raw[name])
                    return
                if name not in registry.projects:
                    self.send_response(404)
                    self.end_headers()
                    return
                registry.auth.append(self.headers.get("Authorization"))
                files = registry.projects[name]
                if self.server.kind == venv_lock.JSON_TYPE:
                    body = json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files,
                                       "versions": sorted({f["filename"].split("-")[1] for f in files})}).encode()
                else:  # PEP 503: links with #sha256= fragments, no sizes
                    body = ("<html><body>%s</body></html>" % "".join(
                        '<a href="../../files/%s#sha256=%s">%s</a><br>' % (f["filename"], f["hashes"]["sha256"],
                                                                           f["filename"]) for f in files)).encode()
                self.send_response(200)
                self.send_header("Content-Type", self.server.kind)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.kind = venv_lock.JSON_TYPE
        self.url = "http://127.0.0.1:%d/simple" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def entry(filename, digest, size):
    return {"filename": filename, "hashes": {"sha256": digest}, "size": size, "url": filename}


@pytest.fixture
def registry():
    made = []

    def _make(projects):
        made.append(Registry(projects))
        return made[-1]
    yield _make
    for one in made:
        one.close()


LOCK = [("torch", "2.14.0", frozenset({A})), ("six", "1.16.0", frozenset({B}))]


def test_a_source_that_serves_every_pin_sums_the_download(registry):
    index = registry({
        "torch": [entry("torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl", A, 900),
                  entry("torch-2.14.0-cp312-cp312-manylinux_2_28_x86_64.whl", A, 950)],
        "six": [entry("six-1.16.0-py2.py3-none-any.whl", B, 11)]})
    result = venv_lock.check(LOCK, venv_lock.sources_for(index.url), "3.11", "x86_64")
    assert result == {"missing": [], "download_bytes": 911, "unsized": [], "errors": []}


def test_what_a_source_lacks_is_named_with_what_it_has_instead(registry):
    index = registry({
        "torch": [entry("torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl", A, 900)],
        "six": [entry("six-1.16.0-py2.py3-none-any.whl", "c" * 64, 11)]})
    lock = LOCK + [("flashinfer-cubin", "0.7.2.post1", frozenset({A}))]
    result = venv_lock.check(lock, venv_lock.sources_for(index.url), "3.11", "x86_64")
    assert result["missing"] == [
        "torch==2.14.0: %s/ has no version 2.14.0 of torch (newest: 2.13.0)" % index.url,
        # the registry's file changed since the lock was made: a hash mismatch is a missing file
        "six==1.16.0: %s/ has six 1.16.0, but no wheel with a locked hash for Python 3.11 on x86_64" % index.url,
        "flashinfer-cubin==0.7.2.post1: %s/ has no project flashinfer-cubin" % index.url]
    assert result["download_bytes"] == 0


def test_a_wheel_for_another_python_is_not_served(registry):
    index = registry({"torch": [entry("torch-2.14.0-cp312-cp312-manylinux_2_28_x86_64.whl", A, 900)],
                      "six": [entry("six-1.16.0-py2.py3-none-any.whl", B, 11)]})
    result = venv_lock.check(LOCK, venv_lock.sources_for(index.url), "3.11", "x86_64")
    assert result["missing"] == ["torch==2.14.0: %s/ has torch 2.14.0, but no wheel with a locked hash for "
                                 "Python 3.11 on x86_64" % index.url]


def test_a_server_error_is_retried(registry, monkeypatch):
    monkeypatch.setattr(venv_lock.time, "sleep", lambda seconds: None)  # the retry's pause only
    index = registry({"torch": [entry("torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl", A, 900)],
                      "six": [entry("six-1.16.0-py2.py3-none-any.whl", B, 11)]})
    index.fail_first["torch"] = 2
    result = venv_lock.check(LOCK, venv_lock.sources_for(index.url), "3.11", "x86_64")
    assert result["missing"] == [] and result["errors"] == [] and index.requests.count("torch") == 3


def test_a_pep503_html_index_is_read_from_its_links(registry):
    index = registry({"torch": [entry("torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl", A, 900)],
                      "six": [entry("six-1.16.0-py2.py3-none-any.whl", "c" * 64, 11)]})
    index.server.kind = "text/html"
    result = venv_lock.check(LOCK, venv_lock.sources_for(index.url), "3.11", "x86_64")
    assert result["errors"] == [] and result["unsized"] == ["torch==2.14.0"]
    assert result["missing"] == ["six==1.16.0: %s/ has six 1.16.0, but no wheel with a locked hash for Python 3.11 "
                                 "on x86_64" % index.url]


def test_credentials_in_the_index_url_go_as_basic_auth_and_are_never_shown(registry):
    index = registry({"torch": [entry("torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl", A, 900)]})
    url = index.url.replace("http://", "http://deploy:s3cr%40t@")
    result = venv_lock.check(LOCK, venv_lock.sources_for(url), "3.11", "x86_64")
    assert index.auth[0] == "Basic " + base64.b64encode(b"deploy:s3cr@t").decode()
    assert result["missing"] == ["six==1.16.0: %s/ has no project six" % index.url]
    assert "s3cr" not in json.dumps(result) and "deploy" not in json.dumps(result)


def test_a_redirect_to_another_origin_gets_no_credentials(registry):
    other = registry({"torch": [entry("torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl", A, 900)],
                      "six": [entry("six-1.16.0-py2.py3-none-any.whl", B, 11)]})
    index = registry({})
    index.redirect = {"torch": other.url + "/torch/", "six": other.url + "/six/"}
    url = index.url.replace("http://", "http://deploy:s3cret@").replace("127.0.0.1", "localhost")
    result = venv_lock.check(LOCK, venv_lock.sources_for(url), "3.11", "x86_64")
    assert result["missing"] == [] and result["errors"] == []
    assert other.auth == [None, None], "the credentials went to the redirect's other origin"


def test_a_hostile_json_answer_is_a_clean_error(registry):
    index = registry({})
    index.raw = {"torch": b"\xff\xfe not utf-8", "six": b'["a list, not a page"]'}
    result = venv_lock.check(LOCK, venv_lock.sources_for(index.url), "3.11", "x86_64", workers=1)
    assert len(result["errors"]) == 2 and all("that is not a project page" in line for line in result["errors"])


def test_a_yanked_file_still_serves_its_pin(registry):
    yanked = dict(entry("six-1.16.0-py2.py3-none-any.whl", B, 11), yanked="broken metadata")
    index = registry({"torch": [entry("torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl", A, 900)],
                      "six": [yanked]})
    assert venv_lock.check(LOCK, venv_lock.sources_for(index.url), "3.11", "x86_64")["missing"] == []


def test_an_unreachable_index_is_one_error_that_hides_its_credentials(monkeypatch):
    monkeypatch.setattr(venv_lock.time, "sleep", lambda seconds: None)
    port = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    url = "http://user:s3cret@127.0.0.1:%d/simple" % port.server_port
    port.server_close()  # nothing listens there now
    lock = [("pkg%d" % number, "1.0", frozenset({A})) for number in range(20)]
    result = venv_lock.check(lock, venv_lock.sources_for(url), "3.11", "x86_64", workers=1)
    assert len(result["errors"]) == 1, result["errors"]
    assert result["errors"][0].startswith("http://127.0.0.1:%d/simple/ cannot be reached: " % port.server_port)
    assert result["errors"][0].endswith("(pkg0==1.0, pkg1==1.0, pkg2==1.0 and 17 more)")
    assert "s3cret" not in result["errors"][0] and "user" not in result["errors"][0]


def test_an_unreadable_first_index_does_not_stop_the_next(registry, monkeypatch):
    monkeypatch.setattr(venv_lock.time, "sleep", lambda seconds: None)
    good = registry({"torch": [entry("torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl", A, 900)],
                     "six": [entry("six-1.16.0-py2.py3-none-any.whl", B, 11)]})
    bad = registry({"torch": [], "six": []})
    for name in ("torch", "six"):
        bad.fail_first[name] = 99  # 503 every time
    result = venv_lock.check(LOCK, venv_lock.sources_for(bad.url, [good.url]), "3.11", "x86_64")
    assert result == {"missing": [], "download_bytes": 911, "unsized": [], "errors": []}


def test_a_wheelhouse_is_matched_by_name_and_version(tmp_path):
    (tmp_path / "torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"x" * 7)
    (tmp_path / "six-1.15.0-py2.py3-none-any.whl").write_bytes(b"x")
    result = venv_lock.check(LOCK, venv_lock.sources_for(wheelhouse=str(tmp_path)), "3.11", "x86_64")
    assert result["download_bytes"] == 7
    assert result["missing"] == ["six==1.16.0: %s has no version 1.16.0 of six (newest: 1.15.0)" % tmp_path]


def test_the_digest_is_of_the_bytes():
    assert venv_lock.digest_of("six==1\n") == hashlib.sha256(b"six==1\n").hexdigest()
