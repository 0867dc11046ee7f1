"""openclaw.vllm.version_link: the switch of a versioned install (vllm_venv's current, awq_model's
model link), run through Ansible as the roles run it, and its one rule in module_utils."""
import os
import threading

import pytest

from helpers.ansible_runs import run_module

from ansible_collections.openclaw.vllm.plugins.module_utils.version_link import switch


def versions(tmp_path, *names):
    made = []
    for name in names:
        path = tmp_path / "builds" / name
        path.mkdir(parents=True)
        made.append(path)
    return made


def link(tmp_path, *names):
    return run_module("version_link", dict(zip(("link", "version", "previous"), map(str, names))))


@pytest.mark.ansible
def test_first_switch_then_a_new_version_keeps_the_old_one_as_previous(tmp_path):
    a, b = versions(tmp_path, "vllm-cpu-00000000000a", "vllm-cpu-00000000000b")
    current, previous = tmp_path / "current", tmp_path / "previous"
    first = link(tmp_path, current, a, previous)
    assert first["changed"] and first["previous"] is None and not os.path.lexists(previous)
    assert os.readlink(current) == str(a)
    again = link(tmp_path, current, a, previous)
    assert not again["changed"], "a link already there is not written again"
    second = link(tmp_path, current, b, previous)
    assert second["changed"] and second["previous"] == str(a)
    assert os.readlink(current) == str(b) and os.readlink(previous) == str(a)


@pytest.mark.ansible
def test_check_mode_says_what_it_would_do_and_changes_nothing(tmp_path):
    a, b = versions(tmp_path, "m-00000000000a", "m-00000000000b")
    current, previous = tmp_path / "models" / "tiny", tmp_path / "models" / ".previous" / "tiny"
    current.parent.mkdir()
    current.symlink_to(a)
    result = run_module("version_link", {"link": str(current), "version": str(b), "previous": str(previous)},
                        check=True)
    assert result["changed"] and result["previous"] == str(a)
    assert os.readlink(current) == str(a) and not os.path.lexists(previous.parent)


@pytest.mark.ansible
def test_the_previous_links_directory_is_made(tmp_path):
    a, b = versions(tmp_path, "m-00000000000a", "m-00000000000b")
    current, previous = tmp_path / "tiny", tmp_path / ".previous" / "tiny"
    current.symlink_to(a)
    assert link(tmp_path, current, b, previous)["previous"] == str(a)
    assert oct(os.stat(previous.parent).st_mode & 0o777) == "0o755"
    assert os.readlink(previous) == str(a)


@pytest.mark.ansible
@pytest.mark.parametrize("kind", ["directory", "file"])
def test_something_else_in_the_links_place_is_refused_and_kept(tmp_path, kind):
    (a,) = versions(tmp_path, "vllm-cpu-00000000000a")
    current = tmp_path / "current"
    if kind == "directory":
        current.mkdir()
        (current / "bin").mkdir()
    else:
        current.write_text("not a link")
    result = link(tmp_path, current, a, tmp_path / "previous")
    assert result["failed"]
    assert result["msg"] == "%s is not a link (a %s is in its place): move it away, then run again" % (current, kind)
    assert not current.is_symlink() and current.exists()


def test_there_is_never_a_moment_without_the_link(tmp_path):
    """A reader that resolves the link all the while a switch goes back and forth never finds it
    missing (a new link is renamed over the old one, never removed first)."""
    a, b = versions(tmp_path, "vllm-cpu-00000000000a", "vllm-cpu-00000000000b")
    current, previous = tmp_path / "current", tmp_path / "previous"
    switch(str(current), str(a), str(previous))
    missing, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                os.readlink(current)
            except FileNotFoundError:
                missing.append(1)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for turn in range(300):
            switch(str(current), str(b if turn % 2 == 0 else a), str(previous))
    finally:
        stop.set()
        thread.join()
    assert missing == []
    assert os.readlink(current) == str(a) and os.readlink(previous) == str(b)
    assert sorted(os.listdir(tmp_path)) == ["builds", "current", "previous"], "no temporary link is left"
