"""The fleet (issue 7 §7): three test hosts provisioned by site.yml in batches of 1, then a roll-out
of a second model version driven from the controller, as an operator would run it.

The tests run in file order and build on each other (one module, one fleet):
  0. all three hosts serve a completion on v1, from the venv the fleet image brought;
  a. site.yml -e fleet_model_version=v2 -e openclaw_serial=1: host 1 switches to v2, host 2 (its
     "v2" is the faulty copy, see host_vars/openclaw-fleet-2.yml) fails the gate, rolls back to v1
     by itself and fails the play naming itself and the rollback, host 3 is never touched;
  b. status.yml shows exactly that state (table and JSON);
  c. rollback.yml --limit openclaw-fleet-1 puts host 1 back on v1, healthy;
  c2. a squatter (another user) takes host 1's port in the restart window of a second roll-out:
     host 1 fails at once naming it, no rollback, hosts 2 and 3 untouched, status shows it held;
  d. with openclaw-fleet-3 stopped, status.yml reports it unreachable and the others still report.

What each test drives:
  - test 0 and the converge/idempotence steps: site.yml;
  - a: the stage/switch roll-out with automatic rollback (vllm_service's gate + rollback) and
    its failure message ("rolled back" for host 2);
  - b, d: status.yml / openclaw.vllm.status and its JSON (openclaw_status_json; the keys are
    those playbooks/status.yml documents), each column checked against the host itself;
  - c: rollback.yml / openclaw.vllm.rollback.
The playbooks run with the same inventory and environment as molecule's converge (the verifier
inherits the provisioner's environment: ANSIBLE_CONFIG, collections path, model paths).
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import pytest
from testhost import connect, wait_for

HOSTS = os.environ.get("OPENCLAW_FLEET_HOSTS", "openclaw-fleet-1 openclaw-fleet-2 openclaw-fleet-3").split()
H1, H2, H3 = HOSTS
PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
FLEET_IMAGE = "localhost/openclaw-testhost:fleet"
BUILDS = "/opt/openclaw-vllm/builds"
# The versions on the controller, as the inventory maps them (group_vars/vllm_hosts/10-fleet.yml).
MODELS = {
    "v1": os.environ.get("OPENCLAW_DEMO_MODEL", os.path.join(PROJECT, ".cache/tiny-awq-model")),
    "v2": os.environ.get("OPENCLAW_FLEET_MODEL_V2", os.path.join(PROJECT, ".cache/tiny-awq-model-v2")),
    "v2-fault": os.environ.get("OPENCLAW_FLEET_MODEL_V2_FAULT", os.path.join(PROJECT, ".cache/tiny-awq-model-v2-fault")),
}
FINGERPRINTED = ("model.safetensors", "config.json")  # v1/v2 differ in weights, v2/fault in config
BEFORE = {}  # what the hosts looked like before the roll-out (test 0 fills it)
SERVICE_USER = "vllm"  # vllm_service_user's default; the unit's owner, neither root nor the admin
# A key no host accepts (scripts/test-ssh-key.sh), beside the admins' key.
OTHER_KEY = os.path.join(os.path.dirname(os.environ.get("OPENCLAW_TEST_SSH_KEY", os.path.join(
    PROJECT, ".cache/ssh/id_ed25519"))), "other_ed25519")


@pytest.fixture(scope="module")
def fleet():
    hosts = {}
    for name in HOSTS:
        hosts[name] = connect(name)
        hosts[name].name = name
    return hosts


def fingerprint(files):
    return tuple(hashlib.sha256(files[name]).hexdigest() for name in FINGERPRINTED)


def controller_versions():
    versions = {}
    for label, path in MODELS.items():
        files = {}
        for name in FINGERPRINTED:
            with open(os.path.join(path, name), "rb") as handle:
                files[name] = handle.read()
        versions[fingerprint(files)] = label
    return versions


def serving(host):
    """What the running service serves: {pid, model (the real path of the model vLLM was started
    with), version (v1, v2, v2-fault or the digests of an unknown one), build}. None when no
    process runs."""
    pid = int(host.unit_property("MainPID") or 0)
    if not pid:
        return None
    argv = host.run("cat /proc/%d/cmdline" % pid).stdout.split("\0")
    if "serve" not in argv:
        return {"pid": pid, "argv": argv, "model": None, "version": None}
    model = host.run("readlink -f %s" % argv[argv.index("serve") + 1]).stdout.strip()
    digests = tuple(host.run("sha256sum %s/%s" % (model, name)).stdout.split(" ", 1)[0] for name in FINGERPRINTED)
    version = controller_versions().get(digests, "unknown %s" % (digests,))
    return {"pid": pid, "model": model, "version": version, "build": argv[1].rsplit("/bin/", 1)[0] if len(argv) > 1 else None}


def answers(host):
    """/health and a real completion (a 200 from /health alone proves nothing on CPU)."""
    assert host.wait_healthy(timeout=120), "%s: /health never answered 200" % host.name
    reply = host.chat()
    assert reply["choices"][0]["message"]["content"] is not None
    return reply


def playbook(name, *args, timeout=2400, env=None, meanwhile=None):
    """ansible-playbook NAME from the project root, with molecule's inventory and environment
    (and ENV's variables over it). MEANWHILE, if given, is called while it runs (a fault to
    inject); the run is killed should MEANWHILE raise or the run outlast TIMEOUT."""
    cmd = [ANSIBLE_PLAYBOOK, "-i", os.path.join(EPHEMERAL, "inventory"), os.path.join(PROJECT, name), *args]
    # Plain text to parse: molecule's environment forces colours.
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", **(env or {}))
    started = time.monotonic()
    # Files, not pipes: a run that writes while MEANWHILE waits must not stall on a full pipe.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=PROJECT, env=env, stdout=out, stderr=err, text=True)
        try:
            if meanwhile:
                meanwhile()
            returncode = proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        output = re.sub(r"\x1b\[[0-9;]*m", "", out.read() + err.read())
    recap = output[output.rfind("PLAY RECAP"):] if "PLAY RECAP" in output else output[-3000:]
    failures = "".join(text[:3000] for text in fatal_sections(output).values())
    print("$ %s\n(rc=%d, %.0f s)\n%s\n%s" % (" ".join(cmd), returncode, time.monotonic() - started, failures, recap))
    return returncode, output


def fatal_sections(output):
    """{host: text} of each `fatal: [host]: ...` block in ansible-playbook's output."""
    sections = {}
    for match in re.finditer(r"^fatal: \[([^\]]+)\]:.*?(?=^(?:fatal: |TASK |PLAY |RUNNING HANDLER)|\Z)", output, re.M | re.S):
        sections[match.group(1)] = sections.get(match.group(1), "") + match.group(0)
    return sections


