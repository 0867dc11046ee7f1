#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: awq_model_verify
short_description: Check that a directory holds a 4-bit AWQ checkpoint
version_added: "1.0.0"
description:
  - Reads C(config.json) and requires C(quantization_config.quant_method == "awq") with the
    expected number of bits.
  - Requires the C(.safetensors) weight files (all files the index names, when there is an index),
    and reads each one's header (not its tensors), so a truncated or garbled file is refused.
  - A malformed C(config.json), index or header is refused with the name of the file.
  - Hashes only the files that O(sha256) names, unless O(hash_all) is set, so a check of a
    10 GB model costs nothing when no digest is given.
  - Never changes anything.
author:
  - openclaw.vllm contributors (@openclaw)
options:
  path:
    description: The model directory on the managed host.
    type: path
    required: true
  bits:
    description: Expected quantization bits.
    type: int
    default: 4
  sha256:
    description: Expected sha256 per file name (relative to O(path)).
    type: dict
    default: {}
  hash_all:
    description: Hash every weight file and return the digests.
    type: bool
    default: false
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Refuse anything that is not a 4-bit AWQ checkpoint
  openclaw.vllm.awq_model_verify:
    path: /var/lib/openclaw-vllm/models/.staging-qwen
    sha256:
      model-00001-of-00003.safetensors: 3f0c...
"""

RETURN = r"""
architectures:
  description: config.json's architectures.
  returned: success
  type: list
  elements: str
quantization:
  description: The quantization settings found.
  returned: success
  type: dict
  sample: {"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm"}
weights:
  description: The safetensors weight files.
  returned: success
  type: list
  elements: str
files:
  description: Size (and sha256 where hashed) per file.
  returned: success
  type: dict
total_bytes:
  description: Sum of the file sizes.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openclaw.vllm.plugins.module_utils.awq_model import ModelError, verify_model


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            bits=dict(type="int", default=4),
            sha256=dict(type="dict", default={}),
            hash_all=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    try:
        summary = verify_model(module.params["path"], module.params["bits"], module.params["sha256"],
                               module.params["hash_all"])
    except (ModelError, OSError) as exc:
        module.fail_json(msg="not a usable AWQ model: %s" % exc)
    module.exit_json(changed=False, **summary)


if __name__ == "__main__":
    main()
