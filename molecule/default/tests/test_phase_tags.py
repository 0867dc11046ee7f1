"""vllm_service's phase tags alone, and what restarts the unit, on the real test host.

Runs the project's site.yml from the controller against the test host (as an operator would),
with the demo inventory's variables. Each phase tag alone must succeed and change nothing;
new guard/status code on the host is rewritten without a restart; a changed unit restarts it."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from testhost import HOME, INSTANCE

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
PLAYBOOK = shutil.which("ansible-playbook") or os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
LIB = HOME + "/.local/lib/openclaw-vllm"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    inventory = tmp_path_factory.mktemp("inventory")
    (inventory / "hosts.yml").write_text(json.dumps({"all": {"children": {"vllm_hosts": {"hosts": {INSTANCE: {
        "ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"}}}}}}))
    (inventory / "group_vars").symlink_to(os.path.join(PROJECT, "inventory/demo/group_vars"))
    env = dict(os.environ)
    # molecule's environment enables the timer callback, whose line would follow the JSON (and an
    # empty ANSIBLE_CALLBACKS_ENABLED is an error): take it out.
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    env = dict(env, ANSIBLE_CONFIG=os.path.join(PROJECT, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="json",

               OPENCLAW_DEMO_MODEL=os.environ.get("OPENCLAW_DEMO_MODEL", os.path.join(PROJECT, ".cache/tiny-awq-model")))

    def run(*args):
        proc = subprocess.run([PLAYBOOK, "-i", str(inventory), os.path.join(PROJECT, "site.yml"), *args],
                              cwd=PROJECT, env=env, capture_output=True, text=True, timeout=900)
        out = json.loads(proc.stdout)
        changed = sorted({task["task"]["name"] for play in out["plays"] for task in play["tasks"]
                          if task["hosts"].get(INSTANCE, {}).get("changed")})
        failed = [task["hosts"][INSTANCE] for play in out["plays"] for task in play["tasks"]
                  if task["hosts"].get(INSTANCE, {}).get("failed")]
        return proc.returncode, changed, failed
    return run


def started(testhost):
    return testhost.unit_property("MainPID"), testhost.unit_property("ExecMainStartTimestampMonotonic")


@pytest.mark.parametrize("tag", ["vllm_service_preflight", "vllm_service_install", "vllm_service_configure",
                                 "vllm_service_run", "vllm_service"])
def test_each_phase_tag_alone_works_and_changes_nothing(testhost, site, tag):
    before = started(testhost)
    rc, changed, failed = site("--tags", tag)
    assert rc == 0, failed
    assert changed == [], changed
    assert started(testhost) == before


def test_new_guard_code_on_the_host_does_not_restart_the_service(testhost, site):
    before = started(testhost)
    for name in ("port_guard.py", "vllm_status.py"):
        testhost.run("echo '# an older collection' >> %s/%s" % (LIB, name))
    rc, changed, failed = site("--tags", "vllm_service")
    assert rc == 0, failed
    assert any("Install the port guard and status code" in name for name in changed), changed
    assert started(testhost) == before, "the guard takes effect at the next start; no restart for it"
    assert "an older collection" not in testhost.run("cat %s/port_guard.py" % LIB).stdout


def test_a_changed_unit_restarts_the_running_service_once(testhost, site):
    before = started(testhost)
    unit = HOME + "/.config/systemd/user/openclaw-vllm.service"
    testhost.run("echo '# edited by hand' >> %s" % unit)
    rc, changed, failed = site("--tags", "vllm_service")
    assert rc == 0, failed
    assert any("Restart openclaw-vllm if it runs" in name for name in changed), changed
    after = started(testhost)
    assert after[0] != before[0] and after[1] != before[1], "restarted"
