# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``openclaw-vllm-lane-wait LANE ...``: the first ExecStartPre of a lane listed after lanes it shares
a GPU with. vLLM sizes its KV cache from the GPU memory it finds free while it starts, so two lanes
starting together on one GPU mis-size, and a start aborts when a neighbour frees memory while it
profiles (vllm-project/vllm issues 55827 and 56830). At boot the user manager starts every lane at
once; the unit's After= orders the start jobs, but a Type=exec unit counts as started at its exec,
long before its vLLM holds its memory. So this waits until each lane named is settled: not
activating, and, when active, answering /health. A stopped or failed lane is settled at once. It
never refuses the start: after --timeout seconds it says so and lets the start go on (exit 0)."""

import sys
import time

from .config import read_service_config
from .constants import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_UNIT
from .events import say
from .health import check_health, health_url
from .inputs import UsageError, check_seconds
from .lanes import check_lane, lane_config_path
from .units import unit_show

USAGE = "usage: openclaw-vllm-lane-wait [--timeout S] LANE ..."
DEFAULT_WAIT = 240.0
INTERVAL = 2.0


def lane_target(name):
    """(unit, host, port) of a lane, from its service config (the defaults where it has none)."""
    try:
        found = read_service_config(lane_config_path(check_lane(name)))
    except UsageError:  # a lane not (or no longer) on the host: nothing to wait for
        return None
    return (found.get("unit", DEFAULT_UNIT), found.get("host", DEFAULT_HOST), found.get("port", DEFAULT_PORT))


def settled(unit, host, port):
    """Whether the lane's start is over: its unit not activating and, when active, /health answering."""
    shown = unit_show(unit, ("ActiveState",))
    state = (shown or {}).get("ActiveState")
    if state == "activating":
        return False
    if state == "active":
        return check_health(health_url(host, port))["ok"]
    return True


def wait_lanes(names, timeout, clock=time.monotonic, sleep=time.sleep, is_settled=settled):
    """[(lane, seconds waited, settled)] for each lane, in order, within one deadline of ``timeout``."""
    deadline = clock() + timeout
    results = []
    for name in names:
        target = lane_target(name)
        began = clock()
        done = target is None or is_settled(*target)
        while not done and clock() < deadline:
            sleep(INTERVAL)
            done = is_settled(*target)
        results.append((name, clock() - began, done))
    return results


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    timeout, names = DEFAULT_WAIT, []
    try:
        args = iter(argv)
        for arg in args:
            if arg == "--timeout":
                timeout = check_seconds("--timeout", next(args, None))
            elif arg.startswith("--timeout="):
                timeout = check_seconds("--timeout", arg.partition("=")[2])
            elif arg.startswith("-"):
                raise UsageError("unknown option %s" % arg)
            else:
                names.append(check_lane(arg))
        if not names:
            raise UsageError("name at least one lane")
    except UsageError as exc:
        say(sys.stderr, "openclaw-vllm-lane-wait: %s\n%s\n" % (exc, USAGE))
        return 2
    for name, waited, done in wait_lanes(names, timeout):
        say(sys.stderr, "openclaw-vllm-lane-wait: lane %s %s after %.0f s\n"
            % (name, "settled" if done else "still starting: starting anyway", waited))
    return 0
