"""`edgekit rollback --stack prod --to <version>` from the pin history promotions record."""

from __future__ import annotations

import json

import pytest

from edgekit_iac.release.pin_artifacts import file_sha256
from edgekit_iac.release.pins import pins_in

from .conftest import PROD_FILE, Project


@pytest.fixture
def promoted_twice(project: Project):
    """prod ran release 1.0.0, then 1.1.0 (both promoted from staging)."""
    first, second = project.release("1.0.0"), project.release("1.1.0")
    assert project.promote(first).code == 0
    assert project.promote(second).code == 0
    return first, second


def current_pins(project: Project):
    return pins_in(project.prod.read_text(), project.prod)


def test_rollback_writes_the_earlier_pins_back(project: Project, promoted_twice):
    first, _ = promoted_twice
    result = project.run("rollback", "--stack", "prod", "--to", "1.0.0")
    assert result.code == 0, result.err
    assert current_pins(project) == first
    assert "image_resizer: 1.1.0 (sha256" in result.out and "-> 1.0.0 (sha256" in result.out


def test_rollback_changes_nothing_outside_the_pins(project: Project, promoted_twice):
    first, _ = promoted_twice
    project.run("rollback", "--stack", "prod", "--to", "1.0.0")
    rolled_back = project.prod.read_text()
    # The same file a single promotion of 1.0.0 writes into the original stack file.
    project.prod.write_text(PROD_FILE)
    project.history.unlink()
    project.promote(first)
    assert rolled_back == project.prod.read_text()


def test_rollback_is_recorded_so_the_newer_release_can_come_back(project, promoted_twice):
    _, second = promoted_twice
    project.run("rollback", "--stack", "prod", "--to", "1.0.0")
    entries = json.loads(project.history.read_text())["entries"]
    assert entries[-1]["action"] == "rollback to 1.0.0"
    result = project.run("rollback", "--stack", "prod", "--to", "1.1.0")
    assert result.code == 0, result.err
    assert current_pins(project) == second


def test_rollback_of_one_function_leaves_the_others(project: Project, promoted_twice):
    first, second = promoted_twice
    result = project.run("rollback", "--stack", "prod", "--to", "image_resizer@1.0.0")
    assert result.code == 0, result.err
    assert current_pins(project) == {**second, "image_resizer": first["image_resizer"]}


def test_rollback_dry_run_writes_nothing(project: Project, promoted_twice):
    before = project.prod.read_bytes(), project.history.read_bytes()
    result = project.run("rollback", "--stack", "prod", "--to", "1.0.0", "--dry-run")
    assert result.code == 0
    assert '-      version: "1.1.0"\n' in result.out
    assert '+      version: "1.0.0"\n' in result.out
    assert (project.prod.read_bytes(), project.history.read_bytes()) == before


def test_unknown_version_is_refused_with_the_known_ones(project: Project, promoted_twice):
    before = project.prod.read_bytes()
    result = project.run("rollback", "--stack", "prod", "--to", "0.9.0")
    assert result.code == 2
    assert "no recorded pins of '0.9.0' for stack 'prod'" in result.err
    assert "known: cache_wrapper 1.0.0, 1.1.0; hello_geo 1.0.0, 1.1.0; image_resizer" in result.err
    assert project.prod.read_bytes() == before


def test_unknown_function_is_refused(project: Project, promoted_twice):
    result = project.run("rollback", "--stack", "prod", "--to", "thumbnailer@1.0.0")
    assert result.code == 2 and "no recorded pins of 'thumbnailer@1.0.0'" in result.err


def test_rollback_without_history_is_refused(project: Project):
    result = project.run("rollback", "--stack", "prod", "--to", "1.0.0")
    assert result.code == 2
    assert "stack 'prod' has no pin history" in result.err
    assert project.prod.read_bytes() == PROD_FILE.encode()


def test_rollback_refuses_when_the_earlier_zip_is_gone(project: Project, promoted_twice):
    first, _ = promoted_twice
    for old_zip in (project.root / ".edgekit" / "bundles").glob("hello_geo-*.zip"):
        if file_sha256(old_zip) == first["hello_geo"].sha256:
            old_zip.unlink()
    before = project.prod.read_bytes()
    result = project.run("rollback", "--stack", "prod", "--to", "1.0.0")
    assert result.code == 2
    assert "hello_geo 1.0.0: hash mismatch" in result.err
    assert project.prod.read_bytes() == before


def test_a_damaged_history_file_is_refused(project: Project, promoted_twice):
    project.history.write_text("{not json")
    result = project.run("rollback", "--stack", "prod", "--to", "1.0.0")
    assert result.code == 2 and "not a pin history edgekit wrote" in result.err
