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
origin: a redirect to another host (the Hub's CDN) is followed without it; a redirect to another
scheme than http(s) is refused. Every error is an HfError that names the file (where there is one), repo
and revision, with the token masked wherever a server or an exception echoed it.

A server is trusted no further than this: the file list is checked entry by entry (a path inside the
model directory, a whole size, a digest to check; no file twice); a body is read to its listed size
and no further; a 429 or 5xx answer is tried again after its Retry-After (at most RETRY_WAIT_CAP_S);
redirects, attempts, pages, and the bytes and time of an API answer are bounded (the constants below).
"""

from __future__ import annotations

import email.utils
import errno
import fcntl
import fnmatch
import hashlib
import http.client
import json
import os
import re
import shutil
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from .host.redact import redact

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
SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
# Bounds on what a server can make a run do: redirects per request, attempts of a request (a 429 or 5xx
# answer, a broken download), the wait between attempts (whatever Retry-After says), pages of the file
# list, bytes of one API answer and the time it may take (in request timeouts).
MAX_REDIRECTS = 5
ATTEMPTS = 5
RETRY_WAIT_CAP_S = 60
TRANSIENT_CODES = (429, 500, 502, 503, 504)
MAX_PAGES = 1000
MAX_JSON_BYTES = 32 * 1024 * 1024
JSON_READ_TIMEOUTS = 5
# What a request can raise besides HTTPError (a URLError): a refused connection, a timeout, a reset, a
# status line that is not HTTP.
NETWORK_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException)
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


def label(repo, revision, path=None):
    """How a message names what it is about: the file (if any), the repo and the revision."""
    return "%s%s at revision %s" % (("%s of " % path) if path else "", repo, revision)


def _clean_token(token):
    """The token as it goes on the wire. The line end that a CRLF file or a YAML block scalar leaves is
    stripped; anything else that cannot be in a header value is refused, and the token is never shown."""
    token = (token or "").strip()
    if token and not re.match(r"^[\x21-\x7e]+\Z", token):
        raise HfError("the token (awq_model_hf_token) has a space, a line break or a character that is not "
                      "printable ASCII inside it: give the token alone (it is not shown here)")
    return token


def _safe_path(path):
    """A path that stays inside the model directory: relative, valid UTF-8, no control character, no
    empty, "." or ".." part."""
    if not isinstance(path, str) or not path or len(path) > 1024 or path.startswith("/"):
        return False
    try:
        path.encode("utf-8")  # a lone surrogate from a JSON \udcxx escape is not a name
    except UnicodeEncodeError:
        return False
    if any(ord(char) < 0x20 or ord(char) == 0x7f for char in path):
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # followed by Hub._follow, which decides where it may go and whether the token goes along


class Hub(object):
    """The Hub HTTP API at ``endpoint``, with the token sent to that origin only."""

    def __init__(self, endpoint="", token="", timeout=60, ca_bundle="", retry_wait_cap=RETRY_WAIT_CAP_S):
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        if not re.match(r"^https?://[^/\s]+", self.endpoint):
            raise HfError("endpoint %r is not an http(s) URL" % self.endpoint)
        self.token = _clean_token(token)
        self.timeout = timeout
        self.retry_wait_cap = retry_wait_cap
        handlers = [_NoRedirect()]
        if ca_bundle:
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_bundle)))
        self._opener = urllib.request.build_opener(*handlers)

    def url(self, *parts, **query):
        path = "/".join(urllib.parse.quote(part, safe="/") for part in parts)
        return self.endpoint + "/" + path + ("?" + urllib.parse.urlencode(query) if query else "")

    def wait(self, attempt, headers=None):
        """Seconds to wait before the next attempt: the server's Retry-After (seconds or an HTTP date), else
        1, 2, 4 ... s; never more than the cap, so a hostile Retry-After cannot stall a run."""
        value = str((headers or {}).get("Retry-After") or "").strip()
        seconds = 2 ** (attempt - 1)
        if value.isdigit():
            seconds = int(value)
        elif value:
            try:
                seconds = (email.utils.parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds()
            except (TypeError, ValueError):
                pass
        return max(0, min(seconds, self.retry_wait_cap))

    def open(self, url, what, method="GET", headers=None):
        """One request for ``what`` (a label, for messages). A 429 or 5xx answer is tried again, ATTEMPTS times
        in all, from the start (a CDN's signed URL may have expired). Returns the response; raises HTTPError,
        a NETWORK_ERRORS error, or HfError for a redirect that is refused."""
        for attempt in range(1, ATTEMPTS):
            try:
                return self._follow(url, what, method, headers)
            except urllib.error.HTTPError as exc:
                if exc.code not in TRANSIENT_CODES:
                    raise
                exc.close()
                time.sleep(self.wait(attempt, exc.headers))
        return self._follow(url, what, method, headers)  # the last attempt: its error is the caller's

    def _follow(self, url, what, method, headers):
        """Redirects by hand: http(s) only, at most MAX_REDIRECTS, the token to the endpoint's origin only
        (the Hub sends file downloads to its CDN, which gets no token)."""
        for _hop in range(MAX_REDIRECTS + 1):
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise HfError("%s on %s was redirected to %s: only http(s) redirects are followed"
                              % (what, self.endpoint, ascii(url)[:300]))
            request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
            request.add_header("User-Agent", USER_AGENT)
            try:
                if self.token and _origin(url) == _origin(self.endpoint):
                    request.add_unredirected_header("Authorization", "Bearer " + self.token)
                return self._opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                location = exc.headers.get("Location") if exc.code in (301, 302, 303, 307, 308) else None
                if not location:
                    raise
                exc.close()
                url = urllib.parse.urljoin(url, location)
                if exc.code == 303:
                    method = "GET"
            except ValueError as exc:  # a port out of range, a URL http.client cannot send
                raise HfError("%s on %s: cannot request %s (%s)" % (what, self.endpoint, ascii(url)[:300], exc))
        raise HfError("%s on %s: more than %d redirects, the last to %s"
                      % (what, self.endpoint, MAX_REDIRECTS, ascii(url)[:300]))

    def error(self, exc, repo, revision, what, path=None):
        """One message for an HTTP failure, as the Hub's own client tells them apart."""
        code = getattr(exc, "code", None)
        headers = getattr(exc, "headers", None) or {}
        error_code = headers.get("X-Error-Code", "")
        error_message = headers.get("X-Error-Message", "")
        where = "%s on %s" % (label(repo, revision, path), self.endpoint)
        token_state = "with the token given" if self.token else "without a token (awq_model_hf_token is empty)"
        if code is None:
            reason = getattr(exc, "reason", None) or "%s: %s" % (type(exc).__name__, exc)
            return HfError("cannot reach %s (%s) for %s: %s" % (self.endpoint, what, where, reason))
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
                           % (self.endpoint, where, token_state, error_message or "forbidden"))
        if code == 401:
            return HfError("%s refused access to %s %s (HTTP 401: %s)"
                           % (self.endpoint, where, token_state, error_message or "unauthorized"))
        return HfError("%s answered HTTP %d to the %s request for %s%s%s" % (
            self.endpoint, code, what, where, (": " + error_message) if error_message else "",
            (" (after %d attempts)" % ATTEMPTS) if code in TRANSIENT_CODES else ""))

    def get_json(self, url, repo, revision, what):
        """An API answer: at most MAX_JSON_BYTES, in full within JSON_READ_TIMEOUTS timeouts."""
        name = "the %s of %s" % (what, label(repo, revision))
        deadline = time.monotonic() + JSON_READ_TIMEOUTS * self.timeout
        body = bytearray()
        try:
            with self.open(url, name) as response:
                while len(body) <= MAX_JSON_BYTES:
                    if time.monotonic() > deadline:
                        raise HfError("%s on %s did not arrive within %d s: refused"
                                      % (name, self.endpoint, JSON_READ_TIMEOUTS * self.timeout))
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    body += chunk
                headers = response.headers
        except urllib.error.HTTPError as exc:
            raise self.error(exc, repo, revision, what)
        except NETWORK_ERRORS as exc:
            raise self.error(exc, repo, revision, what)
        if len(body) > MAX_JSON_BYTES:
            raise HfError("%s on %s is longer than %s: refused" % (name, self.endpoint, human(MAX_JSON_BYTES)))
        try:
            return json.loads(bytes(body).decode("utf-8")), headers
        except (ValueError, RecursionError) as exc:
            raise HfError("%s answered the %s request for %s@%s with something that is not JSON: %s"
                          % (self.endpoint, what, repo, revision, exc))

    def list_files(self, repo, revision):
        """Every file at the revision: path, size, and the digest to check it against. The pages are bounded
        (MAX_PAGES, no page twice) and every entry is checked before anything trusts it."""
        url = self.url("api/models", repo, "tree", revision, recursive="true")
        files, pages = {}, set()
        while url:
            if url in pages:
                raise HfError("the file list of %s on %s links back to a page it gave already (%s): refused"
                              % (label(repo, revision), self.endpoint, ascii(url)[:300]))
            if len(pages) == MAX_PAGES:
                raise HfError("the file list of %s on %s has more than %d pages: refused"
                              % (label(repo, revision), self.endpoint, MAX_PAGES))
            pages.add(url)
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
                item = _listed_file(entry, repo, revision)
                if item is None:
                    continue
                if item["path"] in files:
                    raise HfError("the file list of %s lists %s twice: refused" % (label(repo, revision), item["path"]))
                files[item["path"]] = item
            match = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("Link", "") or "")
            url = urllib.parse.urljoin(url, match.group(1)) if match else None
        directories = set(parent for path in files for parent in _parents(path))
        clash = sorted(directories & set(files))
        if clash:
            raise HfError("the file list of %s lists %s both as a file and as a directory of other files: refused"
                          % (label(repo, revision), clash[0]))
        return list(files.values())

    def require_repo(self, repo, revision):
        """Raise the repo's own error when the repo (not only the revision) cannot be read."""
        try:
            with self.open(self.url("api/models", repo, "revision", "main"), "the repository info of %s" % repo):
                return
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403, 404) and exc.headers.get("X-Error-Code", "") != "RevisionNotFound":
                raise self.error(exc, repo, revision, "repository info")
        except NETWORK_ERRORS:
            return

    def repo_info(self, repo, revision):
        info, _headers = self.get_json(self.url("api/models", repo, "revision", revision), repo, revision,
                                       "repository info")
        return info if isinstance(info, dict) else {}

    def check_access(self, repo, revision, path):
        """HEAD one file: a gated repo or a token without access shows up here, before any download."""
        try:
            with self.open(self.url(repo, "resolve", revision, path), label(repo, revision, path), method="HEAD"):
                return
        except urllib.error.HTTPError as exc:
            raise self.error(exc, repo, revision, "file", path)
        except NETWORK_ERRORS as exc:
            raise self.error(exc, repo, revision, "file", path)


