#!/usr/bin/env python3
"""Where a host's downtime goes when its unit restarts (a roll-out's switch), on a podman test
host that serves: what a real host would see, and what only these test hosts add.

One script runs on the host, as the service user: it polls /health every 50 ms, restarts the
unit (as the role's handler does, `systemctl --user try-restart`), watches the old API server
and its engines go (their /proc entries), and then reads systemd's own monotonic timestamps of
the unit (the same clock). Printed, in seconds from the last 200 before the restart:

    down     last 200 before the restart -> first 200 after it (what clients see)
    drain    restart -> the old process tree gone (vLLM's own shutdown, --shutdown-timeout)
    wait     tree gone -> the unit inactive: systemd waiting for a cgroup that is already empty.
             On a test host whose systemd has only cgroup v1 (podman on a hybrid VM, no release
             agent) the user manager misses that the cgroup emptied and waits out TimeoutStopSec;
             a real host (cgroup v2, or v1 with a release agent) does not, nor does a test host
             that scripts/testhost-image.sh's fix_cgroup_events applies to.
    guard    inactive -> active: the ExecStartPre port guard (and the GPU gate on CUDA builds)
    load     active -> first 200: vLLM starts and loads the model
    real     down - wait: the downtime a real host would see

    python benchmarks/switch_downtime.py [CONTAINER] [--runs N]
"""
import argparse
import json
import subprocess

HOST_SCRIPT = r'''
import json, os, subprocess, sys, threading, time, urllib.request
unit, port = sys.argv[1], int(sys.argv[2])
now = time.monotonic
def show(*names):
    out = subprocess.run(["systemctl", "--user", "show", unit] + ["--property=" + n for n in names],
                         capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
def healthy():
    try:
        return urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=1).status == 200
    except Exception:
        return False
def tree(pid):
    kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid] + [p for k in kids for p in tree(int(k))]
deadline = now() + 600  # a serving host: wait for the previous run's start to finish
while not healthy() and now() < deadline:
    time.sleep(1)
old = tree(int(show("MainPID")["MainPID"]))
marks, last_ok = {}, [None]
def poll():
    while "up" not in marks:
        ok = healthy()
        if "restart" not in marks:
            if ok:
                last_ok[0] = now()
        elif not ok and "down" not in marks:
            marks["down"] = now()
        elif ok and "down" in marks:
            marks["up"] = now()
        time.sleep(0.05)
poller = threading.Thread(target=poll)
poller.start()
time.sleep(0.5)
marks["restart"] = now()
subprocess.Popen(["systemctl", "--user", "try-restart", unit])
while "up" not in marks:
    if "gone" not in marks and not any(os.path.exists("/proc/%d" % p) for p in old):
        marks["gone"] = now()
    time.sleep(0.05)
poller.join()
stamps = show("InactiveEnterTimestampMonotonic", "InactiveExitTimestampMonotonic", "ActiveEnterTimestampMonotonic")
marks["inactive"] = int(stamps["InactiveEnterTimestampMonotonic"]) / 1e6
marks["activating"] = int(stamps["InactiveExitTimestampMonotonic"]) / 1e6
marks["active"] = int(stamps["ActiveEnterTimestampMonotonic"]) / 1e6
print(json.dumps({k: v - last_ok[0] for k, v in marks.items()}))
'''


def run_once(container, unit, port, user):
    uid = subprocess.run(["podman", "exec", container, "id", "-u", user], capture_output=True, text=True,
                         check=True).stdout.strip()
    proc = subprocess.run(["podman", "exec", "-i", "-u", user, "-e", "XDG_RUNTIME_DIR=/run/user/%s" % uid, container,
                           "python3", "-", unit, str(port)], input=HOST_SCRIPT, capture_output=True, text=True,
                          timeout=900)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("container", nargs="?", default="openclaw-testhost")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--unit", default="openclaw-vllm.service")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--user", default="vllm")
    args = parser.parse_args()
    print("%-4s %7s %7s %7s %7s %7s %7s" % ("run", "down", "drain", "wait", "guard", "load", "real"))
    for run in range(1, args.runs + 1):
        m = run_once(args.container, args.unit, args.port, args.user)
        drain = m["gone"] - m["restart"]
        wait = max(0.0, m["inactive"] - m["gone"])
        guard = m["active"] - m["inactive"]
        load = m["up"] - m["active"]
        print("%-4d %6.1fs %6.1fs %6.1fs %6.1fs %6.1fs %6.1fs" % (run, m["up"], drain, wait, guard, load, m["up"] - wait),
              flush=True)


if __name__ == "__main__":
    main()
