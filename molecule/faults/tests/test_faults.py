"""Faults during provisioning lose nothing, on the test host with a real vLLM serving.

The controller (ansible-playbook and its workers, the whole process group) is SIGKILLed at a
random point, as a crash or a closed terminal would, during a model stage, the switch and a venv
build. After each kill the unit serves, whole, what it served before or the new version (the
model and build on its command line are complete: a manifest, a build marker) and answers a
completion; the next run completes with no manual cleanup. Then a disk that fills up while a
model is staged, and a flipped byte in a staged file: refused with the path and the cause, what
serves untouched, no leftovers.

The random points come from OPENCLAW_FAULT_SEED (printed; set it to replay a run). The tests
run in order and share the host."""
import functools
import hashlib
import http.server
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time

import pytest
from siteplay import PLAYBOOK, PROJECT, inventory_for, runner
from testhost import INSTANCE, MODEL, main_pid, wait_for

SEED = int(os.environ.get("OPENCLAW_FAULT_SEED") or time.time())
RNG = random.Random(SEED)
DEMO = os.environ.get("OPENCLAW_DEMO_MODEL", os.path.join(PROJECT, ".cache/tiny-awq-model"))
SMALL_DISK = "/srv/small-disk"  # a 2 MiB tmpfs (.config/molecule/config.yml)


def setup_module():
    print("OPENCLAW_FAULT_SEED=%d" % SEED)


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    return inventory_for(tmp_path_factory.mktemp("inventory"), [INSTANCE])


@pytest.fixture(scope="module")
def site(inventory):
    return runner(inventory, INSTANCE)


@pytest.fixture(scope="module")
def version_b(tmp_path_factory):
    """A second version of the demo model: other weights, same architecture."""
    path = tmp_path_factory.mktemp("models") / "tiny-awq-b"
    subprocess.run([sys.executable, os.path.join(PROJECT, "scripts/make-tiny-awq-model.py"), str(path), "--seed", "7"],
                   check=True, capture_output=True)
    return str(path)


def vars_file(directory, name, settings):
    path = directory / (name + ".json")
    path.write_text(json.dumps(settings))
    return "@%s" % path


def killed_run(inventory, book, extra, phase, count_only, end, pick, delay):
    """Run ``book``; once ``phase`` shows in the output, count the TASK lines that contain
    ``count_only``; at the ``pick``-th (or at ``end``, whichever comes first) wait ``delay``
    seconds and SIGKILL the controller's process group. Returns the line it was killed at."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(PROJECT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_STDOUT_CALLBACK="default", PYTHONUNBUFFERED="1")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    proc = subprocess.Popen([PLAYBOOK, "-i", str(inventory), os.path.join(PROJECT, book), *extra], cwd=PROJECT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    seen, count, at, output = False, 0, None, []
    for line in proc.stdout:
        output.append(line)
        seen = seen or phase in line
        if seen and (line.startswith("TASK [") and count_only in line or end in line):
            if count == pick or end in line:
                time.sleep(delay)
                os.killpg(proc.pid, signal.SIGKILL)
                at = line.strip().rstrip("*").strip()
                break
            count += 1
    proc.stdout.close()
    proc.wait(60)
    assert at, "the run ended before the kill point:\n" + "".join(output[-40:])
    print("killed (seed %d) %.2f s after %s" % (SEED, delay, at))
    return at


# What runs a module on the host: a copied AnsiballZ_<module>.py, or (pipelined, as the test
# hosts' connection does) `/bin/sh -c '<python> && sleep 0'` reading it from stdin. The brackets
# keep pgrep's own command line from matching.
MODULE_PROCESSES = "AnsiballZ[_]|&& sleep [0]"


def leftovers_end(testhost):
    """What the killed controller had started on the host (a podman exec outlives its client, as
    a remote command can outlive an ssh session) runs to its end first: a new run must not race it."""
    assert wait_for(lambda: testhost.run("pgrep -f %s" % shlex.quote(MODULE_PROCESSES)).rc != 0, 300), \
        "the killed run's modules never ended"


def serving(testhost):
    """(model, build) on the running vLLM's command line."""
    argv = testhost.run("cat /proc/%d/cmdline" % main_pid(testhost)).stdout.split("\0")
    serve = argv.index("serve")  # [<build>/bin/python] <build>/bin/vllm serve <model> ...
    return argv[serve + 1], os.path.dirname(os.path.dirname(argv[serve - 1]))


