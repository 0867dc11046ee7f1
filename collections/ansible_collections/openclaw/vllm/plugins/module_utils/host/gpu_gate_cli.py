# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``openclaw-vllm-gpu-gate``: the unit's second ExecStartPre (cuda hosts), a thin command line over
gpu_gate.run_gate()."""

import os
import sys

from . import gpu_facts
from .config import read_service_config
from .constants import EXIT_OK, EXIT_USAGE
from .events import say
from .gpu_gate import DEFAULT_WAIT, run_gate
from .inputs import UsageError

USAGE = ("usage: openclaw-vllm-gpu-gate [--utilization F] [--gpus LIST] [--wait SECONDS] [--nvidia-smi PATH] "
         "[--config FILE]\n"
         "  --gpus: indexes or UUIDs, comma-separated (default: $CUDA_VISIBLE_DEVICES, else all GPUs)\n"
         "  --config: the service config that names the metrics directory, port and unit (default: the user's)\n"
         "  exit 0: enough free memory (or nothing to check); 43: VLLM_GPU_MEM_LOW or VLLM_GPU_MISSING; 2: bad usage")


def parse_args(argv):
    options = {"utilization": gpu_facts.DEFAULT_UTILIZATION, "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"),
               "nvidia_smi": "nvidia-smi", "wait": DEFAULT_WAIT, "config": None}
    names = {"--utilization": "utilization", "--gpus": "gpus", "--nvidia-smi": "nvidia_smi", "--wait": "wait",
             "--config": "config"}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            options["help"] = True
            continue
        key, sep, value = arg.partition("=")
        if key not in names:
            raise ValueError("unknown argument %r" % arg)
        if not sep:
            if not args:
                raise ValueError("%s needs a value" % key)
            value = args.pop(0)
        options[names[key]] = value
    try:
        options["utilization"] = float(options["utilization"])
    except ValueError:
        raise ValueError("--utilization %r is not a number" % options["utilization"])
    if not 0 < options["utilization"] <= 1:
        raise ValueError("--utilization must be in (0, 1], got %s" % options["utilization"])
    try:
        options["wait"] = float(options["wait"])
    except ValueError:
        raise ValueError("--wait %r is not a number" % options["wait"])
    if not 0 <= options["wait"] <= 600:
        raise ValueError("--wait must be in 0..600 seconds, got %s" % options["wait"])
    return options


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        options = parse_args(argv)
    except ValueError as exc:
        say(sys.stderr, "openclaw-vllm-gpu-gate: %s\n%s\n" % (exc, USAGE))
        return EXIT_USAGE
    if options.get("help"):
        say(sys.stdout, USAGE + "\n")
        return EXIT_OK
    outcome = {}
    code = run_gate(options["utilization"], options["gpus"], options["nvidia_smi"], options["wait"], outcome=outcome)
    _record(code, outcome, options["config"])
    return code


def _record(code, outcome, config_path=None):
    """The decision into the metrics file, when the service config names a metrics directory
    (the port and unit label it). A config that cannot be read only costs the metrics: the
    guard, which ran first, reported it."""
    try:
        config = read_service_config(config_path)
    except UsageError:
        return
    if config.get("metrics_dir") and "port" in config:
        from .metrics import record_gate, write_or_log

        write_or_log(record_gate, config["metrics_dir"], config["port"], config.get("unit", ""), code, outcome)


if __name__ == "__main__":
    sys.exit(main())
