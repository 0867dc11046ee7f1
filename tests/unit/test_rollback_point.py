"""The rollback point of vllm_service (module_utils/rollback_point.py and the rollback_point
module): what a unit served, read with systemd's quoting, and its keep/swap/restore renames, on
real files. The roll-out's own rollbacks run on the test host (molecule fleet)."""
import os

import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils import rollback_point as point
from ansible_collections.openclaw.vllm.plugins.module_utils.systemd_escape import systemd_command, systemd_split
from helpers.ansible_runs import run_module


def unit_text(venv, model, *options):
    return "[Service]\nExecStartPre=/x/guard 8001\nExecStart=%s\n" % systemd_command(
        [venv + "/bin/vllm", "serve", model] + list(options))


def install(tmp_path, name):
    """A build and a model version on disk, as the roles leave them."""
    venv, model = tmp_path / ("builds/vllm-cpu-" + name), tmp_path / (".versions/tiny-" + name)
    (venv / "bin").mkdir(parents=True)
    (venv / "bin/vllm").write_text("#!/bin/sh\n")
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    return str(venv), str(model)


@pytest.mark.parametrize("argv", [
    ["/opt/a b/bin/vllm", "serve", "/m/it's \"quoted\"", "--x", "100%", "$HOME", "a\\b", "tab\tnl\n", "\x01", ""],
    ["/opt/x/bin/vllm", "serve", "/m/t"],
])
def test_split_reads_back_what_the_quoting_wrote(argv):
    assert systemd_split(systemd_command(argv)) == argv


@pytest.mark.parametrize("line, error", [('"open', "unterminated"), ("end\\", "lone backslash"), ("\\xZZ", "bad")])
def test_split_refuses_what_systemd_would(line, error):
    with pytest.raises(ValueError, match=error):
        systemd_split(line)


def test_a_point_names_what_it_served_even_with_spaces_and_percent(tmp_path):
    venv, model = install(tmp_path / "a dir%1", "aaaaaaaaaaaa")
    path = tmp_path / "point.service"
    path.write_text(unit_text(venv, model, "--port", "8001"))
    assert point.served(str(path)) == {"exists": True, "venv": venv, "model": model, "on_disk": True}


@pytest.mark.parametrize("text", [
    "[Service]\nExecStart=/usr/bin/python3 -m http.server\n",   # a unit this role did not write
    "[Service]\nExecStart=\"/opt/v/bin/vllm serve /m\n",           # a broken quote
    "no unit at all \xff\n",
])
def test_a_point_that_names_no_build_serves_nothing_known(tmp_path, text):
    path = tmp_path / "point.service"
    path.write_text(text, errors="surrogateescape")
    assert point.served(str(path)) == {"exists": True, "venv": "", "model": "", "on_disk": False}


def test_a_pruned_build_is_not_on_disk(tmp_path):
    venv, model = install(tmp_path, "aaaaaaaaaaaa")
    os.unlink(venv + "/bin/vllm")
    path = tmp_path / "point.service"
    path.write_text(unit_text(venv, model))
    assert point.served(str(path))["on_disk"] is False


def test_keep_swap_restore_round_trip(tmp_path):
    old, new = install(tmp_path, "000000000000"), install(tmp_path, "111111111111")
    unit, backup = tmp_path / "user/openclaw-vllm.service", tmp_path / "user/openclaw-vllm.service.backup"
    unit.parent.mkdir()
    rollback = tmp_path / "rollback/openclaw-vllm.service"
    backup.write_text(unit_text(*old))
    unit.write_text(unit_text(*new))
    os.chmod(backup, 0o644)

    assert point.keep(str(rollback), str(backup)) is True
    assert not backup.exists() and point.served(str(rollback))["venv"] == old[0]
    assert oct(rollback.stat().st_mode & 0o777) == "0o644"

    # A second switch: the point it replaces waits as .older, which restore puts back.
    backup.write_text(unit_text(*new))
    point.keep(str(rollback), str(backup))
    assert point.served(str(rollback) + ".older")["venv"] == old[0]

    assert point.swap(str(rollback), str(unit)) is True
    assert point.served(str(unit))["venv"] == new[0]      # the point (new) is the unit now
    assert point.served(str(rollback))["venv"] == new[0]  # and the unit it replaced is the point
    assert not os.path.exists(str(rollback) + ".swapping")

    assert point.restore(str(rollback)) is True
    assert point.served(str(rollback))["venv"] == old[0]
    assert not os.path.exists(str(rollback) + ".older")
    assert point.restore(str(rollback) + ".none") is False


def test_restore_without_an_older_point_removes_the_point(tmp_path):
    rollback = tmp_path / "point.service"
    rollback.write_text("[Service]\n")
    assert point.restore(str(rollback)) is True and not rollback.exists()


def test_failures_name_the_path_and_change_nothing(tmp_path):
    unit = tmp_path / "unit.service"
    unit.write_text("[Service]\n")
    with pytest.raises(point.PointError, match="no rollback point at .*missing"):
        point.swap(str(tmp_path / "missing"), str(unit))
    with pytest.raises(point.PointError, match="replaced unit .*gone is not there"):
        point.keep(str(tmp_path / "point"), str(tmp_path / "gone"))
    assert unit.read_text() == "[Service]\n" and not (tmp_path / "point").exists()


@pytest.mark.ansible
def test_the_module_reads_and_swaps_and_check_mode_changes_nothing(tmp_path):
    old, new = install(tmp_path, "000000000000"), install(tmp_path, "111111111111")
    unit, rollback = tmp_path / "unit.service", tmp_path / "rollback.service"
    unit.write_text(unit_text(*new))
    rollback.write_text(unit_text(*old))

    read = run_module("rollback_point", {"path": str(rollback)})
    assert (read["changed"], read["venv"], read["model"], read["on_disk"]) == (False, old[0], old[1], True)

    checked = run_module("rollback_point", {"path": str(rollback), "unit": str(unit), "state": "swapped"}, check=True)
    assert checked["changed"] is True and point.served(str(unit))["venv"] == new[0]

    swapped = run_module("rollback_point", {"path": str(rollback), "unit": str(unit), "state": "swapped"})
    assert swapped["changed"] is True and swapped["venv"] == old[0]
    assert point.served(str(unit))["venv"] == old[0] and point.served(str(rollback))["venv"] == new[0]

    missing = run_module("rollback_point", {"path": str(rollback), "state": "kept"})
    assert missing.get("failed") and "replaced" in missing["msg"]


@pytest.mark.parametrize("make, error", [
    (lambda path: os.mkfifo(path), "not a regular file"),          # would block a plain open()
    (lambda path: os.symlink("/etc/shadow", path), "cannot read"),   # the service user owns the directory
    (lambda path: path.write_text("x" * (point.MAX_UNIT_BYTES + 1)), "larger than a unit file"),
])
def test_a_point_the_service_user_replaced_is_refused_without_blocking(tmp_path, make, error):
    path = tmp_path / "point.service"
    make(path)
    with pytest.raises(point.PointError, match=error):
        point.served(str(path))


def test_a_fifo_in_the_units_place_is_not_swapped(tmp_path):
    old = install(tmp_path, "000000000000")
    rollback, unit = tmp_path / "rollback.service", tmp_path / "unit.service"
    rollback.write_text(unit_text(*old))
    os.mkfifo(unit)
    with pytest.raises(point.PointError, match="not a regular file; nothing was swapped"):
        point.swap(str(rollback), str(unit))
    assert point.served(str(rollback))["venv"] == old[0]
