# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.openclaw.vllm.plugins.module_utils.systemd_escape import systemd_command, systemd_quote


class FilterModule(object):
    """systemd quoting filters."""

    def filters(self):
        return {"systemd_quote": systemd_quote, "systemd_command": systemd_command}
