"""The hf model source end to end, for real on this machine: the awq_model role against olah, a
self-hosted Hub mirror from PyPI, serving a local git repository at its real commit hashes
(awq_model_hf_endpoint, as a private mirror is used)."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from helpers.ansible_runs import run_role
from helpers.hf_mirror import Mirror, REPO, ensure_olah
from helpers.paths import ANSIBLE_PLAYBOOK, ROOT


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths; mounts a tmpfs"),
]
TOKEN = "hf_TestTokenThatMustNeverShow4242"
BIG = 32 * 2**20  # the second shard of revision 3: about 2 s through olah here, long enough to interrupt
FETCHED = {"config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json",
           "tokenizer.json", "tokenizer_config.json"}


@pytest.fixture(scope="module")
def hf_mirror(tiny_model, tmp_path_factory):
    ensure_olah()
    mirror = Mirror(tmp_path_factory.mktemp("olah"), tiny_model, BIG).start()
    yield mirror
    mirror.stop()


def hf_vars(tmp_path, mirror, revision, root=None, **more):
    return {"awq_model_root": str(root or tmp_path / "models"), "awq_model_name": "tiny", "awq_model_source": "hf",
            "awq_model_hf_repo": REPO, "awq_model_hf_revision": revision, "awq_model_hf_endpoint": mirror.endpoint,
            "awq_model_min_free_gb": 0, "awq_model_hf_progress_interval": 1, **more}


def play_cmd(tmp_path, extra_vars, *options):
    play = tmp_path / "play-hf.yml"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                 "roles": [{"role": "openclaw.vllm.awq_model"}]}]))
    # In a file, as an inventory or vault holds the token: not on this command line.
    settings = tmp_path / "vars-hf.json"
    settings.write_text(json.dumps(extra_vars))
    settings.chmod(0o600)
    return [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
            "-e", "@%s" % settings, *options, str(play)]


class TokenWatch(threading.Thread):
    """Reads every process's argv and environment (what ps shows, and more) until stopped."""

    def __init__(self, token):
        super().__init__(daemon=True)
        self.token = token.encode()
        self.seen = []
        self.scans = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    for part in ("cmdline", "environ"):
                        try:
                            with open("/proc/%s/%s" % (pid, part), "rb") as handle:
                                if self.token in handle.read():
                                    self.seen.append((pid, part))
                        except OSError:
                            pass
            self.scans += 1
            time.sleep(0.02)

    def stop(self):
        self.stopped.set()
        self.join()


def files_holding(root, needle):
    found = []
    for base, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            try:
                with open(path, "rb") as handle:
                    if needle.encode() in handle.read():
                        found.append(path)
            except OSError:
                pass
    return found


def result_of(results, name):
    return [result for task, result in results if task.endswith(name)][-1]


