# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``openclaw-vllm status``: a thin command line over status.settings(), gather() and render()."""

import json
import sys

from .config import SERVICE_CONFIG
from .inputs import UsageError
from .constants import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_UNIT
from .lane_status import lane_rows, render_lanes
from .lanes import DEFAULT_LANE, lane_config_path
from .status import gather, render, settings


def main(argv=None):
    """``openclaw-vllm status [--verbose] [--json] [--lane NAME | --config FILE] [--host ADDR] [--port N] [--unit NAME]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="openclaw-vllm", description="Inspect the openclaw-vllm service.")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="health, port holder and unit state; exit 0 when healthy (the "
                                 "default lane's, or --lane's); without --lane, one line per lane of a host with lanes")
    status.add_argument("--verbose", "-v", action="store_true", help="holders in detail, and the HINT line")
    status.add_argument("--json", action="store_true", help="the same facts as one JSON object")
    status.add_argument("--config", help="service config (default ~/.config/%s, written by the role)"
                        % SERVICE_CONFIG)
    status.add_argument("--lane", help="the lane's service config (lanes/LANE/service.conf beside the default one; "
                        "'default' is the default one)")
    status.add_argument("--host", help="address vLLM binds (default: the config's, else %s)" % DEFAULT_HOST)
    status.add_argument("--port", help="port vLLM binds (default: the config's, else %d)" % DEFAULT_PORT)
    status.add_argument("--unit", help="systemd user unit (default: the config's, else %s)" % DEFAULT_UNIT)
    status.add_argument("--pattern", action="append", help="identity pattern of our vLLM (default: the config's)")
    status.add_argument("--complete", action="store_true",
                        help="when healthy, also send one real completion (the API key: $VLLM_API_KEY, else the "
                             "environment file beside the config); exit 1 when it returns no tokens")
    status.add_argument("--prompt", default="Hello, my name is", help="the completion's prompt")
    status.add_argument("--max-tokens", type=int, default=8, help="the completion's max_tokens (default 8)")
    status.add_argument("--model", help="the model name to ask for (default: the one the running vLLM serves)")
    args = parser.parse_args(argv)
    if args.max_tokens < 1:
        parser.error("--max-tokens must be at least 1, got %d" % args.max_tokens)
    if args.lane is not None and args.config is not None:
        parser.error("--lane and --config both name a service config: give one")
    try:
        config = lane_config_path(args.lane) if args.lane is not None else args.config
        chosen = settings(config, args.host, args.port, args.unit, args.pattern)
        facts, holders = gather(chosen, {"prompt": args.prompt, "max_tokens": args.max_tokens, "model": args.model}
                                if args.complete else None)
        # The host's lanes, when no one lane was asked for (the exit status stays the default lane's).
        lanes = lane_rows() if args.lane is None and args.config is None else None
    except UsageError as exc:
        parser.error(str(exc))
    if lanes is not None:
        facts["lanes"] = lanes
    if args.json:
        print(json.dumps(facts, indent=2, sort_keys=True))
    else:
        lines = render(facts, args.verbose, holders)
        if lanes and any(row["lane"] != DEFAULT_LANE for row in lanes):
            lines.extend(render_lanes(lanes))
        print("\n".join(lines))
    return 0 if facts["healthy"] and (facts.get("completion") or {}).get("ok", not args.complete) else 1


if __name__ == "__main__":
    sys.exit(main())
