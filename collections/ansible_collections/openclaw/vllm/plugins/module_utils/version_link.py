# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The switch of a versioned install, the one way vllm_venv and awq_model do it (stdlib only).

A link (``current``, a model's name) points at one version directory. Switching it to another
first points the ``previous`` link at the version in use (the rollback point, and what pruning
keeps), then replaces the link by renaming a new one over it: there is never a moment without
it, and a run killed at any point leaves each link whole, old or new.
"""

from __future__ import annotations

import os


class LinkError(Exception):
    """The link cannot be switched (a real directory in its place, an unwritable parent); the
    message names the path."""


def _target(path):
    """The real path a link points to, or None where ``path`` is not a link."""
    return os.path.realpath(path) if os.path.islink(path) else None


def _replace_link(path, target):
    """Point ``path`` at ``target`` by renaming a new link over it (atomic on one filesystem)."""
    # One fixed name per link: what a killed run left there is replaced, never left to pile up
    # (a leftover link under the link roots would keep its version from being pruned).
    temporary = os.path.join(os.path.dirname(path), ".%s.switching" % os.path.basename(path))
    try:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(target, temporary)
        os.replace(temporary, path)
    except OSError as exc:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise LinkError("cannot point %s at %s: %s" % (path, target, exc.strerror or exc))


def plan(link, version, previous=None):
    """(switch, keep_as_previous): whether ``link`` must be switched to ``version``, and the
    version in use that ``previous`` must then point at (None: nothing to keep). Changes nothing."""
    if os.path.lexists(link) and not os.path.islink(link):
        raise LinkError("%s is not a link (a %s is in its place): move it away, then run again"
                        % (link, "directory" if os.path.isdir(link) else "file"))
    in_use = _target(link)
    wanted = os.path.realpath(version)
    if in_use == wanted:
        return False, None
    keep = in_use if previous and in_use and _target(previous) != in_use else None
    return True, keep


def switch(link, version, previous=None, check_mode=False):
    """Switch ``link`` to ``version``, keeping the version it replaces as ``previous``. Returns
    (changed, the version now kept as previous or None)."""
    must_switch, keep = plan(link, version, previous)
    if not must_switch or check_mode:
        return must_switch, keep
    if keep:
        parent = os.path.dirname(previous)
        if not os.path.isdir(parent):
            try:
                os.makedirs(parent, mode=0o755)
            except OSError as exc:
                raise LinkError("cannot create %s: %s" % (parent, exc.strerror or exc))
        _replace_link(previous, keep)
    _replace_link(link, version)
    return True, keep
