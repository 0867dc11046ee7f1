#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: hf_model_fetch
short_description: Fetch a pinned revision of a Hugging Face model into a staging directory
version_added: "1.0.0"
description:
  - Asks the endpoint (the Hugging Face Hub, or a mirror that speaks its API) for the files of
    O(repo) at O(revision), with their sizes and digests, before any byte is fetched.
  - Refuses, naming repo and revision, when the revision is not 40 hex digits or does not exist,
    when the repo does not exist, when the repo is gated or the token is rejected (the message says
    so and never holds the token), when no C(.safetensors) file is among the selected files, or when
    the disk under O(dest) cannot hold what is left to fetch.
  - Downloads only the files that O(allow_patterns) select into O(dest). Each file is checked
    against its digest (sha256 of an LFS file, else its git blob id) before it gets its name, so a
    run that was killed leaves complete files that the next run does not fetch again; a partial
    file is continued with an HTTP range request where the server honours one.
  - Writes its progress (bytes done of total) to O(progress_file), for M(openclaw.vllm.hf_model_progress)
    to report while the module runs as an async job.
  - Plain Python standard library (urllib), run by the host's Ansible interpreter; no huggingface_hub
    is needed on the host.
  - In check mode, only the questions are asked and the plan is returned.
author:
  - openclaw.vllm contributors (@openclaw)
options:
  repo:
    description: The model repository, for example C(Qwen/Qwen2.5-14B-Instruct-AWQ).
    type: str
    required: true
  revision:
    description: The commit to fetch, 40 hex digits (a branch or tag could move).
    type: str
    required: true
  dest:
    description:
      - The staging directory, created if needed. Files that are not part of the revision's
        selected files are removed from it; what an earlier run of another revision left is cleared.
      - Beside it, C(<dest>.openclaw-fetch/) holds the lock (one download per O(dest) at a time; a
        second run waits for the first), the pin, the partial files and the progress file. Remove it
        once O(dest) has been moved into place.
    type: path
    required: true
  endpoint:
    description:
      - Base URL of the Hub or of a mirror (olah, a company proxy). Empty means the environment
        variable E(HF_ENDPOINT), else C(https://huggingface.co).
    type: str
    default: ""
  token:
    description:
      - A Hugging Face token, for gated or private repos. Sent only as an C(Authorization) header to
        the endpoint's own origin (never to a host that a redirect leads to), never logged, never
        returned. Empty means the environment variable E(HF_TOKEN), if set.
    type: str
    default: ""
  allow_patterns:
    description:
      - Shell patterns of the files to fetch. A pattern without C(/) matches files at the top of
        the repo only. The default is what vLLM reads (safetensors, their index, configs, tokenizer
        files); C(pytorch_model.bin), C(*.pt), C(onnx/), C(*.gguf) are left out.
    type: list
    elements: str
  reserve_bytes:
    description: Bytes to keep free on the disk on top of the download.
    type: int
    default: 0
  progress_file:
    description: Where the progress is written (JSON). Empty means C(<dest>.openclaw-fetch/progress.json).
    type: path
    default: ""
  timeout:
    description: Seconds a request may wait for the server.
    type: int
    default: 60
  ca_bundle:
    description: CA certificates (PEM file) to trust for an HTTPS endpoint with a private CA.
    type: path
    default: ""
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Fetch Qwen2.5-14B-Instruct-AWQ at a pinned commit from a private mirror
  openclaw.vllm.hf_model_fetch:
    repo: Qwen/Qwen2.5-14B-Instruct-AWQ
    revision: 0123456789abcdef0123456789abcdef01234567
    endpoint: https://hf-mirror.example.internal
    token: "{{ vault_hf_token }}"
    dest: /var/lib/openclaw-vllm/models/.staging-qwen
    progress_file: /var/lib/openclaw-vllm/models/.staging-qwen.progress.json
  async: 21600
  poll: 0
  register: __fetch

- name: Only ask (what would be fetched, and would it fit)
  openclaw.vllm.hf_model_fetch:
    repo: Qwen/Qwen2.5-14B-Instruct-AWQ
    revision: 0123456789abcdef0123456789abcdef01234567
    dest: /var/lib/openclaw-vllm/models/.staging-qwen
  check_mode: true
  register: __plan
"""

RETURN = r"""
endpoint:
  description: The endpoint that was asked.
  returned: always
  type: str
files:
  description: The selected files (path, size, and sha256 or git_oid), smallest first.
  returned: always
  type: list
  elements: dict
excluded:
  description: Files of the revision that the allow-patterns left out.
  returned: always
  type: list
  elements: str
total_bytes:
  description: Sum of the selected files' sizes.
  returned: always
  type: int
download_bytes:
  description: Bytes not yet complete in O(dest) before this run.
  returned: always
  type: int
free_bytes:
  description: Free bytes on the disk of O(dest) before this run.
  returned: always
  type: int
fetched_bytes:
  description: Bytes transferred by this run.
  returned: when not in check mode
  type: int
reused_bytes:
  description: Bytes of files that an earlier (interrupted) run had completed.
  returned: when not in check mode
  type: int
fetched_files:
  description: Files transferred by this run.
  returned: when not in check mode
  type: list
  elements: str
reused_files:
  description: Files that an earlier run had completed.
  returned: when not in check mode
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible_collections.openclaw.vllm.plugins.module_utils.hf_source import (
    DEFAULT_ALLOW_PATTERNS, HfError, fetch, plan)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repo=dict(type="str", required=True),
            revision=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            endpoint=dict(type="str", default="", fallback=(env_fallback, ["HF_ENDPOINT"])),
            token=dict(type="str", default="", no_log=True, fallback=(env_fallback, ["HF_TOKEN"])),
            allow_patterns=dict(type="list", elements="str", default=None),
            reserve_bytes=dict(type="int", default=0),
            progress_file=dict(type="path", default=""),
            timeout=dict(type="int", default=60),
            ca_bundle=dict(type="path", default=""),
        ),
        supports_check_mode=True,
    )
    params = module.params
    common = dict(token=params["token"], timeout=params["timeout"], ca_bundle=params["ca_bundle"])
    try:
        result = plan(params["repo"], params["revision"], params["dest"], endpoint=params["endpoint"],
                      allow_patterns=params["allow_patterns"] or DEFAULT_ALLOW_PATTERNS,
                      reserve_bytes=params["reserve_bytes"], **common)
        if module.check_mode:
            module.exit_json(changed=result["download_bytes"] > 0, **result)
        result.update(fetch(result, params["dest"], progress_file=params["progress_file"], **common))
    except (HfError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=result["fetched_bytes"] > 0 or result["reused_bytes"] > 0, **result)


if __name__ == "__main__":
    main()
