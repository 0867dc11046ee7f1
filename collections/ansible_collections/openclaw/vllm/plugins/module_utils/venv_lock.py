# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hash-pinned locks of a vLLM build: what a lock pins, and whether a package source serves it (stdlib only).

A lock is the requirements file ``uv pip compile --generate-hashes`` writes: one ``name==version``
per package with the sha256 of every file the registry had for it. pip installs it with
``--require-hashes --no-deps``: nothing outside the lock, nothing that changed since.

``check`` answers, before any download, the question a build otherwise answers after 4.6 GB:
does the source this host installs from (an index, or a wheelhouse directory) still serve a
file of every locked version with a locked hash, for this host's Python and machine? It reads
the index's metadata only (PEP 691 JSON, the file sizes of PEP 700), never a wheel, and sums
what the build will download.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import html.parser
import http.client
import json
import os
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# An index answer larger than this is not a project page.
MAX_PAGE_BYTES = 32 * 1024 * 1024
TIMEOUT = 20
# Tries per project page: a resolver hiccup must not read as a missing package.
TRIES = 3
WORKERS = 8
# Versions a "not found" message lists.
SHOWN_VERSIONS = 6

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(\\)?$")
_HASH = re.compile(r"^--hash=sha256:([0-9a-f]{64})\s*(\\)?$")


class LockError(Exception):
    """The lock is not one this module can read; the message names the line."""


