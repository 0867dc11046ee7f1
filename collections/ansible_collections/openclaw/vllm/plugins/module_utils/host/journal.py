# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guard's last decision, read back from the journal (syslog identifier openclaw-vllm-port-guard)."""

import json
import subprocess
import threading
from datetime import datetime, timezone

from .argv import clean_text
from .constants import SYSLOG_IDENT


def _iso(microseconds):
    return datetime.fromtimestamp(int(microseconds) / 1e6, timezone.utc).isoformat(timespec="seconds")


# A lane's newest event may lie behind other lanes' newer ones: read back that far at most.
SEARCH_LIMIT = 5000


def last_guard_event(port, ident=SYSLOG_IDENT):
    """{'event', 'message', 'time', 'error'}: the newest journal entry of the guard (syslog
    identifier ``openclaw-vllm-port-guard``) about ``port`` (its first field, ``port=N``, in every
    decision, so lanes on one host each find their own), as this user may read it; all null
    when there is none, ``error`` when journalctl cannot be asked."""
    result = {"event": None, "message": None, "time": None, "error": None}
    argv = ["journalctl", "--quiet", "--no-pager", "--output=json", "--identifier=" + ident, "--reverse",
            "--lines=%d" % SEARCH_LIMIT]
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        result["error"] = "journalctl not found"
        return result
    except OSError as exc:
        result["error"] = "journalctl: %s" % (exc,)
        return result
    # Newest first: read until the port's entry, then stop journalctl.
    timer = threading.Timer(10, proc.kill)
    timer.start()
    entry = None
    try:
        for line in proc.stdout:
            if not line.strip():
                continue
            try:
                candidate = _entry(line)
            except (ValueError, TypeError, AttributeError) as exc:
                result["error"] = "journalctl output not understood: %s" % (exc,)
                break
            # The port is every decision's first field (format_event): a cmd quoting "port=N" is not it.
            if candidate["message"].split(" ", 2)[1:2] == ["port=%d" % port]:
                entry = candidate
                break
    finally:
        if proc.poll() is None and (entry is not None or result["error"]):
            proc.kill()
        stderr = proc.stderr.read()
        returncode = proc.wait()
        timer.cancel()
    if result["error"]:
        return result
    said = [line.strip() for line in stderr.decode("utf-8", "backslashreplace").splitlines()
            if line.strip() and not line.startswith("Hint:")]
    if entry is None:
        if returncode not in (0, -9):
            result["error"] = "journalctl exited %d: %s" % (returncode, said[0] if said else "no output")
        elif said:
            # Nothing this user may read ("No journal files were opened due to insufficient
            # permissions."), or journalctl stopped after 10 s: say which.
            result["error"] = "journalctl: %s" % said[0]
        elif returncode == -9:
            result["error"] = "journalctl: no answer within 10 s"
        return result
    result.update(entry)
    return result


def _entry(line):
    """{'event', 'message', 'time'} of one journal entry (a line of journalctl's JSON output)."""
    entry = json.loads(line.decode("utf-8", "backslashreplace"))
    message = entry.get("MESSAGE")
    if isinstance(message, list):  # journalctl's form for a message that is not UTF-8
        message = bytes(message).decode("utf-8", "backslashreplace")
    message = clean_text(str(message or ""))
    stamp = entry.get("__REALTIME_TIMESTAMP")
    return {"event": message.split(" ", 1)[0] or None, "message": message, "time": _iso(stamp) if stamp else None}
