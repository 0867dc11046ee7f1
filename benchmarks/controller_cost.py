#!/usr/bin/env python3
"""The controller's own CPU per host: site.yml with nothing new, status.yml and a roll-out, on one
host and on every host of INVENTORY, then a scale run over aliases of those hosts (read-only).

    python benchmarks/controller_cost.py INVENTORY --model-a DIR [--model-b DIR] [--aliases 30]

CPU is the controller's process tree: ansible-playbook, its forks and the connection's clients
(`podman exec` on the test hosts, ssh on real ones), from getrusage(RUSAGE_CHILDREN) around each
run. What the hosts do is not in it: their modules run in the containers, outside this tree. So
the figure is what a fleet costs the machine that drives it, whatever the hosts' own speed; it
moves far less with this machine's load than wall time does (the test hosts share its cores, so
some contention remains in it). Over ssh, the ControlPersist masters run detached from this tree
(getrusage cannot see them): their CPU is read from /proc before and after each run and added.
Reference, in the same process: one `ping` task on one host.

The scale run gives each of --aliases inventory names an existing host's variables and address
(alias-01 -> the first host, alias-02 -> the second, ...), so 30 names reach 3 hosts: status.yml
and site.yml --check only, which change nothing. Its per-host figure is what one more host costs
the controller; its wall time, at forks 5 (Ansible's default) and at forks = hosts, is what
the batch size and forks buy.

--model-b: also roll a new version out over every host (openclaw_serial=1) and back (--model-a),
as an operator would; each host restarts twice.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import psutil

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BIN = os.path.dirname(sys.executable)
# The test hosts' transport (containers.podman.podman with pipelining); unused by ssh inventories.
CONNECTION_PLUGINS = os.path.join(ROOT, "molecule/shared/connection_plugins")
PING = """
- name: The reference (one remote task)
  hosts: vllm_hosts
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ssh_masters_cpu():
    """{pid: CPU s} of Ansible's ssh ControlPersist masters alive now (`ssh: <control path> [mux]`,
    the control path in ANSIBLE_SSH_CONTROL_PATH_DIR, default ~/.ansible/cp)."""
    directory = os.path.expanduser(os.environ.get("ANSIBLE_SSH_CONTROL_PATH_DIR", "~/.ansible/cp"))
    masters = {}
    for proc in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        title = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "ssh" and title.endswith("[mux]") and directory in title:
            masters[proc.pid] = proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return masters


def playbook(inventory, book, *args):
    """(wall s, controller CPU s, completed process) of one ansible-playbook run."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
               ANSIBLE_ROLES_PATH=os.path.join(ROOT, "roles"), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_CONNECTION_PLUGINS=CONNECTION_PLUGINS)
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    start, cpu, masters = time.monotonic(), children_cpu(), ssh_masters_cpu()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, book, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    # Masters started by this run count whole; those it reused, what they spent during it.
    cpu = children_cpu() - cpu + sum(spent - masters.get(pid, 0.0) for pid, spent in ssh_masters_cpu().items())
    return time.monotonic() - start, cpu, proc


def recap(output):
    """{host: {ok, changed, unreachable, failed}} from PLAY RECAP."""
    rows = {}
    for line in output[output.rfind("PLAY RECAP"):].splitlines()[1:]:
        if " : " in line:
            host, counts = line.split(" : ", 1)
            rows[host.strip()] = {k: int(v) for k, v in (pair.split("=") for pair in counts.split())}
    return rows


def hostvars(inventory):
    out = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", inventory, "--list"],
                         capture_output=True, text=True, check=True).stdout
    listed = json.loads(out)

    def hosts_of(group):  # its own hosts and those of its child groups
        entry = listed.get(group, {})
        return set(entry.get("hosts", [])).union(*(hosts_of(child) for child in entry.get("children", [])))
    return {host: listed["_meta"]["hostvars"].get(host, {}) for host in sorted(hosts_of("vllm_hosts"))}


def alias_inventory(directory, real, count):
    """An inventory of ``count`` names, each with a real host's variables and address."""
    names = sorted(real)
    hosts = {}
    for index in range(count):
        name = names[index % len(names)]
        hosts["alias-%02d" % (index + 1)] = dict(real[name], ansible_host=real[name].get("ansible_host", name))
    path = os.path.join(directory, "aliases.json")
    with open(path, "w") as handle:
        json.dump({"all": {"children": {"vllm_hosts": {"hosts": hosts}}}}, handle)
    return path


