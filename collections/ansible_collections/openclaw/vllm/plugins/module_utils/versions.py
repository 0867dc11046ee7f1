# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which old version directories may go: the one pruning rule of vllm_venv and awq_model (stdlib only).

A version directory is named ``<name>-<id>``, where ``id`` is 12 lowercase hex digits (the roles'
own scheme). Only directories whose name matches exactly one of ``names`` that way are
candidates: model ``qwen`` never matches ``qwen-coder-0123456789ab``. A candidate that a
symlink under the link roots points to (or into) is in use and is never removed, whatever
``keep`` says: ``current``, ``previous``, or another model's link.

What is linked must be known completely before anything goes: run as the owner (not root), a
directory under the link roots that cannot be read may hold ``current``. Any error while finding
the links (an unreadable directory, a link that cannot be read or resolved, a loop) prunes
nothing, and says which path it was (fail closed).
"""

from __future__ import annotations

import os
import re
import shutil
import stat

VERSION_ID = re.compile(r"[0-9a-f]{12}")


def is_version_of(dirname, names):
    """True when ``dirname`` is exactly ``<name>-<12 hex>`` for one of ``names``."""
    for name in names:
        prefix = name + "-"
        if dirname.startswith(prefix) and VERSION_ID.fullmatch(dirname[len(prefix):]):
            return True
    return False


class LinksUnknown(Exception):
    """What the links under the link roots point to cannot all be found out; the message names the path."""


def _why(exc):
    return exc.strerror or str(exc)


def _raise_unreadable(exc):
    """os.walk's onerror: a directory it cannot list may hold a link (it skips it silently otherwise)."""
    raise LinksUnknown("%s cannot be read (%s)" % (exc.filename, _why(exc)))


def resolve_link(link):
    """The real path ``link`` points to. A dangling link resolves as far as it goes (it may point
    into a version whose file is gone); a loop or a path that cannot be searched raises LinksUnknown."""
    try:
        os.stat(link)  # the kernel follows the whole chain: ELOOP, EACCES are told here, realpath hides them
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as exc:
        raise LinksUnknown("link %s cannot be resolved (%s)" % (link, _why(exc)))
    return os.path.realpath(link)


def link_targets(link_roots, skip):
    """Real paths of every symlink under ``link_roots`` (recursively, not following directory
    links, not descending into ``skip``, the directory of the versions themselves).
    Raises LinksUnknown where any of it cannot be read."""
    skip = os.path.realpath(skip)
    targets = {}
    for top in link_roots:
        for dirpath, dirnames, filenames in os.walk(top, onerror=_raise_unreadable):
            dirnames[:] = [d for d in dirnames if os.path.realpath(os.path.join(dirpath, d)) != skip
                           or os.path.islink(os.path.join(dirpath, d))]
            for entry in dirnames + filenames:
                full = os.path.join(dirpath, entry)
                try:  # os.path.islink says False for an entry it cannot lstat (a directory without x)
                    mode = os.lstat(full).st_mode
                except OSError as exc:
                    raise LinksUnknown("%s cannot be read (%s)" % (full, _why(exc)))
                if stat.S_ISLNK(mode):
                    targets[full] = resolve_link(full)
    return targets


def check_settings(names, keep):
    """Raise ValueError for settings no pruning can follow (before anything is changed)."""
    if keep < 1:
        raise ValueError("keep must be at least 1, got %r" % keep)
    if not names or not all(names):
        raise ValueError("names must list at least one non-empty version name, got %r" % (names,))


def plan(path, names, keep, link_roots, protect=()):
    """Decide, changing nothing. Returns (remove, kept, in_use, warning): lists of absolute paths
    and None, or, where what is linked cannot all be found out, nothing to remove, every candidate
    kept and the warning that says why.

    ``in_use`` are the candidates a link points to, plus ``protect``; they are always kept and
    count towards ``keep``. The newest (by mtime) other candidates fill what is left of ``keep``.
    """
    check_settings(names, keep)
    path = os.path.realpath(path)
    if not os.path.isdir(path):
        return [], [], [], None
    candidates = []
    for entry in os.listdir(path):
        full = os.path.join(path, entry)
        if is_version_of(entry, names) and os.path.isdir(full) and not os.path.islink(full):
            candidates.append(full)
    protected = {os.path.realpath(p) for p in protect}
    try:
        targets = set(link_targets(link_roots, path).values()) | protected
    except LinksUnknown as exc:
        # Fail closed: a link nobody could read may be the one that serves.
        in_use = sorted(c for c in candidates if c in protected)
        return [], sorted(candidates), in_use, "nothing pruned in %s: %s" % (path, exc)
    in_use = sorted(c for c in candidates
                    if any(t == c or t.startswith(c + os.sep) for t in targets))
    others = sorted((c for c in candidates if c not in in_use),
                    key=lambda c: (os.stat(c).st_mtime, c), reverse=True)
    room = max(keep - len(in_use), 0)
    return sorted(others[room:]), sorted(in_use + others[:room]), in_use, None


def prune(path, names, keep, link_roots, protect=(), check_mode=False):
    """Remove what ``plan`` says may go (nothing in check mode); returns the same four values."""
    remove, kept, in_use, warning = plan(path, names, keep, link_roots, protect)
    if not check_mode:
        for victim in remove:
            shutil.rmtree(victim)
    return remove, kept, in_use, warning
