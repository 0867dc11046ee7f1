#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: version_switch
short_description: Switch a versioned install (a vLLM build or a model) to a version and prune old ones
version_added: "1.1.0"
description:
  - The run phase that the roles C(openclaw.vllm.vllm_venv) and C(openclaw.vllm.awq_model) share, in
    one remote call. The paths come from the collection's layout table (the filter
    C(openclaw.vllm.version_layout)).
  - The link that serves is switched to O(version) as M(openclaw.vllm.version_link) does it (the
    version in use becomes C(previous); a new link is renamed over the old one, so there is never a
    moment without it). Then old versions are pruned as M(openclaw.vllm.prune_versions) does it, only
    directories named C(<one of names>-<12 hex>), never one a link under O(root) points to, never
    O(version), keeping O(keep) in all.
  - O(version) must be a directory in the install's versions directory; anything else is an error
    that names it, and nothing is changed.
author:
  - openclaw.vllm contributors (@openclaw)
options:
  kind:
    description: What is installed (the layout table's row).
    type: str
    choices: [venv, model]
    required: true
  root:
    description: The install's root (C(vllm_venv_root), C(awq_model_root)).
    type: path
    required: true
  name:
    description: The model's name (O(kind=model)).
    type: str
  version:
    description: The version directory the link is to point at.
    type: path
    required: true
  names:
    description: The version names that pruning may remove (C(vllm-cpu), C(vllm-cuda); a model's name).
    type: list
    elements: str
    required: true
  keep:
    description: How many versions to keep, the ones links point to included.
    type: int
    default: 2
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Reports whether it would switch and what it would remove; changes nothing.
"""

EXAMPLES = r"""
- name: Switch the current link to the new build, keeping the one in use as previous, and remove old builds
  openclaw.vllm.version_switch:
    kind: venv
    root: /opt/openclaw-vllm
    version: /opt/openclaw-vllm/builds/vllm-cuda-0123456789ab
    names: [vllm-cpu, vllm-cuda]
    keep: 3
"""

RETURN = r"""
link:
  description: The link that serves.
  returned: always
  type: str
  sample: /opt/openclaw-vllm/current
version:
  description: The real path of O(version).
  returned: always
  type: str
switched:
  description: Whether the link was (or, in check mode, would be) switched.
  returned: always
  type: bool
kept_previous:
  description: The version this run kept as C(previous), or null.
  returned: always
  type: str
removed:
  description: The versions removed (in check mode, that would be).
  returned: always
  type: list
  elements: str
kept:
  description: The versions kept.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openclaw.vllm.plugins.module_utils.version_layout import LayoutError
from ansible_collections.openclaw.vllm.plugins.module_utils.version_link import LinkError
from ansible_collections.openclaw.vllm.plugins.module_utils.version_switch import switch_and_prune


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kind=dict(type="str", choices=["venv", "model"], required=True),
            root=dict(type="path", required=True),
            name=dict(type="str"),
            version=dict(type="path", required=True),
            names=dict(type="list", elements="str", required=True),
            keep=dict(type="int", default=2),
        ),
        required_if=[("kind", "model", ["name"])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = switch_and_prune(params["kind"], params["root"], params["version"], params["keep"],
                                  params["names"], params["name"], module.check_mode)
    except (LayoutError, LinkError, ValueError, OSError) as exc:
        module.fail_json(msg=str(exc))
    warning = result.pop("warning")
    if warning:
        module.warn(warning)
    module.exit_json(changed=result["switched"] or bool(result["removed"]), **result)


if __name__ == "__main__":
    main()
