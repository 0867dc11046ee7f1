# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``openclaw-vllm-guard``: the unit's first ExecStartPre, a thin command line over reclaim.run_guard()."""

import sys

from .config import SERVICE_CONFIG, read_service_config
from .constants import DEFAULT_GRACE, DEFAULT_TIMEOUT, EXIT_OK, EXIT_USAGE
from .events import say
from .inputs import UsageError, check_port, check_seconds
from .patterns import check_patterns
from .reclaim import run_guard


GUARD_USAGE = ("usage: openclaw-vllm-guard [--probe-only] [--config FILE] [--host ADDR] [--grace S] "
               "[--timeout S] [--pattern GLOB ...] [PORT]\n"
               "  PORT, --host and --pattern default to the service config (%s under ~/.config)" % SERVICE_CONFIG)


_FLAGS = ("probe-only", "help")
_VALUE_OPTIONS = ("host", "grace", "timeout", "pattern", "config")


def parse_guard_args(argv):
    """Parse the guard's command line by hand: argparse or getopt (which pulls in gettext
    and re) would cost more than the whole free-port decision."""
    options = {"probe_only": False, "host": None, "grace": DEFAULT_GRACE, "timeout": DEFAULT_TIMEOUT,
               "patterns": [], "help": False, "config": None}
    positional = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            positional.extend(args)
        elif arg in ("-h", "--help"):
            options["help"] = True
        elif arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            if name in _FLAGS and not has_value:
                options[name.replace("-", "_")] = True
            elif name in _VALUE_OPTIONS:
                if not has_value:
                    value = next(args, None)
                    if value is None:
                        raise UsageError("option --%s requires a value" % name)
                if name in ("grace", "timeout"):
                    options[name] = check_seconds("--" + name, value)
                elif name == "pattern":
                    options["patterns"].append(value)
                else:
                    options[name] = value
            else:
                raise UsageError("option %s not recognized" % arg)
        elif arg.startswith("-") and arg != "-":
            raise UsageError("option %s not recognized" % arg)
        else:
            positional.append(arg)
    if options["help"]:
        return options
    # Flags win over the service config, the config over the defaults.
    config = read_service_config(options["config"])
    if len(positional) > 1 or (not positional and "port" not in config):
        raise UsageError("expected exactly one PORT, got %d argument(s): %s%s" % (
            len(positional), " ".join(positional) or "none",
            "" if positional else " (and no port= line in the service config)"))
    options["port"] = check_port(positional[0]) if positional else config["port"]
    if options["host"] is None:
        options["host"] = config.get("host")
    options["patterns"] = check_patterns(options["patterns"] or config.get("patterns"))
    options["unit"] = config.get("unit")
    options["metrics_dir"] = config.get("metrics_dir")
    return options


def main(argv=None):
    """``openclaw-vllm-guard``: exit 0 = port is ours, 42 = refused, 2 = bad usage."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        options = parse_guard_args(argv)
        if options.get("help"):
            say(sys.stdout, GUARD_USAGE + "\n")
            return EXIT_OK
        result = run_guard(options["port"], options["host"], options["patterns"], options["grace"],
                           options["timeout"], probe_only=options["probe_only"], unit=options["unit"])
    except UsageError as exc:
        say(sys.stderr, "openclaw-vllm-guard: %s\n%s\n" % (exc, GUARD_USAGE))
        return EXIT_USAGE
    if options["metrics_dir"] and not options["probe_only"]:  # a start's decision, not a look
        from .metrics import record_guard, write_or_log

        write_or_log(record_guard, options["metrics_dir"], options["port"], options["unit"] or "", result)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
