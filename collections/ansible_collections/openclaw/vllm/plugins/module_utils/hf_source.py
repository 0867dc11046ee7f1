# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetch a pinned revision of a Hugging Face model repository (stdlib only).

Talks to the Hub's HTTP API, or to any mirror that speaks it (``endpoint``: olah, a
company proxy): the tree API for the file list, sizes and digests at the revision, the
revision API for the commit and the gated flag, and ``resolve`` URLs for the bytes.

- ``plan()`` asks before any byte is fetched and refuses, naming repo and revision: a
  revision that is not 40 hex digits or does not exist, a repo that does not exist, a gated
  repo or a rejected token (the token is never part of a message), no safetensors among the
  files, or a disk that cannot hold what is left to fetch.
- ``fetch()`` downloads the files that the allow-patterns select into ``dest`` (a staging
  directory). A file is written as ``.openclaw-fetch/<name>.part``, checked against its digest
  (sha256 of an LFS file, else the git blob id) and only then renamed to its name: a file with
  its name in ``dest`` is complete, so a killed run followed by the next run fetches only what
  was not complete (and continues a partial file with an HTTP range request where the server
  honours it). Progress (bytes done of total) goes to a JSON file that a poller reads.

The token travels only in the ``Authorization`` header, and only to the endpoint's own
origin: a redirect to another host (the Hub's CDN) is followed without it.
"""

from __future__ import annotations

import fcntl
import fnmatch
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_ENDPOINT = "https://huggingface.co"
# What vLLM reads from a checkpoint; a repo's other files (pytorch_model.bin, *.pt, onnx/, gguf,
# original/) are not fetched. A pattern without "/" matches files at the top of the repo only.
DEFAULT_ALLOW_PATTERNS = [
    "*.safetensors", "*.safetensors.index.json",
    "config.json", "generation_config.json", "quant_config.json", "quantize_config.json",
    "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
    "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "*.tiktoken",
    "chat_template.json", "chat_template.jinja", "preprocessor_config.json",
]
WORK_SUFFIX = ".openclaw-fetch"
CHUNK = 1024 * 1024
PROGRESS_EVERY_S = 0.5
USER_AGENT = "openclaw-vllm (hf_model_fetch; stdlib urllib)"
HEX40 = re.compile(r"^[0-9a-f]{40}\Z")
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?\Z")


class HfError(Exception):
    """A refusal or a failure; the message names repo and revision and never the token."""


def human(num):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(num) < 1024 or unit == "TiB":
            return ("%d %s" % (num, unit)) if unit == "B" else ("%.1f %s" % (num, unit))
        num /= 1024.0
    return str(num)


def allowed(path, patterns):
    """fnmatch, except that a pattern without "/" matches only files at the top of the repo."""
    for pattern in patterns:
        if "/" not in pattern and "/" in path:
            continue
        if fnmatch.fnmatchcase(path, pattern):
            return True
    return False


def _origin(url):
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # followed by Hub._open, which decides whether the token goes along


class Hub(object):
    """The Hub HTTP API at ``endpoint``, with the token sent to that origin only."""

    def __init__(self, endpoint="", token="", timeout=60, ca_bundle=""):
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        if not re.match(r"^https?://[^/\s]+", self.endpoint):
            raise HfError("endpoint %r is not an http(s) URL" % self.endpoint)
        self.token = token or ""
        self.timeout = timeout
        handlers = [_NoRedirect()]
        if ca_bundle:
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_bundle)))
        self._opener = urllib.request.build_opener(*handlers)

    def redact(self, text):
        text = str(text)
        return text.replace(self.token, "<token>") if self.token else text

    def url(self, *parts, **query):
        path = "/".join(urllib.parse.quote(part, safe="/") for part in parts)
        return self.endpoint + "/" + path + ("?" + urllib.parse.urlencode(query) if query else "")

    def open(self, url, method="GET", headers=None):
        """One request through the opener, redirects followed by hand; returns the response, raises HTTPError/URLError."""
        for _hop in range(10):
            request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
            request.add_header("User-Agent", USER_AGENT)
            if self.token and _origin(url) == _origin(self.endpoint):
                request.add_unredirected_header("Authorization", "Bearer " + self.token)
            try:
                return self._opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                location = exc.headers.get("Location") if exc.code in (301, 302, 303, 307, 308) else None
                if not location:
                    raise
                exc.close()
                url = urllib.parse.urljoin(url, location)
                if exc.code == 303:
                    method = "GET"
        raise HfError("too many redirects from %s" % self.redact(url))

    def error(self, exc, repo, revision, what, anonymous_hint=True):
        """One message for an HTTP failure, as the Hub's own client tells them apart."""
        code = getattr(exc, "code", None)
        headers = getattr(exc, "headers", None) or {}
        error_code = headers.get("X-Error-Code", "")
        error_message = headers.get("X-Error-Message", "")
        where = "%s at revision %s on %s" % (repo, revision, self.endpoint)
        token_state = "with the token given" if self.token else "without a token (awq_model_hf_token is empty)"
        if code is None:
            reason = getattr(exc, "reason", exc)
            return HfError("cannot reach %s (%s) for %s: %s" % (self.endpoint, what, where, self.redact(reason)))
        if error_code == "RevisionNotFound" or (error_code == "EntryNotFound" and what == "file list"):
            return HfError("revision %s does not exist in %s on %s (HTTP %d %s)"
                           % (revision, repo, self.endpoint, code, error_code))
        if error_code == "GatedRepo":
            return HfError("%s is a gated repository and access was refused %s (HTTP %d): request access on the "
                           "model's page, then set awq_model_hf_token to a token of an account that was granted it"
                           % (where, token_state, code))
        if code == 401 and error_message == "Invalid credentials in Authorization header":
            return HfError("%s rejected the token (HTTP 401: invalid credentials) while reading %s: set "
                           "awq_model_hf_token to a valid token" % (self.endpoint, where))
        if error_code == "RepoNotFound" or code in (401, 404) and what in ("file list", "repository info"):
            return HfError("repository %s does not exist on %s, or it is private and cannot be read %s "
                           "(HTTP %d %s)" % (repo, self.endpoint, token_state, code, error_code or error_message))
        if code == 403:
            return HfError("%s refused access to %s %s (HTTP 403: %s): the token lacks the permission to read it"
                           % (self.endpoint, where, token_state, self.redact(error_message or "forbidden")))
        if code == 401:
            return HfError("%s refused access to %s %s (HTTP 401: %s)"
                           % (self.endpoint, where, token_state, self.redact(error_message or "unauthorized")))
        return HfError("%s answered HTTP %d to the %s request for %s%s" % (
            self.endpoint, code, what, where, (": " + self.redact(error_message)) if error_message else ""))

    def get_json(self, url, repo, revision, what):
        try:
            with self.open(url) as response:
                return json.loads(response.read().decode("utf-8")), response.headers
        except urllib.error.HTTPError as exc:
            raise self.error(exc, repo, revision, what)
        except (urllib.error.URLError, OSError) as exc:
            raise self.error(exc, repo, revision, what)
        except ValueError as exc:
            raise HfError("%s answered the %s request for %s@%s with something that is not JSON: %s"
                          % (self.endpoint, what, repo, revision, exc))

    def list_files(self, repo, revision):
        """Every file at the revision: path, size, and the digest to check it against."""
        url = self.url("api/models", repo, "tree", revision, recursive="true")
        files = []
        while url:
            try:
                entries, headers = self.get_json(url, repo, revision, "file list")
            except HfError as exc:
                if "does not exist in" in str(exc):
                    self.require_repo(repo, revision)  # a missing repo can look like a missing revision
                raise
            if not isinstance(entries, list):
                raise HfError("%s answered the file list of %s@%s with %s, expected a list"
                              % (self.endpoint, repo, revision, type(entries).__name__))
            for entry in entries:
                if not isinstance(entry, dict) or entry.get("type") != "file":
                    continue
                path = entry.get("path")
                if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
                    raise HfError("%s@%s lists a file outside the repository: %r" % (repo, revision, path))
                lfs = entry.get("lfs") if isinstance(entry.get("lfs"), dict) else None
                item = {"path": path, "size": int((lfs or entry).get("size", entry.get("size", 0)))}
                if lfs and re.match(r"^[0-9a-f]{64}\Z", str(lfs.get("oid", ""))):
                    item["sha256"] = lfs["oid"]
                elif not lfs and HEX40.match(str(entry.get("oid", ""))):
                    item["git_oid"] = entry["oid"]
                files.append(item)
            match = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("Link", "") or "")
            url = urllib.parse.urljoin(url, match.group(1)) if match else None
        return files

    def require_repo(self, repo, revision):
        """Raise the repo's own error when the repo (not only the revision) cannot be read."""
        try:
            with self.open(self.url("api/models", repo, "revision", "main")):
                return
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403, 404) and exc.headers.get("X-Error-Code", "") != "RevisionNotFound":
                raise self.error(exc, repo, revision, "repository info")
        except (urllib.error.URLError, OSError):
            return

    def repo_info(self, repo, revision):
        info, _headers = self.get_json(self.url("api/models", repo, "revision", revision), repo, revision,
                                       "repository info")
        return info if isinstance(info, dict) else {}

    def check_access(self, repo, revision, path):
        """HEAD one file: a gated repo or a token without access shows up here, before any download."""
        try:
            with self.open(self.url(repo, "resolve", revision, path), method="HEAD"):
                return
        except urllib.error.HTTPError as exc:
            raise self.error(exc, repo, revision, "file")
        except (urllib.error.URLError, OSError) as exc:
            raise self.error(exc, repo, revision, "file")


