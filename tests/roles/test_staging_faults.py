"""Faults while staging a model lose nothing (issue 10, section 5), for real on this machine:
a full disk (a small tmpfs as the models directory) and a corrupted staged file."""
import hashlib
import os
import re
import shutil
import subprocess
import tarfile

import pytest

from helpers.ansible_runs import run_role
from helpers.models import model_vars, url_vars


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs; the roles manage root-owned paths"),
]


@pytest.fixture
def small_disk(tmp_path):
    """tmp_path/models is a 1 MiB tmpfs: room for the tiny model (about 0.5 MB) once, not twice."""
    models = tmp_path / "models"
    models.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(models)], check=True)
    yield models
    subprocess.run(["umount", str(models)], check=True)


def bigger(tiny_model, tmp_path):
    path = tmp_path / "bigger"
    shutil.copytree(tiny_model, path)
    (path / "extra.safetensors.bak").write_bytes(os.urandom(2 * 2**20))
    return path


def assert_untouched(models, serving):
    assert os.path.realpath(models / "tiny") == serving
    assert (models / "tiny" / "model.safetensors").is_file()
    assert (models / "tiny" / ".openclaw-manifest.json").is_file()
    assert sorted(p.name for p in models.iterdir()) == [".versions", "tiny"], "no staging leftovers"
    assert [p for p in (models / ".versions").iterdir()] == [models / ".versions" / os.path.basename(serving)]


def test_a_local_model_that_does_not_fit_is_refused_before_staging(tiny_model, tmp_path, small_disk):
    assert run_role(tmp_path, "awq_model", model_vars(tmp_path, tiny_model))[0] == 0
    serving = os.path.realpath(small_disk / "tiny")
    source = bigger(tiny_model, tmp_path)
    need = sum(os.path.getsize(source / name) for name in os.listdir(source))
    rc, failed, _, _ = run_role(tmp_path, "awq_model", model_vars(tmp_path, source))
    assert rc != 0
    msg = failed[-1]["msg"]
    assert "Not enough space under %s" % small_disk in msg
    assert "staging the model needs %d bytes" % need in msg
    assert "the local model is %d bytes" % need in msg
    assert_untouched(small_disk, serving)


def test_a_disk_that_fills_up_while_staging_names_path_and_need(tiny_model, tmp_path, small_disk,
                                                               model_archive_server):
    """A URL source's size is unknown before the download: the copy hits ENOSPC mid-way."""
    assert run_role(tmp_path, "awq_model", model_vars(tmp_path, tiny_model))[0] == 0
    serving = os.path.realpath(small_disk / "tiny")
    archive = tmp_path / "served" / "tiny-awq.tar.gz"  # the server now serves the bigger model
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(bigger(tiny_model, tmp_path), arcname="tiny-awq")
    url, _ = model_archive_server
    sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()
    rc, failed, _, _ = run_role(tmp_path, "awq_model", url_vars(tmp_path, url, sha256))
    assert rc != 0
    msg = failed[-1]["msg"]
    assert "Fetching the model (url) failed" in msg, msg
    assert "The disk under %s is full" % small_disk in msg
    assert "[Errno 28] No space left on device" in msg
    assert re.search(r"staging the model needs more than the \d+ bytes that were free \(\d+ bytes free again now "
                     r"that the staging directory was removed\); raise awq_model_min_free_gb \(now 0\)", msg), msg
    assert "The model in use at %s was not touched" % (small_disk / "tiny") in msg
    assert_untouched(small_disk, serving)


def test_a_flipped_byte_in_a_staged_file_is_a_sha256_mismatch_naming_it(tiny_model, tmp_path):
    assert run_role(tmp_path, "awq_model", model_vars(tmp_path, tiny_model))[0] == 0
    models = tmp_path / "models"
    serving = os.path.realpath(models / "tiny")
    digest = hashlib.sha256((tiny_model / "model.safetensors").read_bytes()).hexdigest()
    source = tmp_path / "flipped"
    shutil.copytree(tiny_model, source)
    data = bytearray((source / "model.safetensors").read_bytes())
    data[-1000] ^= 0x01  # in the tensors, not the header
    (source / "model.safetensors").write_bytes(bytes(data))
    rc, failed, _, _ = run_role(tmp_path, "awq_model", model_vars(
        tmp_path, source, awq_model_sha256={"model.safetensors": digest}))
    assert rc != 0
    msg = failed[-1]["msg"]
    assert "%s: sha256 mismatch, expected %s, got %s" % (
        models / ".staging-tiny" / "model.safetensors", digest, hashlib.sha256(data).hexdigest()) in msg
    assert "The model in use at %s was not touched" % (models / "tiny") in msg
    assert_untouched(models, serving)
