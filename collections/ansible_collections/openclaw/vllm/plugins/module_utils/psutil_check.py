# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether psutil imports on this host: the modules that read processes fail with Ansible's
missing_required_lib message instead of a traceback."""

from __future__ import annotations

try:
    import psutil  # noqa: F401  pylint: disable=unused-import
    HAS_PSUTIL = True
except ImportError:
    HAS_PSUTIL = False