def kill_in_flight(tmp_path, settings, models, shard2):
    """Run the role; SIGKILL its download job (as a reboot or the OOM killer would) mid-way through shard2."""
    progress_file = models / ".staging-tiny.openclaw-fetch" / "progress.json"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.Popen(play_cmd(tmp_path, settings), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seen, killed = [], None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            progress = json.loads(progress_file.read_text())
        except (OSError, ValueError):
            progress = {}
        if progress.get("state") == "running" and progress.get("revision") == settings["awq_model_hf_revision"]:
            seen.append((progress["done_bytes"], progress["total_bytes"]))
            small = progress["total_bytes"] - BIG - 400
            if progress.get("current") == shard2 and progress["done_bytes"] > small + 2**20:
                os.kill(progress["pid"], signal.SIGKILL)
                killed = progress
        time.sleep(0.02)
    output = proc.communicate(timeout=120)[0]
    assert killed, "the download was not caught in flight: %s\n%s" % (seen[-5:], output[-3000:])
    assert proc.returncode != 0
    return killed


def test_pinned_fetch_rerun_interrupted_new_pin_resumes_and_switches(hf_mirror, tmp_path):
    models = tmp_path / "models"
    link = models / "tiny"
    watch = TokenWatch(TOKEN)
    watch.start()
    try:
        # The first run, as an operator sees it (default output, -vvv: every command Ansible runs).
        proc = subprocess.run(play_cmd(tmp_path, hf_vars(tmp_path, hf_mirror, hf_mirror.revs["1"],
                                                         awq_model_hf_token=TOKEN), "-vvv"),
                              cwd=ROOT, capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")))
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-4000:]
        assert re.search(r"acme/tiny-awq@%s: \d+\.\d KiB of \d+\.\d KiB \(100%%\), 6 of 6 files, done"
                         % hf_mirror.revs["1"][:12], output), "the progress line of the download"
        assert TOKEN not in output
        assert "Authorization" not in output
    finally:
        watch.stop()
    assert watch.scans > 20 and watch.seen == [], "the token is in no process's argv or environment"

    manifest = json.loads((link / ".openclaw-manifest.json").read_text())
    assert manifest["hf"] == {"repo": REPO, "revision": hf_mirror.revs["1"], "endpoint": hf_mirror.endpoint,
                              "excluded": [".gitattributes", "README.md", "onnx/model.onnx", "pytorch_model.bin"]}
    assert set(os.listdir(link)) == FETCHED | {".openclaw-manifest.json"}
    assert sorted(hf_mirror.file_gets(hf_mirror.revs["1"])) == sorted(FETCHED), \
        "only the files vLLM reads were fetched (no pytorch_model.bin, onnx, README)"
    assert files_holding(models, TOKEN) == [] and files_holding(os.path.expanduser("~/.ansible_async"), TOKEN) == []
    assert not list(models.glob(".staging-*")), "staging and its bookkeeping are gone"

    # A re-run asks nothing and fetches nothing.
    gets = len(hf_mirror.file_gets())
    rc, failed, _, stats = run_role(tmp_path, "awq_model", hf_vars(tmp_path, hf_mirror, hf_mirror.revs["1"]))
    assert rc == 0 and stats["changed"] == 0, failed
    assert len(hf_mirror.file_gets()) == gets

    # A new pin (two shards, the second of 32 MiB), its download killed mid-way: the model in use stays.
    serving = os.path.realpath(link)
    shard2 = hf_mirror.revs["shard2"]
    settings = hf_vars(tmp_path, hf_mirror, hf_mirror.revs["3"])
    killed = kill_in_flight(tmp_path, settings, models, shard2)
    assert os.path.realpath(link) == serving and (link / "model.safetensors").is_file()
    complete = sorted(os.listdir(models / ".staging-tiny"))
    part = models / ".staging-tiny.openclaw-fetch" / "parts" / (shard2 + ".part")
    assert shard2 not in complete and "model-00001-of-00002.safetensors" in complete
    part_bytes = part.stat().st_size
    assert part_bytes > 0
    gets_before = hf_mirror.file_gets(hf_mirror.revs["3"])

    # The next run fetches only what was not complete, then switches to the new pin.
    rc, failed, results, _ = run_role(tmp_path, "awq_model", settings)
    assert rc == 0, failed
    fetched = result_of(results, "Collect the result of the download")
    again = hf_mirror.file_gets(hf_mirror.revs["3"])[len(gets_before):]
    print("killed at %d of %d bytes (%s: %d bytes in its .part); complete then: %s; the second run fetched %d "
          "bytes (%s) and reused %d bytes (%s)" % (
              killed["done_bytes"], killed["total_bytes"], shard2, part_bytes, complete, fetched["fetched_bytes"],
              fetched["fetched_files"], fetched["reused_bytes"], fetched["reused_files"]))
    assert again == [shard2], "only the file that was not complete is fetched again"
    assert fetched["fetched_files"] == [shard2]
    assert fetched["fetched_bytes"] == os.path.getsize(link / shard2)
    assert sorted(fetched["reused_files"]) == complete
    assert os.path.realpath(link) != serving and os.path.isdir(serving), "switched; the old version stays"
    assert json.loads((link / ".openclaw-manifest.json").read_text())["hf"]["revision"] == hf_mirror.revs["3"]
    assert not list(models.glob(".staging-*"))


@pytest.fixture
def small_models(tmp_path):
    """A 4 MiB tmpfs as the models directory: the tiny model fits, revision 3 (32 MiB) does not."""
    models = tmp_path / "small"
    models.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(models)], check=True)
    yield models
    subprocess.run(["umount", str(models)], check=True)


def test_preflight_refuses_before_any_byte_and_the_model_in_use_stays(hf_mirror, tmp_path, small_models):
    rc, failed, _, _ = run_role(tmp_path, "awq_model", hf_vars(tmp_path, hf_mirror, hf_mirror.revs["1"],
                                                               root=small_models))
    assert rc == 0, failed
    serving = os.path.realpath(small_models / "tiny")
    missing = "0123456789abcdef0123456789abcdef01234567"
    for settings, expected in [
        ({"awq_model_hf_revision": missing}, "revision %s does not exist in %s on %s" % (missing, REPO, hf_mirror.endpoint)),
        ({"awq_model_hf_repo": "acme/no-such-model"},
         "repository acme/no-such-model does not exist on %s, or it is private" % hf_mirror.endpoint),
        ({"awq_model_hf_revision": hf_mirror.revs["3"]}, "not enough space for %s at revision %s" % (REPO, hf_mirror.revs["3"])),
    ]:
        gets = len(hf_mirror.file_gets())
        rc, failed, results, _ = run_role(tmp_path, "awq_model", {
            **hf_vars(tmp_path, hf_mirror, hf_mirror.revs["1"], root=small_models), **settings})
        assert rc != 0
        msg = failed[-1]["msg"]
        print(msg)
        assert expected in msg
        assert failed[-1] is result_of(results, "Ask the hf endpoint for the files of the pinned revision")
        assert len(hf_mirror.file_gets()) == gets, "no byte was fetched"
        assert os.path.realpath(small_models / "tiny") == serving
        assert (small_models / "tiny" / "model.safetensors").is_file()
        assert not list(small_models.glob(".staging-*"))
