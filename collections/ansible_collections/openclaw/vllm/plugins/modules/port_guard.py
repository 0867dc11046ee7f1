#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: port_guard
short_description: Make the vLLM service the owner of its TCP port
version_added: "1.0.0"
description:
  - Finds every TCP socket, IPv4 and IPv6, listening or only bound, that would make
    vLLM's C(bind(host, port)) fail, and identifies the process behind each.
  - A holder is C(vllm_like) only when it runs as the same user as the module and its
    identity (argv[0]'s basename, the program an interpreter runs, or a process title
    such as C(VLLM::EngineCore)) matches O(patterns), and it does not run inside a systemd
    service other than O(unit) (a running service's process is that service's, never a stray).
    Everything else is C(unknown).
  - With O(state=free), vllm_like holders are killed with their descendants (SIGTERM,
    then SIGKILL after O(grace) seconds) and orphaned vLLM engine processes of the same
    user are reaped. Any unknown holder makes the module fail and nothing is killed.
  - Every decision is also logged to syslog under the identifier C(openclaw-vllm-port-guard).
  - The same logic backs the C(openclaw-vllm-guard) command used as the unit's C(ExecStartPre).
author:
  - openclaw.vllm contributors (@openclaw)
requirements:
  - psutil on the managed host
  - Linux (sock_diag netlink or /proc/net/tcp)
options:
  port:
    description: TCP port vLLM binds.
    type: int
    required: true
  host:
    description:
      - Address vLLM binds. Only holders whose address overlaps it (Linux bind rules) count.
      - When omitted, every holder of the port is a conflict.
    type: str
  state:
    description:
      - V(free) makes the port ours (reclaims vllm_like holders).
      - V(probed) only reports the holders and the decision.
    type: str
    choices: [free, probed]
    default: free
  patterns:
    description:
      - Glob patterns (case-insensitive for ASCII) for the identity of a vllm_like process.
        Identities are names, never paths, and C(*) never matches C(/).
      - When omitted or empty, the defaults C(vllm), C(vllm-*), C(vllm.*), C(vllm::*) and
        C(openclaw*) apply, as for the C(openclaw-vllm-guard) command.
      - A pattern that matches common foreign names (C(*), C(py*), C(*.py)) or has no run of three
        literal letters is refused. Every process of the service user whose identity matches
        a pattern is a reclaim target, so a broad pattern such as C(*vllm*) also matches a
        C(my-vllm-proxy) of that user; prefer exact names.
    type: list
    elements: str
  unit:
    description:
      - The systemd service the port belongs to (for example C(openclaw-vllm.service)); its processes are
        judged by their identity. A process inside any other running service is C(unknown) and named by
        its unit. Omitted, only the service the module itself runs in (if any) counts as its own.
    type: str
    version_added: "1.1.0"
  grace:
    description: Seconds between SIGTERM and SIGKILL, 0 to 3600.
    type: float
    default: 10.0
  timeout:
    description: Seconds to wait, after the kill, until the port is bindable, 0 to 3600.
    type: float
    default: 10.0
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Reports what it would reclaim and kills nothing.
  platform:
    platforms: linux
notes:
  - Never kills pid 1, itself or its ancestors, or a process of another user.
seealso:
  - name: Design notes
    description: The behaviour contract of the port guard.
    link: https://github.com/openclaw/openclaw.vllm/blob/main/README.md
"""

EXAMPLES = r"""
- name: Make port 8001 ours before starting vLLM
  openclaw.vllm.port_guard:
    port: 8001
    host: 127.0.0.1

- name: Only report who holds the port
  openclaw.vllm.port_guard:
    port: 8001
    state: probed
  register: __port_report

- name: Treat our own wrapper as vLLM too, and give strays 30 s to stop
  openclaw.vllm.port_guard:
    port: 8001
    patterns: ["vllm", "vllm-*", "vllm.*", "vllm::*", "openclaw*", "my-llm-wrapper"]
    grace: 30