def settings():
    """forks and strategy as ansible.cfg makes them."""
    dump = subprocess.run([os.path.join(BIN, "ansible-config"), "dump"], capture_output=True, text=True,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))).stdout
    value = lambda key: next((line.split("=", 1)[1].strip() for line in dump.splitlines()
                              if line.startswith(key + "(")), "?")
    return value("DEFAULT_FORKS"), value("DEFAULT_STRATEGY")


def report(label, hosts, wall, cpu, proc, reference, forks, expect_changed=0):
    rows = recap(proc.stdout)
    changed = sum(row.get("changed", 0) for row in rows.values())
    bad = {h: r for h, r in rows.items() if r.get("failed") or r.get("unreachable")}
    state = "ok" if proc.returncode == 0 and not bad else "FAILED rc=%d %s" % (proc.returncode, bad)
    if expect_changed is not None and changed != expect_changed:
        state += " (changed=%d, expected %d)" % (changed, expect_changed)
    print("%-38s %3d hosts  forks %-3s wall %6.1f s  controller CPU %6.2f s = %5.2f s/host (%4.1fx the ping)  %s" % (
        label, hosts, forks, wall, cpu, cpu / hosts, cpu / hosts / reference, state))
    if state != "ok":
        print(proc.stdout[-2500:] + proc.stderr[-1000:])
    return cpu / hosts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inventory")
    parser.add_argument("--model-a", required=True, help="the model the hosts serve now")
    parser.add_argument("--model-b", help="also roll this version out over every host, and back")
    parser.add_argument("--aliases", type=int, default=30, help="names in the scale run (0: none)")
    args = parser.parse_args()
    real = hostvars(args.inventory)
    hosts, first = len(real), sorted(real)[0]
    model = ["-e", "awq_model_local_path=" + os.path.abspath(args.model_a)]
    forks, strategy = settings()
    connections = sorted({str(v.get("ansible_connection", "ssh")) for v in real.values()})
    print("controller: %d cores; forks %s, strategy %s; connection %s (pipelined); hosts: %s" % (
        os.cpu_count(), forks, strategy, "/".join(connections), ", ".join(sorted(real))))

    with tempfile.TemporaryDirectory(prefix="bench-controller-") as work:
        ping = os.path.join(work, "ping.yml")
        with open(ping, "w") as handle:
            handle.write(PING)
        playbook(args.inventory, ping, "--limit", first)  # warm the controller's caches
        _, reference, proc = playbook(args.inventory, ping, "--limit", first)
        assert proc.returncode == 0, proc.stdout[-2000:]
        print("%-38s %3d host   controller CPU %.2f s" % ("reference: one ping", 1, reference))
        per_host = {}
        for label, book, extra in (("site.yml, nothing new", "site.yml", model),
                                   ("status.yml", "status.yml", [])):
            for limit, count in ((["--limit", first], 1), ([], hosts)):
                wall, cpu, proc = playbook(args.inventory, book, *limit, *extra)
                # status.yml rewrites its JSON every run, a task delegated to localhost that the recap
                # counts as a change of the first host.
                per_host[(label, count)] = report(label, count, wall, cpu, proc, reference, forks,
                                                  expect_changed=0 if book == "site.yml" else None)
        for label in ("site.yml, nothing new", "status.yml"):
            print("%-38s per-host CPU, %d hosts / 1 host: %.2fx" % (
                label, hosts, per_host[(label, hosts)] / per_host[(label, 1)]))
        if args.model_b:
            for name, path in (("roll-out to model B", args.model_b), ("roll-out back to model A", args.model_a)):
                wall, cpu, proc = playbook(args.inventory, "site.yml", "-e", "openclaw_serial=1",
                                           "-e", "awq_model_local_path=" + os.path.abspath(path))
                report(name + " (serial 1)", hosts, wall, cpu, proc, reference, forks, expect_changed=None)
        if args.aliases:
            aliases = alias_inventory(work, real, args.aliases)
            for book, extra in (("status.yml", []), ("site.yml", ["--check", *model])):
                for run_forks in (forks, str(args.aliases)):
                    wall, cpu, proc = playbook(aliases, book, "--forks", run_forks, *extra)
                    report("%s over %d aliases%s" % (book, args.aliases, ", --check" if extra else ""),
                           args.aliases, wall, cpu, proc, reference, run_forks)


if __name__ == "__main__":
    main()
