# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.openclaw.vllm.plugins.module_utils import fleet_status as fleet


def fleet_status(results, generated=None):
    """{inventory_hostname: registered vllm_status_info result} -> the fleet status document."""
    if not isinstance(results, dict):
        raise AnsibleFilterError("fleet_status expects a dict of host -> registered result, got %s"
                                 % type(results).__name__)
    return fleet.document(dict(results), generated)


def fleet_status_table(doc, widths=None):
    """The fleet status document -> the table's lines."""
    if not isinstance(doc, dict) or "hosts" not in doc:
        raise AnsibleFilterError("fleet_status_table expects the document of openclaw.vllm.fleet_status")
    try:
        return fleet.table(doc, widths)
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError("fleet_status_table: %s" % exc)


class FilterModule(object):
    """Fleet status filters."""

    def filters(self):
        return {"fleet_status": fleet_status, "fleet_status_table": fleet_status_table}
