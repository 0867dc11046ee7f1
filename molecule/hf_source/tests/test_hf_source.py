"""The hf model source on the test host, end to end, against a real Hub-compatible server: olah
(PyPI) on the controller serving a local git repository at its real commit hashes, reached from
the container as host.containers.internal, as a private mirror is reached (awq_model_hf_endpoint).

The tests run in order and share the host; each one starts from what the one before left."""
import json
import os

import pytest
from helpers.hf_mirror import REPO, Mirror, ensure_olah  # the mirror the roles tier uses too
from siteplay import inventory_for, runner
from testhost import INSTANCE, MODEL, main_pid, run_once, wait_for

TOKEN = "hf_TestHostTokenThatMustNeverShow77"
BIG = 128 * 2**20  # revision 3's second shard: seconds through olah, long enough to kill mid-way
FETCHED = ["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json",
           "tokenizer.json", "tokenizer_config.json"]
MANIFEST = MODEL + "/.openclaw-manifest.json"
STAGING = "/var/lib/openclaw-vllm/models/.staging-tiny-awq"


@pytest.fixture(scope="module")
def mirror(testhost, tmp_path_factory):
    """olah on the controller, bound to the address the container knows the controller by."""
    ensure_olah()
    hosts = testhost.run("getent ahostsv4 host.containers.internal").stdout.split()
    assert hosts, "the test host has no host.containers.internal (podman >= 4.1 adds it)"
    started = Mirror(tmp_path_factory.mktemp("olah"), os.environ["OPENCLAW_DEMO_MODEL"], BIG, host=hosts[0],
                     name="host.containers.internal").start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory, mirror):
    """run(revision, *args, **vars): site.yml with the hf source pinned at ``revision``; the settings
    (token included) go in a 0600 vars file, as an inventory or a vault holds them."""
    directory = tmp_path_factory.mktemp("inventory")
    play = runner(inventory_for(directory, [INSTANCE]), INSTANCE)

    def run(revision, *args, book="site.yml", **more):
        settings = directory / "hf.json"
        settings.write_text(json.dumps({
            "awq_model_source": "hf", "awq_model_hf_repo": REPO, "awq_model_hf_revision": revision,
            "awq_model_hf_endpoint": mirror.endpoint, "awq_model_hf_token": TOKEN,
            "awq_model_hf_progress_interval": 1, **more}))
        settings.chmod(0o600)
        result = play("-e", "@%s" % settings, *args, book=book)
        run.output = play.output
        return result
    run.directory = directory
    return run


def served(testhost):
    """(the model version the unit serves, its manifest's hf record)."""
    version = testhost.run("readlink -f %s" % MODEL).stdout.strip()
    return version, json.loads(testhost.run("cat %s/.openclaw-manifest.json" % version).stdout)["hf"]


def task_result(output, name):
    """The test host's result of the last task called ``name`` (after its role's prefix) in a run's JSON output."""
    plays = json.JSONDecoder().raw_decode(output)[0]["plays"]  # the JSON callback's stdout; stderr follows
    results = [task["hosts"][INSTANCE] for play in plays for task in play["tasks"]
               if task["task"]["name"].endswith(name) and INSTANCE in task["hosts"]]
    return results[-1]


def nothing_holds_the_token(testhost, output):
    assert TOKEN not in output and "Authorization" not in output, "the token is in Ansible's output"
    journal = testhost.run("journalctl --no-pager -o cat").stdout
    assert journal and TOKEN not in journal, "the token is in the host's journal"
    files = testhost.run("grep -rl %s /var/lib/openclaw-vllm /home/vllm /root/.ansible_async /tmp" % TOKEN)
    assert files.stdout == "", "the token is in files on the host: %s" % files.stdout


@pytest.fixture(scope="module")
@run_once
def revision1(testhost, mirror, site):
    gets = len(mirror.file_gets())
    rc, changed, failed = site(mirror.revs["1"])
    return rc, changed, failed, site.output, mirror.file_gets()[gets:]


