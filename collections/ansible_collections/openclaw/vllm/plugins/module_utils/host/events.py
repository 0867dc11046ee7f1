# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guard's event lines (``EVENT key=value ...``), to stderr and to syslog under
``openclaw-vllm-port-guard``; writing never decides anything."""

import os
import sys

from .constants import SYSLOG_IDENT


CMD_LOG_LIMIT = 2048  # characters of an escaped cmd in one event; syslog drops huge lines
_NAMED_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char):
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    if char == " " or char.isprintable():
        return char
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return "\\x%02x" % (code - 0xDC00)
    if code < 0x100:
        return "\\x%02x" % code
    return "\\u%04x" % code if code < 0x10000 else "\\U%08x" % code


def quote(text, limit=CMD_LOG_LIMIT):
    """Double-quote ``text`` for a key=value log line; argv is text anyone can choose.

    Every character that is not printable is escaped: controls, every Unicode line or
    paragraph separator (U+0085, U+2028, U+2029, ...), format characters and bytes that
    were not UTF-8. So one event is always one line for any reader, and valid UTF-8.
    Beyond ``limit`` escaped characters the text is cut, with a visible marker.
    """
    out = []
    size = 0
    for index, char in enumerate(text):
        piece = _escape_char(char)
        size += len(piece)
        if limit and size > limit:
            out.append("...[truncated: %d of %d characters shown]" % (index, len(text)))
            break
        out.append(piece)
    return '"%s"' % "".join(out)


def format_event(event, **fields):
    parts = [event]
    for key, value in fields.items():
        if key in ("cmd", "reason", "unit"):
            value = quote(str(value))
        elif value is None:
            value = "-"
        parts.append("%s=%s" % (key, value))
    return " ".join(parts)


def say(stream, text):
    """Best-effort write for the host commands: a closed (None) or broken stdout/stderr never
    changes their exit code."""
    try:
        stream.write(text)
        stream.flush()
    except (AttributeError, OSError, ValueError):
        pass


class EventLog(object):
    """Collects event lines and writes each to stderr and to syslog (when /dev/log exists).

    Writing is best effort: a closed stderr, a broken pipe or a syslog error never changes
    the guard's decision or its exit code. Lines are valid UTF-8 (quote() escapes the rest).
    """

    def __init__(self, stderr=True, syslog=True):
        self.lines = []
        # Python sets sys.stderr to None when fd 2 was closed at start: the fd may since
        # belong to one of our own files, so never write to a bare 2.
        self.stderr = stderr and sys.stderr is not None
        self.syslog = syslog and os.path.exists("/dev/log")
        self._opened = False

    def __call__(self, event, level="info", **fields):
        line = format_event(event, **fields)
        self.lines.append(line)
        if self.stderr:
            try:
                os.write(sys.stderr.fileno(), (line + "\n").encode("utf-8", "backslashreplace"))
            except (OSError, ValueError, AttributeError):  # closed (2>&-) or a broken pipe: stop writing there
                self.stderr = False
        if self.syslog:
            try:
                import syslog

                if not self._opened:
                    syslog.openlog(SYSLOG_IDENT, syslog.LOG_PID, syslog.LOG_USER)
                    self._opened = True
                syslog.syslog(syslog.LOG_WARNING if level == "warning" else syslog.LOG_INFO, line)
            except Exception:  # pylint: disable=broad-except  # logging must never decide
                self.syslog = False
        return line
