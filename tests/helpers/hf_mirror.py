"""A real Hub-compatible server for the hf source: olah (PyPI) in offline mode, serving local git
repositories as Hub models at their real commit hashes. Safetensors files are stored as git LFS
objects, as on the Hub (olah then reports their sha256 in the tree API); small files are plain git
blobs (checked by their git blob id)."""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

from helpers.paths import ROOT
from helpers.procs import free_port

OLAH_VENV = ROOT / ".cache" / "olah-venv"
REPO = "acme/tiny-awq"


def git(repo, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.invalid", GIT_AUTHOR_DATE="2026-01-01T00:00:00Z",
               GIT_COMMITTER_DATE="2026-01-01T00:00:00Z")
    return subprocess.run(["git", "-c", "core.compression=0", "-c", "init.defaultBranch=main", *args], cwd=repo,
                          env=env, check=True, capture_output=True, text=True).stdout.strip()


def add_lfs(repo, name, data):
    """Store ``data`` as git-lfs does: a pointer file in git, the object under .git/lfs/objects."""
    oid = hashlib.sha256(data).hexdigest()
    obj = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(data)
    (repo / name).write_text("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (oid, len(data)))


def safetensors_blob(name, size, seed):
    """A valid safetensors file with one U8 tensor of ``size`` bytes."""
    header = json.dumps({name: {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}}).encode()
    header += b" " * (-len(header) % 8)
    chunk = hashlib.sha256(b"%d" % seed).digest() * 2048  # 64 KiB, not all zeros
    body = (chunk * (size // len(chunk) + 1))[:size]
    return struct.pack("<Q", len(header)) + header + body


def tensor_names(path):
    with open(path, "rb") as handle:
        length = struct.unpack("<Q", handle.read(8))[0]
        return [key for key in json.loads(handle.read(length)) if key != "__metadata__"]


class Mirror(object):
    """``host``: the address olah binds; ``name``: how the hosts that fetch reach it (a container
    reaches the controller as host.containers.internal)."""

    def __init__(self, tmp, tiny_model, big_bytes, host="127.0.0.1", name=None):
        self.tmp = Path(tmp)
        self.repo = self.tmp / "mirrors" / "models" / REPO
        self.repo.mkdir(parents=True)
        self.log = self.tmp / "olah.log"
        self.revs = self._build(Path(tiny_model), big_bytes)
        self.host = host
        self.port = free_port(host)
        self.endpoint = "http://%s:%d" % (name or host, self.port)
        self.proc = None

    def _build(self, tiny, big_bytes):
        repo = self.repo
        git(repo, "init", "-q")
        (repo / ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
        for path in tiny.iterdir():
            if path.name == "model.safetensors":
                add_lfs(repo, path.name, path.read_bytes())
            else:
                shutil.copy(path, repo / path.name)
        # What a real repo carries beside the safetensors and vLLM never reads: must not be fetched.
        (repo / "pytorch_model.bin").write_bytes(os.urandom(2 * 1024 * 1024))
        (repo / "onnx").mkdir()
        (repo / "onnx" / "model.onnx").write_bytes(os.urandom(512 * 1024))
        (repo / "README.md").write_text("---\nlicense: mit\n---\n# tiny-awq\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "revision 1")
        rev1 = git(repo, "rev-parse", "HEAD")
        config = json.loads((repo / "generation_config.json").read_text())
        config["max_new_tokens"] = 64
        (repo / "generation_config.json").write_text(json.dumps(config, indent=2))
        git(repo, "commit", "-q", "-am", "revision 2: generation_config")
        rev2 = git(repo, "rev-parse", "HEAD")
        # Revision 3: the weights in two shards with an index, the second large enough to interrupt.
        shard1, shard2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
        git(repo, "mv", "model.safetensors", shard1)
        add_lfs(repo, shard2, safetensors_blob("extra.padding", big_bytes, 3))
        weight_map = {name: shard1 for name in tensor_names(tiny / "model.safetensors")}
        weight_map["extra.padding"] = shard2
        (repo / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "revision 3: two shards")
        rev3 = git(repo, "rev-parse", "HEAD")
        # Revision 4: a shard that no disk here can hold (an LFS pointer of 1 PiB; the object is
        # never asked for: preflight refuses on the sizes the tree API reports).
        (repo / shard2).write_text("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n"
                                   % ("ab" * 32, 2**50))
        git(repo, "commit", "-q", "-am", "revision 4: a 1 PiB shard")
        rev4 = git(repo, "rev-parse", "HEAD")
        return {"1": rev1, "2": rev2, "3": rev3, "4": rev4, "shard2": shard2}

    def start(self):
        config = self.tmp / "olah.toml"
        config.write_text(
            '[basic]\nhost = "%s"\nport = %d\nrepos-path = "%s"\nmirrors-path = ["%s"]\n'
            "[accessibility]\noffline = true\n" % (self.host, self.port, self.tmp / "olah-cache", self.tmp / "mirrors"))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(OLAH_VENV / "bin" / "olah-cli"), "-c", str(config)], cwd=self.tmp,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        url = "http://%s:%d/api/models/%s/revision/%s" % (self.host, self.port, REPO, self.revs["1"])
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    assert json.load(response)["sha"] == self.revs["1"]
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("olah did not start:\n" + self.log.read_text()[-3000:])
                time.sleep(0.2)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def file_gets(self, revision=None):
        """The files olah served (GET .../resolve/<rev>/<path>), from its access log."""
        gets = []
        for line in self.log.read_text(errors="replace").splitlines():
            marker = '"GET /%s/resolve/' % REPO
            if marker in line:
                rev, path = line.split(marker, 1)[1].split(" ", 1)[0].split("/", 1)
                if revision is None or rev == revision:
                    gets.append(path)
        return gets


def ensure_olah():
    if not (OLAH_VENV / "bin" / "olah-cli").exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "olah-venv.sh")], check=True, capture_output=True)