def _parents(path):
    """The directories a path lies in: a/b/c -> a, a/b."""
    parts = path.split("/")
    return ["/".join(parts[:index]) for index in range(1, len(parts))]


def _listed_file(entry, repo, revision):
    """One entry of the tree listing as a file to fetch (None for a directory), or HfError: the path must
    stay inside the model directory, the size be a whole number of bytes, and the digest be one that is
    checked after the download (sha256 of an LFS file, else the git blob id, both lowercase hex)."""
    where = "the file list of %s" % label(repo, revision)
    if not isinstance(entry, dict) or entry.get("type") not in ("file", "directory"):
        raise HfError("%s has an entry that is neither a file nor a directory: %s" % (where, ascii(entry)[:300]))
    path = entry.get("path")
    if not _safe_path(path):
        raise HfError("%s lists a path that is not a relative path inside the repository (UTF-8, no \"..\", "
                      "no control character): %s" % (where, ascii(path)[:300]))
    if entry["type"] == "directory":
        return None
    lfs = entry.get("lfs")
    if lfs is not None and not isinstance(lfs, dict):
        raise HfError("%s lists %s with an lfs field that is not an object: %s" % (where, path, ascii(lfs)[:100]))
    size = lfs.get("size", entry.get("size")) if lfs is not None else entry.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:  # nor a float or a string
        raise HfError("%s lists %s with size %s: expected a whole number of bytes, 0 or more"
                      % (where, path, ascii(size)[:100]))
    item = {"path": path, "size": size}
    oid = (lfs if lfs is not None else entry).get("oid")
    if lfs is not None and isinstance(oid, str) and SHA256.match(oid):
        item["sha256"] = oid
    elif lfs is None and isinstance(oid, str) and HEX40.match(oid):
        item["git_oid"] = oid
    else:
        raise HfError("%s lists %s without a digest it can be checked against (expected %s, got %s): refused"
                      % (where, path, "lfs.oid, the 64 lowercase hex digits of its sha256" if lfs is not None
                         else "oid, the 40 lowercase hex digits of its git blob id", ascii(oid)[:100]))
    return item


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


