# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Orphans: vLLM engine processes of ours whose API server is gone. Read on every start, so it
reads a few children lists and /proc/<pid>/stat only; psutil and the holders' module load only
when a candidate matches."""

import os

from .argv import identity_names
from .patterns import DEFAULT_PATTERNS, engine_patterns, matching_pattern
from .processes import _children, _protected_pids, _read_stat, _user_manager_pids, process_facts


def _orphan_candidate_pids():
    """Where an engine lands when its API server dies: children of init, of the user
    manager (a subreaper) and of the guard's own ancestors. Reading a few children lists
    instead of every /proc entry keeps the free-port path fast on busy hosts; without
    /proc/<pid>/task/<tid>/children every process is a candidate."""
    roots = set(_protected_pids()) - {os.getpid()}
    roots.update(_user_manager_pids(os.getuid()))
    candidates = set()
    for root in roots:
        children = _children(root)
        if children is None:
            return [int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()]
        candidates.update(children)
    return sorted(candidates)


def find_orphans(patterns=DEFAULT_PATTERNS, engines=None, unit=None):
    """Engine processes of ours whose API server is gone. An engine with a live server stays.

    The scan reads only /proc/<pid>/stat of the candidates (comm is the process title
    cut to 15 characters); psutil is loaded only when one matches.
    """
    engines = engines or engine_patterns()
    prefixes = [p.lower()[:15].rstrip("*") for p in engines]
    candidates = []
    my_uid = os.getuid()
    for pid in _orphan_candidate_pids():
        stat = _read_stat("/proc/%d" % pid)
        if stat and any(stat[0].lower().startswith(prefix) for prefix in prefixes):
            candidates.append(pid)
    if not candidates:
        return []
    import psutil

    from .cgroups import own_services, sibling_service  # only when a candidate matched: off the free-port path
    from .identity import Holder

    protected = _protected_pids()
    own = own_services(unit)
    orphans = []
    for pid in candidates:
        try:
            process = psutil.Process(pid)
            uid, argv, comm = process_facts(pid)
            if pid in protected or uid != my_uid:
                continue
            if sibling_service(pid, own):
                continue  # a running unit's engine, whatever its parent: never a stray
            if not matching_pattern(identity_names(argv, comm), engines):
                continue
            # Its lane is alive when some ancestor is an API server: ours, and not an engine.
            has_server = False
            for parent in process.parents():
                _parent_uid, parent_argv, parent_comm = process_facts(parent.pid)
                names = identity_names(parent_argv, parent_comm)
                if matching_pattern(names, patterns) and not matching_pattern(names, engines):
                    has_server = True
                    break
            if not has_server:
                orphans.append(Holder(pid, my_uid, argv, "vllm_like", "engine without an API server", [], process,
                                      comm))
        except (psutil.Error, OSError, IndexError, ValueError):
            continue  # gone or invisible: not ours to reap
    return orphans
