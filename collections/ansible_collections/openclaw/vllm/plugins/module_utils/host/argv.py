# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From a process's argv to the names it goes by (the program, the script or module an interpreter
runs) and to the one-line cmd the events show."""


_INTERPRETERS = ("python", "pypy")


def _is_interpreter(name):
    """python, python3, python3.11, pypy3, ... (and nothing else named python-*)."""
    lowered = name.lower()
    for prefix in ("python", "pypy"):
        if lowered.startswith(prefix):
            version = lowered[len(prefix):]
            return all(part.isdigit() and part.isascii() for part in version.split(".")) if version else True
    return False


# CPython short options that take a value (``-W arg``, ``-Xopt``); -c and -m end the options.
_VALUE_FLAGS = "WX"


def interpreter_program(args):
    """What ``python [options] ...`` runs, parsed the way CPython parses its options:
    ("module", name) for -m, ("script", path) for a script, None for -c, stdin or no program.
    """
    args = list(args)
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            return ("script", args[index]) if index < len(args) and args[index] != "-" else None
        if arg.startswith("--"):
            if arg == "--check-hash-based-pycs":
                index += 1
                continue
            if arg.startswith("--check-hash-based-pycs="):
                continue
            return None  # --help, --version, ... or an option we do not know: no program
        if arg == "-" or not arg.startswith("-"):
            return ("script", arg) if arg != "-" else None
        flags = arg[1:]
        for position, flag in enumerate(flags):
            rest = flags[position + 1:]
            if flag in "cm":
                if rest:
                    value = rest
                elif index < len(args):
                    value = args[index]
                else:
                    return None
                return ("module", value) if flag == "m" else None
            if flag in _VALUE_FLAGS:
                if not rest:
                    index += 1
                break
            if not flag.isalpha() or not flag.isascii():
                return None  # not an option CPython has: do not guess
    return None


def identity_names(argv, comm=""):
    """What a process says it is, built from names only, never from directories.

    argv[0]'s basename (a process title such as ``VLLM::EngineCore`` is argv[0] too);
    when argv[0] is a Python interpreter (python, python3, python3.N, pypy3), the module it
    runs (``-m vllm.entrypoints.openai.api_server``) or its script's basename
    (``.../bin/vllm``) instead. ``-c`` code and stdin have no name. Without argv (a
    kernel thread, or a process that cleared it): comm. Arguments further along never
    count: ``python3 -m http.server --directory /srv/vllm-docs`` is http.server.
    """
    if not argv or not argv[0]:
        return [comm] if comm else []
    first = argv[0].rsplit("/", 1)[-1]
    if not _is_interpreter(first):
        return [first] if first else []
    program = interpreter_program(argv[1:])
    if program is None:
        return [first]
    kind, value = program
    name = value if kind == "module" else value.rsplit("/", 1)[-1]
    return [name] if name else [first]


def format_cmd(argv, comm=""):
    """argv as one line; ``[comm]`` (as ps prints it) for a process with an empty argv."""
    if not argv or not any(argv):
        return "[%s]" % comm if comm else ""
    # setproctitle pads a title with spaces over the old argv: drop the padding.
    return " ".join(argv).rstrip()


def clean_text(text):
    """``text`` as valid UTF-8: bytes argv could not decode (surrogateescape) become ``\\xNN``.
    What JSON, Ansible and a UTF-8 terminal receive."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _split_cmdline(data):
    """/proc/<pid>/cmdline bytes -> argv, as psutil splits it (bytes that are not UTF-8 are
    kept with surrogateescape; a title set over argv is split on spaces)."""
    text = data.decode("utf-8", "surrogateescape")
    if not text:
        return []
    sep = "\0" if text.endswith("\0") else " "
    text = text[:-1] if text.endswith(sep) else text
    argv = text.split(sep)
    if sep == "\0" and len(argv) == 1 and " " in text:  # a title with spaces, no NUL
        argv = text.split(" ")
    return argv
