#!/usr/bin/env python3
"""Time site.yml on podman test hosts: the changed=0 re-run and a roll-out with downtime per host.

Against references measured in the same run:
- re-run: site.yml with nothing new on one host (--limit), then on all hosts at once; the
  ratio of the two (goal: within 1.5x), and the ten slowest tasks (profile_tasks);
- roll-out: a model change over all hosts with openclaw_serial=1, as openclaw.vllm.serve does
  it (stage everywhere, then switch host by host), against the one-phase flow of before (each
  batch builds, fetches and restarts: the three roles in one play, serial 1). For each the
  total time and, per host, the seconds its /health did not answer 200 (polled from inside
  the host every 0.5 s).

    python benchmarks/fleet_rollout.py INVENTORY --model-a DIR --model-b DIR [--pad-mb N] [--rerun-only]

Each roll-out ships a new version: a copy of --model-b with N MiB of random padding (default
256), so that staging is real work (a copy to every host), as a real model fetch is.

INVENTORY names the podman hosts (molecule/fleet's, or your own), with the demo group_vars.
The roll-out leaves the hosts on a padded copy of --model-b.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
# The test hosts' transport: connection `podman` is molecule/shared/connection_plugins/podman.py
# (containers.podman.podman with pipelining, as ssh runs modules on real hosts).
CONNECTION_PLUGINS = os.path.join(ROOT, "molecule/shared/connection_plugins")
# The reference for the re-run: what one remote task costs on this connection.
FLOOR_TASKS = 20
FLOOR = """
- name: The transport floor (one remote task, %d times)
  hosts: vllm_hosts
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
      loop: "{{ range(%d) | list }}"
""" % (FLOOR_TASKS, FLOOR_TASKS)
ONE_PHASE = """
- name: The one-phase flow of before (build, fetch and restart inside each batch)
  hosts: vllm_hosts
  become: true
  gather_facts: false
  serial: 1
  roles: [openclaw.vllm.vllm_venv, openclaw.vllm.awq_model, openclaw.vllm.vllm_service]
"""


def hosts_of(inventory):
    out = subprocess.run([os.path.join(os.path.dirname(PLAYBOOK), "ansible-inventory"), "-i", inventory, "--list"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(json.loads(out)["vllm_hosts"]["hosts"])


def cpu_busy():
    """(busy, total) jiffies of the whole machine (/proc/stat): controller, podman and the hosts."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def playbook(inventory, book, *args, profile=False):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
               ANSIBLE_ROLES_PATH=os.path.join(ROOT, "roles"), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_CONNECTION_PLUGINS=CONNECTION_PLUGINS)
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    if profile:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
        env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "10"
    start, busy = time.monotonic(), cpu_busy()
    proc = subprocess.run([PLAYBOOK, "-i", inventory, book] + list(args), cwd=ROOT, env=env,
                          capture_output=True, text=True)
    after = cpu_busy()
    # How many of the machine's cores were busy on average during the run.
    proc.cores_busy = os.cpu_count() * (after[0] - busy[0]) / max(1, after[1] - busy[1])
    return time.monotonic() - start, proc


def changed_counts(output):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


class HealthWatch:
    """Polls /health inside each host; counts the seconds each did not answer 200."""

    def __init__(self, hosts, port=8001):
        self.down = dict.fromkeys(hosts, 0.0)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.watch, args=(host, port), daemon=True) for host in hosts]

    def watch(self, host, port):
        last = time.monotonic()
        while not self.stop.is_set():
            ok = subprocess.run(["podman", "exec", host, "curl", "-fsS", "-m", "1", "-o", "/dev/null",
                                 "http://127.0.0.1:%d/health" % port], capture_output=True).returncode == 0
            now = time.monotonic()
            if not ok:
                self.down[host] += now - last
            last = now
            time.sleep(0.5)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        for thread in self.threads:
            thread.join()