def test_revision_1_is_fetched_by_its_commit_and_served(testhost, mirror, revision1):
    rc, changed, failed, output, gets = revision1
    assert rc == 0, failed
    assert "openclaw.vllm.awq_model : Start the download of the pinned revision" in changed
    assert sorted(gets) == FETCHED, "only the files vLLM reads, at revision 1: %s" % gets
    version, record = served(testhost)
    assert record == {"repo": REPO, "revision": mirror.revs["1"], "endpoint": mirror.endpoint,
                      "excluded": [".gitattributes", "README.md", "onnx/model.onnx", "pytorch_model.bin"]}
    assert version in testhost.unit_property("ExecStart"), "the unit serves the fetched version"
    assert testhost.chat()["choices"][0]["message"]["content"] is not None
    print("revision 1 (%s) served from %s" % (mirror.revs["1"], version))


def test_the_token_shows_nowhere(testhost, revision1):
    nothing_holds_the_token(testhost, revision1[3])


def test_a_rerun_changes_nothing_and_fetches_nothing(testhost, mirror, site, revision1):
    pid, gets = main_pid(testhost), len(mirror.file_gets())
    rc, changed, failed = site(mirror.revs["1"])
    assert rc == 0, failed
    assert changed == [], changed
    assert mirror.file_gets()[gets:] == []
    assert main_pid(testhost) == pid


def test_a_new_pin_fetches_it_and_the_unit_restarts_on_it(testhost, mirror, site, revision1):
    before, pid, gets = served(testhost)[0], main_pid(testhost), len(mirror.file_gets())
    rc, changed, failed = site(mirror.revs["2"])
    assert rc == 0, failed
    assert sorted(mirror.file_gets()[gets:]) == FETCHED
    assert set(mirror.file_gets(mirror.revs["2"])) == set(FETCHED), "revision 2 only"
    version, record = served(testhost)
    assert record["revision"] == mirror.revs["2"] and version != before
    assert testhost.run("test -d %s" % before).rc == 0, "the version served before stays for a rollback"
    assert main_pid(testhost) not in (0, pid), "the unit restarted"
    assert version in testhost.unit_property("ExecStart")
    assert testhost.chat()["choices"][0]["message"]["content"] is not None
    nothing_holds_the_token(testhost, site.output)


@pytest.mark.parametrize("case", ["wrong revision", "missing repo", "too little disk"])
def test_preflight_refuses_and_what_serves_stays(testhost, mirror, site, revision1, case):
    missing = "0123456789abcdef0123456789abcdef01234567"
    revision, more, expected = {
        "wrong revision": (missing, {}, "revision %s does not exist in %s on %s" % (missing, REPO, mirror.endpoint)),
        "missing repo": (mirror.revs["2"], {"awq_model_hf_repo": "acme/no-such-model"},
                         "repository acme/no-such-model does not exist on %s, or it is private" % mirror.endpoint),
        "too little disk": (mirror.revs["4"], {}, "not enough space for %s at revision %s" % (REPO, mirror.revs["4"])),
    }[case]
    version, pid, gets = served(testhost)[0], main_pid(testhost), len(mirror.file_gets())
    # Only the model's tasks (the stage play's first refusal is the model's preflight either way).
    rc, changed, failed = site(revision, "--tags", "awq_model", **more)
    assert rc != 0
    message = failed[-1]["msg"]
    print("%s: %s" % (case, message))
    assert expected in message
    assert TOKEN not in site.output
    assert mirror.file_gets()[gets:] == [], "no byte was fetched"
    assert served(testhost)[0] == version and main_pid(testhost) == pid
    assert testhost.run("test -e %s" % STAGING).rc != 0, "nothing was staged"
    assert testhost.http("/health", key=False, timeout=5)[0] == 200


