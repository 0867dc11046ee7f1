# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.openclaw.vllm.plugins.module_utils import lanes as rules
from ansible_collections.openclaw.vllm.plugins.module_utils.host import lanes as names
from ansible_collections.openclaw.vllm.plugins.module_utils.host.inputs import UsageError


def lanes(spec, defaults, gpu_budget=True):
    """A host's lane list -> every lane with its fields filled in (module_utils/lanes.py)."""
    if not isinstance(defaults, dict):
        raise AnsibleFilterError("lanes: the defaults are %s, expected a mapping" % type(defaults).__name__)
    try:
        return rules.lanes(spec, dict(defaults), gpu_budget=bool(gpu_budget))
    except rules.LaneError as exc:
        raise AnsibleFilterError("lanes: %s" % "; ".join(exc.problems))


def lane_problem(name):
    """'' for a usable lane name, else what is wrong with it."""
    try:
        names.check_lane(name)
    except UsageError as exc:
        return str(exc)
    return ""


def _named(function):
    def filter_(name):
        try:
            return function(name)
        except UsageError as exc:
            raise AnsibleFilterError(str(exc))
    return filter_


class FilterModule(object):
    """Several vLLM instances per host."""

    def filters(self):
        return {"lanes": lanes, "lane_problem": lane_problem, "lane_unit": _named(names.lane_unit),
                "lane_config_dir": _named(names.lane_config_dir)}
