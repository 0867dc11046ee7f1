"""openclaw.vllm.free_space, through Ansible, against real filesystems (a tmpfs of known size)."""
import os
import subprocess

import pytest

from helpers.ansible_runs import run_module


pytestmark = pytest.mark.ansible


@pytest.fixture
def tmpfs(tmp_path):
    """A 64 MiB tmpfs: its free space is known to the byte."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_free_space_of_a_tmpfs_is_measured_exactly(tmpfs):
    result = free_space(tmpfs)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["checked_path"] == str(tmpfs)
    assert result["free_bytes"] == 64 * 2**20
    assert result["free_gb"] == 0
    (tmpfs / "filler").write_bytes(b"\0" * (16 * 2**20))
    assert free_space(tmpfs)["free_bytes"] == 48 * 2**20


def test_a_path_not_made_yet_is_measured_at_its_nearest_parent(tmpfs):
    result = free_space(tmpfs / "models" / ".versions" / "x")
    assert result["checked_path"] == str(tmpfs)
    assert result["free_bytes"] == 64 * 2**20


def test_matches_statvfs_on_the_disk_and_in_check_mode(tmp_path):
    for check in (False, True):
        result = free_space(tmp_path / "not" / "yet", check=check)
        stat = os.statvfs(tmp_path)
        assert result["checked_path"] == str(tmp_path)
        assert abs(result["free_bytes"] - stat.f_bavail * stat.f_frsize) < 64 * 2**20  # the disk is shared
        assert result["free_gb"] == result["free_bytes"] // 2**30


def free_space(path, check=False):
    return run_module("free_space", {"path": str(path)}, check=check)
