# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate after every (re)start of vllm_service, judged from ``openclaw-vllm status --json``:
wait while the unit comes up, pass once the port is held by the unit itself and /health answers
(an answer from anyone else never counts), then check the one real completion status sent.

Two causes end the wait at once, because time does not fix them: a process that is not ours holds
the port (status's owner names it), and a unit that stopped or went to auto-restart (a vLLM that
exits while it loads). The words are the gate's messages; gate_report.py words a failed roll-out."""

from __future__ import annotations

import json
import time

DOWN_STATES = ("failed", "inactive", "deactivating")


def read_facts(stdout):
    """status's JSON, or {} where it printed none (a status that crashed)."""
    text = (stdout or "").strip()
    if not text.startswith("{"):
        return {}
    try:
        facts = json.loads(text)
    except ValueError:
        return {}
    return facts if isinstance(facts, dict) else {}


def _dict(value):
    return value if isinstance(value, dict) else {}


def judge(facts):
    """healthy, held (not ours, nothing to wait for), down (the unit stopped) or wait."""
    if facts.get("healthy"):
        return "healthy"
    owner = _dict(facts.get("owner")) or {"ours": True}
    holders = _dict(facts.get("probe")).get("holders") or []
    if not owner.get("ours") and any(_dict(h).get("kind") != "vllm_like" for h in holders):
        return "held"
    unit = _dict(facts.get("unit"))
    if unit.get("ActiveState") in DOWN_STATES or unit.get("SubState") == "auto-restart":
        return "down"
    return "wait"


def health_message(verdict, facts, timeout, stderr=""):
    """Why /health does not count (empty when it does)."""
    if verdict == "healthy":
        return ""
    if verdict == "held" or _dict(facts.get("health")).get("ok"):
        return _dict(facts.get("owner")).get("why") or "the port is not held by our service"
    if verdict == "down":
        unit = _dict(facts.get("unit"))
        return "the unit stopped before /health answered (%s/%s, result %s)" % (
            unit.get("ActiveState") or "?", unit.get("SubState") or "?", unit.get("Result") or "?")
    error = _dict(facts.get("health")).get("error") or (stderr or "").strip()
    return "/health did not answer 200 within %s s (%s)" % (timeout, error)


def completion_message(facts, url):
    """Why the completion does not count (empty when it returned tokens)."""
    completion = _dict(facts.get("completion"))
    if completion.get("ok"):
        return ""
    return "the completion on %s/v1/completions failed: %s" % (url, completion.get("error") or "no result")


def wait(run_status, timeout, interval, clock=time.monotonic, sleep=time.sleep):
    """Ask status until it is healthy, held or down, or ``timeout`` seconds have passed.
    run_status() -> (facts, stderr). Returns (verdict, facts, stderr, tries); verdict "timeout"
    when the time ran out while waiting."""
    deadline = clock() + timeout
    tries = 0
    while True:
        facts, stderr = run_status()
        tries += 1
        verdict = judge(facts)
        if verdict != "wait":
            return verdict, facts, stderr, tries
        if clock() + interval > deadline:
            return "timeout", facts, stderr, tries
        sleep(interval)
