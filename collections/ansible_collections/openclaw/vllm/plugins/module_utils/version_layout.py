# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a versioned install keeps its versions and links: the one table vllm_venv, awq_model
and vllm_service read (through the version_layout filter), so no role spells out another's paths.

The two kinds keep the paths of collection 1.0 (a host provisioned by it upgrades in place):

    venv    <root>/builds/<version>     <root>/current        <root>/previous
    model   <root>/.versions/<version>  <root>/<name>         <root>/.previous/<name>

From a root (and a model's name), or back from the link in use (what vllm_service is given).
"""

from __future__ import annotations

import posixpath

KINDS = ("venv", "model")


class LayoutError(ValueError):
    """A kind, root or link the table cannot place; the message names it."""


def _check(kind, path, what):
    if kind not in KINDS:
        raise LayoutError("kind %r: expected one of %s" % (kind, ", ".join(KINDS)))
    if not isinstance(path, str) or not path.startswith("/") or path.rstrip("/") == "":
        raise LayoutError("%s %r: expected an absolute path below /" % (what, path))
    return posixpath.normpath(path)


def _paths(kind, root, name):
    if kind == "venv":
        return {"root": root, "versions": root + "/builds", "link": root + "/current",
                "previous": root + "/previous"}
    return {"root": root, "versions": root + "/.versions", "link": "%s/%s" % (root, name),
            "previous": "%s/.previous/%s" % (root, name)}


def layout(kind, root, name=None):
    """{root, versions, link, previous} of a kind's install under ``root`` (a model: its ``name``,
    which must not be hidden: .versions, .previous and .staging-* live beside it)."""
    root = _check(kind, root, "root")
    if kind == "model" and (not isinstance(name, str) or not name or "/" in name or name.startswith(".")):
        raise LayoutError("model name %r: expected one path component that does not start with a dot" % (name,))
    return _paths(kind, root, name)


def layout_of_link(kind, link):
    """The same, from the link a service is given (``<root>/current``, ``<root>/<name>``)."""
    root, name = posixpath.split(_check(kind, link, "link"))
    return _paths(kind, root, name)