def _masked(exc, token, context):
    """What leaves this module as an error: an HfError (any other exception after ``context``), with the
    token masked wherever a server's answer or an exception echoed it."""
    text = str(exc) if isinstance(exc, HfError) else "%s: %s (%s)" % (context, exc, type(exc).__name__)
    return HfError(redact(text, [token]))


def plan(repo, revision, dest, endpoint="", token="", allow_patterns=None, reserve_bytes=0, timeout=60,
         ca_bundle=""):
    """What a fetch of repo@revision into dest needs; raises HfError when it cannot work."""
    try:
        return _plan(repo, revision, dest, endpoint, token, allow_patterns, reserve_bytes, timeout, ca_bundle)
    except Exception as exc:  # no traceback for any answer: an HfError that names what failed
        raise _masked(exc, token, "asking %s for the files of %s failed"
                      % (endpoint or DEFAULT_ENDPOINT, label(repo, revision))) from None


def _plan(repo, revision, dest, endpoint, token, allow_patterns, reserve_bytes, timeout, ca_bundle):
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


def _hasher(item, name):
    """The digest a download is checked against; a file without one is never accepted unchecked."""
    if "sha256" in item:
        return hashlib.sha256(), item["sha256"]
    if "git_oid" in item:
        return _git_blob_hasher(item["size"]), item["git_oid"]
    raise HfError("%s has no digest to check it against: refused" % name)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _clear(directory, keep=()):
    for name in os.listdir(directory):
        if name not in keep:
            _remove(os.path.join(directory, name))


