#!/usr/bin/env python3
"""Where a host's downtime goes when its unit restarts (a roll-out's switch), on a podman test
host that serves: what a real host would see, and what only these test hosts add.

One script runs on the host, as the service user: it polls /health every 50 ms, restarts the
unit, and notes when the old API server and its engines are gone (their /proc entries) and when
the unit is inactive, activating and active again (systemctl --user show, every 50 ms). Printed:

    down     last 200 before the restart -> first 200 after it (what clients see)
    stop     restart -> the old process tree gone (vLLM's own shutdown)
    wait     tree gone -> the unit inactive: systemd waiting for a cgroup that is already empty.
             On these test hosts (cgroup v1 in a container, no release agent) the user manager
             misses that the cgroup emptied and waits out TimeoutStopSec; a real host (cgroup v2,
             or v1 with a release agent) does not.
    start    the unit inactive -> active -> first 200 (the guard, vLLM loading the model)
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
def show():
    out = subprocess.run(["systemctl", "--user", "show", unit, "-p", "ActiveState", "-p", "MainPID"],
                         capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.split())
def healthy():
    try:
        return urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=1).status == 200
    except Exception:
        return False
def tree(pid):
    kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid] + [p for k in kids for p in tree(int(k))]
old = tree(int(show()["MainPID"]))
marks, last_ok = {}, [None]
def poll():
    while "up" not in marks:
        ok = healthy()
        if ok and "restart" not in marks:
            last_ok[0] = now()
        if ok and "restart" in marks:
            marks["up"] = now()
        time.sleep(0.05)
poller = threading.Thread(target=poll)
poller.start()
time.sleep(0.5)
marks["restart"] = now()
subprocess.Popen(["systemctl", "--user", "restart", unit])
while "up" not in marks:
    state = show()["ActiveState"]
    if "gone" not in marks and not any(os.path.exists("/proc/%d" % p) for p in old):
        marks["gone"] = now()
    if "inactive" not in marks and state in ("inactive", "activating") and "gone" in marks:
        marks["inactive"] = now()
    if "active" not in marks and state == "active" and "inactive" in marks:
        marks["active"] = now()
    time.sleep(0.05)
poller.join()
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
    print("%-4s %7s %7s %7s %7s %7s" % ("run", "down", "stop", "wait", "start", "real"))
    for run in range(1, args.runs + 1):
        m = run_once(args.container, args.unit, args.port, args.user)
        stop = m["gone"] - m["restart"]
        wait = m["inactive"] - m["gone"]
        start = m["up"] - m["inactive"]
        print("%-4d %6.1fs %6.1fs %6.1fs %6.1fs %6.1fs" % (run, m["up"], stop, wait, start, m["up"] - wait))


if __name__ == "__main__":
    main()
