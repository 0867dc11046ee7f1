#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: hf_model_progress
short_description: Report how far a running M(openclaw.vllm.hf_model_fetch) job is
version_added: "1.0.0"
description:
  - Reads the progress file that M(openclaw.vllm.hf_model_fetch) writes (bytes done of total,
    files, rate, the file in flight) and returns it with a one-line O(ignore:msg).
  - "Waits up to O(wait) seconds first, and returns as soon as the async job whose
    O(results_file) is given has finished, so a loop of this module paces itself
    (C(until: not result.running) with C(delay: 0))."
  - Its action plugin makes Ansible print the result at every retry, at the default verbosity.
  - Never changes anything.
author:
  - openclaw.vllm contributors (@openclaw)
options:
  path:
    description: The progress file.
    type: path
    required: true
  results_file:
    description:
      - The C(results_file) that an async task's start result names. The job counts as running
        until that file holds its result. Without it, the progress file's state decides.
    type: path
    default: ""
  wait:
    description: Seconds to wait before reporting (less when the job ends first).
    type: float
    default: 10
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Follow a download started with async and poll 0
  openclaw.vllm.hf_model_progress:
    path: /var/lib/openclaw-vllm/models/.staging-qwen.progress.json
    results_file: "{{ __fetch.results_file }}"
    wait: 15
  register: __progress
"""

RETURN = r"""
running:
  description: Whether the job is still running.
  returned: always
  type: bool
msg:
  description:
    - One line for the operator, for example C(Qwen/Qwen2.5-14B-Instruct-AWQ@0123456789ab 3.2 GiB of 9.9 GiB (32%),
      1 of 9 files, 48.0 MiB/s, now model-00002-of-00003.safetensors).
  returned: always
  type: str
done_bytes:
  description: Bytes of the selected files that are complete or in flight.
  returned: always
  type: int
total_bytes:
  description: Bytes of all selected files.
  returned: always
  type: int
state:
  description: What the progress file says (starting, running, waiting for an earlier download of this model to end, done, failed).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openclaw.vllm.plugins.module_utils.hf_source import progress_message, wait_progress


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            results_file=dict(type="path", default=""),
            wait=dict(type="float", default=10),
        ),
        supports_check_mode=True,
    )
    data, running = wait_progress(module.params["path"], module.params["results_file"], module.params["wait"])
    # Short on purpose: the action plugin shows this result at every poll.
    module.exit_json(changed=False, running=running, msg=progress_message(data), done_bytes=data.get("done_bytes", 0),
                     total_bytes=data.get("total_bytes", 0), state=data.get("state", ""))


if __name__ == "__main__":
    main()
