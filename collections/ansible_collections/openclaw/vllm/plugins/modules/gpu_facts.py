#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_facts
short_description: NVIDIA GPUs, driver and memory holders, and why this host cannot serve the pinned CUDA build
version_added: "1.1.0"
description:
  - Reads C(nvidia-smi --query-gpu) and C(--query-compute-apps) (C(--format=csv,noheader,nounits)) and the
    CUDA version from the header of plain C(nvidia-smi).
  - Returns the facts and, in RV(refusals), every reason the host cannot serve, each naming what was found and
    what is needed. It never fails on what it finds (only on bad parameters); roles assert that RV(refusals) is
    empty.
  - Never changes anything.
author:
  - openclaw.vllm contributors (@openclaw)
options:
  nvidia_smi:
    description: The nvidia-smi command (a name looked up on PATH, or a path).
    type: str
    default: nvidia-smi
  gpus:
    description: The GPUs the unit will use (indexes or UUIDs, as in C(CUDA_VISIBLE_DEVICES)); empty means all.
    type: list
    elements: str
    default: []
  gpus_variable:
    description: The role variable that O(gpus) came from, for messages.
    type: str
    default: vllm_service_gpus
  packages:
    description:
      - The pinned packages; the minimum driver is looked up for them (see O(min_driver)).
      - A pin with no row in the table is refused (fail closed), unless O(min_driver) is set.
    type: list
    elements: str
    default: []
  min_driver:
    description: Minimum driver version; empty means the table in module_utils/gpu_facts.py for O(packages).
    type: str
    default: ""
  min_compute_capability:
    description: Lowest compute capability accepted on every GPU used.
    type: str
    default: "7.5"
  gpu_memory_utilization:
    description: The unit's C(--gpu-memory-utilization).
    type: float
    default: 0.85
  model_path:
    description:
      - A model directory; when it exists, the sum of its C(*.safetensors) sizes plus O(margin_mib) per GPU must
        fit in total memory x O(gpu_memory_utilization) of the GPUs used.
    type: path
  margin_mib:
    description: MiB per GPU kept beyond the weights (CUDA context, activations, CUDA graphs).
    type: int
    default: 2048
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Read the GPUs
  openclaw.vllm.gpu_facts:
    packages: [vllm==0.33.0]
    gpus: ["0"]
  register: __gpu

- name: Refuse a host that cannot serve
  ansible.builtin.assert:
    that: __gpu.refusals | length == 0
    fail_msg: "{{ __gpu.refusals | join('; ') }}"
"""

RETURN = r"""
available:
  description: Whether nvidia-smi answered.
  returned: always
  type: bool
error:
  description: Why nvidia-smi did not answer.
  returned: when not available
  type: str
driver:
  description: The NVIDIA driver version.
  returned: when available
  type: str
cuda:
  description: The highest CUDA version the driver supports (nvidia-smi's header), or null.
  returned: when available
  type: str
min_driver:
  description: The driver version required, and why (the table row).
  returned: always
  type: dict
gpus:
  description: Every GPU (index, uuid, name, compute_capability, memory_total_mib, memory_used_mib, memory_free_mib).
  returned: when available
  type: list
  elements: dict
processes:
  description: Compute processes holding GPU memory (gpu_uuid, pid, cmd, process_name, used_mib).
  returned: when available
  type: list
  elements: dict
weights_bytes:
  description: Sum of the model's safetensors sizes, or null when O(model_path) is unset or absent.
  returned: always
  type: int
refusals:
  description: Why this host cannot serve; empty when it can.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openclaw.vllm.plugins.module_utils.host import gpu_facts


def main():
    module = AnsibleModule(argument_spec=dict(
        nvidia_smi=dict(type="str", default="nvidia-smi"),
        gpus=dict(type="list", elements="str", default=[]),
        packages=dict(type="list", elements="str", default=[]),
        min_driver=dict(type="str", default=""),
        gpus_variable=dict(type="str", default="vllm_service_gpus"),
        min_compute_capability=dict(type="str", default=gpu_facts.MIN_COMPUTE_CAPABILITY),
        gpu_memory_utilization=dict(type="float", default=gpu_facts.DEFAULT_UTILIZATION),
        model_path=dict(type="path"),
        margin_mib=dict(type="int", default=gpu_facts.DEFAULT_MARGIN_MIB),
    ), supports_check_mode=True)
    params = module.params
    # Checked here so that the arithmetic and comparisons below cannot raise on them.
    if not 0 < params["gpu_memory_utilization"] <= 1:
        module.fail_json(msg="gpu_memory_utilization must be in (0, 1], got %r" % params["gpu_memory_utilization"])
    if not 0 <= params["margin_mib"] <= gpu_facts.MAX_MIB:
        module.fail_json(msg="margin_mib must be in 0..%d, got %s" % (gpu_facts.MAX_MIB,
                                                                      gpu_facts.shown(params["margin_mib"])))
    for key in ("min_driver", "min_compute_capability"):
        if (params[key] or key != "min_driver") and gpu_facts.version_tuple(params[key]) is None:
            module.fail_json(msg="%s must be a dotted version like 580.65.06, got %r"
                             % (key, gpu_facts.shown(params[key])))
    unknown_pin = None
    if params["min_driver"]:
        min_driver, cuda, why = params["min_driver"], None, "vllm_venv_min_nvidia_driver %s" % params["min_driver"]
    else:
        min_driver, cuda, why = gpu_facts.min_driver_for(params["packages"])
        if min_driver is None and params["packages"]:
            # Fail closed: a driver floor nobody looked up passes any driver.
            unknown_pin = ("no CUDA runtime is known for %s (gpu_facts.PIN_CUDA), so the driver it needs cannot be "
                           "checked; set vllm_venv_min_nvidia_driver to the driver its torch needs"
                           % ", ".join(params["packages"]))
    result = {"changed": False, "min_driver": {"version": min_driver, "cuda": cuda, "why": why}}
    model = params["model_path"]
    result["weights_bytes"] = gpu_facts.safetensors_bytes(model) if model and os.path.isdir(model) else None
    try:
        facts = gpu_facts.query(params["nvidia_smi"])
        result["cuda"] = gpu_facts.cuda_version(params["nvidia_smi"])
    except gpu_facts.GpuError as exc:
        module.exit_json(available=False, error=str(exc), refusals=([unknown_pin] if unknown_pin else []) + [
            "the accelerator is cuda but %s: a CUDA build needs a working NVIDIA driver (nvidia-smi)" % exc], **result)
    result.update(facts, available=True)
    result["refusals"] = ([unknown_pin] if unknown_pin else []) + gpu_facts.preflight_refusals(
        facts, params["gpus"] or None, min_driver, why, params["min_compute_capability"],
        params["gpu_memory_utilization"], result["weights_bytes"], params["margin_mib"], params["gpus_variable"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
