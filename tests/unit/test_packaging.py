"""The collection as published: one version, one license, a role README per role, reasoned ignores."""

from __future__ import annotations

import pathlib
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "collections/ansible_collections/openclaw/vllm"


def galaxy():
    return yaml.safe_load((COLLECTION / "galaxy.yml").read_text())


def test_pyproject_version_is_galaxy_version():
    """galaxy.yml is the source of the version; pyproject.toml must say the same."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == galaxy()["version"]


def test_changelog_latest_release_is_galaxy_version():
    releases = yaml.safe_load((COLLECTION / "changelogs/changelog.yaml").read_text())["releases"]
    latest = max(releases, key=lambda v: tuple(int(part) for part in v.split(".")))
    assert latest == galaxy()["version"]


def test_license_file_matches_declared_license():
    """GPL-3.0-or-later everywhere: galaxy.yml, pyproject, and the full text in repo and collection."""
    assert galaxy()["license"] == ["GPL-3.0-or-later"]
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "GPL-3.0-or-later"
    text = (ROOT / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text
    assert (COLLECTION / "LICENSE").read_text() == text


def test_every_role_has_readme_and_argument_specs():
    roles = sorted(path for path in (COLLECTION / "roles").iterdir() if path.is_dir())
    assert roles
    for role in roles:
        assert (role / "README.md").is_file(), role.name
        assert (role / "meta/argument_specs.yml").is_file(), role.name


def test_sanity_ignores_carry_a_reason():
    files = sorted((COLLECTION / "tests/sanity").glob("ignore-*.txt"))
    assert files
    for path in files:
        for line in path.read_text().splitlines():
            if line.strip():
                entry, _, reason = line.partition(" # ")
                assert len(entry.split()) == 2 and reason.strip(), "%s: %s" % (path.name, line)
