# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of what a caller passes (port, seconds): UsageError names the input and what was expected (exit 2)."""


class UsageError(ValueError):
    """Bad input from the caller (port out of range, bad address, ...): exit 2."""


def check_port(port):
    """Validate a port number: ASCII digits (or an int) in 1..65535, else UsageError naming
    the input. ``1_000``, ``+8001``, ``８００１`` and booleans are not port numbers."""
    if isinstance(port, bool):
        raise UsageError("port %r is not a number; expected an integer in 1..65535" % (port,))
    if isinstance(port, int):
        value = port
    else:
        text = str(port).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 5:
            raise UsageError("port %r is not a number; expected an integer in 1..65535" % (port,))
        value = int(text)
    if not 1 <= value <= 65535:
        raise UsageError("port %r is out of range; expected an integer in 1..65535" % (port,))
    return value


def check_seconds(name, value):
    """A finite number of seconds in 0..3600 (nan, inf and negatives never pass)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if isinstance(value, bool) or not 0 <= seconds <= 3600:  # False for nan
        raise UsageError("%s %r: expected seconds between 0 and 3600" % (name, value))
    return seconds