def _fetch_one(hub, repo, revision, dest, item, progress, done_before):
    """Download one file into its .part (a broken connection is continued with a range request), check its
    size and digest, rename it into place. Returns bytes fetched."""
    path, size = item["path"], item["size"]
    name = label(repo, revision, path)
    part = _part_path(dest, path)
    os.makedirs(os.path.dirname(part), exist_ok=True)
    fetched = 0
    for attempt in range(1, ATTEMPTS + 1):
        offset = os.path.getsize(part) if os.path.isfile(part) else 0
        if offset > size:
            os.unlink(part)
            offset = 0
        headers = {"Accept-Encoding": "identity"}
        if 0 < offset:
            headers["Range"] = "bytes=%d-" % offset
        try:
            response = hub.open(hub.url(repo, "resolve", revision, path), name, headers=headers)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset == size:
                response = None
            else:
                raise hub.error(exc, repo, revision, "file", path)
        except NETWORK_ERRORS as exc:
            if attempt == ATTEMPTS:
                raise hub.error(exc, repo, revision, "file", path)
            time.sleep(hub.wait(attempt))
            continue
        too_long = False
        try:
            if response is not None and response.status != 206:
                offset = 0  # the server ignored the range (olah does): the file starts over
            with open(part, "ab" if offset else "wb") as out:
                while response is not None:
                    # Never past the listed size: a byte more and the body is longer than the list says.
                    chunk = response.read(min(CHUNK, size - offset) or 1)
                    if not chunk:
                        break
                    if offset + len(chunk) > size:
                        too_long = True
                        break
                    out.write(chunk)
                    fetched += len(chunk)
                    offset += len(chunk)
                    progress.update(done_bytes=done_before + offset, current=path,
                                    fetched_bytes=progress.data["fetched_bytes"] + len(chunk))
                out.flush()
                os.fsync(out.fileno())
        except (OSError, http.client.HTTPException) as exc:
            if getattr(exc, "errno", None) == errno.ENOSPC or attempt == ATTEMPTS:
                raise HfError("downloading %s failed after %d bytes: %s: %s" % (name, offset, type(exc).__name__, exc))
            time.sleep(hub.wait(attempt))
            continue
        finally:
            if response is not None:
                response.close()
        if too_long:
            os.unlink(part)
            raise HfError("%s on %s is longer than the %d bytes the file list gives it: removed"
                          % (name, hub.endpoint, size))
        if offset < size:
            if attempt == ATTEMPTS:
                raise HfError("downloading %s ended after %d of %d bytes (%d attempts)"
                              % (name, offset, size, ATTEMPTS))
            time.sleep(hub.wait(attempt))
            continue
        break
    actual = os.path.getsize(part)
    if actual != size:
        os.unlink(part)
        raise HfError("%s is %d bytes, the file list says %d" % (name, actual, size))
    digest, expected = _hasher(item, name)
    with open(part, "rb") as handle:
        for chunk in iter(lambda: handle.read(4 * CHUNK), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        os.unlink(part)
        raise HfError("%s does not match its digest (expected %s, got %s): removed"
                      % (name, expected, digest.hexdigest()))
    final = os.path.join(dest, path)
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
        current = None
        try:
            for index, item in enumerate(plan_result["files"]):
                current = item["path"]
                complete, _partial = _staged(dest, item, True)
                if complete:
                    reused += complete
                    reused_files.append(item["path"])
                else:
                    fetched += _fetch_one(hub, repo, revision, dest, item, progress, done)
                    fetched_files.append(item["path"])
                done += item["size"]
                progress.update(force=True, done_bytes=done, files_done=index + 1)
        except Exception as exc:  # no traceback for any answer, and the token in no message
            error = _masked(exc, token, "downloading %s failed" % label(repo, revision, current))
            progress.update(force=True, state="failed", error=str(error))
            raise error from None
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
