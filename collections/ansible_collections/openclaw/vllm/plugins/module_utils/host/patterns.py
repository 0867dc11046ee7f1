# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identity patterns: which process names are ours (vllm_like), matched case-insensitively, as fnmatch
without its surprises; vLLM's engine titles under a custom VLLM_PROCESS_NAME_PREFIX followed."""

import os

from .inputs import UsageError


# Identity patterns (fnmatch, case-insensitive) that make a process of ours "vllm_like".
DEFAULT_PATTERNS = ("vllm", "vllm-*", "vllm.*", "vllm::*", "openclaw*")


# Process titles of vLLM's engine processes, reaped when their API server is gone.
DEFAULT_ENGINE_PATTERNS = ("VLLM::EngineCore*", "VLLM::Worker*")


# vLLM titles its processes ${VLLM_PROCESS_NAME_PREFIX:-VLLM}::EngineCore, ::Worker_TP0, ...
# The unit's environment reaches the guard (ExecStartPre), so a custom prefix is followed.
PREFIX_ENV = "VLLM_PROCESS_NAME_PREFIX"


def _title_prefix():
    """The custom process-title prefix, when one is set and specific enough to name ours."""
    prefix = os.environ.get(PREFIX_ENV, "")
    if len(prefix) < 3 or prefix.upper() == "VLLM" or "/" in prefix or not prefix.replace("_", "").isalnum():
        return None
    return prefix


def default_patterns():
    """DEFAULT_PATTERNS, plus ``<prefix>::*`` under a custom VLLM_PROCESS_NAME_PREFIX."""
    prefix = _title_prefix()
    return DEFAULT_PATTERNS + ((prefix + "::*",) if prefix else ())


def engine_patterns():
    """DEFAULT_ENGINE_PATTERNS, plus the same titles under a custom prefix."""
    prefix = _title_prefix()
    return DEFAULT_ENGINE_PATTERNS + ((prefix + "::EngineCore*", prefix + "::Worker*") if prefix else ())


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _fold(text):
    """Lower-case ASCII letters only: look-alike letters (the Kelvin sign lower-cases to
    "k") never turn a foreign name into ours."""
    return text.translate(_ASCII_LOWER)


_TOKENS = {}


def _tokens(pattern):
    """A glob as tokens: "*", "?", ("set", negate, chars, ranges) or a literal character.
    Parsed by hand: ``re`` would cost more than the whole free-port path."""
    tokens = _TOKENS.get(pattern)
    if tokens is not None:
        return tokens
    tokens = []
    folded = _fold(pattern)
    index = 0
    while index < len(folded):
        char = folded[index]
        index += 1
        if char in "*?":
            if not (char == "*" and tokens and tokens[-1] == "*"):
                tokens.append(char)
            continue
        if char == "[":
            end = index + (1 if folded[index:index + 1] in ("!", "^") else 0)
            end = folded.find("]", end + 1)
            if end > 0:
                body = folded[index:end]
                index = end + 1
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                chars, ranges, at = set(), [], 0
                while at < len(body):
                    if at + 2 < len(body) and body[at + 1] == "-":
                        ranges.append((body[at], body[at + 2]))
                        at += 3
                    else:
                        chars.add(body[at])
                        at += 1
                tokens.append(("set", negate, chars, ranges))
                continue
        tokens.append(char)
    _TOKENS[pattern] = tokens
    return tokens


def _token_matches(token, char):
    if token == "?":
        return True
    if isinstance(token, tuple):
        _kind, negate, chars, ranges = token
        inside = char in chars or any(low <= char <= high for low, high in ranges)
        return inside != negate
    return token == char


def pattern_matches(name, pattern):
    """fnmatch-style glob, case-insensitive for ASCII. Identities are names: a name with
    a "/" never matches (so ``*`` never crosses a directory)."""
    if "/" in name:
        return False
    tokens = _tokens(pattern)
    name = _fold(name)
    i = j = 0
    star_j, star_i = -1, 0
    while i < len(name):
        if j < len(tokens) and tokens[j] != "*" and _token_matches(tokens[j], name[i]):
            i += 1
            j += 1
        elif j < len(tokens) and tokens[j] == "*":
            star_j, star_i = j, i
            j += 1
        elif star_j >= 0:  # let the last "*" take one more character, and retry
            star_i += 1
            i, j = star_i, star_j + 1
        else:
            return False
    while j < len(tokens) and tokens[j] == "*":
        j += 1
    return j == len(tokens)


def matching_pattern(names, patterns):
    """The first pattern that any identity name matches, or None."""
    for name in names:
        for pattern in patterns:
            if pattern_matches(name, pattern):
                return pattern
    return None


# Names that are never vLLM: a pattern that matches one of them would make every such
# process of the service user a reclaim target. What a pattern matches is what counts, not
# its spelling: bracket expressions and negations are tried against these names.
_FOREIGN_NAMES = (
    "python3", "python", "python3.11", "pypy3", "bash", "sh", "dash", "zsh", "sleep", "tail", "cat", "env",
    "nginx", "node", "npm", "java", "ruby", "perl", "php-fpm", "sshd", "ssh", "systemd", "systemd-journald",
    "dbus-daemon", "cron", "tmux", "screen", "sudo", "su", "login", "git", "make", "gcc",
    "http.server", "holder.py", "x.py", "app.py", "server.py", "main.py", "unknown-holder",
    "gunicorn", "uvicorn", "celery", "jupyter-lab", "jupyter", "ipykernel_launcher", "postgres", "redis-server",
    "mysqld", "mongod", "memcached", "haproxy", "caddy", "envoy", "containerd", "dockerd", "podman", "conmon",
    "ollama", "llama-server", "tritonserver", "text-generation-launcher", "sglang.launch_server", "torchrun",
    "ray", "raylet", "nvidia-smi", "prometheus", "node_exporter", "grafana-server",
    "a", "z", "1", "-", ".", "_", "aaa", "zzz", "xq7", "q9zk2w", "qzx-yvw.jkq")


def _literal_run(pattern):
    """The longest run of literal letters or digits: characters inside a bracket expression,
    "*" and "?" are not literal (``[abcdefghij]*`` names nothing)."""
    longest = run = 0
    for token in _tokens(pattern):
        run = run + 1 if isinstance(token, str) and len(token) == 1 and token.isalnum() else 0
        longest = max(longest, run)
    return longest


def check_patterns(patterns):
    """Validate identity patterns; an empty list means the defaults (the CLI and the module
    agree). A pattern must name something: refused when it contains a "/", has no run of
    three literal letters or digits, or matches a common foreign name."""
    if not patterns or tuple(patterns) == DEFAULT_PATTERNS:
        return default_patterns()
    if isinstance(patterns, str):
        patterns = [patterns]
    checked = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.strip():
            raise UsageError("pattern %r: expected a non-empty glob such as 'vllm-*'" % (pattern,))
        if "/" in pattern:
            raise UsageError("pattern %r: identities are names, never paths; remove the '/'" % (pattern,))
        foreign = next((name for name in _FOREIGN_NAMES if pattern_matches(name, pattern)), None)
        if _literal_run(pattern) < 3 or foreign is not None:
            raise UsageError("pattern %r is too broad: %s; a pattern needs three literal letters or digits in a "
                             "row naming vLLM (characters in [...] do not count), such as 'vllm-*'" % (
                                 pattern, "it would make %r a reclaim target" % foreign if foreign
                                 else "it names nothing in particular"))
        checked.append(pattern)
    return tuple(checked) or default_patterns()
