#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_gate
short_description: Wait for the vLLM user unit to serve on its own port, then judge one real completion
version_added: "1.1.0"
description:
  - The gate the role C(openclaw.vllm.vllm_service) passes after every (re)start and rollback. It
    runs the host's C(openclaw-vllm status --json) (with C(--complete), which sends one completion
    with the API key from the unit's environment file, so the key is in no task and no argv) until
    the port is held by the unit itself and C(/health) answers 200.
  - The wait ends at once when a process that is not ours holds the port (status names it) or the
    unit stopped or went to auto-restart (a vLLM that exits while it loads), not after O(timeout).
  - It returns a verdict and never fails for a closed gate; the role's C(Require /health) and
    C(Require generated tokens) assert on RV(healthy) and RV(completed) with RV(health_msg) and
    RV(completion_msg). Run it as the service user.
author:
  - openclaw.vllm contributors (@openclaw)
options:
  status_command:
    description: The host's C(openclaw-vllm) command (the role installs it in the service user's C(~/.local/bin)).
    type: path
    required: true
  config:
    description:
      - The service config of the unit to judge (a lane's, C(~/.config/openclaw-vllm/lanes/<lane>/service.conf));
        the API key is read from the env file beside it.
      - Default the service user's C(~/.config/openclaw-vllm/service.conf).
    type: path
    version_added: "1.1.0"
  timeout:
    description: Seconds to wait for C(/health).
    type: int
    default: 300
  interval:
    description: Seconds between two asks.
    type: float
    default: 2
  complete:
    description: Send one completion once C(/health) answers.
    type: bool
    default: true
  model:
    description:
      - The served model name the completion asks for (O(complete=true)).
      - Left out, the name the running vLLM serves (its C(--served-model-name), read from its command line).
        The gate after a rollback asks for what the unit it went back to serves, which may not be the name
        the inventory gives now.
    type: str
  prompt:
    description: The completion's prompt.
    type: str
    default: Hello
  max_tokens:
    description: The completion's token budget.
    type: int
    default: 8
  url:
    description: The service's base URL, for the messages.
    type: str
    default: http://127.0.0.1:8001
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Reads only (a completion is a read); it runs as it does without check mode.
"""

EXAMPLES = r"""
- name: Wait for /health while the unit stays up, then send one real completion
  openclaw.vllm.service_gate:
    status_command: /home/vllm/.local/bin/openclaw-vllm
    model: tiny-awq
    timeout: 300
  become: true
  become_user: vllm
  environment:
    XDG_RUNTIME_DIR: /run/user/990
  register: gate

- name: Require /health
  ansible.builtin.assert:
    that: gate.healthy
    fail_msg: "{{ gate.health_msg }}"
"""

RETURN = r"""
healthy:
  description: The unit holds its port and C(/health) answered 200.
  returned: always
  type: bool
verdict:
  description: C(healthy); C(held) (a process that is not ours holds the port); C(down) (the unit stopped); C(timeout).
  returned: always
  type: str
health_msg:
  description: Why C(/health) does not count, empty when it does.
  returned: always
  type: str
  sample: the unit stopped before /health answered (activating/auto-restart, result exit-code)
completed:
  description: The completion returned tokens (true when O(complete=false) and healthy).
  returned: always
  type: bool
completion_msg:
  description: Why the completion does not count, empty when it does.
  returned: always
  type: str
facts:
  description: The last C(openclaw-vllm status --json) (health, owner, unit, probe, completion, hint), or an empty dict.
  returned: always
  type: dict
tries:
  description: How many times status was asked.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openclaw.vllm.plugins.module_utils import service_gate as gate


def main():
    module = AnsibleModule(
        argument_spec=dict(
            status_command=dict(type="path", required=True),
            config=dict(type="path"),
            timeout=dict(type="int", default=300),
            interval=dict(type="float", default=2),
            complete=dict(type="bool", default=True),
            model=dict(type="str"),
            prompt=dict(type="str", default="Hello"),
            max_tokens=dict(type="int", default=8, no_log=False),
            url=dict(type="str", default="http://127.0.0.1:8001"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 0 or params["interval"] <= 0:
        module.fail_json(msg="timeout must be 0 or more and interval more than 0 seconds, got %s and %s"
                         % (params["timeout"], params["interval"]))
    argv = [params["status_command"], "status", "--json"] + (["--config", params["config"]] if params["config"] else [])
    if params["complete"]:
        argv += ["--complete"] + (["--model", params["model"]] if params["model"] else []) + [
            "--prompt", params["prompt"], "--max-tokens", str(params["max_tokens"])]

    def run_status():
        _rc, stdout, stderr = module.run_command(argv)
        return gate.read_facts(stdout), stderr

    verdict, facts, stderr, tries = gate.wait(run_status, params["timeout"], params["interval"])
    healthy = verdict == "healthy"
    completion_msg = gate.completion_message(facts, params["url"]) if healthy and params["complete"] else ""
    module.exit_json(changed=False, healthy=healthy, verdict=verdict,
                     health_msg=gate.health_message(verdict, facts, params["timeout"], stderr),
                     completed=healthy and not completion_msg, completion_msg=completion_msg,
                     facts=facts, tries=tries)


if __name__ == "__main__":
    main()