def check_spec(repo, revision):
    if not REPO_ID.match(repo or "") or ".." in repo:
        raise HfError("repository %r is not a Hugging Face repo id (org/name)" % repo)
    if not HEX40.match(revision or ""):
        raise HfError("revision %r of %s is not a pinned commit: give the 40 hex digits of a commit (a branch or "
                      "tag could move)" % (revision, repo))


def _free_bytes(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return shutil.disk_usage(path).free, path


def work_dir(dest):
    """Beside the staging directory, never inside it: the lock, the pin, the partial files, the progress."""
    return os.path.normpath(dest) + WORK_SUFFIX


def default_progress_file(dest):
    return os.path.join(work_dir(dest), "progress.json")


def _state_path(dest):
    return os.path.join(work_dir(dest), "state.json")


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def _part_path(dest, path):
    return os.path.join(work_dir(dest), "parts", path + ".part")


def _staged(dest, item, same_pin):
    """Bytes of ``item`` already in staging: complete (renamed after its digest matched) or partial."""
    if not same_pin:
        return 0, 0
    final = os.path.join(dest, item["path"])
    if os.path.isfile(final) and os.path.getsize(final) == item["size"]:
        return item["size"], 0
    part = _part_path(dest, item["path"])
    return 0, (min(os.path.getsize(part), item["size"]) if os.path.isfile(part) else 0)


def plan(repo, revision, dest, endpoint="", token="", allow_patterns=None, reserve_bytes=0, timeout=60,
         ca_bundle=""):
    """What a fetch of repo@revision into dest needs; raises HfError when it cannot work."""
    check_spec(repo, revision)
    patterns = list(allow_patterns or DEFAULT_ALLOW_PATTERNS)
    hub = Hub(endpoint, token, timeout, ca_bundle)
    entries = hub.list_files(repo, revision)
    info = hub.repo_info(repo, revision)
    sha = info.get("sha")
    if sha and sha != revision:
        raise HfError("revision %s of %s on %s resolves to commit %s: pin the commit itself"
                      % (revision, repo, hub.endpoint, sha))
    files = sorted((item for item in entries if allowed(item["path"], patterns)),
                   key=lambda item: (item["size"], item["path"]))
    excluded = sorted(item["path"] for item in entries if not allowed(item["path"], patterns))
    if not any(item["path"].endswith(".safetensors") for item in files):
        raise HfError("%s at revision %s on %s has no .safetensors files among %s (of all its files: %s)" % (
            repo, revision, hub.endpoint, ", ".join(patterns),
            ", ".join(item["path"] for item in entries)[:600] or "none"))
    names = [item["path"] for item in files]
    probe = "config.json" if "config.json" in names else names[0]
    hub.check_access(repo, revision, probe)
    state = _read_json(_state_path(dest))
    same_pin = state.get("repo") == repo and state.get("revision") == revision
    complete = partial = 0
    for item in files:
        done, part = _staged(dest, item, same_pin)
        complete += done
        partial += part
    total = sum(item["size"] for item in files)
    needed = total - complete - partial
    free, checked = _free_bytes(dest)
    result = {
        "repo": repo, "revision": revision, "endpoint": hub.endpoint,
        "gated": info.get("gated", False), "private": info.get("private", False),
        "files": files, "excluded": excluded, "total_bytes": total,
        "staged_bytes": complete, "partial_bytes": partial, "download_bytes": total - complete,
        "needed_bytes": needed + reserve_bytes, "free_bytes": free, "checked_path": checked,
    }
    if free < needed + reserve_bytes:
        raise HfError(
            "not enough space for %s at revision %s: %s (%d bytes) free under %s, the download needs %s (%d bytes: "
            "%d files, %d bytes in all, %d already staged%s). Nothing was fetched." % (
                repo, revision, human(free), free, checked, human(needed + reserve_bytes), needed + reserve_bytes,
                len(files), total, complete + partial,
                (", plus %d bytes kept free" % reserve_bytes) if reserve_bytes else ""))
    return result


class Progress(object):
    """The progress file: bytes done of total, rewritten (atomically) at most every half second."""

    def __init__(self, path, plan_result):
        self.path = path
        self.data = {
            "pid": os.getpid(), "repo": plan_result["repo"], "revision": plan_result["revision"],
            "endpoint": plan_result["endpoint"], "state": "starting", "total_bytes": plan_result["total_bytes"],
            "done_bytes": 0, "fetched_bytes": 0, "files_total": len(plan_result["files"]), "files_done": 0,
            "current": None, "started": time.time(), "updated": time.time(), "rate_bps": 0, "error": None,
        }
        self._last = 0.0

    def update(self, force=False, **values):
        self.data.update(values)
        now = time.time()
        if not self.path or (not force and now - self._last < PROGRESS_EVERY_S):
            return
        self._last = now
        self.data["updated"] = now
        elapsed = max(now - self.data["started"], 1e-6)
        self.data["rate_bps"] = int(self.data["fetched_bytes"] / elapsed)
        tmp = "%s.%d.tmp" % (self.path, os.getpid())
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(self.data, handle)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path)


