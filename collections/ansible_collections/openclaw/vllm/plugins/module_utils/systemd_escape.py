# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quote values for systemd unit files (ExecStart= arguments, Environment= assignments).

systemd splits command lines on whitespace, honours double quotes with C-style escapes,
expands ``%`` specifiers everywhere and ``$VAR`` references in command lines (not in
Environment=, where ``$$`` would stay ``$$``). A value taken from a variable must come
through unchanged: quote it, escape backslash and double quote, double ``%``, and double
``$`` in command lines only.
"""

from __future__ import annotations

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=.,/:@")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


CONTEXTS = ("exec", "environment")


def systemd_quote(value, context="exec"):
    """One word for a systemd command line (``exec``) or an Environment= assignment
    (``environment``), taken literally."""
    if context not in CONTEXTS:
        raise ValueError("context %r: expected one of %s" % (context, ", ".join(CONTEXTS)))
    text = str(value)
    escaped = []
    for char in text:
        if char in _C_ESCAPES:
            escaped.append(_C_ESCAPES[char])
        elif char == "%":
            escaped.append("%%")
        elif char == "$" and context == "exec":
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


_C_UNESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r", "s": " "}


def systemd_split(line):
    """The words of a command line as systemd reads them: the inverse of systemd_command (quotes,
    C escapes, ``%%`` and ``$$``). Raises ValueError on an unterminated quote or escape."""
    words, word, quote, index, started = [], [], None, 0, False
    while index < len(line):
        char = line[index]
        if char == "\\":
            if index + 1 >= len(line):
                raise ValueError("a command line ends in a lone backslash")
            nxt = line[index + 1]
            if nxt == "x":
                try:
                    word.append(chr(int(line[index + 2:index + 4], 16)))
                except ValueError:
                    raise ValueError("a command line has a bad \\x escape: %r" % line[index:index + 4])
                index += 4
            else:
                word.append(_C_UNESCAPES.get(nxt, nxt))
                index += 2
            started = True
            continue
        if quote:
            if char == quote:
                quote = None
            else:
                word.append(char)
        elif char in "\"'":
            quote, started = char, True
        elif char in " \t":
            if started:
                words.append("".join(word))
                word, started = [], False
        else:
            word.append(char)
            started = True
        if char in "%$" and line[index + 1:index + 2] == char:
            index += 1  # %% and $$ stand for one
        index += 1
    if quote:
        raise ValueError("a command line has an unterminated %s quote" % quote)
    if started:
        words.append("".join(word))
    return words
