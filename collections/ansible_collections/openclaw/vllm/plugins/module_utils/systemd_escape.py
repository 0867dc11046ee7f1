# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quote values for systemd unit files (ExecStart= arguments, Environment= assignments).

systemd splits command lines on whitespace, honours double quotes with C-style escapes,
expands ``%`` specifiers and ``$VAR`` references. A value taken from a variable must come
through unchanged: quote it, escape backslash and double quote, and double ``%`` and ``$``.
"""

from __future__ import annotations

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=.,/:@")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def systemd_quote(value):
    """One word for a systemd command line or Environment= assignment, taken literally."""
    text = str(value)
    escaped = []
    for char in text:
        if char in _C_ESCAPES:
            escaped.append(_C_ESCAPES[char])
        elif char == "%":
            escaped.append("%%")
        elif char == "$":
            escaped.append("$$")
        elif ord(char) < 32 or ord(char) == 127:
            escaped.append("\\x%02x" % ord(char))
        else:
            escaped.append(char)
    body = "".join(escaped)
    if text and all(char in _SAFE for char in text):
        return body
    return '"%s"' % body


def systemd_command(argv):
    """A whole command line: each argument quoted as needed, joined by spaces."""
    return " ".join(systemd_quote(arg) for arg in argv)
