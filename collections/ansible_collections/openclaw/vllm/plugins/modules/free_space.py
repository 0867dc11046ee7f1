#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: free_space
short_description: Free disk space where a path is, or will be, created
version_added: "1.0.0"
description:
  - Reports the free space of the filesystem that holds O(path), or its nearest existing
    parent when O(path) does not exist yet (a directory a role is about to create).
  - Never changes anything. Roles compare the result with their C(*_min_free_gb) setting.
author:
  - openclaw.vllm contributors (@openclaw)
options:
  path:
    description: The path to check.
    type: path
    required: true
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Measure free disk space for a build
  openclaw.vllm.free_space:
    path: /opt/openclaw-vllm
  register: __free

- name: Require 12 GB
  ansible.builtin.assert:
    that: __free.free_gb >= 12
"""

RETURN = r"""
checked_path:
  description: The existing path that was measured.
  returned: always
  type: str
free_bytes:
  description: Free bytes available to unprivileged users.
  returned: always
  type: int
free_gb:
  description: Free space in whole GiB.
  returned: always
  type: int
device:
  description: The filesystem's device number (two paths on one filesystem share their free space).
  returned: always
  type: int
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(path=dict(type="path", required=True)), supports_check_mode=True)
    path = os.path.abspath(module.params["path"])
    while not os.path.exists(path):
        path = os.path.dirname(path)
    free = shutil.disk_usage(path).free
    module.exit_json(changed=False, checked_path=path, free_bytes=free, free_gb=free // 2**30,
                     device=os.stat(path).st_dev)


if __name__ == "__main__":
    main()