# Stage only (the first play of a roll-out): the model version is fetched and kept beside the one
# in use; nothing that serves is touched.
STAGE = """- name: Stage the AWQ model
  hosts: vllm_hosts
  become: true
  gather_facts: false
  tasks:
    - name: Stage the AWQ model
      ansible.builtin.import_role:
        name: openclaw.vllm.awq_model
        tasks_from: stage.yml
"""

# Runs on the test host beside the play: SIGKILLs the download job (as a reboot or the OOM
# killer would) once it is 1 MiB into the big shard, and prints what the progress file said.
KILLER = """
import json, os, signal, sys, time
path, shard = sys.argv[1], sys.argv[2]
deadline = time.time() + 600
while time.time() < deadline:
    try:
        progress = json.load(open(path))
    except (OSError, ValueError):
        progress = {}
    if progress.get("state") == "running" and progress.get("current") == shard:
        small = progress["total_bytes"] - %d - 400
        if progress["done_bytes"] > small + 2**20:
            os.kill(progress["pid"], signal.SIGKILL)
            print(json.dumps(progress))
            break
    time.sleep(0.02)
""" % BIG


def test_an_interrupted_download_resumes(testhost, mirror, site, revision1):
    version, pid = served(testhost)[0], main_pid(testhost)
    stage = site.directory / "stage.yml"
    stage.write_text(STAGE)
    shard2 = mirror.revs["shard2"]
    testhost.run("cat > /tmp/openclaw-kill-download.py <<'EOF'\n%s\nEOF" % KILLER)
    testhost.run("rm -f /tmp/openclaw-killed.json; nohup python3 /tmp/openclaw-kill-download.py %s %s "
                 ">/tmp/openclaw-killed.json 2>&1 &" % (STAGING + ".openclaw-fetch/progress.json", shard2))
    gets = len(mirror.file_gets())
    rc, _, failed = site(mirror.revs["3"], book=str(stage))
    killed = wait_for(lambda: testhost.run("cat /tmp/openclaw-killed.json").stdout.strip(), 10)
    assert killed, "the download was not caught in flight"
    killed = json.loads(killed)
    assert rc != 0, "the killed download fails the run"
    complete = testhost.run("ls %s" % STAGING).stdout.split()
    part = int(testhost.run("stat -c %%s %s.openclaw-fetch/parts/%s.part" % (STAGING, shard2)).stdout or 0)
    assert shard2 not in complete and "model-00001-of-00002.safetensors" in complete and part > 0
    first = mirror.file_gets()[gets:]
    assert served(testhost)[0] == version and main_pid(testhost) == pid, "what serves is untouched"

    rc, changed, failed = site(mirror.revs["3"], book=str(stage))
    assert rc == 0, failed
    again = mirror.file_gets()[gets + len(first):]
    fetched = task_result(site.output, "Collect the result of the download")
    print("killed at %d of %d bytes (%s: %d bytes in its .part); complete then: %s; the second run asked olah "
          "for %s and fetched %d bytes (%s), reused %d bytes (%s)" % (
              killed["done_bytes"], killed["total_bytes"], shard2, part, complete, again, fetched["fetched_bytes"],
              fetched["fetched_files"], fetched["reused_bytes"], fetched["reused_files"]))
    assert again == [shard2], "only the file that was not complete is fetched again"
    assert fetched["fetched_files"] == [shard2] and sorted(fetched["reused_files"]) == sorted(complete)
    # At most the big shard again (olah ignores Range, so its .part starts over; a Hub resumes it).
    assert fetched["fetched_bytes"] <= killed["total_bytes"] - fetched["reused_bytes"] < BIG + 2**20
    staged = testhost.run("ls -d /var/lib/openclaw-vllm/models/.versions/*").stdout.split()
    assert any(json.loads(testhost.run("cat %s/.openclaw-manifest.json" % path).stdout or "{}").get("hf", {})
               .get("revision") == mirror.revs["3"] for path in staged), "revision 3 is staged, complete"
    assert served(testhost)[0] == version and main_pid(testhost) == pid, "staging switched nothing"
    assert testhost.http("/health", key=False, timeout=5)[0] == 200
