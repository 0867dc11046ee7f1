#!/usr/bin/env python3
"""Mutation check of the port guard: does each decision branch have a test that fails without it?

mutmut and its kind swap code inside the test process; the guard's tests run the guard as
real processes (the console script, ``python -m``), which those tools never reach. So this
script applies each mutant to a copy of the collection, puts the copy first on PYTHONPATH
(the console scripts and ``python -m`` then import it), runs the guard suite with ``-x``
and reports the mutants that survive. The mutants are the branches a wrong kill or a wrong
refusal would come from.

    python scripts/mutation-check.py [-k SUBSTRING]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST_PACKAGE = "ansible_collections/openclaw/vllm/plugins/module_utils/host"
TESTS = ["tests/unit/test_guard_cli.py", "tests/unit/test_guard_hostile.py", "tests/unit/test_status.py",
         "tests/unit/test_identity_property.py", "tests/unit/test_service_config.py"]

# (name, original text, mutated text[, extra environment]): each text appears once in the host package.
MUTANTS = [
    ("live API server keeps its engine", "                    has_server = True\n                    break",
     "                    has_server = False\n                    break"),
    ("TIME_WAIT leftovers", "if _port_has_connections(port) and bind_test(hosts, port, reuse_addr=True) == 0:",
     "if False:"),
    ("uid check in classify", "    if uid != my_uid:\n        return \"unknown\", \"runs as uid",
     "    if False:\n        return \"unknown\", \"runs as uid"),
    ("protected pids in classify", "    if process.pid in protected:\n        return \"unknown\", \"is pid 1",
     "    if False:\n        return \"unknown\", \"is pid 1"),
    ("inherited socket only", "if parent is not None and holder.inodes <= vllm_like[parent].inodes:",
     "if parent is not None:"),
    ("basename, not the path", '    first = argv[0].rsplit("/", 1)[-1]', "    first = argv[0]"),
    ("interpreter names only", "            return all(part.isdigit() and part.isascii() for part in version.split(\".\")) "
     "if version else True", "            return True"),
    ("-c has no program", '                return ("module", value) if flag == "m" else None',
     '                return ("module", value)'),
    ("option values skipped", "            if flag in _VALUE_FLAGS:\n                if not rest:\n                    index += 1",
     "            if flag in _VALUE_FLAGS:\n                if not rest:\n                    pass"),
    ("ASCII-only case folding", "    return text.translate(_ASCII_LOWER)", "    return text.lower()"),
    ("broad patterns refused", "        if longest < 3 or foreign is not None:", "        if False:"),
    ("any unknown refuses", "    if report.unknown:\n        for holder in report.unknown:",
     "    if False:\n        for holder in report.unknown:"),
    ("probe fails closed", "    except Exception as exc:  # pylint: disable=broad-except  # fail closed, never open\n"
     "        return Report(port, hosts, error=",
     "    except ZeroDivisionError as exc:\n        return Report(port, hosts, error="),
    ("dual-stack v6 socket blocks IPv4", "        if not sock_any or sock.v6only:\n            return False",
     "        if True:\n            return False"),
    ("thread fd tables", "                    if sorted(os.listdir(fd_dir)) != leader_fds:",
     "                    if False:"),
    ("zombie leader with live threads", '        return len(os.listdir("/proc/%d/task" % proc.pid)) > 1',
     "        return False"),
    ("unprintable characters escaped", '    if char == " " or char.isprintable():', "    if True:"),
    ("long cmd truncated", "        if limit and size > limit:", "        if False:"),
    ("vLLM binds names as IPv4", "_socket.getaddrinfo(host, None, _socket.AF_INET, _socket.SOCK_STREAM)",
     "_socket.getaddrinfo(host, None, 0, _socket.SOCK_STREAM)"),
    ("ports are ASCII digits", "        if not (text.isascii() and text.isdigit()) or len(text) > 5:",
     "        if not text.lstrip('+').replace('_', '').isdigit():"),
    ("bound-only sockets on old kernels", "            sockets = bound_only_sockets(port, hosts)",
     "            sockets = []", {"OPENCLAW_VLLM_GUARD_TABLES": "legacy"}),
    ("logging never decides", "            except (OSError, ValueError, AttributeError):  # closed (2>&-) or a broken pipe",
     "            except ZeroDivisionError:  # closed (2>&-) or a broken pipe"),
]


def run(name, original, mutated, sources, env):
    work = tempfile.mkdtemp(prefix="guard-mutant-")
    try:
        shutil.copytree(os.path.join(ROOT, "collections"), os.path.join(work, "collections"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        found = [(path, source) for path, source in sources.items() if original in source]
        count = sum(source.count(original) for _path, source in found)
        if count != 1:
            return "not applied (text found %d times)" % count
        path, source = found[0]
        with open(os.path.join(work, "collections", HOST_PACKAGE, path), "w") as handle:
            handle.write(source.replace(original, mutated))
        env = dict(env, PYTHONPATH=os.path.join(work, "collections"))
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        took = time.monotonic() - start
        if proc.returncode == 0:
            return "SURVIVED (%.0fs)" % took
        failed = [line.split("::", 1)[1].split(" ")[0] for line in proc.stdout.splitlines()
                  if line.startswith("FAILED ")]
        return "killed by %s (%.0fs)" % (failed[0] if failed else "rc %d" % proc.returncode, took)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-k", default="", help="only mutants whose name contains this")
    args = parser.parse_args()
    package = os.path.join(ROOT, "collections", HOST_PACKAGE)
    sources = {}
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            with open(os.path.join(package, name)) as handle:
                sources[name] = handle.read()
    env = dict(os.environ)
    survived = 0
    for name, original, mutated, *extra in MUTANTS:
        if args.k not in name:
            continue
        verdict = run(name, original, mutated, sources, dict(env, **(extra[0] if extra else {})))
        survived += verdict.startswith("SURVIVED") or verdict.startswith("not applied")
        print("%-36s %s" % (name, verdict), flush=True)
    print("%d mutant(s) survived or did not apply" % survived)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
