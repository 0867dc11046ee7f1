#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: version_link
short_description: Switch a link to a version directory, keeping the one it replaces as previous
version_added: "1.0.0"
description:
  - The switch of a versioned install, as the vllm_venv and awq_model roles do it. O(link) points at
    one version directory; switching it to O(version) first points O(previous) at the version in use
    (the rollback point, which M(openclaw.vllm.prune_versions) keeps), then renames a new link over
    O(link), so there is never a moment without it.
  - A link that already points at O(version) is left alone (changed=false, no write).
  - A real file or directory where O(link) should be is an error naming it; nothing is changed.
author:
  - openclaw.vllm contributors (@openclaw)
options:
  link:
    description: The link that serves (for example C(/opt/openclaw-vllm/current)).
    type: path
    required: true
  version:
    description: The version directory O(link) is to point at.
    type: path
    required: true
  previous:
    description:
      - The link that keeps the version in use before the switch. Its directory is created (mode 0755)
        when missing. Omitted, nothing is kept.
    type: path
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Reports whether it would switch and what it would keep as previous; changes nothing.
"""

EXAMPLES = r"""
- name: Switch the current link to the new build, keeping the one in use as previous
  openclaw.vllm.version_link:
    link: /opt/openclaw-vllm/current
    version: /opt/openclaw-vllm/builds/vllm-cuda-0123456789ab
    previous: /opt/openclaw-vllm/previous
"""

RETURN = r"""
link:
  description: O(link), as given.
  returned: always
  type: str
version:
  description: The real path of O(version).
  returned: always
  type: str
previous:
  description: The version this run kept as O(previous), or null when it kept none.
  returned: always
  type: str
  sample: /opt/openclaw-vllm/builds/vllm-cuda-00000000000a
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openclaw.vllm.plugins.module_utils.version_link import LinkError, switch


def main():
    module = AnsibleModule(
        argument_spec=dict(
            link=dict(type="path", required=True),
            version=dict(type="path", required=True),
            previous=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        changed, kept = switch(params["link"], params["version"], params["previous"], module.check_mode)
    except LinkError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=changed, link=params["link"], version=os.path.realpath(params["version"]), previous=kept)


if __name__ == "__main__":
    main()