def _git_blob_hasher(size):
    digest = hashlib.sha1()
    digest.update(b"blob %d\0" % size)
    return digest


def _hasher(item):
    if "sha256" in item:
        return hashlib.sha256(), item["sha256"]
    if "git_oid" in item:
        return _git_blob_hasher(item["size"]), item["git_oid"]
    return None, None


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _clear(directory, keep=()):
    for name in os.listdir(directory):
        if name not in keep:
            _remove(os.path.join(directory, name))


def _fetch_one(hub, repo, revision, dest, item, progress, done_before, retries=3):
    """Download one file into its .part, check its digest, rename it into place. Returns bytes fetched."""
    part = _part_path(dest, item["path"])
    os.makedirs(os.path.dirname(part), exist_ok=True)
    fetched = 0
    for attempt in range(1, retries + 1):
        offset = os.path.getsize(part) if os.path.isfile(part) else 0
        if offset > item["size"]:
            os.unlink(part)
            offset = 0
        headers = {"Accept-Encoding": "identity"}
        if 0 < offset:
            headers["Range"] = "bytes=%d-" % offset
        try:
            response = hub.open(hub.url(repo, "resolve", revision, item["path"]), headers=headers)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset == item["size"]:
                response = None
            else:
                raise hub.error(exc, repo, revision, "file")
        except (urllib.error.URLError, OSError) as exc:
            if attempt == retries:
                raise hub.error(exc, repo, revision, "file")
            time.sleep(2 * attempt)
            continue
        try:
            if response is not None and response.status != 206:
                offset = 0  # the server ignored the range (olah does): the file starts over
            mode = "ab" if offset else "wb"
            with open(part, mode) as out:
                if response is not None:
                    while True:
                        chunk = response.read(CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        fetched += len(chunk)
                        offset += len(chunk)
                        progress.update(done_bytes=done_before + offset, current=item["path"],
                                        fetched_bytes=progress.data["fetched_bytes"] + len(chunk))
                out.flush()
                os.fsync(out.fileno())
        except (OSError, socket.timeout) as exc:
            if getattr(exc, "errno", None) == 28 or attempt == retries:
                raise HfError("downloading %s of %s at revision %s failed after %d bytes: %s"
                              % (item["path"], repo, revision, offset, hub.redact(exc)))
            time.sleep(2 * attempt)
            continue
        finally:
            if response is not None:
                response.close()
        if offset < item["size"]:
            if attempt == retries:
                raise HfError("downloading %s of %s at revision %s ended after %d of %d bytes"
                              % (item["path"], repo, revision, offset, item["size"]))
            continue
        break
    size = os.path.getsize(part)
    if size != item["size"]:
        os.unlink(part)
        raise HfError("%s of %s at revision %s is %d bytes, the file list says %d"
                      % (item["path"], repo, revision, size, item["size"]))
    digest, expected = _hasher(item)
    if digest is not None:
        with open(part, "rb") as handle:
            for chunk in iter(lambda: handle.read(4 * CHUNK), b""):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            os.unlink(part)
            raise HfError("%s of %s at revision %s does not match its digest (expected %s, got %s): removed"
                          % (item["path"], repo, revision, expected, digest.hexdigest()))
    final = os.path.join(dest, item["path"])
    os.makedirs(os.path.dirname(final), exist_ok=True)
    os.chmod(part, 0o644)
    os.replace(part, final)
    return fetched


def fetch(plan_result, dest, token="", progress_file="", timeout=60, ca_bundle=""):
    """Download what ``plan_result`` lists into ``dest``; resumes what an earlier run left there."""
    repo, revision = plan_result["repo"], plan_result["revision"]
    hub = Hub(plan_result["endpoint"], token, timeout, ca_bundle)
    progress = Progress(progress_file or default_progress_file(dest), plan_result)
    work = work_dir(dest)
    os.makedirs(work, mode=0o755, exist_ok=True)
    os.makedirs(dest, mode=0o755, exist_ok=True)
    with open(os.path.join(work, "lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # A play stopped on the controller leaves its async job running on the host: let it end.
            progress.update(force=True, state="waiting for an earlier download of this model to end")
            fcntl.flock(lock, fcntl.LOCK_EX)
        state = _read_json(_state_path(dest))
        if state.get("repo") != repo or state.get("revision") != revision:
            _clear(dest)  # what another pin (or source) left: not this revision's files
            _clear(work, keep=("lock", "progress.json"))
            with open(_state_path(dest), "w", encoding="utf-8") as handle:
                json.dump({"repo": repo, "revision": revision, "endpoint": hub.endpoint}, handle)
        wanted = set(item["path"] for item in plan_result["files"])
        for name in os.listdir(dest):  # nothing else may end up in the model
            if name not in wanted and not any(path.startswith(name + "/") for path in wanted):
                _remove(os.path.join(dest, name))
        done = fetched = reused = 0
        fetched_files, reused_files = [], []
        progress.update(force=True, state="running")
        try:
            for index, item in enumerate(plan_result["files"]):
                complete, _partial = _staged(dest, item, True)
                if complete:
                    reused += complete
                    reused_files.append(item["path"])
                else:
                    fetched += _fetch_one(hub, repo, revision, dest, item, progress, done)
                    fetched_files.append(item["path"])
                done += item["size"]
                progress.update(force=True, done_bytes=done, files_done=index + 1)
        except HfError as exc:
            progress.update(force=True, state="failed", error=str(exc))
            raise
        except Exception as exc:
            progress.update(force=True, state="failed", error=hub.redact(exc))
            raise HfError("downloading %s at revision %s failed: %s" % (repo, revision, hub.redact(exc)))
        _remove(os.path.join(work, "parts"))
        progress.update(force=True, state="done", current=None)
    return {"fetched_bytes": fetched, "reused_bytes": reused, "fetched_files": fetched_files,
            "reused_files": reused_files, "seconds": round(time.time() - progress.data["started"], 2)}


def read_progress(path):
    return _read_json(path)


def progress_message(data):
    if not data:
        return "no progress yet"
    total = data.get("total_bytes") or 0
    done = data.get("done_bytes") or 0
    pct = (100.0 * done / total) if total else 100.0
    msg = "%s@%s: %s of %s (%.0f%%), %d of %d files" % (
        data.get("repo"), str(data.get("revision"))[:12], human(done), human(total), pct,
        data.get("files_done", 0), data.get("files_total", 0))
    if data.get("state") == "running":
        msg += ", %s/s" % human(data.get("rate_bps", 0))
        if data.get("current"):
            msg += ", now %s" % data["current"]
    elif data.get("state"):
        msg += ", %s" % data["state"]
    if data.get("error"):
        msg += ": %s" % data["error"]
    return msg


def wait_progress(path, results_file="", wait=10.0, poll=0.5):
    """Progress after up to ``wait`` seconds; returns early once the job's result is written."""
    deadline = time.monotonic() + wait
    while True:
        data = read_progress(path)
        finished = _job_finished(results_file) if results_file else data.get("state") in ("done", "failed")
        if finished or time.monotonic() >= deadline:
            return data, not finished
        time.sleep(poll)


def _job_finished(results_file):
    """An Ansible async job has finished once its results file holds more than the start record."""
    path = os.path.expanduser(results_file)
    if not os.path.exists(path):
        return True  # cleaned up: nothing left to wait for (async_status says how it ended)
    result = _read_json(path)
    return bool(result) and not (result.get("started") and result.get("finished") in (False, 0))
