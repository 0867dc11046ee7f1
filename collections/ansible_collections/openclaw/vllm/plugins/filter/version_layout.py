# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.openclaw.vllm.plugins.module_utils import version_layout as table


def version_layout(path, kind, name=None, of_link=False):
    """A root (or, of_link, the link in use) -> the install's paths (module_utils/version_layout.py)."""
    try:
        if of_link:
            return table.layout_of_link(kind, path)
        return table.layout(kind, path, name)
    except table.LayoutError as exc:
        raise AnsibleFilterError("version_layout: %s" % exc)


class FilterModule(object):
    """Where versioned installs keep their versions and links."""

    def filters(self):
        return {"version_layout": version_layout}
