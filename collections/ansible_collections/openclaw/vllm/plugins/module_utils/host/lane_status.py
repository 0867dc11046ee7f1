# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every lane of the host in one line each, for ``openclaw-vllm status`` without ``--lane``: its
unit, address, unit state and health. Health is "up" only when the lane's own vLLM answers (its
unit holds the port), "held" when anyone else answers there, as status judges one lane."""

import os

from .config import default_config_path
from .health import check_health, health_url
from .inputs import UsageError
from .lanes import lane_config_dir, lane_names, lane_unit
from .owner import port_owner
from .probe import probe
from .status import settings
from .units import unit_show, unit_state


def lane_rows(config_home=None):
    """[{lane, unit, host, port, state, health, healthy, error}] for each lane found under
    config_home (lanes.lane_names), in that order. A lane whose service config cannot be read is a
    row with its error (health unknown), so that it never hides the other lanes."""
    home = config_home or os.path.dirname(default_config_path())
    rows = []
    for name in lane_names(home):
        try:
            chosen = settings(os.path.join(lane_config_dir(name, home), "service.conf"))
        except UsageError as exc:
            rows.append({"lane": name, "unit": lane_unit(name), "host": None, "port": None, "state": "unknown",
                         "health": "unknown", "healthy": False, "error": str(exc)})
            continue
        host, port, unit = chosen["host"], chosen["port"], chosen["unit"]
        shown = unit_show(unit)
        owner = port_owner(probe(port, host, chosen["patterns"], unit), shown, unit)
        answers = check_health(health_url(host, port))["ok"]
        state = unit_state(unit, shown)
        rows.append({
            "lane": name, "unit": unit, "host": host, "port": port,
            "state": "%s/%s" % (state.get("ActiveState", "?"), state.get("SubState", "?")) if state else "unknown",
            "health": "up" if answers and owner["ours"] else "held" if answers else "down",
            "healthy": bool(answers and owner["ours"]), "error": None,
        })
    return rows


def render_lanes(rows):
    """One line per lane: ``lane b: openclaw-vllm-b.service 127.0.0.1:8002 active/running, health up``."""
    return ["lane %s: %s %s" % (row["lane"], row["unit"], row["error"]) if row["error"] else
            "lane %s: %s %s:%d %s, health %s" % (row["lane"], row["unit"], row["host"], row["port"], row["state"],
                                                 row["health"]) for row in rows]
