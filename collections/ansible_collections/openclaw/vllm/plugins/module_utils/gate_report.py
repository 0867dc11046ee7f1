# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The words of a failed gate (vllm_service's run.yml): one message that reads as sentences in
every branch, the root cause vLLM logged, and the journal lines that explain it. The role
gathers the facts; this file only words them (filter openclaw.vllm.gate_failure)."""

from __future__ import annotations

import os
import re

JOURNAL_TAIL = 15
# What a dying vLLM prints that explains nothing: nanobind's report of leaked objects.
_NOISE = re.compile(r"nanobind|: leaked [0-9]+ |leaked (function|instance|type)")
# vLLM's own ERROR lines (the first is the root cause), not the wrappers that re-raise it.
_LOGGED_ERROR = re.compile(r" ERROR (?:[0-9-]+ [0-9:]+ )?(?:\[[^]]*\] )?(?P<text>.*(?:Error|Exception): .*)$")
_WRAPPER = re.compile(r"See (stack trace|root cause)")
# The last line of a traceback, without the journal's prefix ("<time> <host> <ident>[pid]: ").
_RAISED = re.compile(r"(?:^|[ :])(?P<text>[A-Za-z_][A-Za-z0-9_.]*(?:Error|Exception): .*)$")


def explaining(lines):
    """The journal lines without the noise."""
    return [line for line in lines or () if not _NOISE.search(line)]


def root_cause(lines):
    """The first error vLLM logged that is not a wrapper; failing that, the first exception a
    traceback ended with (an engine that dies while it loads: "RuntimeError: Engine core
    initialization failed ...", printed without vLLM's ERROR prefix); '' when there is none."""
    lines = explaining(lines)
    for line in lines:
        found = _LOGGED_ERROR.search(line)
        if found and not _WRAPPER.search(line):
            return found.group("text")
    for line in lines:
        found = _RAISED.search(line)
        if found:
            return found.group("text")
    return ""


def _name(path):
    return os.path.basename(str(path or "?").rstrip("/")) or "?"


def rollback_sentence(rollback):
    """What became of the rollback (a dict the role records), as the end of a sentence that
    starts with "The new version (...)"."""
    back = "%s, model %s" % (_name(rollback.get("venv")), _name(rollback.get("model")))
    if rollback.get("ok"):
        return ("was rolled back: the host serves again what it served before this run (%s); /health and a "
                "completion pass. The new version stays staged on disk: fix it and re-run (or change the "
                "inventory back)." % back)
    return ("failed, and THE ROLLBACK FAILED TOO (%s: %s). The host does not serve: unit %s; its unit file is "
            "the rollback point (%s)." % (rollback.get("task") or "?", rollback.get("error") or "no message",
                                          rollback.get("left") or "state unknown", back))


def failure_message(facts):
    """The whole message. ``facts``: host, url, failed (the failed task and its message), cause
    (a cause that is not the new version: a port or GPU holder; '' when none), rollback (the
    record, or None), switched (this run replaced the unit), auto_rollback, rollback_point (its
    path when one exists, else ''), venv, model (what this run asked for), unit, journal (lines)."""
    lines = ["%s: vLLM on %s failed its gate: %s" % (facts["host"], facts["url"], facts["failed"])]
    if facts.get("cause"):
        lines.append("Cause: %s" % facts["cause"])
        lines.append("Not rolled back: the cause is not the new version, and a rollback cannot fix it.")
    elif facts.get("rollback"):
        lines.append("The new version (%s, model %s) %s" % (_name(facts.get("venv")), _name(facts.get("model")),
                                                            rollback_sentence(facts["rollback"])))
    elif not facts.get("switched"):
        point = facts.get("rollback_point")
        lines.append("Not rolled back: this run did not change the unit (a first start, or the unit already was what "
                     "the inventory says), so the host runs what it ran before this run; %s" % (
                         "rollback.yml returns to the rollback point %s on demand." % point if point
                         else "there is no rollback point to return to."))
    elif not facts.get("auto_rollback"):
        lines.append("Not rolled back: vllm_service_auto_rollback is false; rollback.yml returns to the rollback "
                     "point on demand.")
    else:
        lines.append("Not rolled back.")
    journal = facts.get("journal")
    cause = root_cause(journal or ())
    if cause:
        lines.append("vLLM's error: %s" % cause)
    lines.append("Last journal lines of %s and its gates:" % facts.get("unit", "the unit"))
    tail = explaining(journal)[-JOURNAL_TAIL:] if journal is not None else ["(journal not readable)"]
    lines.extend(tail or ["(no lines since this start)"])
    return "\n".join(lines)