def assert_whole(testhost, models):
    """The unit serves (again, if the kill landed in its restart) a model in ``models`` and a
    complete build, and answers a completion."""
    assert wait_for(lambda: testhost.unit_property("ActiveState") == "active"
                    and testhost.http("/health", key=False, timeout=5)[0] == 200, 300), "the unit does not serve"
    model, build = serving(testhost)
    assert model in models, "serves %s, neither of %s" % (model, models)
    assert testhost.run("test -f %s/.openclaw-manifest.json" % model).rc == 0, "a model without its manifest"
    assert testhost.run("test -f %s/.openclaw-build.json" % build).rc == 0, "a build without its marker"
    link = testhost.run("readlink -f %s" % MODEL).stdout.strip()
    assert testhost.run("test -f %s/.openclaw-manifest.json" % link).rc == 0, "the model link is half-switched"
    assert testhost.chat()["choices"]
    return model


def version_of(testhost):
    return testhost.run("readlink -f %s" % MODEL).stdout.strip()


def test_a_flipped_byte_in_a_staged_file_is_a_sha256_mismatch_naming_it(testhost, site, inventory, tmp_path):
    model, pid = version_of(testhost), main_pid(testhost)
    flipped = tmp_path / "flipped"
    shutil.copytree(DEMO, flipped)
    data = bytearray((flipped / "model.safetensors").read_bytes())
    digest = hashlib.sha256(data).hexdigest()
    data[-1000] ^= 0x01  # in the tensors, not the header
    (flipped / "model.safetensors").write_bytes(bytes(data))
    rc, _, failed = site("-e", vars_file(tmp_path, "flipped", {
        "awq_model_local_path": str(flipped), "awq_model_sha256": {"model.safetensors": digest}}),
        "--tags", "awq_model")
    assert rc != 0
    message = failed[-1]["msg"]
    print(message)
    assert "/var/lib/openclaw-vllm/models/.staging-tiny-awq/model.safetensors: sha256 mismatch, expected %s, got %s" % (
        digest, hashlib.sha256(data).hexdigest()) in message
    assert version_of(testhost) == model and main_pid(testhost) == pid
    assert testhost.run("ls -a /var/lib/openclaw-vllm/models | grep -c staging").stdout.strip() == "0"


def test_a_rollout_killed_in_the_model_stage_then_in_the_switch_then_completes(testhost, inventory, site, version_b,
                                                                            tmp_path):
    a = version_of(testhost)
    to_b = ["-e", "awq_model_local_path=" + version_b]
    # 1. At a random task of the model's stage (the venv's is a marker check: nothing to build).
    killed_run(inventory, "site.yml", to_b, "PLAY [Stage", "awq_model :", "PLAY [Switch", RNG.randrange(28),
               RNG.uniform(0, 0.8))
    leftovers_end(testhost)
    assert assert_whole(testhost, [a]) == a, "a killed stage changes nothing that serves"
    # 2. At a random task of the switch: links, unit, restart, gate.
    killed_run(inventory, "site.yml", to_b, "PLAY [Switch", "", "PLAY RECAP", RNG.randrange(56), RNG.uniform(0, 1.5))
    leftovers_end(testhost)
    b_versions = testhost.run("ls -d /var/lib/openclaw-vllm/models/.versions/*").stdout.split()
    after_kill = assert_whole(testhost, [a] + b_versions)
    # 3. The next run completes.
    rc, _, failed = site(*to_b)
    assert rc == 0, failed
    b = assert_whole(testhost, b_versions)
    assert b != a and version_of(testhost) == b
    print("served after the kill in the switch: %s; after the next run: %s (before: %s)" % (
        "the new version" if after_kill != a else "the old version", b, a))


