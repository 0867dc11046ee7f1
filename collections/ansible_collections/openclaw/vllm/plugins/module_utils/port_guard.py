# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deprecated: the 1.0 import path of the port guard, kept so that code importing it keeps working;
removed in 2.0. The guard lives in the package ``host`` (probe.py, identity.py, reclaim.py, ...):
import from there. Nothing here is a second home: every name is the package's own object."""

from __future__ import annotations

from .host.argv import clean_text, format_cmd, identity_names, interpreter_program  # noqa: F401
from .host.config import (  # noqa: F401
    CONFIG_LIMIT, SERVICE_CONFIG, check_utilization, default_config_path, read_regular_file,
    read_service_config,
)
from .host.constants import (  # noqa: F401
    DEFAULT_GRACE, DEFAULT_TIMEOUT, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, POLL_INTERVAL, SYSLOG_IDENT,
)
from .host.events import CMD_LOG_LIMIT, EventLog, format_event, quote  # noqa: F401
from .host.guard_cli import GUARD_USAGE, main, parse_guard_args  # noqa: F401
from .host.identity import Holder, classify_pid, identify  # noqa: F401
from .host.inputs import UsageError, check_port, check_seconds  # noqa: F401
from .host.orphans import find_orphans  # noqa: F401
from .host.patterns import (  # noqa: F401
    DEFAULT_ENGINE_PATTERNS, DEFAULT_PATTERNS, PREFIX_ENV, check_patterns, default_patterns, engine_patterns,
    matching_pattern, pattern_matches,
)
from .host.probe import Report, blocking_sockets, port_is_bindable, probe  # noqa: F401
from .host.processes import process_facts, socket_owners  # noqa: F401
from .host.reclaim import Outcome, run_guard  # noqa: F401
from .host.sockets import (  # noqa: F401
    PROC_NET, PortSocket, ProbeError, TABLES_ENV, bind_test, bound_only_sockets, overlaps,
    parse_diag_messages, parse_host, port_sockets,
)

__all__ = [
    "CMD_LOG_LIMIT", "CONFIG_LIMIT", "DEFAULT_ENGINE_PATTERNS", "DEFAULT_GRACE", "DEFAULT_PATTERNS",
    "DEFAULT_TIMEOUT", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE", "EventLog", "GUARD_USAGE", "Holder",
    "Outcome", "POLL_INTERVAL", "PREFIX_ENV", "PROC_NET", "PortSocket", "ProbeError", "Report",
    "SERVICE_CONFIG", "SYSLOG_IDENT", "TABLES_ENV", "UsageError", "bind_test", "blocking_sockets",
    "bound_only_sockets", "check_patterns", "check_port", "check_seconds", "check_utilization",
    "classify_pid", "clean_text", "default_config_path", "default_patterns", "engine_patterns",
    "find_orphans", "format_cmd", "format_event", "identify", "identity_names", "interpreter_program",
    "main", "matching_pattern", "overlaps", "parse_diag_messages", "parse_guard_args", "parse_host",
    "pattern_matches", "port_is_bindable", "port_sockets", "probe", "process_facts", "quote",
    "read_regular_file", "read_service_config", "run_guard", "socket_owners"
]
