"""The run phase the venv and model roles share (module_utils/version_switch.py, the
version_switch module), on real directories and links: switch with previous kept, prune the rest,
refuse a version outside the install."""
import os
import time

import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils.version_layout import LayoutError
from ansible_collections.openclaw.vllm.plugins.module_utils.version_switch import switch_and_prune
from helpers.ansible_runs import run_module


def builds(root, *ids):
    paths = []
    for index, ident in enumerate(ids):
        path = root / "builds" / ("vllm-cpu-" + ident)
        path.mkdir(parents=True)
        os.utime(path, (time.time() - 100 + index, time.time() - 100 + index))  # later ids are newer
        paths.append(str(path))
    return paths


def test_switch_keeps_previous_and_prunes_the_oldest(tmp_path):
    a, b, c, d = builds(tmp_path, "a" * 12, "b" * 12, "c" * 12, "d" * 12)
    first = switch_and_prune("venv", str(tmp_path), c, 2, ["vllm-cpu", "vllm-cuda"])
    assert (first["switched"], first["kept_previous"], first["link"]) == (True, None, str(tmp_path / "current"))
    assert sorted(first["removed"]) == [a, b]   # keep 2: c (in use) and d (the newest other)
    second = switch_and_prune("venv", str(tmp_path), d, 2, ["vllm-cpu", "vllm-cuda"])
    assert (second["switched"], second["kept_previous"], second["removed"]) == (True, c, [])
    assert os.readlink(tmp_path / "current") == d and os.readlink(tmp_path / "previous") == c
    again = switch_and_prune("venv", str(tmp_path), d, 2, ["vllm-cpu", "vllm-cuda"])
    assert (again["switched"], again["removed"]) == (False, [])


def test_a_model_version_of_another_model_is_never_pruned(tmp_path):
    for name in ("tiny", "tiny-2"):
        for ident in ("a" * 12, "b" * 12, "c" * 12):
            (tmp_path / ".versions" / ("%s-%s" % (name, ident))).mkdir(parents=True)
    result = switch_and_prune("model", str(tmp_path), str(tmp_path / (".versions/tiny-" + "c" * 12)), 1, ["tiny"],
                              name="tiny")
    assert sorted(os.path.basename(p) for p in result["removed"]) == ["tiny-" + "a" * 12, "tiny-" + "b" * 12]
    assert len(os.listdir(tmp_path / ".versions")) == 4
    assert os.readlink(tmp_path / "tiny") == str(tmp_path / (".versions/tiny-" + "c" * 12))


@pytest.mark.parametrize("version, error", [("/elsewhere/vllm-cpu-" + "a" * 12, "not a version directory of"),
                                            ("builds/vllm-cpu-" + "f" * 12, "is not there")])
def test_a_version_outside_the_install_or_missing_changes_nothing(tmp_path, version, error):
    (current,) = builds(tmp_path, "a" * 12)
    os.symlink(current, tmp_path / "current")
    with pytest.raises(LayoutError, match=error):
        switch_and_prune("venv", str(tmp_path), version if version.startswith("/") else str(tmp_path / version),
                         1, ["vllm-cpu"])
    assert os.readlink(tmp_path / "current") == current and os.listdir(tmp_path / "builds") == [os.path.basename(current)]


@pytest.mark.ansible
def test_the_module_in_check_mode_then_for_real(tmp_path):
    old, new = builds(tmp_path, "a" * 12, "b" * 12)
    os.symlink(old, tmp_path / "current")
    args = {"kind": "venv", "root": str(tmp_path), "version": new, "names": ["vllm-cpu"], "keep": 1}
    checked = run_module("version_switch", args, check=True)
    assert (checked["changed"], checked["kept_previous"]) == (True, old)
    assert os.readlink(tmp_path / "current") == old
    done = run_module("version_switch", args)
    assert (done["changed"], done["kept_previous"], done["removed"]) == (True, old, [])  # previous is linked: kept
    assert os.readlink(tmp_path / "current") == new
    refused = run_module("version_switch", dict(args, kind="model"))
    assert refused.get("failed") and "name" in refused["msg"]


@pytest.mark.parametrize("names, keep", [([""], 1), (["vllm-cpu"], 0)])
def test_settings_that_cannot_prune_change_nothing(tmp_path, names, keep):
    old, new = builds(tmp_path, "a" * 12, "b" * 12)
    os.symlink(old, tmp_path / "current")
    with pytest.raises(ValueError):
        switch_and_prune("venv", str(tmp_path), new, keep, names)
    assert os.readlink(tmp_path / "current") == old
