"""Run the project's site.yml (or another playbook of the project) from the controller against
a test host, as an operator would, with the demo inventory's variables. Shared by the
scenarios' verifiers that drive playbooks themselves."""
import json
import os
import shutil
import subprocess
import sys

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
# The test hosts' transport (connection `podman`): containers.podman.podman with pipelining.
CONNECTION_PLUGINS = os.path.join(PROJECT, "molecule/shared/connection_plugins")
PLAYBOOK = shutil.which("ansible-playbook") or os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def inventory_for(directory, hosts):
    """An inventory of podman ``hosts`` in group vllm_hosts, with the demo group_vars."""
    (directory / "hosts.yml").write_text(json.dumps({"all": {"children": {"vllm_hosts": {"hosts": {host: {
        "ansible_connection": "podman", "ansible_python_interpreter": "/usr/bin/python3"}
        for host in hosts}}}}}))
    (directory / "group_vars").symlink_to(os.path.join(PROJECT, "inventory/demo/group_vars"))
    return directory


def runner(inventory, host, book="site.yml"):
    """run(*args, book=book) -> (rc, names of changed tasks, failed results) of ``book`` (a path
    in the project, or absolute) for ``host``; run.output keeps the last run's whole output."""
    env = dict(os.environ)
    # molecule's environment enables the timer callback, whose line would follow the JSON (and an
    # empty ANSIBLE_CALLBACKS_ENABLED is an error): take it out.
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    env = dict(env, ANSIBLE_CONFIG=os.path.join(PROJECT, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_CONNECTION_PLUGINS=CONNECTION_PLUGINS,
               ANSIBLE_STDOUT_CALLBACK="json",
               OPENCLAW_DEMO_MODEL=os.environ.get("OPENCLAW_DEMO_MODEL", os.path.join(PROJECT, ".cache/tiny-awq-model")))

    def run(*args, book=book):
        proc = subprocess.run([PLAYBOOK, "-i", str(inventory), os.path.join(PROJECT, book), *args],
                              cwd=PROJECT, env=env, capture_output=True, text=True, timeout=900)
        run.output = proc.stdout + proc.stderr
        out = json.loads(proc.stdout)
        changed = sorted({task["task"]["name"] for play in out["plays"] for task in play["tasks"]
                          if task["hosts"].get(host, {}).get("changed")})
        failed = [task["hosts"][host] for play in out["plays"] for task in play["tasks"]
                  if task["hosts"].get(host, {}).get("failed")]
        return proc.returncode, changed, failed
    return run
