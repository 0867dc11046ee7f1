"""openclaw.vllm.prune_versions, run through Ansible on real directories and symlinks."""
import os

import pytest

from helpers.ansible_runs import run_module
from helpers.models import IDS, left, make_versions


pytestmark = pytest.mark.ansible


def test_another_model_with_the_name_as_prefix_is_never_touched(tmp_path):
    versions = tmp_path / ".versions"
    q1, c1, q2, q3 = make_versions(versions, "qwen-" + IDS[0], "qwen-coder-" + IDS[1], "qwen-" + IDS[2],
                                   "qwen-" + IDS[3])
    (tmp_path / "qwen").symlink_to(q3)
    (tmp_path / "qwen-coder").symlink_to(c1)
    result = prune(path=str(versions), names=["qwen"], keep=2, link_roots=[str(tmp_path)])
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["removed"] == [str(q1)]
    assert left(versions) == sorted(["qwen-" + IDS[2], "qwen-" + IDS[3], "qwen-coder-" + IDS[1]])
    assert (tmp_path / "qwen-coder" / "config.json").is_file(), "the other model's link still resolves"


def test_the_other_model_keeps_its_versions_even_when_it_is_pruned_itself(tmp_path):
    versions = tmp_path / ".versions"
    q1, c1, c2 = make_versions(versions, "qwen-" + IDS[0], "qwen-coder-" + IDS[1], "qwen-coder-" + IDS[2])
    (tmp_path / "qwen").symlink_to(q1)
    (tmp_path / "qwen-coder").symlink_to(c2)
    result = prune(path=str(versions), names=["qwen-coder"], keep=1, link_roots=[str(tmp_path)])
    assert result["removed"] == [str(c1)]
    assert q1.is_dir()


def test_every_linked_version_is_kept_whatever_keep_says(tmp_path):
    builds = tmp_path / "builds"
    a, b, c, d = make_versions(builds, *("vllm-cpu-" + i for i in IDS[:4]))
    (tmp_path / "previous").symlink_to(a)           # the oldest, yet in use
    (tmp_path / "current").symlink_to(d)
    (tmp_path / "pins").mkdir()
    (tmp_path / "pins" / "rollback").symlink_to(os.path.relpath(b / "config.json", tmp_path / "pins"))
    result = prune(path=str(builds), names=["vllm-cpu", "vllm-cuda"], keep=1, link_roots=[str(tmp_path)])
    assert result["removed"] == [str(c)]
    assert sorted(result["in_use"]) == sorted([str(a), str(b), str(d)])
    assert left(builds) == sorted("vllm-cpu-" + i for i in [IDS[0], IDS[1], IDS[3]])


def test_newest_unlinked_versions_fill_keep(tmp_path):
    builds = tmp_path / "builds"
    a, b, c, d = make_versions(builds, *("vllm-cuda-" + i for i in IDS[:4]))
    (tmp_path / "current").symlink_to(a)
    result = prune(path=str(builds), names=["vllm-cpu", "vllm-cuda"], keep=3, link_roots=[str(tmp_path)])
    assert result["removed"] == [str(b)]
    assert result["kept"] == sorted([str(a), str(c), str(d)])


def test_protect_keeps_a_version_no_link_names_yet(tmp_path):
    versions = tmp_path / ".versions"
    old, new = make_versions(versions, "m-" + IDS[0], "m-" + IDS[1])
    os.utime(new, (1_600_000_000,) * 2)  # the new one is the oldest by mtime
    (tmp_path / "m").symlink_to(old)
    result = prune(path=str(versions), names=["m"], keep=1, link_roots=[str(tmp_path)], protect=[str(new)])
    assert result["removed"] == []
    assert sorted(result["kept"]) == sorted([str(old), str(new)])


def test_names_not_in_the_scheme_are_never_candidates(tmp_path):
    versions = tmp_path / ".versions"
    make_versions(versions, "m-" + IDS[0], "m-notes", "m-" + IDS[1].upper(), "m-" + IDS[2] + "0", "m" + IDS[3],
                  "m-" + IDS[4])
    (versions / ("m-" + IDS[5])).write_text("a file, not a version")
    (versions / ("m-" + IDS[6])).symlink_to(versions / "m-notes")
    (tmp_path / "m").symlink_to(versions / ("m-" + IDS[4]))
    result = prune(path=str(versions), names=["m"], keep=1, link_roots=[str(tmp_path)])
    assert result["removed"] == [str(versions / ("m-" + IDS[0]))]
    assert len(left(versions)) == 7


def test_check_mode_reports_and_removes_nothing(tmp_path):
    versions = tmp_path / ".versions"
    old, new = make_versions(versions, "m-" + IDS[0], "m-" + IDS[1])
    (tmp_path / "m").symlink_to(new)
    result = prune(check=True, path=str(versions), names=["m"], keep=1, link_roots=[str(tmp_path)])
    assert result["changed"] is True and result["removed"] == [str(old)]
    assert old.is_dir()
    again = prune(path=str(versions), names=["m"], keep=1, link_roots=[str(tmp_path)])
    assert again["removed"] == [str(old)] and not old.exists()
    assert prune(path=str(versions), names=["m"], keep=1, link_roots=[str(tmp_path)])["changed"] is False


@pytest.mark.parametrize("params, expected", [
    ({"names": ["m"], "keep": 0}, "keep must be at least 1, got 0"),
    ({"names": [""], "keep": 1}, "names must list at least one non-empty version name"),
])
def test_bad_parameters_are_named(tmp_path, params, expected):
    result = prune(path=str(tmp_path), link_roots=[str(tmp_path)], **params)
    assert result["failed"] is True
    assert expected in result["msg"]


def prune(check=False, **params):
    return run_module("prune_versions", params, check=check)
