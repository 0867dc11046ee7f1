#!/usr/bin/env python3
"""The CUDA build's locks: resolve each supported vLLM pin once, for every supported Python, here.

  python scripts/lock-venv.py            # make locks: (re)write roles/vllm_venv/files/locks/
  python scripts/lock-venv.py --check    # make test: the committed locks are the ones this script
                                         # would name, and the registry still serves every file

uv resolves (it resolves for a target Python and platform without having that Python, from the
index's metadata only); pip installs the lock on the host with --require-hashes --no-deps. A
lock per (vLLM pin, accelerator, Python): every host of a fleet installs the same files.

FlashInfer's prebuilt kernels (flashinfer-cubin, at the version of the flashinfer-python vLLM
pins) go into a lock only when the registry has that version; otherwise the lock records what
it left out and why, and the role says so before any download. A pin the registry cannot satisfy
at all gets no lock, and index.json records why: the role refuses it in preflight.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

# stdlib only; the same check the role runs on hosts
from ansible_collections.openclaw.vllm.plugins.module_utils import venv_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTION = os.path.join(ROOT, "collections", "ansible_collections", "openclaw", "vllm")

LOCKS = os.path.join(COLLECTION, "roles", "vllm_venv", "files", "locks")
# What is locked. 0.33.0 is the role's default; 0.34.0 is resolved too, to show whether the
# registry can serve it. Pythons: those of the platforms meta/main.yml lists (Debian 12: 3.11,
# Ubuntu 24.04: 3.12, Debian 13: 3.13).
PINS = ["0.33.0", "0.34.0"]
PYTHONS = ["3.11", "3.12", "3.13"]
MACHINE = "x86_64"
# llguidance's wheels are manylinux_2_31: the oldest glibc the role accepts.
PLATFORM = "x86_64-manylinux_2_31"
INDEX_URL = "https://pypi.org/simple"
FORMAT = 1


def lock_name(pin, python):
    return "vllm-%s-cuda-py%s" % (pin, python)


def uv():
    found = os.path.join(os.path.dirname(sys.executable), "uv")
    return found if os.path.exists(found) else "uv"


def compile_lock(requirements, python):
    """(lock text, None) or (None, uv's reason)."""
    with tempfile.TemporaryDirectory() as work:
        source, out = os.path.join(work, "requirements.in"), os.path.join(work, "lock.txt")
        with open(source, "w") as handle:
            handle.write("\n".join(requirements) + "\n")
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "UV_"))}
        done = subprocess.run(
            [uv(), "pip", "compile", source, "-o", out, "--generate-hashes", "--no-header", "--no-config",
             "--quiet", "--only-binary", ":all:", "--python-version", python, "--python-platform", PLATFORM,
             "--index-url", INDEX_URL, "--no-annotate"],
            env=env, capture_output=True, text=True)
        if done.returncode != 0:
            causes = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            cause = next((line for line in causes if line.startswith("cause:")), causes[-1] if causes else "")
            return None, cause.replace("cause: ", "", 1)
        with open(out) as handle:
            return handle.read(), None


def header(pin, python, left_out):
    lines = ["# openclaw.vllm lock: vllm==%s, cuda, CPython %s, %s (scripts/lock-venv.py; do not edit)"
             % (pin, python, PLATFORM),
             "# Installed by the vllm_venv role with: pip install --require-hashes --no-deps --only-binary :all: -r"]
    lines += ["# Left out: %s: %s" % (item["requirement"], item["why"]) for item in left_out]
    return "\n".join(lines) + "\n"


