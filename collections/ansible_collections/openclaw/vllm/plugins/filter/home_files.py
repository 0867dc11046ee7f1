# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import hashlib

from ansible.module_utils.common.text.converters import to_bytes


def out_of_place(found, path, mode, owner, group, content=None):
    """True unless ``found`` (the files of an ansible.builtin.find run with get_checksum) shows
    ``path`` as a directory (content None) or a regular file holding ``content``, with ``mode``,
    ``owner`` and ``group``. Anything it cannot show (absent, a link, another checksum
    algorithm) is out of place: the task that makes it so then runs, and decides."""
    entry = next((f for f in found or [] if f.get("path") == path), None)
    if entry is None:
        return True
    if content is None:
        kind = bool(entry.get("isdir")) and not entry.get("islnk")
    else:
        kind = bool(entry.get("isreg")) and entry.get("checksum") == hashlib.sha1(
            to_bytes(content, errors="surrogate_or_strict")).hexdigest()
    return not (kind and entry.get("mode") == mode and entry.get("pw_name") == owner and entry.get("gr_name") == group)


class FilterModule(object):
    """What a role keeps on a host, compared with one find of it."""

    def filters(self):
        return {"out_of_place": out_of_place}
