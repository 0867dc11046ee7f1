"""The layout the three roles share: module_utils/version_layout.py, and the filter over it as
Ansible loads it. The table keeps collection 1.0's paths, so a provisioned host upgrades in place."""
import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils import version_layout as table
from helpers.ansible_runs import run_module


def test_venv_paths_are_the_ones_hosts_already_have():
    assert table.layout("venv", "/opt/openclaw-vllm/") == {
        "root": "/opt/openclaw-vllm", "versions": "/opt/openclaw-vllm/builds",
        "link": "/opt/openclaw-vllm/current", "previous": "/opt/openclaw-vllm/previous"}


def test_model_paths_are_the_ones_hosts_already_have():
    assert table.layout("model", "/var/lib/m", "tiny-awq") == {
        "root": "/var/lib/m", "versions": "/var/lib/m/.versions", "link": "/var/lib/m/tiny-awq",
        "previous": "/var/lib/m/.previous/tiny-awq"}


@pytest.mark.parametrize("kind, root, name", [("venv", "/opt/x", None), ("model", "/srv/models", "qwen-awq")])
def test_the_link_leads_back_to_the_same_layout(kind, root, name):
    forward = table.layout(kind, root, name)
    assert table.layout_of_link(kind, forward["link"]) == forward


@pytest.mark.parametrize("call, named", [
    (lambda: table.layout("wheel", "/opt"), "kind 'wheel'"),
    (lambda: table.layout("venv", "opt/x"), "root 'opt/x'"),
    (lambda: table.layout("venv", "/"), "root '/'"),
    (lambda: table.layout("model", "/m", "a/b"), "model name 'a/b'"),
    (lambda: table.layout("model", "/m", ".versions"), "model name '.versions'"),
    (lambda: table.layout("model", "/m", None), "model name None"),
    (lambda: table.layout_of_link("model", 7), "link 7"),
])
def test_what_it_cannot_place_is_named(call, named):
    with pytest.raises(table.LayoutError, match=named):
        call()


@pytest.mark.ansible
def test_the_filter_as_ansible_loads_it():
    result = run_module("ansible.builtin.debug", {
        "msg": "{{ '/srv/models/tiny' | openclaw.vllm.version_layout('model', of_link=true) }}"})
    assert result["msg"]["previous"] == "/srv/models/.previous/tiny"
    failed = run_module("ansible.builtin.debug", {"msg": "{{ 'rel' | openclaw.vllm.version_layout('venv') }}"})
    assert failed.get("failed") and "version_layout: root 'rel'" in failed["msg"]