def normalize(name):
    """PEP 503 project name: runs of -_. as one -, lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text):
    """[(name, version, frozenset of sha256)] of a lock; LockError for a line that is not a pin, a
    hash or a comment, and for a pin without a hash (pip's hash mode would refuse it later)."""
    pins, current, continued = [], None, False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continued = False
            continue
        pin, digest = _PIN.match(line), _HASH.match(line)
        if pin and not continued:
            current = (normalize(pin.group(1)), pin.group(2), set())
            pins.append(current)
            continued = bool(pin.group(3))
        elif digest and continued and current is not None:
            current[2].add(digest.group(1))
            continued = bool(digest.group(2))
        else:
            raise LockError("line %d is not 'name==version', '--hash=sha256:<64 hex>' or a comment: %r"
                            % (number, line[:120]))
    for name, version, hashes in pins:
        if not hashes:
            raise LockError("%s==%s has no --hash: every package of a lock needs one" % (name, version))
    return [(name, version, frozenset(hashes)) for name, version, hashes in pins]


def digest_of(text):
    """What the build marker and the build id record of a lock."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def wheel_fits(filename, python, machine):
    """True when the wheel ``filename`` installs on CPython ``python`` ('3.11') on ``machine``
    ('x86_64'). The glibc floor is the role's own preflight check (manylinux tags are not)."""
    if not filename.endswith(".whl"):
        return False
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        return False
    pythons, abis, platforms = parts[-3].split("."), parts[-2].split("."), parts[-1].split(".")
    major, minor = (int(part) for part in python.split(".")[:2])
    cp = "cp%d%d" % (major, minor)

    def python_ok(tag):
        if tag in (cp, "py3"):
            return True
        # py37: any Python 3 from 3.7 on (as pip reads it); cp38-abi3: any CPython from 3.8 on.
        found = re.fullmatch(r"(py|cp)3(\d+)", tag)
        if not found or int(found.group(2)) > minor:
            return False
        return found.group(1) == "py" or "abi3" in abis

    def platform_ok(tag):
        return tag == "any" or (tag.endswith("_" + machine) and tag.startswith(("manylinux", "linux")))

    return any(python_ok(tag) for tag in pythons) and any(platform_ok(tag) for tag in platforms)


def _version_of(filename, name):
    """The version part of a wheel or sdist file name of project ``name``; None if it is not one."""
    base = filename[:-4] if filename.endswith(".whl") else re.sub(r"\.(tar\.gz|zip)$", "", filename)
    if filename.endswith(".whl"):
        parts = base.split("-")
        return parts[1] if len(parts) >= 5 and normalize(parts[0]) == name else None
    head, version = base.rpartition("-")[::2]
    return version if normalize(head) == name else None


def _same_version(found, locked):
    return found is not None and found.lower().replace("_", "-") == locked.lower().replace("_", "-")


class _Links(html.parser.HTMLParser):
    """The file links of a PEP 503 project page: (file name, sha256 from the #sha256= fragment)."""

    def __init__(self):
        html.parser.HTMLParser.__init__(self)
        self.files = []

    def handle_starttag(self, tag, attrs):
        if tag != "a":
            return
        href = dict(attrs).get("href") or ""
        url, _sep, fragment = href.partition("#")
        filename = urllib.parse.unquote(url.rsplit("/", 1)[-1])
        digest = fragment[len("sha256="):] if fragment.startswith("sha256=") else None
        self.files.append({"filename": filename, "sha256": digest, "size": None})


class _SameOriginAuth(urllib.request.HTTPRedirectHandler):
    """Follows a redirect, but the index's credentials go to the index's own origin only."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = urllib.request.HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, headers, newurl)
        old_origin = urllib.parse.urlsplit(req.full_url)[:2]
        if new is not None and urllib.parse.urlsplit(newurl)[:2] != old_origin:
            new.remove_header("Authorization")
        return new


class SourceError(OSError):
    """A source that cannot be read at all (unreachable, refused): asking it again is pointless."""


class IndexSource:
    """A package index: PEP 691 JSON where it answers so (PyPI, devpi, Artifactory; it gives the
    file sizes), else PEP 503 HTML (hashes from the links' #sha256= fragments, no sizes).
    ``files(name)`` -> (files, versions), files as dicts filename/sha256/size. Credentials in the URL
    (user:token@host, as pip takes them) are sent as HTTP Basic auth and never shown."""

    def __init__(self, url, ca_bundle=None):
        parts = urllib.parse.urlsplit(url.rstrip("/") + "/")
        self._auth = None
        if parts.username is not None or parts.password is not None:
            user_pass = "%s:%s" % (urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or ""))
            self._auth = "Basic " + base64.b64encode(user_pass.encode("utf-8")).decode("ascii")
        host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError:
            port = None
        netloc = ("[%s]" % host if ":" in host else host) + (":%d" % port if port else "")
        self.url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        context = ssl.create_default_context(cafile=ca_bundle or None)
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _SameOriginAuth)
        self.dead = None  # set once the source proved unreachable: every later ask fails at once

    def __str__(self):
        return self.url

    def _get(self, name):
        headers = {"Accept": "%s, text/html;q=0.1" % JSON_TYPE}
        if self._auth:
            headers["Authorization"] = self._auth
        request = urllib.request.Request(self.url + name + "/", headers=headers)
        for attempt in range(TRIES):
            if self.dead:
                raise SourceError(self.dead)
            try:
                with self._opener.open(request, timeout=TIMEOUT) as answer:
                    return answer.read(MAX_PAGE_BYTES + 1), answer.headers.get("Content-Type", "")
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None, ""
                if exc.code < 500 or attempt == TRIES - 1:
                    self.dead = "%s answered HTTP %d" % (self, exc.code)
                    raise SourceError(self.dead)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                if attempt == TRIES - 1 or isinstance(exc, ValueError):
                    self.dead = "%s cannot be reached: %s" % (self, getattr(exc, "reason", None) or exc)
                    raise SourceError(self.dead)
            time.sleep(1 + attempt)
        raise SourceError("%s cannot be reached" % self)  # not reached: the last try raises

    def files(self, name):
        body, kind = self._get(name)
        if body is None:
            return [], []
        if len(body) > MAX_PAGE_BYTES:
            raise OSError("%s answered more than %d bytes for %s" % (self, MAX_PAGE_BYTES, name))
        if JSON_TYPE in kind:
            # Yanked files stay: pip installs a yanked file that a lock pins with ==.
            try:
                page = json.loads(body.decode("utf-8"))
                files = [{"filename": str(entry.get("filename", "")),
                          "sha256": (entry.get("hashes") or {}).get("sha256"),
                          "size": entry.get("size")} for entry in page.get("files", [])]
                return files, [str(version) for version in page.get("versions", [])]
            except (ValueError, AttributeError, TypeError) as exc:
                raise OSError("%s answered %s for %s that is not a project page: %s"
                              % (self, JSON_TYPE, name, str(exc)[:200]))
        links = _Links()
        links.feed(body.decode("utf-8", "replace"))
        versions = sorted({version for version in (_version_of(entry["filename"], name) for entry in links.files)
                           if version is not None})
        return links.files, versions


class WheelhouseSource:
    """A directory of wheels (pip --no-index --find-links). Files are matched by name and version;
    pip checks their hashes while installing (hashing gigabytes here would be the slow part)."""

    def __init__(self, path):
        self.path = path
        self._names = sorted(os.listdir(path))

    def __str__(self):
        return self.path

    def files(self, name):
        files = []
        for filename in self._names:
            version = _version_of(filename, name)
            if version is not None:
                files.append({"filename": filename, "sha256": None,
                              "size": os.path.getsize(os.path.join(self.path, filename)), "version": version})
        return files, sorted({entry["version"] for entry in files})


def _served(source, pin, python, machine):
    """(size or None, None) when ``source`` serves ``pin``; (None, why) when it does not."""
    name, version, hashes = pin
    files, versions = source.files(name)
    fitting = [entry for entry in files
               if _same_version(entry.get("version") or _version_of(entry["filename"], name), version)
               and (entry["sha256"] is None or entry["sha256"] in hashes)
               and wheel_fits(entry["filename"], python, machine)]
    if fitting:
        sizes = [entry["size"] for entry in fitting if isinstance(entry["size"], int)]
        return (max(sizes) if sizes else None), None
    if not versions:
        return None, "%s has no project %s" % (source, name)
    if not any(_same_version(found, version) for found in versions):
        return None, "%s has no version %s of %s (newest: %s)" % (
            source, version, name, ", ".join(versions[-SHOWN_VERSIONS:]))
    return None, ("%s has %s %s, but no wheel with a locked hash for Python %s on %s"
                  % (source, name, version, python, machine))


def check(pins, sources, python, machine, workers=WORKERS):
    """Does one of ``sources`` (tried in order) serve every pin? Returns a dict:
    missing (list of 'name==version: why'), download_bytes (sum of the fitting files' sizes),
    unsized (pins whose size the source did not say), errors (sources that could not be read)."""
    def one(pin):
        # Sources in order, as pip would: one that cannot be read does not stop the others.
        reasons, errors = [], []
        for source in sources:
            try:
                size, why = _served(source, pin, python, machine)
            except (OSError, ValueError) as exc:
                errors.append(str(exc))
                continue
            if why is None:
                return pin, size, None, None
            reasons.append(why)
        if errors:
            return pin, None, None, "; ".join(errors)
        return pin, None, "; ".join(reasons) or "no package source", None

    result = {"missing": [], "download_bytes": 0, "unsized": [], "errors": []}
    seen = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for pin, size, why, error in pool.map(one, pins):
            label = "%s==%s" % (pin[0], pin[1])
            if error:
                # An unreachable source fails every pin the same way: say it once, with the count.
                if error not in seen:
                    seen[error] = []
                    result["errors"].append(error)
                seen[error].append(label)
            elif why:
                result["missing"].append("%s: %s" % (label, why))
            elif size is None:
                result["unsized"].append(label)
            else:
                result["download_bytes"] += size
    result["errors"] = ["%s (%s)" % (error, _packages(seen[error])) for error in result["errors"]]
    return result


def _packages(labels):
    shown = ", ".join(labels[:3])
    return shown + (" and %d more" % (len(labels) - 3) if len(labels) > 3 else "")


def sources_for(index_url="", extra_index_urls=(), wheelhouse="", ca_bundle=None):
    """The sources pip will use for the same settings (a wheelhouse means --no-index)."""
    if wheelhouse:
        return [WheelhouseSource(wheelhouse)]
    urls = [index_url or "https://pypi.org/simple"] + list(extra_index_urls)
    return [IndexSource(url, ca_bundle) for url in urls]
