#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vllm_status_info
short_description: Health, port holders and unit state of the openclaw-vllm service
version_added: "1.0.0"
description:
  - The facts of C(openclaw-vllm status --json), gathered on the managed host by the same
    code, namely C(GET /health), the port guard's probe of the port (holders, ours or unknown),
    the user unit's state through C(systemctl --user), what the service serves (build and model
    version), the port guard's last journal event and the GPUs' memory where C(nvidia-smi) exists.
  - What is served is read from the running service (C(/proc/<MainPID>/cmdline)), else from the
    unit's C(ExecStart), else from our vLLM holding the port. During a roll-out the links and the
    running process can differ; the running process wins.
  - The playbook C(openclaw.vllm.status) runs it on every host and prints one table for the fleet.
  - What it reports on (port, host, unit, identity patterns) comes from the service config
    that the C(openclaw.vllm.vllm_service) role writes beside the unit
    (C(~/.config/openclaw-vllm/service.conf) of the user the module runs as). Options
    override it.
  - Run it as the service user (C(become_user)), so that its user unit and its processes are
    the ones inspected. C(XDG_RUNTIME_DIR) is set to C(/run/user/<uid>) when absent.
  - Never changes anything, and never fails because the service is down; it fails only on bad input.
author:
  - openclaw.vllm contributors (@openclaw)
requirements:
  - psutil on the managed host
options:
  config:
    description: Path of the service config. Default C(~/.config/openclaw-vllm/service.conf).
    type: path
  port:
    description: Port vLLM binds. Default the config's, else 8001.
    type: int
  host:
    description: Address vLLM binds. Default the config's, else 127.0.0.1.
    type: str
  unit:
    description: The systemd user unit. Default the config's, else C(openclaw-vllm.service).
    type: str
  patterns:
    description: Identity patterns of our vLLM processes (see M(openclaw.vllm.port_guard)). Default the config's.
    type: list
    elements: str
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Read-only; runs the same in check mode.
  platform:
    platforms: linux
seealso:
  - module: openclaw.vllm.port_guard
"""

EXAMPLES = r"""
- name: Read the service status as the service user
  openclaw.vllm.vllm_status_info:
  become: true
  become_user: vllm
  register: __status

- name: Show it
  ansible.builtin.debug:
    msg: "{{ __status.lines }}"
"""

RETURN = r"""
healthy:
  description:
    - Whether our service is up, namely the unit itself holds the port (see RV(owner)) and
      C(GET /health) answered 200. A process that is not ours answering C(/health) is never healthy.
  returned: always
  type: bool
health:
  description: The health probe (url, ok, status, error), as whoever holds the port answers it.
  returned: always
  type: dict
