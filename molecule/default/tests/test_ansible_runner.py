"""site.yml through `ansible-runner run`, the engine AWX / Automation Platform drives its jobs with:
a private data directory holding the inventory and the job's environment, the project as the
working directory (its ansible.cfg and collections/), job events and artifacts written to disk.
Nothing else of the verifier's environment goes in. On the provisioned test host the job succeeds,
changes nothing, and its events carry the three roles' own tasks. (Not covered: a job inside a
built execution environment, whose base image cannot be pulled here.)"""
import glob
import json
import os
import subprocess
import sys

import yaml
from siteplay import CONNECTION_PLUGINS, PROJECT, inventory_for
from testhost import INSTANCE

RUNNER = os.path.join(os.path.dirname(sys.executable), "ansible-runner")
ROLES = ("openclaw.vllm.vllm_venv", "openclaw.vllm.awq_model", "openclaw.vllm.vllm_service")


def test_site_yml_as_an_awx_job_succeeds_changes_nothing_and_reports_the_roles_tasks(tmp_path):
    private = tmp_path / "job"
    (private / "inventory").mkdir(parents=True)
    inventory_for(private / "inventory", [INSTANCE])
    (private / "env").mkdir()
    # What the job template's credentials and settings give the job, as AWX writes them.
    (private / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_CONNECTION_PLUGINS": CONNECTION_PLUGINS,  # the test hosts' transport
        "OPENCLAW_DEMO_MODEL": os.environ.get("OPENCLAW_DEMO_MODEL", os.path.join(PROJECT, ".cache/tiny-awq-model")),
    }))
    env = {"PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin", "HOME": os.environ["HOME"], "LANG": "C.UTF-8"}
    proc = subprocess.run([RUNNER, "run", str(private), "--project-dir", PROJECT, "-p", "site.yml",
                           "--ident", "site", "--json"], env=env, capture_output=True, text=True, timeout=900)
    artifacts = private / "artifacts" / "site"
    assert (artifacts / "status").read_text() == "successful", proc.stdout[-3000:] + proc.stderr[-2000:]
    assert (artifacts / "rc").read_text() == "0"
    events = [json.loads(open(path).read()) for path in glob.glob(str(artifacts / "job_events" / "*.json"))]
    stats = [event["event_data"] for event in events if event["event"] == "playbook_on_stats"]
    assert stats and stats[-1]["ok"].get(INSTANCE) and not stats[-1]["changed"] and not stats[-1]["failures"], stats
    by_role = {}
    for event in events:
        data = event.get("event_data", {})
        if event["event"] in ("runner_on_ok", "runner_on_skipped") and data.get("host") == INSTANCE:
            by_role.setdefault(data.get("resolved_role") or data.get("role"), set()).add(data["task"])
    print({role: len(tasks) for role, tasks in by_role.items()})
    for role in ROLES:
        assert by_role.get(role), "no job event of %s's tasks: %s" % (role, sorted(by_role))
    assert "Enable the unit" in by_role["openclaw.vllm.vllm_service"], sorted(by_role["openclaw.vllm.vllm_service"])
