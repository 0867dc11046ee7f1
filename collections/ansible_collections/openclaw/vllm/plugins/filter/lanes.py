# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.openclaw.vllm.plugins.module_utils import lanes as rules
from ansible_collections.openclaw.vllm.plugins.module_utils.host import lanes as names
from ansible_collections.openclaw.vllm.plugins.module_utils.host.inputs import UsageError


def lanes(spec, defaults, gpu_budget=True, default_utilization=0.92):
    """A host's lane list -> every lane with its fields filled in (module_utils/lanes.py)."""
    if not isinstance(defaults, dict):
        raise AnsibleFilterError("lanes: the defaults are %s, expected a mapping" % type(defaults).__name__)
    try:
        return rules.lanes(spec, dict(defaults), gpu_budget=bool(gpu_budget),
                           default_utilization=float(default_utilization))
    except rules.LaneError as exc:
        raise AnsibleFilterError("lanes: %s" % "; ".join(exc.problems))


def lane(name):
    """A lane's name -> {name, unit, config_dir, problem} (module_utils/host/lanes.py). A name that
    cannot be a lane gives '' for unit and config_dir and says why in problem, so that a role's
    preflight can name the variable."""
    try:
        return {"name": name, "unit": names.lane_unit(name), "config_dir": names.lane_config_dir(name), "problem": ""}
    except UsageError as exc:
        return {"name": name, "unit": "", "config_dir": "", "problem": str(exc)}


class FilterModule(object):
    """Several vLLM instances per host."""

    def filters(self):
        return {"lanes": lanes, "lane": lane}