def new_version(model, workdir, tag, pad_mb):
    """A new version of ``model``: a copy with ``pad_mb`` MiB of random padding."""
    path = os.path.join(workdir, "version-" + tag)
    shutil.copytree(model, path)
    with open(os.path.join(path, "padding.bin"), "wb") as pad:
        for _ in range(pad_mb):
            pad.write(os.urandom(1 << 20))
    return path


def rollout(inventory, hosts, book, model, label):
    with HealthWatch(hosts) as watch:
        took, proc = playbook(inventory, book, "-e", "openclaw_serial=1", "-e", "awq_model_local_path=" + model)
    status = "ok" if proc.returncode == 0 else "FAILED rc=%d" % proc.returncode
    print("%-34s %7.1f s total (%s); down per host: %s" % (
        label, took, status, ", ".join("%s %.1f s" % (h, watch.down[h]) for h in hosts)))
    if proc.returncode:
        print(proc.stdout[-3000:])
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inventory")
    parser.add_argument("--model-a", required=True, help="the model the hosts serve now")
    parser.add_argument("--model-b", required=True, help="another version of it (different weights)")
    parser.add_argument("--pad-mb", type=int, default=256, help="padding of each new version (MiB)")
    parser.add_argument("--rerun-only", action="store_true")
    args = parser.parse_args()
    hosts = hosts_of(args.inventory)
    model = ["-e", "awq_model_local_path=" + os.path.abspath(args.model_a)]

    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=ROOT, prefix=".bench-floor-") as floor_book:
        floor_book.write(FLOOR)
        floor_book.flush()
        floor, proc = playbook(args.inventory, floor_book.name, "--limit", hosts[0])
        assert proc.returncode == 0, proc.stdout[-3000:]
    per_task = floor / FLOOR_TASKS
    one, proc = playbook(args.inventory, "site.yml", "--limit", hosts[0], *model, profile=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    every, proc_all = playbook(args.inventory, "site.yml", *model)
    assert proc_all.returncode == 0, proc_all.stdout[-3000:]
    print("re-run, changed=0 expected: 1 host %.1f s %s; %d hosts %.1f s %s; ratio %.2fx (goal <= 1.5x)" % (
        one, changed_counts(proc.stdout), len(hosts), every, changed_counts(proc_all.stdout), every / one))
    # The test hosts are containers on this machine: when the run with every host keeps all the
    # cores busy, the ratio measures this machine's CPU, not the roll-out's serialisation.
    print("cores busy on average (of %d, the controller and every test host together): 1 host %.2f, %d hosts %.2f" % (
        os.cpu_count(), proc.cores_busy, len(hosts), proc_all.cores_busy))
    remote = int(re.search(r"ok=(\d+)", proc.stdout[proc.stdout.find("PLAY RECAP"):]).group(1))
    print("transport floor: %.2f s per remote task (%d pings); the one-host re-run ran %d tasks (ok=, controller-only "
          "set_fact included): %.1f s of floor, %.1fx the floor" % (per_task, FLOOR_TASKS, remote, remote * per_task,
                                                           one / (remote * per_task)))
    recap = proc.stdout[proc.stdout.find("TASKS RECAP"):]
    print("ten slowest tasks of the one-host re-run:")
    print("\n".join("  " + line for line in recap.splitlines()[3:13]))
    if args.rerun_only:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=ROOT, prefix=".bench-one-phase-") as old, \
            tempfile.TemporaryDirectory(prefix="bench-versions-") as workdir:
        old.write(ONE_PHASE)
        old.flush()
        b = os.path.abspath(args.model_b)
        new = rollout(args.inventory, hosts, "site.yml", new_version(b, workdir, "1", args.pad_mb),
                      "stage + switch (serial 1)")
        before = rollout(args.inventory, hosts, old.name, new_version(b, workdir, "2", args.pad_mb),
                         "one phase, as before (serial 1)")
    print("roll-out total, two-phase / one-phase: %.2fx" % (new / before))

if __name__ == "__main__":
    main()
