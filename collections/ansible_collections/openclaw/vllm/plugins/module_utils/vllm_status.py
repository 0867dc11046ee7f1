# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deprecated: the 1.0 import path of ``openclaw-vllm status``, kept so that code importing it keeps
working; removed in 2.0. Import from the package ``host`` (status.py, health.py, served.py, ...)."""

from __future__ import annotations

from .host.completion import (  # noqa: F401
    COMPLETION_TIMEOUT, ENV_FILE, ENV_FILE_LIMIT, UnusableKey, api_key, complete, usable_key,
)
from .host.constants import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_UNIT  # noqa: F401
from .host.guard_cli import main  # noqa: F401
from .host.health import HEALTH_TIMEOUT, check_health, health_url  # noqa: F401
from .host.hints import GPU_HINT, HINT, gpu_hint_for, hint_for  # noqa: F401
from .host.journal import last_guard_event  # noqa: F401
from .host.owner import describe_holder, port_owner  # noqa: F401
from .host.served import (  # noqa: F401
    BUILD_MARKER, MODEL_MANIFEST, build_facts, exec_start_argv, model_facts, parse_serve_argv, proc_argv,
    served,
)
from .host.status import (  # noqa: F401
    FACT_KEYS, gather, gpu_memory, render, render_extras, render_gpu_holders, settings,
)
from .host.units import UNIT_PROPERTIES, in_unit, unit_show, unit_state  # noqa: F401

__all__ = [
    "BUILD_MARKER", "COMPLETION_TIMEOUT", "DEFAULT_HOST", "DEFAULT_PORT", "DEFAULT_UNIT", "ENV_FILE",
    "ENV_FILE_LIMIT", "FACT_KEYS", "GPU_HINT", "HEALTH_TIMEOUT", "HINT", "MODEL_MANIFEST",
    "UNIT_PROPERTIES", "UnusableKey", "api_key", "build_facts", "check_health", "complete",
    "describe_holder", "exec_start_argv", "gather", "gpu_hint_for", "gpu_memory", "health_url", "hint_for",
    "in_unit", "last_guard_event", "main", "model_facts", "parse_serve_argv", "port_owner", "proc_argv",
    "render", "render_extras", "render_gpu_holders", "served", "settings", "unit_show", "unit_state",
    "usable_key"
]
