"""openclaw.vllm.out_of_place against what a real ansible.builtin.find run reports for a real
tree: a path is in place only as the right kind, content, mode, owner and group."""
import grp
import json
import os
import pwd
import subprocess
import sys

import pytest


from helpers.paths import ANSIBLE, ROOT

from ansible_collections.openclaw.vllm.plugins.filter.home_files import out_of_place

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def find(tree):
    """The `files` of ansible.builtin.find over ``tree``, as the role runs it."""
    run = subprocess.run([ANSIBLE, "localhost", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
                          "-m", "ansible.builtin.find", "-a", json.dumps({
                              "paths": [str(tree)], "recurse": True, "file_type": "any", "hidden": True,
                              "get_checksum": True})],
                         env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                                  ANSIBLE_STDOUT_CALLBACK="json"),
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["files"]


@pytest.mark.ansible
def test_only_the_right_kind_content_mode_and_owner_is_in_place(tmp_path):
    tree = tmp_path / "home"
    (tree / ".local" / "bin").mkdir(parents=True, mode=0o755)
    (tree / ".local").chmod(0o755)
    (tree / ".local" / "bin").chmod(0o755)
    code = tree / ".local" / "bin" / "tool"
    code.write_text("print('é')\n")  # not ASCII: the sha1 is of the UTF-8 bytes
    code.chmod(0o755)
    (tree / "secret").write_text("KEY='x'\n")
    (tree / "secret").chmod(0o600)
    (tree / "linked").symlink_to(tree / ".local")
    found = find(tree)

    def placed(path, mode, content=None, owner=OWNER, group=GROUP):
        return not out_of_place(found, str(tree / path), mode, owner, group, content)

    assert placed(".local", "0755") and placed(".local/bin", "0755")
    assert placed(".local/bin/tool", "0755", "print('é')\n")
    assert placed("secret", "0600", "KEY='x'\n")
    assert not placed(".local/bin/tool", "0755", "print('é')")  # one byte less
    assert not placed(".local/bin/tool", "0644", "print('é')\n")  # mode
    assert not placed(".local/bin/tool", "0755", "print('é')\n", owner="no-such-user")
    assert not placed(".local/bin/tool", "0755", "print('é')\n", group="no-such-group")
    assert not placed(".local/bin", "0755", "")  # a directory where a file is wanted
    assert not placed("secret", "0600")  # a file where a directory is wanted
    assert not placed("linked", "0777")  # a link is never the directory wanted
    assert not placed("missing", "0644", "")
    assert out_of_place([], str(tree / ".local"), "0755", OWNER, GROUP)
