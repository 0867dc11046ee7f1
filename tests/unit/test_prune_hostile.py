"""openclaw.vllm.prune_versions where what is linked cannot all be found out: run as the owner of
the tree (not root, so a mode 0 directory really cannot be read), it prunes nothing and warns with
the path, never the version ``current`` points to. Real directories, real modes, and the real
module run as another user (nobody) by setpriv."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers.ansible_runs import run_module
from helpers.marks import needs_root
from helpers.models import IDS, left, make_versions


# The tests that run the module as nobody start it with this venv's interpreter, which another
# user can run only where its libpython is found outside /root (scripts/bootstrap.sh); they are not
# marked ansible, so the ansible-core matrix (its venvs' Pythons, 3.12 for 2.20) leaves them out.
MODULE = "ansible_collections.openclaw.vllm.plugins.modules.prune_versions"
NOBODY = 65534


@pytest.fixture
def tree():
    """A tree nobody owns, outside root's private pytest directory: builds a, b, c (oldest first)
    and links/current -> a, the oldest, so keep=1 would remove it if the link went unseen."""
    top = Path(tempfile.mkdtemp(prefix="openclaw-prune-"))
    builds = top / "builds"
    versions = make_versions(builds, *("vllm-cpu-" + i for i in IDS[:3]))
    (top / "links").mkdir()
    (top / "links" / "current").symlink_to(versions[0])
    yield top, versions
    for dirpath, dirnames, _ in os.walk(top):  # as root, restore what the test locked, then remove it all
        os.chmod(dirpath, 0o755)
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
    shutil.rmtree(top)


def give_to_nobody(top):
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
            os.lchown(name, NOBODY, NOBODY)


def prune_as_nobody(top, **params):
    """The module as its own process, as the owner of the tree (what Ansible runs with become_user)."""
    args = top / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
    args.chmod(0o644)
    proc = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                           sys.executable, "-m", MODULE, str(args)], capture_output=True, text=True, timeout=120,
                          cwd="/")
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def warnings(result):
    """The warning texts: plain strings through ansible, structured when the module runs by itself."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


@needs_root
def test_a_readable_tree_is_pruned_as_its_owner(tree):
    top, (a, b, c) = tree
    give_to_nobody(top)
    result = prune_as_nobody(top, path=str(top / "builds"), names=["vllm-cpu"], keep=2, link_roots=[str(top)])
    assert result["removed"] == [str(b)], result
    assert result["in_use"] == [str(a)] and not warnings(result)


@needs_root
@pytest.mark.parametrize("mode, unreadable", [
    (0o000, "links"),            # cannot be listed at all
    (0o444, "links/current"),    # listed, but no entry in it can be looked at (no search permission)
], ids=["mode-0", "no-search"])
def test_an_unreadable_directory_holding_current_prunes_nothing(tree, mode, unreadable):
    top, versions = tree
    give_to_nobody(top)
    (top / "links").chmod(mode)
    result = prune_as_nobody(top, path=str(top / "builds"), names=["vllm-cpu"], keep=1, link_roots=[str(top)])
    assert not result.get("failed"), result
    assert result["changed"] is False and result["removed"] == []
    assert warnings(result) == ["nothing pruned in %s: %s cannot be read (Permission denied)"
                                  % (top / "builds", top / unreadable)]
    assert all(v.is_dir() for v in versions), "the version current points to (and every other) is still there"


@needs_root
def test_a_link_through_an_unsearchable_directory_prunes_nothing(tree):
    """links/current -> ../private/hop -> the oldest build; private (not a link root) is mode 0."""
    top, versions = tree
    (top / "private").mkdir()
    (top / "private" / "hop").symlink_to(versions[0])
    (top / "links" / "current").unlink()
    (top / "links" / "current").symlink_to("../private/hop")
    give_to_nobody(top)
    (top / "private").chmod(0)
    result = prune_as_nobody(top, path=str(top / "builds"), names=["vllm-cpu"], keep=1,
                             link_roots=[str(top / "links")])
    assert result["removed"] == [], result
    assert warnings(result) == ["nothing pruned in %s: link %s cannot be resolved (Permission denied)"
                                  % (top / "builds", top / "links" / "current")]
    assert all(v.is_dir() for v in versions)


@pytest.mark.ansible
def test_a_link_loop_prunes_nothing(tmp_path):
    builds = tmp_path / "builds"
    a, b, c = make_versions(builds, *("vllm-cpu-" + i for i in IDS[:3]))
    (tmp_path / "current").symlink_to(c)
    (tmp_path / "loop-a").symlink_to("loop-b")
    (tmp_path / "loop-b").symlink_to("loop-a")
    result = prune(path=str(builds), names=["vllm-cpu"], keep=1, link_roots=[str(tmp_path)])
    assert not result.get("failed"), result
    assert result["changed"] is False and result["removed"] == []
    assert sorted(result["kept"]) == sorted(map(str, (a, b, c)))
    assert len(warnings(result)) == 1
    assert warnings(result)[0].startswith("nothing pruned in %s: link %s" % (builds, tmp_path / "loop-"))
    assert warnings(result)[0].endswith("cannot be resolved (Too many levels of symbolic links)")
    assert left(builds) == sorted(p.name for p in (a, b, c))


@pytest.mark.ansible
def test_a_missing_link_root_prunes_nothing(tmp_path):
    """A link root that is not there (a typo, an unmounted disk) cannot say what is not linked."""
    builds = tmp_path / "builds"
    make_versions(builds, *("vllm-cpu-" + i for i in IDS[:3]))
    result = prune(path=str(builds), names=["vllm-cpu"], keep=1, link_roots=[str(tmp_path / "nowhere")])
    assert result["removed"] == [] and len(left(builds)) == 3
    assert warnings(result) == ["nothing pruned in %s: %s cannot be read (No such file or directory)"
                                  % (builds, tmp_path / "nowhere")]


def prune(check=False, **params):
    return run_module("prune_versions", params, check=check)