STAGE_VENV = """- name: Stage the vLLM virtualenv
  hosts: vllm_hosts
  become: true
  gather_facts: false
  tasks:
    - name: Stage the vLLM virtualenv
      ansible.builtin.import_role:
        name: openclaw.vllm.vllm_venv
        tasks_from: stage.yml
"""


def test_a_venv_build_killed_midway_serves_on_and_the_next_run_builds_it(testhost, inventory, site, tmp_path):
    model, build = serving(testhost)
    pid = main_pid(testhost)
    book = tmp_path / "stage-venv.yml"
    book.write_text(STAGE_VENV)
    # Another package list: another build id, so a real build (pip from the wheelhouse).
    extra = ["-e", vars_file(tmp_path, "venv", {"vllm_venv_extra_packages": ["astor"]})]
    killed_run(inventory, str(book), extra, "vllm_venv : Install", "", "PLAY RECAP", 0, RNG.uniform(1, 40))
    leftovers_end(testhost)
    assert serving(testhost) == (model, build) and main_pid(testhost) == pid, "a killed build changes nothing"
    rc, _, failed = site(*extra, book=str(book))
    assert rc == 0, failed
    builds = testhost.run("ls -d /opt/openclaw-vllm/builds/*").stdout.split()
    new = [path for path in builds if path != build and "astor" in testhost.run(
        "cat %s/.openclaw-build.json" % path).stdout]
    assert new and testhost.run("%s/bin/python -c 'import vllm, astor'" % new[0]).rc == 0, builds
    assert serving(testhost) == (model, build) and main_pid(testhost) == pid


@pytest.fixture
def archive_server(testhost, tmp_path):
    """An HTTP server on the controller, reachable from the host (host.containers.internal)."""
    address = testhost.run("getent ahostsv4 host.containers.internal").stdout.split()[0]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer((address, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://host.containers.internal:%d" % server.server_address[1]
    server.shutdown()


def test_a_disk_that_fills_up_while_staging_names_path_and_need(testhost, site, tmp_path, archive_server):
    small = {"awq_model_root": SMALL_DISK, "awq_model_min_free_gb": 0}
    rc, _, failed = site("-e", vars_file(tmp_path, "small", small))
    assert rc == 0, failed
    model = assert_whole(testhost, [SMALL_DISK + "/.versions/" + os.path.basename(
        testhost.run("readlink -f %s/tiny-awq" % SMALL_DISK).stdout.strip())])
    pid = main_pid(testhost)
    bigger = tmp_path / "tiny-awq"
    shutil.copytree(DEMO, bigger)
    (bigger / "extra.safetensors.bak").write_bytes(os.urandom(3 * 2**20))
    with tarfile.open(tmp_path / "bigger.tar.gz", "w:gz") as tar:
        tar.add(bigger, arcname="tiny-awq")
    sha256 = hashlib.sha256((tmp_path / "bigger.tar.gz").read_bytes()).hexdigest()
    rc, _, failed = site("-e", vars_file(tmp_path, "bigger", {
        **small, "awq_model_source": "url", "awq_model_url": archive_server + "/bigger.tar.gz",
        "awq_model_url_sha256": sha256, "awq_model_url_subdir": "tiny-awq"}))
    assert rc != 0
    message = failed[-1]["msg"]
    print(message)
    assert "The disk under %s" % SMALL_DISK in message and "No space left on device" in message
    assert "The model in use at %s/tiny-awq was not touched" % SMALL_DISK in message
    assert serving(testhost)[0] == model and main_pid(testhost) == pid
    left = testhost.run("ls -A %s" % SMALL_DISK).stdout.split()
    assert not [name for name in left if name.startswith((".staging", ".download"))], left
    assert testhost.http("/health", key=False, timeout=5)[0] == 200