"""

RETURN = r"""
decision:
  description: >-
    The guard's event: VLLM_PORT_OK, VLLM_PORT_RECLAIM (check mode), VLLM_PORT_RECLAIMED,
    VLLM_PORT_HELD_VLLM (state=probed), VLLM_PORT_HELD_UNKNOWN, VLLM_PORT_STUCK or VLLM_PORT_PROBE_FAILED.
  returned: always
  type: str
  sample: VLLM_PORT_RECLAIMED
free:
  description: Whether the port was free when probed.
  returned: always
  type: bool
holders:
  description: The processes that held the port when probed.
  returned: always
  type: list
  elements: dict
  contains:
    pid: {description: Process id (null when the process is not visible)., type: int}
    uid: {description: Owner uid., type: int}
    cmd: {description: Command line., type: str}
    argv: {description: Command line as a list., type: list, elements: str}
    kind: {description: vllm_like or unknown., type: str}
    reason: {description: Why it got that kind., type: str}
    addresses: {description: The blocking socket addresses., type: list, elements: str}
    unit: {description: The running service (not O(unit)) the process belongs to; null outside one., type: str}
  sample: [{"pid": 4242, "uid": 1000, "cmd": "vllm-stray -m http.server 8001", "kind": "vllm_like",
            "reason": "identity matches 'vllm-*'", "addresses": ["0.0.0.0:8001"], "argv": ["vllm-stray"]}]
reclaimed:
  description: Holders killed (or, in check mode, that would be killed).
  returned: always
  type: list
  elements: dict
orphans:
  description: Orphaned vLLM engine processes reaped (or that would be).
  returned: always
  type: list
  elements: dict
events:
  description: The log lines the guard emitted, as in the journal.
  returned: always
  type: list
  elements: str
  sample: ['VLLM_PORT_RECLAIM port=8001 pid=4242 cmd="vllm-stray -m http.server 8001"', "VLLM_PORT_RECLAIMED port=8001"]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.openclaw.vllm.plugins.module_utils.host.constants import DEFAULT_GRACE, DEFAULT_TIMEOUT, EXIT_OK
from ansible_collections.openclaw.vllm.plugins.module_utils.host.events import EventLog, quote
from ansible_collections.openclaw.vllm.plugins.module_utils.host.inputs import UsageError
from ansible_collections.openclaw.vllm.plugins.module_utils.host.reclaim import run_guard
from ansible_collections.openclaw.vllm.plugins.module_utils.psutil_check import HAS_PSUTIL


def main():
    module = AnsibleModule(
        argument_spec=dict(
            port=dict(type="int", required=True),
            host=dict(type="str"),
            state=dict(type="str", default="free", choices=["free", "probed"]),
            patterns=dict(type="list", elements="str"),
            unit=dict(type="str"),
            grace=dict(type="float", default=DEFAULT_GRACE),
            timeout=dict(type="float", default=DEFAULT_TIMEOUT),
        ),
        supports_check_mode=True,
    )
    if not HAS_PSUTIL:
        module.fail_json(msg=missing_required_lib("psutil"))
    params = module.params
    try:
        outcome = run_guard(
            params["port"], params["host"], params["patterns"], params["grace"], params["timeout"],
            probe_only=params["state"] == "probed", dry_run=module.check_mode,
            log=EventLog(stderr=False), unit=params["unit"],
        )
    except UsageError as exc:
        module.fail_json(msg=str(exc))
    report = outcome.report
    result = dict(
        changed=outcome.changed,
        decision=outcome.event,
        free=report.free,
        holders=[h.as_dict() for h in report.holders],
        reclaimed=[h.as_dict() for h in outcome.reclaimed],
        orphans=[h.as_dict() for h in outcome.orphans],
        events=outcome.events,
    )
    if outcome.exit_code != EXIT_OK:
        if report.unknown:
            names = "; ".join("pid=%s cmd=%s (%s)" % (h.pid, quote(h.cmd), h.reason) for h in report.unknown)
            msg = "port %d is held by a process that is not ours to kill: %s" % (report.port, names)
        else:
            msg = "port %d: %s (%s)" % (report.port, outcome.event, outcome.reason)
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