owner:
  description:
    - Whether the port is held by our service, C(ours), and how that was proven, C(by) (V(unit) when
      every holder is in the unit's cgroup or MainPID's process tree and the unit is active; V(identity)
      by the port guard's rules where no systemd user manager answers), else C(why) it is not,
      naming the holder.
  returned: always
  type: dict
probe:
  description: The port probe (free, error, holders as in M(openclaw.vllm.port_guard)).
  returned: always
  type: dict
unit:
  description:
    - The unit's C(name), C(LoadState), C(ActiveState), C(SubState), C(Result), C(NRestarts), C(MainPID),
      C(ExecMainPID) and C(ExecMainStartTimestamp), as C(systemctl --user show) prints them.
    - Null where C(systemctl --user) does not answer.
  returned: always
  type: dict
served:
  description: What the service serves.
  returned: always
  type: dict
  contains:
    source:
      description:
        - Where it was read. V(process) is the running service's command line (C(/proc/<MainPID>/cmdline)),
          V(unit) the unit's C(ExecStart) (the service is not running), V(port) our vLLM holding the port
          (no user manager answered). Null when unknown, and then every other key is null.
      type: str
      sample: process
    pid:
      description: The process whose command line was read; null for V(unit).
      type: int
    served_model_name:
      description: The first C(--served-model-name), else the model path.
      type: str
      sample: local-assistant
    model:
      description:
        - The model version, namely C(path), C(version) (its directory name, C(<name>-<12 hex>)), C(name),
          C(manifest) (whether C(.openclaw-manifest.json) was read), C(hf_repo) and C(hf_revision) (null
          unless the model came from the Hugging Face Hub) and C(source) (the manifest's C(identity.source)).
      type: dict
    build:
      description:
        - The vLLM build, namely C(path), C(id) (its directory name, C(vllm-<accelerator>-<12 hex>)), and
          C(vllm_version) and C(accelerator) from its C(.openclaw-build.json) (null when absent).
      type: dict
    pending:
      description:
        - The C(build) and C(model) paths the unit names when they differ from those of the running
          process (a restart switches to them); null otherwise.
      type: dict
guard:
  description:
    - The newest journal entry of the port guard (syslog identifier C(openclaw-vllm-port-guard)) this
      user may read. C(event) (for example V(VLLM_PORT_OK)), C(message), C(time) (ISO 8601, UTC);
      all null when there is none. C(error) says why journalctl could not be asked, else null.
  returned: always
  type: dict
gpu:
  description:
    - Null where C(nvidia-smi) does not exist. Else C(gpus), a list of C(index), C(name),
      C(memory_used_mib), C(memory_total_mib) and C(memory_free_mib); C(need_mib) (what vLLM asks
      for at the unit's C(gpu_memory_utilization), as the start-time GPU gate computes it; null for a
      GPU the unit does not use) and C(short) (free below that); C(holders), a list of C(pid),
      C(cmd), C(mib) and C(ours) (by the port guard's rules); and C(error) (why nvidia-smi failed,
      else null).
  returned: always
  type: dict
hint:
  description:
    - The one-line HINT when our service is not up (see RV(healthy)), else null. It names an unknown port holder or, failing
      that, the largest holder that is not ours of a GPU the unit uses and that is short of memory
      (C(HINT) C(vLLM blocked - GPU <i> has <n> MiB free, needs <n> MiB; held by pid=<pid> cmd="<cmd>" (<n> MiB)...)).
  returned: always
  type: str
lines:
  description: The report as C(openclaw-vllm status --verbose) prints it.
  returned: always
  type: list
  elements: str
settings:
  description: The port, host, unit, patterns and config path the report is about.
  returned: always
  type: dict
lanes:
  description:
    - Every lane of the host (a service config under C(~/.config/openclaw-vllm)), the default lane first,
      as C(openclaw-vllm status) lists them. Health is V(up) only when the lane's own vLLM answers,
      V(held) when anyone else answers on its port, else V(down) (V(unknown) when its config cannot be read).
  returned: when O(config) is not given
  type: list
  elements: dict
  contains:
    lane:
      description: The lane's name.
      type: str
      returned: always
    unit:
      description: Its unit.
      type: str
      returned: always
    host:
      description: Its address.
      type: str
      returned: always
    port:
      description: Its port.
      type: int
      returned: always
    state:
      description: The ActiveState/SubState of its unit, else V(unknown).
      type: str
      returned: always
    health:
      description: V(up), V(held) or V(down).
      type: str
      returned: always
    healthy:
      description: Whether its health is V(up).
      type: bool
      returned: always
    error:
      description: Why its service config cannot be read (its health is then V(unknown)), else null.
      type: str
      returned: always
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.openclaw.vllm.plugins.module_utils.host import status as vllm_status
from ansible_collections.openclaw.vllm.plugins.module_utils.host.lane_status import lane_rows
from ansible_collections.openclaw.vllm.plugins.module_utils.host.inputs import UsageError
from ansible_collections.openclaw.vllm.plugins.module_utils.psutil_check import HAS_PSUTIL


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type="path"),
            port=dict(type="int"),
            host=dict(type="str"),
            unit=dict(type="str"),
            patterns=dict(type="list", elements="str"),
        ),
        supports_check_mode=True,
    )
    if not HAS_PSUTIL:
        module.fail_json(msg=missing_required_lib("psutil"))
    params = module.params
    os.environ.setdefault("XDG_RUNTIME_DIR", "/run/user/%d" % os.getuid())
    try:
        chosen = vllm_status.settings(params["config"], params["host"], params["port"], params["unit"],
                                      params["patterns"])
        facts, holders = vllm_status.gather(chosen)
        if params["config"] is None:  # the host's lanes, as `openclaw-vllm status` lists them
            facts["lanes"] = lane_rows()
    except UsageError as exc:
        module.fail_json(msg=str(exc))
    chosen["patterns"] = list(chosen["patterns"])
    module.exit_json(changed=False, settings=chosen, lines=vllm_status.render(facts, True, holders), **facts)


if __name__ == "__main__":
    main()