def status_json(tmp_path_factory, *args, env=None):
    path = str(tmp_path_factory.mktemp("status") / "status.json")
    rc, output = playbook("status.yml", "-e", "openclaw_status_json=" + path, *args, timeout=600, env=env)
    assert os.path.isfile(path), "status.yml wrote no JSON (rc=%d)" % rc
    with open(path, encoding="utf-8") as handle:
        return rc, output, json.load(handle)


def row_version(row):
    """The model version a status row names (served.model.version; playbooks/status.yml documents the JSON)."""
    return ((row.get("served") or {}).get("model") or {}).get("version")


def row_healthy(row):
    """Whether a status row says our service is up: the unit holds the port and /health answered
    (healthy; playbooks/status.yml documents the JSON). health.ok alone believes any answer."""
    return row.get("healthy")


# --- 0. provisioned from bare in batches of 1 (converge, idempotence) --------------------------

def test_all_three_hosts_serve_v1_from_the_image_build(fleet):
    image_build = subprocess.run(["podman", "image", "inspect", "--format",
                                  '{{index .Labels "org.openclaw.fleet.build"}}', FLEET_IMAGE],
                                 capture_output=True, text=True).stdout.strip()
    for name, host in fleet.items():
        assert host.systemctl("is-active", "openclaw-vllm.service").stdout.strip() == "active", name
        answers(host)
        now = serving(host)
        assert now and now["version"] == "v1", (name, now)
        # One venv build per host image: the hosts used the image's build, built none of their own.
        builds = host.run("ls %s" % BUILDS).stdout.split()
        assert builds == [image_build], (name, builds, image_build)
        assert now["build"] and host.run("readlink -f %s" % now["build"]).stdout.strip() == BUILDS + "/" + image_build
        BEFORE[name] = {
            "active_enter": host.unit_property("ActiveEnterTimestamp"),
            "serving": now,
        }
    load = fleet[H1].run("cat /proc/loadavg").stdout.strip()
    mem = fleet[H1].run("free -m | sed -n 2p").stdout.split()
    print("three vLLMs idle: loadavg %s, memory used %s MiB of %s MiB" % (load, mem[2], mem[1]))


