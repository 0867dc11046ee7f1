# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who answers the port: our unit (every holder inside it), or who else, named as the reasons say."""

from .events import quote
from .units import in_unit


def describe_holder(holder):
    """``unknown process pid=N uid=U cmd="..."``: a holder as the reasons name it."""
    if holder.unit:
        return "a process of the running unit %s pid=%s uid=%s cmd=%s" % (
            quote(holder.unit), holder.pid, "?" if holder.uid is None else holder.uid, quote(holder.cmd))
    return "%s process pid=%s uid=%s cmd=%s" % (
        "an unknown" if holder.kind != "vllm_like" else "a vllm-like", "?" if holder.pid is None else holder.pid,
        "?" if holder.uid is None else holder.uid, quote(holder.cmd or "(%s)" % holder.reason))


def port_owner(report, shown, unit):
    """{'ours', 'by', 'why'}: whether our service is what holds the port.

    ours: with a systemd user manager, the unit is active with a live MainPID and every
    holder of the port is in the unit (by: "unit"); without one, every holder is ours by the
    port guard's rules (by: "identity"). why: the reason it is not ours, naming the holder."""
    port = report.port
    if report.error:
        return {"ours": False, "by": None, "why": "the probe of port %d failed: %s" % (port, report.error)}
    if not report.holders:
        return {"ours": False, "by": None, "why": "nothing holds port %d" % port}
    if shown is None:
        strangers = report.unknown
        if strangers:
            return {"ours": False, "by": None, "why": "port %d is held by %s" % (port, describe_holder(strangers[0]))}
        return {"ours": True, "by": "identity", "why": None}
    main = shown.get("MainPID") or "0"
    main_pid = int(main) if main.isdigit() else 0
    outside = [h for h in report.holders if not in_unit(h.pid, main_pid, shown.get("ControlGroup"))]
    if outside:
        return {"ours": False, "by": None, "why": "port %d is held by %s, not by %s" % (
            port, describe_holder(outside[0]), unit)}
    if shown.get("ActiveState") != "active" or main_pid <= 0:
        return {"ours": False, "by": None, "why": "%s is %s/%s (MainPID=%s)" % (
            unit, shown.get("ActiveState", "?"), shown.get("SubState", "?"), main)}
    return {"ours": True, "by": "unit", "why": None}
