# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd user unit as systemctl shows it, and whether a pid runs inside it (its cgroup, else
the MainPID's process tree)."""

import subprocess

from .cgroups import cgroup_paths
from .processes import _read_stat


UNIT_PROPERTIES = ("LoadState", "ActiveState", "SubState", "Result", "NRestarts", "MainPID", "ExecMainPID",
                   "ExecMainStartTimestamp")


def unit_show(unit, properties=UNIT_PROPERTIES + ("ExecStart", "ControlGroup")):
    """The unit's properties through ``systemctl --user show``; None where that does not work."""
    try:
        proc = subprocess.run(["systemctl", "--user", "show", unit] + ["--property=" + p for p in properties],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def unit_state(unit, shown=None):
    """ActiveState and friends (UNIT_PROPERTIES and the unit's name); None where
    ``systemctl --user`` does not work. ``shown``: a unit_show() result to reuse."""
    shown = unit_show(unit) if shown is None else shown
    if shown is None:
        return None
    state = {key: value for key, value in shown.items() if key in UNIT_PROPERTIES}
    state["name"] = unit
    return state


def _descends_from(pid, ancestor):
    """True when ``pid`` is ``ancestor`` or one of its descendants (from /proc, no signals)."""
    seen = 0
    while pid and pid > 1 and seen < 4096:
        if pid == ancestor:
            return True
        stat = _read_stat("/proc/%d" % pid)
        if stat is None:
            return False
        pid, seen = stat[1], seen + 1
    return False


def in_unit(pid, main_pid, control_group):
    """True when the process ``pid`` belongs to the unit: it is in the unit's cgroup (or one
    below it), or it is MainPID or a descendant of it."""
    if pid is None:
        return False
    if control_group and any(path == control_group or path.startswith(control_group.rstrip("/") + "/")
                             for path in cgroup_paths(pid)):
        return True
    return main_pid > 0 and _descends_from(pid, main_pid)