def test_0b_reached_over_ssh_as_a_non_root_admin_with_sudo(fleet):
    """Every host was provisioned over ssh as ocadmin with its key (not as root, not through
    podman), and became root and the service user through sudo (molecule/shared/vars/ssh.yml)."""
    for name, host in fleet.items():
        assert host.ssh_logins() == {"ocadmin"}, name
        assert host.became("ocadmin") == {"root", SERVICE_USER}, (name, host.sudo_lines()[-5:])


def test_0c_with_pipelining_off_a_rerun_changes_nothing(fleet):
    """Pipelining off (ansible.cfg ships it on): each module is a file in the admin's temporary
    directory, and become to the unprivileged service user reads it through a POSIX ACL (setfacl,
    which vllm_service installs: vllm_service_become_packages)."""
    host = fleet[H3]
    before = len(host.sudo_lines())
    rc, output = playbook("site.yml", "--limit", H3, env={"ANSIBLE_PIPELINING": "False"}, timeout=900)
    assert rc == 0, output[-3000:]
    assert re.search(r"%s\s*:\s*ok=\d+\s+changed=0\s+unreachable=0\s+failed=0" % re.escape(H3), output), output[-2000:]
    # Not pipelined: the service user ran module files from the admin's temporary directory.
    ran = [line for line in host.sudo_lines()[before:] if "USER=%s ;" % SERVICE_USER in line]
    assert ran and all("AnsiballZ_" in line for line in ran), ran[:3]
    # setfacl came from the role (the image has no acl): vllm_service_become_packages.
    history = host.run("cat /var/log/apt/history.log").stdout
    assert re.search(r"^Install: (.*, )?acl:", history, re.M), history[-1500:]


# --- a. roll out v2 with serial 1: canary ok, host 2 rolls back, host 3 untouched --------------

