# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guard's last decision, read back from the journal (syslog identifier openclaw-vllm-port-guard)."""

import json
import subprocess
from datetime import datetime, timezone

from .argv import clean_text
from .constants import SYSLOG_IDENT


def _iso(microseconds):
    return datetime.fromtimestamp(int(microseconds) / 1e6, timezone.utc).isoformat(timespec="seconds")


def last_guard_event(ident=SYSLOG_IDENT):
    """{'event', 'message', 'time', 'error'}: the newest journal entry of the guard (syslog
    identifier ``openclaw-vllm-port-guard``), as this user may read it; all null when there
    is none, ``error`` when journalctl cannot be asked."""
    result = {"event": None, "message": None, "time": None, "error": None}
    try:
        proc = subprocess.run(["journalctl", "--quiet", "--no-pager", "--output=json", "--lines=1",
                               "--identifier=" + ident], capture_output=True, timeout=10, check=False)
    except FileNotFoundError:
        result["error"] = "journalctl not found"
        return result
    except (OSError, subprocess.TimeoutExpired) as exc:
        result["error"] = "journalctl: %s" % (exc,)
        return result
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    said = [line.strip() for line in proc.stderr.decode("utf-8", "backslashreplace").splitlines()
            if line.strip() and not line.startswith("Hint:")]
    if proc.returncode != 0 and not lines:
        result["error"] = "journalctl exited %d: %s" % (proc.returncode, said[0] if said else "no output")
        return result
    if not lines:
        # Nothing found, or nothing this user may read ("No journal files were opened due to
        # insufficient permissions."): say which.
        result["error"] = "journalctl: %s" % said[0] if said else None
        return result
    try:
        entry = json.loads(lines[-1].decode("utf-8", "backslashreplace"))
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # journalctl's form for a message that is not UTF-8
            message = bytes(message).decode("utf-8", "backslashreplace")
        message = clean_text(str(message or ""))
        result["message"] = message
        result["event"] = message.split(" ", 1)[0] or None
        stamp = entry.get("__REALTIME_TIMESTAMP")
        result["time"] = _iso(stamp) if stamp else None
    except (ValueError, TypeError, AttributeError) as exc:
        result["error"] = "journalctl output not understood: %s" % (exc,)
    return result
