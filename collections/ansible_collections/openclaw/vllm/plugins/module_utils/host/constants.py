# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exit codes, the syslog identifier, the guard's timings and the service defaults: the names every
host command shares, defined once."""

SYSLOG_IDENT = "openclaw-vllm-port-guard"
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REFUSED = 42  # the port guard's refusal: held by a process not ours, or unreadable
EXIT_GPU_MEM_LOW = 43  # the GPU gate's refusal: memory short, or a GPU missing
DEFAULT_GRACE = 10.0
DEFAULT_TIMEOUT = 10.0
POLL_INTERVAL = 0.01  # seconds between "is the port bindable yet" checks
# What status assumes without a service config: the vllm_service role's defaults
# (tests/unit/test_parity.py keeps them equal).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
DEFAULT_UNIT = "openclaw-vllm.service"