def test_a_rollout_v2_host2_rolls_back_host3_untouched(fleet):
    assert BEFORE, "test 0 did not record the fleet's state"
    rc, output = playbook("site.yml", "-e", "fleet_model_version=v2", "-e", "openclaw_serial=1")
    assert rc != 0, "the roll-out must fail: host 2's v2 cannot be loaded"
    fatal = fatal_sections(output)

    # Host 1 switched and is healthy on v2.
    assert H1 not in fatal, fatal.get(H1)
    now = serving(fleet[H1])
    assert now and now["version"] == "v2", now
    answers(fleet[H1])

    # Host 2 rolled back by itself and answers on v1; the play names it and says so.
    assert H2 in fatal, "no failure reported for %s:\n%s" % (H2, output[-4000:])
    # "rolled back: it serves again what it served before" (not "Not rolled back: ...").
    assert re.search(r"(?<!not )rolled back", fatal[H2], re.I), fatal[H2]
    assert "not rolled back" not in fatal[H2].lower(), fatal[H2]
    now = serving(fleet[H2])
    assert now and now["version"] == "v1", now
    assert now["model"] == BEFORE[H2]["serving"]["model"], (now, BEFORE[H2])
    answers(fleet[H2])
    # Which gate failed and why: the unit stopped while vLLM loaded, and vLLM's own root cause
    # (the weight loader's shape error for the faulty MLP), not the wrappers that re-raise it.
    message = " ".join(fatal[H2].split())
    assert "failed its gate: Require /health: the unit stopped before /health answered" in message, message
    assert re.search(r"vLLM's error: \S* ?RuntimeError: start \(0\) \+ length \(\d+\) exceeds dimension size "
                     r"\(\d+\)", message), message

    # Host 3 was never touched: still v1, same process, same start.
    assert H3 not in fatal, fatal.get(H3)
    now = serving(fleet[H3])
    assert now == BEFORE[H3]["serving"], (now, BEFORE[H3])
    assert fleet[H3].unit_property("ActiveEnterTimestamp") == BEFORE[H3]["active_enter"]
    answers(fleet[H3])


# --- b. the fleet status shows that state ------------------------------------------------------

def test_b_status_shows_the_rollout(fleet, tmp_path_factory):
    rc, output, doc = status_json(tmp_path_factory)
    assert rc == 0, output[-3000:]
    rows = doc["hosts"]
    assert sorted(rows) == sorted(HOSTS), rows.keys()
    for name in HOSTS:
        row = rows[name]
        assert row["reachable"] is True and not row.get("error"), (name, row)
        assert row_healthy(row) is True, (name, row)
        # The version the host really serves (the real path of its model: <name>-<12 hex>).
        assert row_version(row) == os.path.basename(serving(fleet[name])["model"]), (name, row)
        assert name in output  # one row per host in the table
    assert row_version(rows[H1]) != row_version(rows[H2]) == row_version(rows[H3])
    # The other columns, against what each host's systemd, /proc and journal say.
    for name in HOSTS:
        row, now = rows[name], serving(fleet[name])
        assert (row["unit"]["ActiveState"], row["unit"]["SubState"]) == ("active", "running"), (name, row["unit"])
        assert str(row["unit"]["NRestarts"]) == fleet[name].unit_property("NRestarts"), (name, row["unit"])
        assert row["served"]["pid"] == now["pid"], (name, row["served"], now)
        assert row["served"]["build"]["id"] == os.path.basename(now["build"]), (name, row["served"], now)
        assert row["guard"]["event"].startswith("VLLM_"), (name, row["guard"])
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", row["guard"]["time"]), (name, row["guard"])
        # Its row of the table (not its PLAY RECAP line, "<name>   : ok=...").
        cells = [line.strip().strip('",') for line in output.splitlines()
                 if re.match(r"^%s\s+[^\s:]" % re.escape(name), line.strip().strip('"'))]
        assert len(cells) == 1, (name, output[-3000:])
        for text in ("active/running", row_version(row), row["served"]["build"]["id"], row["guard"]["event"]):
            assert text in cells[0], (name, text, cells[0])
    for column in ("HOST", "UNIT", "RESTARTS", "HEALTH", "MODEL", "VLLM", "PORT", "LAST GUARD EVENT", "GPU MEM"):
        assert column in output, column


# --- c. rollback on demand: host 1 back to v1 --------------------------------------------------

def test_c_rollback_host1_to_v1(fleet):
    rc, output = playbook("rollback.yml", "--limit", H1)
    assert rc == 0, output[-4000:]
    now = serving(fleet[H1])
    assert now and now["version"] == "v1", now
    assert now["model"] == BEFORE[H1]["serving"]["model"], (now, BEFORE[H1])
    answers(fleet[H1])


# --- c2. a canary whose port is squatted during its switch -------------------------------------

HINT = ("HINT: vLLM blocked \u2014 port 8001 held by unknown process (pid={pid}, cmd=\"{cmd}\"). "
        "Stop it or free :8001, then restart openclaw-vllm.service.")


