"""`make demo` twice changes nothing: the tiny-model generator leaves identical files untouched,
and a local model's identity comes from its content (names, sizes, sha1 of files up to
awq_model_local_hash_max_mb), not from mtimes. Real generator, real role runs on localhost."""
import os
import subprocess
import sys

import pytest

from helpers.ansible_runs import run_role
from helpers.models import model_vars
from helpers.paths import ROOT


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths"),
]


def generate(out):
    pytest.importorskip("safetensors")
    subprocess.run([sys.executable, str(ROOT / "scripts/make-tiny-awq-model.py"), str(out)], check=True,
                   capture_output=True)
    return {name: (os.stat(out / name).st_mtime_ns, (out / name).read_bytes()) for name in os.listdir(out)}


def stage(tmp_path, source, **more):
    rc, failed, _, stats = run_role(tmp_path, "awq_model", model_vars(tmp_path, source, **more))
    assert rc == 0, failed
    return os.path.realpath(tmp_path / "models" / "tiny"), stats["changed"]


def test_generator_twice_leaves_every_file_untouched(tmp_path):
    out = tmp_path / "tiny"
    first = generate(out)
    os.utime(out / "config.json", ns=(1, 1))  # an mtime the generator would have to rewrite
    first["config.json"] = (1, first["config.json"][1])
    assert generate(out) == first
    assert sorted(os.listdir(out)) == sorted(first), "no temporary files left"


def test_demo_twice_stages_nothing_new(tmp_path):
    out = tmp_path / "tiny"
    generate(out)
    version, _ = stage(tmp_path, out)
    generate(out)
    assert stage(tmp_path, out) == (version, 0)


def test_identity_is_the_content_not_the_mtimes(tmp_path):
    out = tmp_path / "tiny"
    generate(out)
    version, _ = stage(tmp_path, out)
    for name in os.listdir(out):  # a copy without -p, a checkout, a rebuild: same bytes, new times
        os.utime(out / name, ns=(2_000_000_000_000_000_000,) * 2)
    assert stage(tmp_path, out) == (version, 0)
    # Same size, other bytes: another model.
    config = (out / "tokenizer_config.json").read_bytes()
    (out / "tokenizer_config.json").write_bytes(config.replace(b'"model_max_length": 2048', b'"model_max_length": 2049'))
    assert os.path.getsize(out / "tokenizer_config.json") == len(config)
    new_version, changed = stage(tmp_path, out)
    assert new_version != version and changed > 0


def test_a_large_file_counts_by_mtime_unless_its_digest_is_given(tmp_path):
    """Above awq_model_local_hash_max_mb a file is not hashed at each run: its mtime stands in,
    or the sha256 that awq_model_sha256 gives for it."""
    import hashlib
    out = tmp_path / "tiny"
    generate(out)
    version, _ = stage(tmp_path, out, awq_model_local_hash_max_mb=0)
    os.utime(out / "model.safetensors", ns=(2_000_000_000_000_000_000,) * 2)
    assert stage(tmp_path, out, awq_model_local_hash_max_mb=0)[0] != version
    digest = {"model.safetensors": hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()}
    pinned, _ = stage(tmp_path, out, awq_model_local_hash_max_mb=0, awq_model_sha256=digest)
    os.utime(out / "model.safetensors", ns=(2_100_000_000_000_000_000,) * 2)
    assert stage(tmp_path, out, awq_model_local_hash_max_mb=0, awq_model_sha256=digest) == (pinned, 0)
