"""`edgekit promote --from staging --to prod` against fixture stack files, zips and outputs."""

from __future__ import annotations

import json
import os
import stat
from types import SimpleNamespace

import pytest
import yaml

from edgekit_iac.config import parse_settings
from edgekit_iac.release.pins import PINS_COMMENT, Pin

from .conftest import PROD_FILE, Project


def pins_block(pins: dict[str, Pin]) -> str:
    lines = ["  edgekit:artifacts:\n"]
    for name in sorted(pins):
        lines += [
            f"    {name}:\n",
            f'      version: "{pins[name].version}"\n',
            f'      sha256: "{pins[name].sha256}"\n',
        ]
    return "".join(lines)


ANCHOR = "  edgekit:alarms: {enabled: true, paging: true}\n"


def promoted(pins: dict[str, Pin]) -> str:
    """The fixture prod file with these pins added: nothing else may differ."""
    return PROD_FILE.replace(ANCHOR, ANCHOR + f"  {PINS_COMMENT}\n" + pins_block(pins))


def test_promote_pins_what_staging_ran_and_changes_nothing_else(project: Project):
    release = project.release("1.0.0")
    result = project.promote(release)
    assert result.code == 0, result.err
    assert project.prod.read_bytes() == promoted(release).encode()
    assert "image_resizer: not pinned -> 1.0.0" in result.out
    assert "wrote stacks/Pulumi.prod.yaml" in result.out


def test_the_promoted_file_passes_the_stack_config_schema(project: Project):
    project.promote(project.release("1.0.0"))
    config = yaml.safe_load(project.prod.read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("edgekit:")}
    settings = parse_settings(values, "stacks/Pulumi.prod.yaml")
    assert settings.artifacts["hello_geo"].version == "1.0.0"


def test_a_second_promotion_replaces_the_pins_in_place(project: Project):
    project.promote(project.release("1.0.0"))
    newer = project.release("1.1.0")
    result = project.promote(newer)
    assert result.code == 0, result.err
    assert project.prod.read_bytes() == promoted(newer).encode()
    assert "cache_wrapper: 1.0.0 (sha256 " in result.out


def test_promotion_keeps_crlf_line_endings_and_file_mode(project: Project):
    project.prod.write_bytes(PROD_FILE.replace("\n", "\r\n").encode())
    os.chmod(project.prod, 0o640)
    release = project.release("1.0.0")
    assert project.promote(release).code == 0
    assert project.prod.read_bytes() == promoted(release).replace("\n", "\r\n").encode()
    assert stat.S_IMODE(project.prod.stat().st_mode) == 0o640
    assert [p.name for p in project.prod.parent.iterdir() if p.name.startswith(".Pulumi")] == []


def test_promotion_records_the_previous_pins(project: Project):
    first, second = project.release("1.0.0"), project.release("1.1.0")
    project.promote(first)
    project.promote(second)
    entries = json.loads(project.history.read_text())["entries"]
    assert [e["action"] for e in entries] == ["promote from staging"] * 2
    assert entries[0]["previous"] == {}
    assert entries[1]["previous"]["image_resizer"] == first["image_resizer"].to_config()
    assert entries[1]["written"]["image_resizer"] == second["image_resizer"].to_config()


def test_dry_run_prints_the_diff_and_writes_nothing(project: Project):
    release = project.release("1.0.0")
    result = project.promote(release, "--dry-run")
    assert result.code == 0, result.err
    assert project.prod.read_bytes() == PROD_FILE.encode()
    assert not project.history.exists()
    assert "--- a/stacks/Pulumi.prod.yaml\n+++ b/stacks/Pulumi.prod.yaml\n" in result.out
    assert f'+      sha256: "{release["image_resizer"].sha256}"\n' in result.out
    assert "dry run: nothing was written." in result.out


def test_promoting_the_same_pins_again_changes_nothing(project: Project):
    release = project.release("1.0.0")
    project.promote(release)
    before = project.prod.read_bytes(), project.history.read_bytes()
    result = project.promote(release)
    assert result.code == 0
    assert "nothing to change" in result.out
    assert (project.prod.read_bytes(), project.history.read_bytes()) == before


def test_artifacts_may_come_from_another_directory(project: Project):
    ci_download = project.root / "from-staging"
    pins = {"image_resizer": project.artifact("image_resizer", "2.0.0", store=ci_download)}
    result = project.promote(pins, "--artifacts", str(ci_download))
    assert result.code == 0, result.err
    assert "note: `pulumi up` looks for pinned zips in" in result.out


# --- refusals: each leaves the stack file and history untouched -----------------------------


def assert_refused(project: Project, result, *fragments: str) -> None:
    assert result.code == 2, result.out
    assert result.err.startswith("edgekit promote: ")
    for fragment in fragments:
        assert fragment in result.err
    assert project.prod.read_bytes() == PROD_FILE.encode()
    assert not project.history.exists()


def test_refuses_a_missing_zip(project: Project):
    release = project.release("1.0.0")
    for zip_path in (project.root / ".edgekit" / "bundles").glob("hello_geo-*.zip"):
        zip_path.unlink()
    assert_refused(project, project.promote(release), "hello_geo 1.0.0: no hello_geo-*.zip in")