def test_c2_a_squatted_canary_fails_naming_the_holder_others_untouched(fleet, tmp_path_factory):
    """Another user's process (molecule/shared/squatter.py, as nobody) waits for host 1's port and
    takes it in the restart window of its switch to v2, then answers 200 to everything. The roll-out
    fails for host 1 at once, naming the squatter, without a rollback; hosts 2 and 3 are untouched;
    the key never reaches the squatter; status.yml shows host 1 held. Then host 1 converges back."""
    before = {name: (fleet[name].unit_property("ActiveEnterTimestamp"), serving(fleet[name])) for name in (H2, H3)}
    command = fleet[H1].start_squatter()
    rc, output = playbook("site.yml", "-e", "fleet_model_version=v2", "-e", "openclaw_serial=1")
    fatal = fatal_sections(output)
    pid = fleet[H1].squatter_pid()
    try:
        assert rc != 0 and pid, (rc, pid, output[-3000:])
        message = " ".join(fatal.get(H1, "").split())
        assert ("failed its gate: Require /health: port 8001 is held by an unknown process pid=%d uid=65534" % pid
                in message), message
        assert "Cause: " + HINT.format(pid=pid, cmd=command) in message, message
        assert "Not rolled back: the cause is not the new version" in message, message
        assert [hit for hit in fleet[H1].squatter_heard() if hit["auth"]] == []
        for name in (H2, H3):
            assert name not in fatal, fatal.get(name)
            assert (fleet[name].unit_property("ActiveEnterTimestamp"), serving(fleet[name])) == before[name], name
        status_rc, status_output, doc = status_json(tmp_path_factory)
        row = doc["hosts"][H1]
        assert status_rc == 0 and row_healthy(row) is False and row["health"]["ok"] is True, row
        assert row["hint"] == HINT.format(pid=pid, cmd=command), row
        assert re.search(r"%s\s.*held, not ours.*unknown pid=%d" % (re.escape(H1), pid), status_output), \
            status_output[-3000:]
    finally:
        fleet[H1].stop_squatter()
    rc, output = playbook("site.yml", "--limit", H1)
    assert rc == 0, output[-4000:]
    now = serving(fleet[H1])
    assert now and now["version"] == "v1", now
    answers(fleet[H1])


# --- c3. a canary whose ssh drops in the middle of its switch ----------------------------------

def test_c3_a_host_that_drops_mid_switch_is_named_and_rolls_back_on_demand(fleet, tmp_path_factory):
    """Host 1's sshd goes away (listener stopped, sessions killed) once its switch has restarted
    the unit on v2: Ansible can run neither the gate nor a rollback there (rescue does not run for
    an unreachable host). The run fails naming host 1 unreachable and status.yml says so; once ssh
    is back, status shows what host 1 serves and rollback.yml returns it to v1."""
    host = fleet[H1]
    assert serving(host)["version"] == "v1"

    def drop_once_switched():
        assert wait_for(lambda: (serving(host) or {}).get("version") == "v2", timeout=600), "host 1 never switched"
        host.run("systemctl stop ssh.service && pkill -KILL -f '^sshd: ocadmin'")

    # New ssh masters, so that the run and status.yml meet the dropped sshd, not a live master.
    fresh = {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path_factory.mktemp("cp"))}
    no_retries = ["--limit", H1, "-e", "ansible_ssh_retries=0"]
    try:
        rc, output = playbook("site.yml", *no_retries, "-e", "fleet_model_version=v2", env=fresh,
                              meanwhile=drop_once_switched, timeout=900)
        assert rc != 0 and "Traceback" not in output, output[-3000:]
        assert re.search(r"^fatal: \[%s\]: UNREACHABLE!" % re.escape(H1), output, re.M), output[-3000:]
        status_rc, _, doc = status_json(tmp_path_factory, *no_retries, env=fresh)
        assert status_rc == 0 and doc["hosts"][H1]["reachable"] is False, doc["hosts"][H1]
    finally:
        host.run("systemctl start ssh.service")
    status_rc, _, doc = status_json(tmp_path_factory, "--limit", H1)
    assert status_rc == 0 and row_version(doc["hosts"][H1]) == serving(host)["model"].rsplit("/", 1)[1], doc["hosts"][H1]
    rc, output = playbook("rollback.yml", "--limit", H1)
    assert rc == 0, output[-4000:]
    now = serving(host)
    assert now and now["version"] == "v1", now
    answers(host)


