# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: systemd_quote
short_description: Quote one value for a systemd unit file
version_added: "1.0.0"
description:
  - Returns the value as one word of a systemd command line (C(ExecStart=)) or one
    C(Environment=) assignment, taken literally by systemd.
  - Double quotes it when needed, escapes backslash and double quote C-style, and doubles
    C(%) (specifiers) and C($) (variable expansion).
  - The companion filter C(openclaw.vllm.systemd_command) quotes a whole argument list.
positional: _input
options:
  _input:
    description: The value (or, for systemd_command, the list of arguments).
    type: raw
    required: true
author:
  - openclaw.vllm contributors
"""

EXAMPLES = r"""
- name: A served model name with a space, a percent sign and a dollar
  ansible.builtin.debug:
    msg: "{{ 'my model 100% $cheap' | openclaw.vllm.systemd_quote }}"
  # -> "my model 100%% $$cheap"

- name: A whole ExecStart line
  ansible.builtin.debug:
    msg: "ExecStart={{ ['/opt/venv/bin/vllm', 'serve', '/srv/model dir'] | openclaw.vllm.systemd_command }}"
"""

RETURN = r"""
_value:
  description: The quoted value (or command line).
  type: str
"""

from ansible_collections.openclaw.vllm.plugins.module_utils.systemd_escape import systemd_command, systemd_quote


class FilterModule(object):
    """systemd quoting filters."""

    def filters(self):
        return {"systemd_quote": systemd_quote, "systemd_command": systemd_command}
