"""The CI workflows: valid for GitHub (its published schemas, offline) and consistent with edgekit.

Schema validity is checked with check-jsonschema's vendored GitHub schemas, with every
proxy pointed at a closed port so a download attempt would fail the test. The rest checks
what the schema cannot: least-privilege permissions, the official actions at their current
majors, local actions that exist, and `edgekit` commands with options edgekit has.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((REPO / ".github" / "actions").glob("*/action.yml"))
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
CURRENT_MAJORS = {
    "actions/checkout": "v6",
    "actions/setup-python": "v6",
    "actions/upload-artifact": "v6",
    "actions/download-artifact": "v7",
    "aws-actions/configure-aws-credentials": "v6",
    "pulumi/actions": "v7",
}


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE},
        check=False,
    )


def load(path: Path) -> dict:
    # YAML 1.1 reads the `on:` key as True; GitHub reads it as "on".
    document = yaml.safe_load(path.read_text())
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps(path: Path) -> Iterator[dict]:
    document = load(path)
    for job in document.get("jobs", {}).values():
        yield from job.get("steps", [])
    yield from document.get("runs", {}).get("steps", [])


def test_the_expected_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"preview.yml", "deploy.yml", "rollback.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(workflow):
    result = check_jsonschema("vendor.github-workflows", workflow)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("action", ACTIONS, ids=lambda p: p.parent.name)
def test_composite_action_matches_githubs_schema(action):
    result = check_jsonschema("vendor.github-actions", action)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    steps:\n      - run: make test\n")
    result = check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode == 1
    assert "'runs-on' is a required property" in result.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_read_only_unless_a_job_says_why(workflow):
    document = load(workflow)
    assert document["permissions"] == {"contents": "read"}
    for job in document["jobs"].values():
        for scope, level in job.get("permissions", {}).items():
            if level == "write":
                assert scope in {"contents", "id-token", "pull-requests"}


def test_only_jobs_behind_the_production_environment_can_push():
    for workflow in WORKFLOWS:
        for name, job in load(workflow)["jobs"].items():
            if job.get("permissions", {}).get("contents") == "write":
                assert job.get("environment") == "production", f"{workflow.name}:{name}"


def test_official_actions_are_used_at_their_current_majors():
    used = set()
    for path in [*WORKFLOWS, *ACTIONS]:
        for step in steps(path):
            uses = step.get("uses", "")
            if uses.startswith("./"):
                assert (REPO / uses / "action.yml").is_file(), f"{path.name}: {uses}"
            elif uses:
                action, _, version = uses.partition("@")
                assert CURRENT_MAJORS.get(action) == version, f"{path.name}: {uses}"
                used.add(action)
    assert {"pulumi/actions", "aws-actions/configure-aws-credentials"} <= used


def test_previews_and_deployments_run_the_policy_pack():
    pulumi_steps = [
        step
        for path in [*WORKFLOWS, *ACTIONS]
        for step in steps(path)
        if step.get("uses", "").startswith("pulumi/actions")
    ]
    commands = {step["with"]["command"] for step in pulumi_steps}
    assert commands == {"preview", "up"}
    assert all(step["with"]["policyPacks"] == "policies" for step in pulumi_steps)
    preview = next(s for s in pulumi_steps if s["with"]["command"] == "preview")
    assert preview["with"]["comment-on-pr"] is True


def test_secrets_come_from_the_secret_store():
    text = "".join(p.read_text() for p in [*WORKFLOWS, *ACTIONS])
    for name in ("PULUMI_ACCESS_TOKEN", "CLOUDFLARE_API_TOKEN", "AWS_DEPLOY_ROLE_ARN"):
        assert f"${{{{ secrets.{name} }}}}" in text


def edgekit_commands() -> Iterator[list[str]]:
    for path in [*WORKFLOWS, *ACTIONS]:
        for step in steps(path):
            script = step.get("run", "").replace("\\\n", " ")
            for line in script.splitlines():
                words = shlex.split(line)
                if words[:3] == [".venv/bin/python", "-m", "edgekit_iac"]:
                    yield words[3:]


@pytest.mark.parametrize("module_name", ["promote", "rollback", "smoke", "canary"])
def test_workflow_calls_of_edgekit_use_options_it_has(module_name):
    import importlib

    from edgekit_iac.cli import COMMANDS

    module = importlib.import_module(COMMANDS[module_name][0])
    calls = [words[1:] for words in edgekit_commands() if words[0] == module_name]
    assert calls, f"no workflow runs `edgekit {module_name}`"
    for arguments in calls:
        parser = argparse.ArgumentParser(prog=f"edgekit {module_name}", exit_on_error=False)
        module.add_arguments(parser)
        parser.parse_args(arguments)