def test_refuses_a_zip_whose_hash_does_not_match(project: Project):
    release = project.release("1.0.0")
    tampered = next((project.root / ".edgekit" / "bundles").glob("image_resizer-*.zip"))
    tampered.write_bytes(tampered.read_bytes() + b"\0")
    assert_refused(
        project,
        project.promote(release),
        "image_resizer 1.0.0: hash mismatch",
        f"want {release['image_resizer'].sha256}",
        tampered.name,
    )


def test_refuses_when_the_target_would_lose_a_pinned_function(project: Project):
    project.promote(project.release("1.0.0"))
    pinned = project.prod.read_bytes()
    history = project.history.read_bytes()
    result = project.promote(project.release("1.1.0", names=("image_resizer", "cache_wrapper")))
    assert result.code == 2
    assert "pins hello_geo today" in result.err and "would lose that key" in result.err
    assert (project.prod.read_bytes(), project.history.read_bytes()) == (pinned, history)


@pytest.mark.parametrize(
    ("outputs", "fragment"),
    [
        ({}, "stack 'staging' has no outputs"),
        ({"imagesDomain": "d1.cloudfront.net"}, "have no 'artifacts'"),
        ({"artifacts": "[secret]"}, "--show-secrets"),
        (
            {"artifacts": {"image_resizer": {"version": "1.0.0", "sha256": "nothex"}}},
            "image_resizer.sha256: 'nothex' is not 64 hex digits",
        ),
    ],
)
def test_refuses_outputs_without_usable_artifacts(project: Project, outputs, fragment):
    path = project.root / "outputs.json"
    path.write_text(json.dumps(outputs))
    result = project.run("promote", "--from", "staging", "--to", "prod", "--outputs", str(path))
    assert_refused(project, result, fragment)


def test_refuses_an_outputs_file_that_is_missing_or_not_json(project: Project):
    missing = project.run(
        "promote", "--from", "staging", "--to", "prod", "--outputs", "nope.json"
    )
    assert_refused(project, missing, "outputs file nope.json does not exist")
    broken = project.root / "broken.json"
    broken.write_text("Current stack outputs (2):")
    result = project.run("promote", "--from", "staging", "--to", "prod", "--outputs", str(broken))
    assert_refused(project, result, "not JSON", "pulumi stack output --json")


def test_refuses_promoting_a_stack_onto_itself(project: Project):
    result = project.run("promote", "--from", "prod", "--to", "prod", "--outputs", "x.json")
    assert_refused(project, result, "both 'prod'")


def test_refuses_a_target_without_a_stack_file(project: Project):
    release = project.release("1.0.0")
    result = project.run(
        "promote", "--from", "staging", "--to", "qa", "--outputs", str(project.outputs(release))
    )
    assert_refused(project, result, "no stack file", "Pulumi.qa.yaml", "stacks here: prod, staging")


def test_without_outputs_file_or_pulumi_cli_it_says_how_to_export(project, monkeypatch):
    monkeypatch.setenv("PATH", str(project.root / "empty-bin"))
    result = project.run("promote", "--from", "staging", "--to", "prod")
    assert_refused(
        project,
        result,
        "needs the Pulumi CLI, which is not installed on this machine",
        "pulumi stack output --json --show-secrets --stack staging > staging-outputs.json",
        "--outputs staging-outputs.json",
    )


def test_with_the_pulumi_cli_it_reads_outputs_through_the_automation_api(project, monkeypatch):
    """The CLI is faked (none exists here); the Automation API call is what is checked."""
    bin_dir = project.root / "bin"
    bin_dir.mkdir()
    fake_cli = bin_dir / "pulumi"
    fake_cli.write_text("#!/bin/sh\nexit 1\n")
    fake_cli.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    release = project.release("1.0.0")
    asked = {}

    def select_stack(stack_name, work_dir):
        asked.update(stack_name=stack_name, work_dir=work_dir)
        artifacts = {n: p.to_config() for n, p in release.items()}
        value = SimpleNamespace(value=artifacts, secret=False)
        return SimpleNamespace(outputs=lambda: {"artifacts": value})

    monkeypatch.setattr("pulumi.automation.select_stack", select_stack)
    result = project.run("promote", "--from", "staging", "--to", "prod")
    assert result.code == 0, result.err
    assert asked == {"stack_name": "staging", "work_dir": str(project.root)}
    assert '      version: "1.0.0"\n' in project.prod.read_text()


def test_a_stack_the_backend_does_not_know_is_refused(project, monkeypatch):
    from pulumi import automation

    bin_dir = project.root / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))

    def select_stack(stack_name, work_dir):
        raise automation.StackNotFoundError(
            automation.CommandResult(stdout="", stderr="no stack named 'staging' found", code=255)
        )

    monkeypatch.setattr("pulumi.automation.select_stack", select_stack)
    result = project.run("promote", "--from", "staging", "--to", "prod")
    assert_refused(project, result, "the Pulumi backend has no stack 'staging'")
