# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.openclaw.vllm.plugins.module_utils import gate_report


def gate_failure(facts):
    """The facts of a failed gate -> its message (module_utils/gate_report.py)."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError("gate_failure expects a dict of the gate's facts, got %s" % type(facts).__name__)
    try:
        return gate_report.failure_message(facts)
    except KeyError as exc:
        raise AnsibleFilterError("gate_failure: the facts lack %s" % exc)


class FilterModule(object):
    """The gate's words."""

    def filters(self):
        return {"gate_failure": gate_failure}
