# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host's list of lanes means: several vLLM instances on one host, each the owner of its
own port, unit, environment file, model and share of its GPUs' memory.

The one home of the lane rules, read on the controller (through the lanes filter):
- a lane's fields and their defaults: a field a lane leaves out takes the single-lane value the
  role has today (vllm_service_port, ..._gpus, ...), so no list at all is one lane, ``default``;
- the default lane keeps today's unit and files (openclaw-vllm.service, ~/.config/openclaw-vllm),
  so a host provisioned before lanes upgrades in place; lane ``chat`` is openclaw-vllm-chat.service
  with ~/.config/openclaw-vllm/lanes/chat (the names: host/lanes.py, which the host commands read);
- the checks, all of them at once, each naming the lane and the field;
- the GPU budget: the lanes present on one GPU must fit in it together. A lane's budget is vLLM's
  --gpu-memory-utilization, the share of each of its GPUs' memory it may take; a lane with no GPUs
  listed uses all of them, so it shares every GPU with every other lane.
"""

from __future__ import annotations

from .host.inputs import UsageError
from .host.lanes import DEFAULT_LANE, check_lane, lane_config_dir, lane_unit

STATES = ("present", "absent")
FIELDS = ("name", "port", "model", "gpus", "gpu_memory_utilization", "served_model_name", "extra_args",
          "state")
DERIVED = ("unit", "config_dir", "start_after")
# Summed budgets are compared with this slack: 0.45 + 0.55 is 1.0000000000000002 in floats.
EPSILON = 1e-9


class LaneError(ValueError):
    """The lane list cannot be served; ``problems`` lists every reason, each naming its lane."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = problems


def lanes(spec, defaults, gpu_budget=True, default_utilization=0.92):
    """The lanes of ``spec`` (a list of mappings, or None/[] for the one default lane) with every
    field filled from ``defaults`` (a mapping of FIELDS but name), plus their ``unit`` and
    ``config_dir`` (under ~/.config/openclaw-vllm: '' for the default lane, lanes/<name> for
    another) and ``start_after`` (the lanes before it in the list it shares a GPU with: it starts
    after them, one at a time). ``gpu_budget``: check that the lanes sharing a GPU fit in it (not on CPU hosts); a
    lane whose gpu_memory_utilization is None (vLLM's own default) counts as
    ``default_utilization`` there. Raises LaneError with every problem found."""
    if spec is None or spec == []:
        spec = [{"name": DEFAULT_LANE}]
    if not isinstance(spec, list):
        raise LaneError(["the lanes are %s, expected a list of mappings" % type(spec).__name__])
    problems, result = [], []
    for index, entry in enumerate(spec):
        lane = _lane(index, entry, defaults, problems)
        if lane is not None:
            result.append(lane)
    _unique(result, "name", problems, lambda lane: True)
    _unique(result, "port", problems, lambda lane: lane["state"] == "present")
    if gpu_budget:
        problems.extend(over_committed(result, default_utilization))
    for index, lane in enumerate(result):
        lane["start_after"] = [other["name"] for other in result[:index] if shares_a_gpu(lane, other)]
    if problems:
        raise LaneError(problems)
    return result


def _lane(index, entry, defaults, problems):
    if not isinstance(entry, dict):
        problems.append("lane %d is %s, expected a mapping" % (index + 1, type(entry).__name__))
        return None
    name = entry.get("name")
    try:
        check_lane(name)
    except UsageError as exc:
        problems.append("lane %d: %s" % (index + 1, str(exc).replace("lane ", "name ", 1)))
        return None
    who = "lane '%s'" % name
    # unit, config_dir and start_after are what this returns: a filled-in list can be checked again.
    unknown = sorted(set(entry) - set(FIELDS) - set(DERIVED))
    if unknown:
        problems.append("%s: unknown field %s (expected %s)" % (who, ", ".join(unknown), ", ".join(FIELDS)))
    lane = dict(defaults)
    lane.update(entry)
    before = len(problems)
    lane["port"] = _port(who, lane.get("port"), problems)
    lane["gpus"] = _gpus(who, lane.get("gpus"), problems)
    lane["gpu_memory_utilization"] = _share(who, lane.get("gpu_memory_utilization"), problems)
    for field in ("model", "served_model_name"):
        if not isinstance(lane.get(field), str) or not lane[field].strip():
            problems.append("%s: %s is %r, expected a non-empty string" % (who, field, lane.get(field)))
    extra = lane.get("extra_args")
    if not isinstance(extra, list) or not all(isinstance(arg, (str, int, float)) for arg in extra):
        problems.append("%s: extra_args is %r, expected a list of strings" % (who, extra))
    else:
        lane["extra_args"] = [str(arg) for arg in extra]
    lane.setdefault("state", "present")
    if lane["state"] not in STATES:
        problems.append("%s: state is %r, expected %s" % (who, lane["state"], " or ".join(STATES)))
    if len(problems) > before:
        return None
    lane["unit"] = lane_unit(name)
    lane["config_dir"] = lane_config_dir(name)
    return lane


