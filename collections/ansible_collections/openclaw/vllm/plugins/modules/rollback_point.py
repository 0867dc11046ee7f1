#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_point
short_description: Read, keep, swap in and restore the rollback point of a vLLM user unit
version_added: "1.1.0"
description:
  - The rollback point is the unit that the last switch of the role C(openclaw.vllm.vllm_service)
    replaced, kept outside the unit directory. Its C(ExecStart=) names the build and the model
    version it served, so it alone says what a rollback returns to.
  - O(state=read) reports what the point served, read with systemd's own quoting rules (never a
    regular expression over the line).
  - O(state=kept) makes O(replaced) the point after a switch; the point it replaces waits beside it
    (C(.older)) until the next switch.
  - O(state=swapped) is a rollback, the point becomes O(unit) and the unit becomes the point.
  - O(state=restored) puts the C(.older) point back (or removes the point where there was none).
  - Every change is a rename (a copy beside the target across filesystems), so a run killed at any
    moment leaves the unit and the point whole.
author:
  - openclaw.vllm contributors (@openclaw)
options:
  path:
    description: The rollback point.
    type: path
    required: true
  state:
    description: What to do with it.
    type: str
    choices: [read, kept, swapped, restored]
    default: read
  replaced:
    description: With O(state=kept), the unit that the switch replaced (the template module's backup file).
    type: path
  unit:
    description: With O(state=swapped), the unit file the point takes the place of.
    type: path
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: O(state=read) reads as always; the other states report changed and change nothing.
"""

EXAMPLES = r"""
- name: Find what the host served before the last switch
  openclaw.vllm.rollback_point:
    path: /home/vllm/.config/openclaw-vllm/rollback/openclaw-vllm.service
  register: point

- name: Roll back to it
  openclaw.vllm.rollback_point:
    path: /home/vllm/.config/openclaw-vllm/rollback/openclaw-vllm.service
    unit: /home/vllm/.config/systemd/user/openclaw-vllm.service
    state: swapped
  when: point.on_disk
"""

RETURN = r"""
exists:
  description: Whether there was a rollback point before this task.
  returned: always
  type: bool
venv:
  description: The build the point served (its ExecStart's C(<build>/bin/vllm)), empty when it names none.
  returned: always
  type: str
  sample: /opt/openclaw-vllm/builds/vllm-cpu-0123456789ab
model:
  description: The model version the point served (the word after C(serve)), empty when it names none.
  returned: always
  type: str
  sample: /var/lib/openclaw-vllm/models/.versions/tiny-awq-0123456789ab
on_disk:
  description: Whether that build's C(bin/vllm) and that model's C(config.json) are both still there.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openclaw.vllm.plugins.module_utils import rollback_point as point


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["read", "kept", "swapped", "restored"], default="read"),
            replaced=dict(type="path"),
            unit=dict(type="path"),
        ),
        required_if=[("state", "kept", ["replaced"]), ("state", "swapped", ["unit"])],
        supports_check_mode=True,
    )
    params, check = module.params, module.check_mode
    try:
        before = point.served(params["path"])
        changed = False
        if params["state"] == "kept":
            changed = point.keep(params["path"], params["replaced"], check)
        elif params["state"] == "swapped":
            changed = point.swap(params["path"], params["unit"], check)
        elif params["state"] == "restored":
            changed = point.restore(params["path"], check)
    except point.PointError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=changed, **before)


if __name__ == "__main__":
    main()
