"""One truth per setting: each role's argument_specs, its defaults, its README and the inventories
agree, and the host commands assume the role's defaults where no service config says otherwise."""
import re

import pytest
import yaml

from helpers.paths import ROOT

from ansible_collections.openclaw.vllm.plugins.module_utils.host import constants, gpu_facts, lanes, metrics

COLLECTION = ROOT / "collections" / "ansible_collections" / "openclaw" / "vllm"
ROLES = sorted(path.name for path in (COLLECTION / "roles").iterdir() if (path / "meta/argument_specs.yml").is_file())
# What the inventories and scenarios set, read as Ansible reads them.
VARS_FILES = sorted(
    [path for path in (ROOT / "inventory").rglob("*.yml") if "group_vars" in path.parts or "host_vars" in path.parts]
    + [path for path in (ROOT / "molecule").rglob("*.yml") if "group_vars" in path.parts or "host_vars" in path.parts])


def load(path):
    return yaml.safe_load(path.read_text()) or {}


def specs(role):
    return load(COLLECTION / "roles" / role / "meta/argument_specs.yml")["argument_specs"]


def exported(role):
    """The facts a role publishes (set_fact in its tasks): awq_model_path, vllm_venv_path, ..."""
    names = set()

    def walk(tasks):
        for task in tasks if isinstance(tasks, list) else []:
            names.update((task.get("ansible.builtin.set_fact") or {}).keys())
            for section in ("block", "rescue", "always"):
                walk(task.get(section))

    for path in (COLLECTION / "roles" / role / "tasks").glob("*.yml"):
        walk(load(path))
    return {name for name in names if name.startswith(role + "_")}


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_specified_with_the_same_value(role):
    options = specs(role)["main"]["options"]
    defaults = load(COLLECTION / "roles" / role / "defaults/main.yml")
    assert sorted(set(defaults) - set(options)) == [], "defaults/main.yml sets variables argument_specs does not know"
    assert sorted(set(options) - set(defaults)) == [], "argument_specs documents variables without a default"
    differ = {name: (option["default"], defaults[name]) for name, option in options.items()
              if "default" in option and option["default"] != defaults[name]}
    assert differ == {}, "argument_specs default != defaults/main.yml (spec, defaults)"
    # A default computed from other variables is described in words, not given as a default.
    templated = [name for name, value in defaults.items() if "{{" in str(value) and "default" in options[name]]
    assert templated == []


@pytest.mark.parametrize("role", ROLES)
def test_every_entry_point_takes_the_same_options(role):
    entry_points = specs(role)
    for name, entry in entry_points.items():
        assert entry["options"] == entry_points["main"]["options"], name


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_names_only_real_variables(role):
    readme = (COLLECTION / "roles" / role / "README.md").read_text()
    named = set(re.findall(r"\b(%s_[a-z0-9_]+)\b" % role, readme))
    known = set(specs(role)["main"]["options"]) | exported(role)
    assert sorted(named - known) == [], "README.md names variables that do not exist"
    # "`var` (default X)" in a README states the real default.
    defaults = load(COLLECTION / "roles" / role / "defaults/main.yml")
    for name, stated in re.findall(r"`(%s_[a-z0-9_]+)` \(default ([^)]+)\)" % role, readme):
        assert stated.strip("`") == str(defaults[name]), name


@pytest.mark.parametrize("path", VARS_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_inventories_set_only_variables_the_roles_know(path):
    """A misspelt role variable in an inventory is silently ignored by Ansible: not here."""
    known = set()
    for role in ROLES:
        known |= set(specs(role)["main"]["options"])
    prefixes = tuple(role + "_" for role in ROLES)
    unknown = sorted(name for name in load(path) if name.startswith(prefixes) and name not in known)
    assert unknown == []


def test_the_host_commands_assume_the_roles_defaults():
    """status without a service config, and the GPU checks without a setting, use what the role
    would have written."""
    service = load(COLLECTION / "roles/vllm_service/defaults/main.yml")
    assert constants.DEFAULT_HOST == service["vllm_service_host"]
    assert constants.DEFAULT_PORT == service["vllm_service_port"]
    assert service["vllm_service_unit_name"] == "{{ (vllm_service_lane | openclaw.vllm.lane).unit }}"
    assert constants.DEFAULT_UNIT == lanes.lane_unit(service["vllm_service_lane"])
    role_vars = load(COLLECTION / "roles/vllm_service/vars/main.yml")
    assert role_vars["_vllm_service_metrics_file"].replace("{{ vllm_service_metrics_dir }}", "/m").replace(
        "{{ vllm_service_port }}", "8001") == metrics.metrics_path("/m", 8001)
    assert gpu_facts.DEFAULT_UTILIZATION == service["vllm_service_gpu_memory_utilization"]


def test_the_deprecated_import_paths_are_the_packages_own_objects():
    """module_utils.port_guard and .vllm_status (the 1.0 paths other code may import) only name
    the host package's objects: no second home for any logic."""
    from ansible_collections.openclaw.vllm.plugins.module_utils import port_guard, vllm_status
    from ansible_collections.openclaw.vllm.plugins.module_utils.host import reclaim, status

    assert port_guard.run_guard is reclaim.run_guard and vllm_status.gather is status.gather
    for alias in (port_guard, vllm_status):
        defined_here = [name for name in alias.__all__
                        if getattr(getattr(alias, name), "__module__", None) == alias.__name__]
        assert defined_here == [], alias.__name__
