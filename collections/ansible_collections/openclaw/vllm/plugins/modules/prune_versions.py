#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: prune_versions
short_description: Remove old version directories, never one that is in use
version_added: "1.0.0"
description:
  - Looks in O(path) for version directories named exactly C(<name>-<id>), where C(<name>) is one
    of O(names) and C(<id>) is 12 lowercase hex digits (the naming scheme of the vllm_venv and
    awq_model roles). Anything else is never touched, so model C(qwen) never prunes the versions
    of C(qwen-coder).
  - A version that any symlink under O(link_roots) points to (or into) is in use and is always kept,
    whatever O(keep) says; so are O(protect). The directory O(path) itself is not searched for links.
  - The versions in use count towards O(keep); the newest others (by modification time) fill the rest.
  - Where what the links point to cannot all be found out (a directory under O(link_roots) that cannot be read,
    a link that cannot be resolved, a loop), nothing is removed and a warning names the path (a link that
    could not be read may be the one that serves).
author:
  - openclaw.vllm contributors (@openclaw)
options:
  path:
    description: The directory that holds the version directories.
    type: path
    required: true
  names:
    description: The version names whose directories may be pruned.
    type: list
    elements: str
    required: true
  keep:
    description: How many versions of O(names) to keep, at least 1.
    type: int
    default: 2
  link_roots:
    description: Directories searched (recursively, without following links) for symlinks that mark a version in use.
    type: list
    elements: path
    required: true
  protect:
    description: Versions kept in any case (for example the one just switched in, which check mode has not linked yet).
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Remove old versions of one model
  openclaw.vllm.prune_versions:
    path: /var/lib/openclaw-vllm/models/.versions
    names: [qwen2.5-14b-instruct-awq]
    keep: 2
    link_roots: [/var/lib/openclaw-vllm/models]

- name: Remove old vLLM builds, never current or previous
  openclaw.vllm.prune_versions:
    path: /opt/openclaw-vllm/builds
    names: [vllm-cpu, vllm-cuda]
    link_roots: [/opt/openclaw-vllm]
"""

RETURN = r"""
removed:
  description: The version directories removed (in check mode, that would be removed).
  returned: always
  type: list
  elements: str
kept:
  description: The version directories kept.
  returned: always
  type: list
  elements: str
in_use:
  description: The kept versions that a symlink points to, or that O(protect) names.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openclaw.vllm.plugins.module_utils.versions import prune


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            names=dict(type="list", elements="str", required=True),
            keep=dict(type="int", default=2),
            link_roots=dict(type="list", elements="path", required=True),
            protect=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        removed, kept, in_use, warning = prune(params["path"], params["names"], params["keep"],
                                               params["link_roots"], params["protect"], module.check_mode)
    except (ValueError, OSError) as exc:
        module.fail_json(msg="pruning %s failed: %s" % (params["path"], exc))
    if warning:
        module.warn(warning)
    module.exit_json(changed=bool(removed), removed=removed, kept=kept, in_use=in_use)


if __name__ == "__main__":
    main()
