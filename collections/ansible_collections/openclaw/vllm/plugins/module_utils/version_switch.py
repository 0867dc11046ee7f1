# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run phase of a versioned install, the one path vllm_venv and awq_model share: the paths
from the layout table, the link switched with the version in use kept as previous, then old
versions pruned (never one a link under the root points to, never the new one)."""

from __future__ import annotations

import os

from .version_layout import LayoutError, layout
from .version_link import switch
from .versions import check_settings, prune


def switch_and_prune(kind, root, version, keep, names, name=None, check_mode=False):
    """Returns {link, previous, version, switched, kept_previous, removed, kept, in_use, warning}."""
    paths = layout(kind, root, name)
    check_settings(names, keep)  # before the switch: a run that cannot prune changes nothing
    wanted = os.path.realpath(version)
    if os.path.dirname(wanted) != os.path.realpath(paths["versions"]):
        raise LayoutError("version %s is not a version directory of %s (expected it in %s)"
                          % (version, paths["root"], paths["versions"]))
    if not os.path.isdir(wanted) and not check_mode:
        raise LayoutError("version %s is not there" % version)
    switched, kept_previous = switch(paths["link"], wanted, paths["previous"], check_mode)
    removed, kept, in_use, warning = prune(paths["versions"], names, keep, [paths["root"]], [wanted], check_mode)
    return {"link": paths["link"], "previous": paths["previous"], "version": wanted, "switched": switched,
            "kept_previous": kept_previous, "removed": removed, "kept": kept, "in_use": in_use, "warning": warning}
