#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: venv_lock_check
short_description: Check, before any download, that a host's package sources serve every file of a lock
version_added: "1.1.0"
description:
  - Reads a hash-pinned lock (C(uv pip compile --generate-hashes) output) and asks the package sources the
    host will install from whether each locked version is there as a wheel with a locked hash for the
    host's Python and machine.
  - An index is asked for its metadata only (PEP 691 JSON; the sizes of PEP 700), never a wheel. A wheelhouse
    directory is matched by file name and version; pip checks the hashes while installing.
  - Returns what is missing, naming each package, version and what the source has instead, and the
    download size, so that a role can refuse and check free space before a multi-gigabyte download.
  - Never changes anything.
author:
  - openclaw.vllm contributors (@openclaw)
options:
  lock:
    description: The lock's text (not logged on the host).
    type: str
    required: true
  python:
    description: The host's Python as C(X.Y).
    type: str
    required: true
  machine:
    description: The host's machine (C(platform.machine()), for example C(x86_64)).
    type: str
    required: true
  wheelhouse:
    description: A directory of wheels on the host (pip C(--no-index --find-links)); when set, the indexes are not asked.
    type: path
    default: ""
  index_url:
    description:
      - The index (empty means PyPI). Credentials in it (C(https://user:token@host/simple)) are sent as HTTP Basic
        auth and never shown in results.
      - An index that answers PEP 691 JSON gives file sizes; one that answers PEP 503 HTML is read from its links
        (hashes from the C(#sha256=) fragments, no sizes).
    type: str
    default: ""
  extra_index_urls:
    description: More indexes, asked in order after O(index_url).
    type: list
    elements: str
    default: []
  ca_bundle:
    description: A CA bundle on the host for the indexes.
    type: path
    default: ""
extends_documentation_fragment:
  - openclaw.vllm.attributes
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Check that the package sources serve every locked file
  openclaw.vllm.venv_lock_check:
    lock: "{{ lookup('ansible.builtin.file', 'locks/vllm-0.33.0-cuda-py3.11.txt', rstrip=false) }}"
    python: "3.11"
    machine: x86_64
  register: __served

- name: Refuse before the download
  ansible.builtin.assert:
    that: __served.missing | length == 0
    fail_msg: "{{ __served.missing | join('; ') }}"
"""

RETURN = r"""
packages:
  description: How many packages the lock pins.
  returned: always
  type: int
missing:
  description: One line per locked package that no source serves, C(name==version) and what the source has.
  returned: always
  type: list
  elements: str
errors:
  description: One line per package whose source could not be read (unreachable, not PEP 691).
  returned: always
  type: list
  elements: str
download_bytes:
  description: The sum of the sizes of the files that will be downloaded (the largest fitting file of each).
  returned: always
  type: int
unsized:
  description: Packages whose size the source did not give (not counted in RV(download_bytes)).
  returned: always
  type: list
  elements: str
"""

import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openclaw.vllm.plugins.module_utils import venv_lock


def main():
    module = AnsibleModule(argument_spec=dict(
        # Hundreds of KB of hashes: not for the host's journal or -vvv (no secret, just noise).
        lock=dict(type="str", required=True, no_log=True),
        python=dict(type="str", required=True),
        machine=dict(type="str", required=True),
        wheelhouse=dict(type="path", default=""),
        index_url=dict(type="str", default=""),
        extra_index_urls=dict(type="list", elements="str", default=[]),
        ca_bundle=dict(type="path", default=""),
    ), supports_check_mode=True)
    params = module.params
    if not re.fullmatch(r"[0-9]+\.[0-9]+", params["python"]):
        module.fail_json(msg="python must be X.Y, like 3.11, got %r" % params["python"][:40])
    try:
        pins = venv_lock.parse(params["lock"])
        sources = venv_lock.sources_for(params["index_url"], params["extra_index_urls"],
                                        params["wheelhouse"], params["ca_bundle"])
    except venv_lock.LockError as exc:
        module.fail_json(msg="The lock cannot be read: %s" % exc)
    except OSError as exc:
        module.fail_json(msg="The package source cannot be read: %s" % exc)
    result = venv_lock.check(pins, sources, params["python"], params["machine"])
    module.exit_json(changed=False, packages=len(pins), **result)


if __name__ == "__main__":
    main()