# --- d. a stopped host is a row that says so; the others still report -------------------------

def test_d_status_with_host3_stopped(fleet, tmp_path_factory):
    stop = subprocess.run(["podman", "stop", "--time", "20", H3], capture_output=True, text=True)
    assert stop.returncode == 0, stop.stderr
    rc, output, doc = status_json(tmp_path_factory)
    rows = doc["hosts"]
    assert rows[H3]["reachable"] is False, rows[H3]
    assert rows[H3].get("error"), rows[H3]
    assert re.search(r"%s.*unreachable" % re.escape(H3), output, re.I), output[-3000:]
    for name in (H1, H2):
        assert rows[name]["reachable"] is True and row_healthy(rows[name]) is True, (name, rows[name])
    # The report was made: exit 0, and the unreachable host is a row (playbooks/status.yml).
    assert rc == 0, output[-3000:]


# --- e. how ssh and sudo fail: a clear line naming the host and why, no traceback -------------
# (on host 1; ansible_ssh_retries=0: the ssh connection retries these failures too, a refused key
# and a sudo password prompt alike, adding 26 s of back-off per run for the inventory's 5 retries)

def test_e_a_refused_key_is_an_unreachable_row_and_a_failed_run_naming_it(fleet, tmp_path_factory):
    pid = serving(fleet[H1])["pid"]
    wrong = ["--limit", H1, "-e", "ansible_ssh_private_key_file=" + OTHER_KEY, "-e", "ansible_ssh_retries=0"]
    # New ssh masters: one the earlier runs left (ControlPersist) would carry on without the key.
    fresh = {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path_factory.mktemp("cp"))}
    rc, output, doc = status_json(tmp_path_factory, *wrong, env=fresh)
    row = doc["hosts"][H1]
    assert rc == 0 and row["reachable"] is False and "Permission denied (publickey" in row["error"], row
    assert re.search(r"%s.*unreachable.*Permission denied" % re.escape(H1), output), output[-3000:]
    rc, output = playbook("site.yml", *wrong, timeout=600, env=fresh)
    assert rc != 0 and "Traceback" not in output, output[-3000:]
    # (one line: the YAML callback folds long messages)
    assert re.search(r"fatal: \[%s\]: UNREACHABLE!.*Permission denied \(publickey" % re.escape(H1), " ".join(output.split())), output[-3000:]
    assert serving(fleet[H1])["pid"] == pid, "an unreachable run touches nothing"


def test_e2_sudo_that_asks_a_password_fails_naming_it(fleet, tmp_path_factory):
    pid = serving(fleet[H1])["pid"]
    # ocpasswd may sudo, with a password the run does not have (no ansible_become_password).
    asks = ["--limit", H1, "-e", "ansible_user=ocpasswd", "-e", "ansible_ssh_retries=0"]
    rc, output = playbook("site.yml", *asks, timeout=600)
    assert rc != 0 and "Traceback" not in output, output[-3000:]
    assert re.search(r"fatal: \[%s\]: FAILED!.*Missing sudo password" % re.escape(H1), " ".join(output.split())), output[-3000:]
    rc, output, doc = status_json(tmp_path_factory, *asks)
    row = doc["hosts"][H1]
    assert rc == 0 and row["reachable"] is True and "Missing sudo password" in (row["error"] or ""), row
    assert serving(fleet[H1])["pid"] == pid