def resolve(pin, python):
    """The index entry of one lock, and its text (None when the pin cannot be locked)."""
    entry = {"pin": pin, "accelerator": "cuda", "python": python, "platform": PLATFORM,
             "index_url": INDEX_URL, "left_out": []}
    base, why = compile_lock(["vllm==%s" % pin], python)
    if base is None:
        entry["unresolvable"] = why
        return entry, None
    pins = {name: version for name, version, _ in venv_lock.parse(base)}
    text = base
    if "flashinfer-python" in pins:
        cubin = "flashinfer-cubin==%s" % pins["flashinfer-python"]
        with_cubin, why = compile_lock(["vllm==%s" % pin, cubin], python)
        if with_cubin is not None:
            text = with_cubin
        else:
            entry["left_out"].append({
                "requirement": cubin,
                "why": "the registry cannot satisfy it (%s); FlashInfer downloads its kernels at the first "
                       "start on sm_90+ GPUs instead, which an offline host cannot do" % why})
    text = header(pin, python, entry["left_out"]) + text
    parsed = venv_lock.parse(text)
    served = venv_lock.check(parsed, venv_lock.sources_for(INDEX_URL), python, MACHINE)
    if served["missing"] or served["errors"]:
        entry["unresolvable"] = "; ".join(served["missing"] + served["errors"])
        return entry, None
    entry.update(file=lock_name(pin, python) + ".txt", sha256=venv_lock.digest_of(text), packages=len(parsed),
                 download_bytes=served["download_bytes"],
                 top_level={name: pins[name] for name in ("vllm", "torch") if name in pins})
    return entry, text


def write():
    os.makedirs(LOCKS, exist_ok=True)
    index = {"format": FORMAT, "generated_by": "scripts/lock-venv.py",
             "resolved_on": datetime.date.today().isoformat(), "machine": MACHINE, "locks": {}}
    for pin in PINS:
        for python in PYTHONS:
            entry, text = resolve(pin, python)
            name = lock_name(pin, python)
            index["locks"][name] = entry
            path = os.path.join(LOCKS, name + ".txt")
            if text is None:
                if os.path.exists(path):
                    os.remove(path)
                print("%s: no lock: %s" % (name, entry["unresolvable"]))
                continue
            with open(path, "w") as handle:
                handle.write(text)
            print("%s: %d packages, %.2f GiB to download%s" % (
                name, entry["packages"], entry["download_bytes"] / 2 ** 30,
                "".join("; left out %s" % item["requirement"] for item in entry["left_out"])))
    with open(os.path.join(LOCKS, "index.json"), "w") as handle:
        json.dump(index, handle, indent=2, sort_keys=True)
        handle.write("\n")


def check():
    """Exit 1, naming each problem, when the committed locks are not what write() would name or the
    registry no longer serves one of their files. Reads the registry's metadata only."""
    problems = []
    with open(os.path.join(LOCKS, "index.json")) as handle:
        index = json.load(handle)
    wanted = {lock_name(pin, python) for pin in PINS for python in PYTHONS}
    if index.get("format") != FORMAT or set(index["locks"]) != wanted:
        problems.append("index.json names %s, this script locks %s: run make locks"
                        % (sorted(index["locks"]), sorted(wanted)))
    on_disk = {name[:-4] for name in os.listdir(LOCKS) if name.endswith(".txt")}
    for name, entry in sorted(index["locks"].items()):
        if "unresolvable" in entry:
            if name in on_disk:
                problems.append("%s.txt is there although index.json says it cannot be locked" % name)
            print("%s: no lock (%s)" % (name, entry["unresolvable"]))
            # The registry may have caught up: say so (not a failure; `make locks` takes it in).
            now, _why = compile_lock(["vllm==%s" % entry["pin"]], entry["python"])
            if now is not None:
                print("NOTE: %s resolves now: run make locks" % name)
            continue
        path = os.path.join(LOCKS, entry["file"])
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError as exc:
            problems.append("%s: %s" % (name, exc))
            continue
        if venv_lock.digest_of(text) != entry["sha256"]:
            problems.append("%s was changed by hand (its sha256 is not index.json's): run make locks" % path)
            continue
        served = venv_lock.check(venv_lock.parse(text), venv_lock.sources_for(entry["index_url"]),
                                 entry["python"], index["machine"])
        for line in served["missing"] + served["errors"]:
            problems.append("%s: %s" % (name, line))
        if not served["missing"] and not served["errors"]:
            print("%s: %d packages served by %s, %.2f GiB" % (
                name, entry["packages"], entry["index_url"], served["download_bytes"] / 2 ** 30))
    for problem in problems:
        print("PROBLEM: " + problem, file=sys.stderr)
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check the committed locks (no writing)")
    args = parser.parse_args()
    if args.check:
        return check()
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
