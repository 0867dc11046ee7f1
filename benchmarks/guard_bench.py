#!/usr/bin/env python3
"""Time the port guard CLI as a whole process, against references measured in the same run.

References: the same interpreter doing nothing (``python -c pass``: the floor of any
Python guard) and the original's method (``ss -ltnp`` piped through awk).
Cases: free port, port held by an unknown process (refusal), and a reclaim of a stray,
each again with ~2,000 extra idle processes. For the reclaim it reports how long the
guard took after the stray had exited (goal: < 100 ms).

    python benchmarks/guard_bench.py [--runs N] [--idle N]
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GUARD = os.path.join(os.path.dirname(sys.executable), "openclaw-vllm-guard")
MODULE_UTILS = os.path.join(HERE, "..", "collections", "ansible_collections", "openclaw", "vllm", "plugins",
                            "module_utils")
TEMPLATE = os.path.join(HERE, "..", "collections", "ansible_collections", "openclaw", "vllm", "roles", "vllm_service",
                        "templates", "command.py.j2")


def host_wrapper():
    """The command the vllm_service role installs on hosts (its template, rendered for the guard
    with this checkout's module_utils as the lib), as source for ``python -I -c``."""
    with open(TEMPLATE) as handle:
        lines = handle.read().splitlines()[1:]  # the shebang is the service's Python: here sys.executable
    return "\n".join(lines).replace("{{ ansible_managed | comment }}", "").replace(
        "{{ vllm_service_home }}/.local/lib/openclaw-vllm", MODULE_UTILS).replace(
        "{{ item.module }}", "guard_cli").replace("{{ item.name }}", "openclaw-vllm-guard")


HOST_WRAPPER = host_wrapper()

# A stray that notes the moment it exits on SIGTERM (after closing its socket).
STRAY = r"""
import os, signal, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
def bye(*_):
    s.close(); open(sys.argv[2], "w").write(repr(time.time())); os._exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", flush=True)
while True: time.sleep(60)
"""


POOL = r"""
import subprocess, sys
workers = [subprocess.Popen(["sleep", "3600"]) for _ in range(int(sys.argv[1]))]
print("ready", flush=True)
for worker in workers: worker.wait()
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(commands, runs):
    """Median wall time of each command, run in turns (a, b, c, a, b, c, ...) so that drift
    in the machine's load hits every command alike. ``commands``: {name: (argv, exit code)}."""
    samples = {name: [] for name in commands}
    for _ in range(runs):
        for name, (cmd, expect) in commands.items():
            start = time.perf_counter()
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples[name].append(time.perf_counter() - start)
            if proc.returncode != expect:
                raise SystemExit("%s exited %d, expected %d" % (cmd, proc.returncode, expect))
    return {name: statistics.median(values) for name, values in samples.items()}


def reclaim_samples(runs):
    """(median guard wall time, median time from the stray's exit to the guard's exit)."""
    walls, after_exit = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            port, stamp = free_port(), os.path.join(tmp, "exit%d" % i)
            stray = subprocess.Popen(["bash", "-c", 'exec -a vllm-stray "$0" -c "$1" "$2" "$3"', sys.executable,
                                      STRAY, str(port), stamp], stdout=subprocess.PIPE)
            stray.stdout.readline()
            start = time.perf_counter()
            proc = subprocess.run([GUARD, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            end_wall, end = time.perf_counter(), time.time()
            stray.wait()
            if proc.returncode != 0:
                raise SystemExit("reclaim failed with %d" % proc.returncode)
            walls.append(end_wall - start)
            with open(stamp) as f:
                after_exit.append(end - float(f.read()))
    return statistics.median(walls), statistics.median(after_exit)


def metrics_config(directory, port):
    """A service config that names a metrics directory: the guard then writes its decision there."""
    os.makedirs(os.path.join(directory, "metrics"), exist_ok=True)
    path = os.path.join(directory, "service.conf")
    with open(path, "w") as handle:
        handle.write("port=%d\nunit=openclaw-vllm.service\nmetrics_dir=%s\n" % (port, os.path.join(directory, "metrics")))
    return path


def measure(runs, label):
    port = free_port()
    scratch = tempfile.TemporaryDirectory()
    free = timed({
        "floor": ([sys.executable, "-c", "pass"], 0),
        "floor_isolated": ([sys.executable, "-I", "-c", "pass"], 0),
        "ss": (["bash", "-c", "ss -ltnp | awk '$4 ~ /:%d$/'" % port], 0),
        "free": ([GUARD, str(port)], 0),
        "free_host": ([sys.executable, "-I", "-c", HOST_WRAPPER, str(port)], 0),
        "free_metrics": ([sys.executable, "-I", "-c", HOST_WRAPPER, "--config", metrics_config(scratch.name, port)], 0),
    }, runs)
    scratch.cleanup()
    floor, floor_isolated, ss = free["floor"], free["floor_isolated"], free["ss"]
    holder = subprocess.Popen(["bash", "-c", 'exec -a unknown-holder "$0" -c "$1" "$2" /dev/null', sys.executable,
                               STRAY, str(port)], stdout=subprocess.PIPE)
    holder.stdout.readline()
    try:
        held = timed({"held": ([GUARD, str(port)], 42)}, runs)["held"]
    finally:
        holder.kill()
        holder.wait()
    reclaim_wall, reclaim_after_exit = reclaim_samples(max(5, runs // 3))
    print("\n== %s (medians of %d runs)" % (label, runs))
    rows = [
        ("python -c pass (floor)", floor),
        ("python -I -c pass (floor of the host wrapper)", floor_isolated),
        ("ss -ltnp | awk (original's probe)", ss),
        ("guard, free port (console script)", free["free"]),
        ("guard, free port (host wrapper, python -I)", free["free_host"]),
        ("guard, free port, metrics written (host wrapper)", free["free_metrics"]),
        ("guard, held by unknown (refuse, exit 42)", held),
        ("guard, reclaim a stray (whole run)", reclaim_wall),
    ]
    for name, seconds in rows:
        print("  %-52s %8.1f ms  %5.2fx floor  %5.2fx ss" % (name, seconds * 1e3, seconds / floor, seconds / ss))
    print("  %-52s %8.1f ms  (goal < 100 ms)" % ("reclaim: guard exit after the stray's exit", reclaim_after_exit * 1e3))
    print("  free-port decision: console script %.2fx its floor, host wrapper %.2fx its floor (goal <= 1.3x)" % (
        free["free"] / floor, free["free_host"] / floor_isolated))
    print("  metrics: the free-port decision with its metrics file written %.2fx the same without, %.2fx its floor"
          " (host wrapper)" % (free["free_metrics"] / free["free_host"], free["free_metrics"] / floor_isolated))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--idle", type=int, default=2000, help="extra idle processes for the loaded run")
    args = parser.parse_args()
    # Hosts keep the .pyc next to the guard; PYTHONDONTWRITEBYTECODE (set in some CI
    # shells) would otherwise make every run recompile it.
    subprocess.run([sys.executable, "-m", "compileall", "-q", MODULE_UTILS], check=True)
    measure(args.runs, "quiet host")
    # A busy host: a worker pool of its own (not children of this script, which is the
    # guard's parent and so one of the places the orphan scan looks).
    pool = subprocess.Popen([sys.executable, "-c", POOL, str(args.idle)], stdout=subprocess.PIPE,
                            start_new_session=True)
    pool.stdout.readline()
    try:
        measure(args.runs, "with %d extra idle processes" % args.idle)
    finally:
        os.killpg(pool.pid, signal.SIGKILL)
        pool.wait()


if __name__ == "__main__":
    main()
