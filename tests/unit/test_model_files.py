"""The local model's listing on the controller (lookup openclaw.vllm.model_files, in the
controller's own process) gives what ansible.builtin.find gave awq_model before, field for field:
the identity of a local model, so its version name, stays the same across the upgrade. Both run
for real on the same directories here."""
import os

import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils.model_files import model_files
from helpers.ansible_runs import run_module

pytestmark = pytest.mark.ansible
MIB = 1024 * 1024


@pytest.fixture
def model_dir(tmp_path):
    """Small and large files, hidden ones, nested ones, links to a file and to a directory, an empty file."""
    root = tmp_path / "model"
    (root / "sub" / ".cache").mkdir(parents=True)
    (root / "config.json").write_text('{"quantization_config": {}}')
    (root / ".hidden").write_text("x")
    (root / "empty").write_text("")
    (root / "sub" / "weights.bin").write_bytes(os.urandom(MIB + 1))  # above 1 MiB: not hashed
    (root / "sub" / "exactly-1m.bin").write_bytes(b"\0" * MIB)     # at the limit: hashed
    (root / "sub" / ".cache" / "lock").write_text("")
    (root / "link-to-config").symlink_to(root / "config.json")
    (root / "link-to-sub").symlink_to(root / "sub")
    return root


def find(path, hashed):
    args = {"paths": path, "recurse": True, "hidden": True}
    if hashed:
        args.update(size="-1m", get_checksum=True)
    result = run_module("ansible.builtin.find", args)
    return {key: result[key] for key in ("files", "matched", "examined", "skipped_paths")}


def listing(path, hash_max_mb=1):
    result = run_module("ansible.builtin.debug", {
        "msg": "{{ lookup('openclaw.vllm.model_files', %r, hash_max_mb=%d) }}" % (path, hash_max_mb)})
    return result["msg"]["results"]


def same_fields(found, listed):
    """find's files carry every stat field; the listing carries those the identity reads."""
    keys = ("path", "size", "mtime", "checksum")
    rows = lambda files: sorted(({key: f[key] for key in keys if key in f} for f in files), key=lambda f: f["path"])
    assert rows(listed["files"]) == rows(found["files"])
    assert {key: listed[key] for key in ("matched", "examined", "skipped_paths")} == \
        {key: found[key] for key in ("matched", "examined", "skipped_paths")}


@pytest.mark.parametrize("spelling", ["{}", "{}/", "{}//", "{}/sub/.."])
def test_the_listing_is_finds_field_for_field(model_dir, spelling):
    path = spelling.format(model_dir)
    every, small = listing(path)
    same_fields(find(path, hashed=False), every)
    same_fields(find(path, hashed=True), small)
    assert {os.path.basename(f["path"]) for f in small["files"]} == {
        "config.json", ".hidden", "empty", "exactly-1m.bin", "lock"}


def test_a_missing_directory_lists_nothing_and_says_why_as_find_does(tmp_path):
    path = str(tmp_path / "no-such-model")
    every, small = listing(path)
    same_fields(find(path, hashed=False), every)
    assert every["skipped_paths"] == {path: "'%s' is not a directory" % path}


def test_no_hashing_leaves_the_second_listing_empty(model_dir):
    assert model_files(str(model_dir), 0)[1] == {}
    every, small = listing(str(model_dir), hash_max_mb=0)
    assert small == {} and every["matched"] == 5 + 1  # the five small files and the large one


def test_bad_input_is_named():
    failed = run_module("ansible.builtin.debug", {
        "msg": "{{ lookup('openclaw.vllm.model_files', '/x', hash_max_mb=-1) }}"})
    assert failed.get("failed") and "model_files: hash_max_mb is -1, expected 0 or more" in failed["msg"]


def test_a_file_name_that_is_not_utf8_is_named_not_listed(tmp_path):
    """find could not return such a name (its module result failed to deserialize); the listing
    names the file instead, and a FIFO or a link to a device beside it is never opened."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    os.mkfifo(model / "fifo")
    (model / "zero").symlink_to("/dev/zero")
    assert [os.path.basename(f["path"]) for f in model_files(str(model), MIB)[1]["files"]] == ["config.json"]
    with open(os.fsencode(str(model)) + b"/bad\xffname", "w") as handle:
        handle.write("x")
    failed = run_module("ansible.builtin.debug", {
        "msg": "{{ lookup('openclaw.vllm.model_files', %r) }}" % str(model)})
    assert failed.get("failed") and "model_files: %s holds a file name that is not UTF-8: 'bad\\udcffname'" % model \
        in failed["msg"], failed["msg"]