def _port(who, value, problems):
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
        problems.append("%s: port is %r, expected an integer in 1..65535" % (who, value))
        return value
    return int(text)


def _gpus(who, value, problems):
    """Indexes (nvidia-smi's, PCI bus order) or UUIDs, as strings; [] is all of the host's GPUs."""
    if not isinstance(value, list) or not all(isinstance(gpu, (str, int)) and not isinstance(gpu, bool)
                                              for gpu in value):
        problems.append("%s: gpus is %r, expected a list of GPU indexes or UUIDs" % (who, value))
        return value
    gpus = [str(gpu).strip() for gpu in value]
    if any(not gpu for gpu in gpus) or len(set(gpus)) != len(gpus):
        problems.append("%s: gpus is %r, expected distinct, non-empty GPU indexes or UUIDs" % (who, value))
    return gpus


def _share(who, value, problems):
    if value is None:  # vLLM's own default, as for vllm_service_gpu_memory_utilization
        return None
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = None
    if isinstance(value, bool) or share is None or not 0 < share <= 1:
        problems.append("%s: gpu_memory_utilization is %r, expected a share of each GPU's memory in (0, 1] "
                        "(or null: vLLM's default)" % (who, value))
        return value
    return share


def _unique(result, field, problems, counts):
    seen = {}
    for lane in result:
        if counts(lane):
            seen.setdefault(lane[field], []).append(lane["name"])
    for value, names in seen.items():
        if len(names) > 1 and field == "name":
            problems.append("lane '%s' is listed %d times (each lane needs its own name)" % (value, len(names)))
        elif len(names) > 1:
            problems.append("lanes %s: the same %s %s (each lane needs its own)"
                            % (" and ".join("'%s'" % name for name in names), field, value))


def shares_a_gpu(lane, other):
    """Whether two present lanes share a GPU (a lane with no GPUs listed uses all of them). Lanes on
    a CPU host list none: they share the host's memory and cores the same way."""
    return lane["state"] == other["state"] == "present" and (
        not lane["gpus"] or not other["gpus"] or bool(set(lane["gpus"]) & set(other["gpus"])))


def over_committed(result, default_utilization=0.92):
    """One problem per GPU whose present lanes' budgets add up to more than all of its memory.
    A lane with no GPUs listed takes its share on every GPU: it is added to each listed GPU, and
    the lanes with no GPUs listed are checked together as well. A share of None is vLLM's default,
    ``default_utilization``."""
    present = [lane for lane in result if lane["state"] == "present"]
    everywhere = [lane for lane in present if not lane["gpus"]]
    gpus = sorted({gpu for lane in present for gpu in lane["gpus"]}, key=_gpu_order)
    groups = [("GPU %s" % gpu, [lane for lane in present if gpu in lane["gpus"]] + everywhere) for gpu in gpus]
    if everywhere:
        groups.append(("every GPU", everywhere))
    problems = []

    def share(lane):
        return default_utilization if lane["gpu_memory_utilization"] is None else lane["gpu_memory_utilization"]

    for what, sharing in groups:
        total = sum(share(lane) for lane in sharing)
        if len(sharing) > 1 and total > 1 + EPSILON:
            problems.append("%s is over-committed: %s = %.2f of its memory, more than all of it (1.00); "
                            "lower their gpu_memory_utilization or give them other GPUs"
                            % (what, " + ".join("lane '%s' %.2f" % (lane["name"], share(lane))
                                                for lane in sharing), total))
    return problems


def _gpu_order(gpu):
    return (0, int(gpu), "") if gpu.isdigit() else (1, 0, gpu)
