"""The real `__main__.py` per stack, checked against what the providers actually do on day one:
Logpush reaching the right bucket, stateful resources protected in prod, paging that cannot
silently page nobody, rate limits bounded by the zone's plan. (Issue 10.)"""

from __future__ import annotations

import json

import pytest

from edgekit.program import ProgramGraph, run_program

SCRIPT = "cloudflare:index/workersScript:WorkersScript"
JOB = "cloudflare:index/logpushJob:LogpushJob"
PROD_SECRET = {"edgekit:alarmEndpoint": {"secure": "v1:encrypted"}}


def _run(stack: str, **overrides) -> ProgramGraph:
    return run_program(stack, config_overrides=overrides or None)


@pytest.fixture(scope="module")
def graphs() -> dict[str, ProgramGraph]:
    return {stack: _run(stack) for stack in ("local", "staging", "prod")}


def _pushed_scripts(graph: ProgramGraph) -> list[str]:
    (job,) = [j for j in graph.of_type(JOB) if j.inputs["dataset"] == "workers_trace_events"]
    return json.loads(job.inputs["filter"])["where"]["value"]


# --- Logpush: every pushed Worker emits, and each job takes only its own stack's ----------


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_worker_of_a_stack_with_logpush_turns_logpush_on(graphs, stack):
    scripts = graphs[stack].of_type(SCRIPT)
    assert len(scripts) == 2
    assert all(script.inputs["logpush"] is True for script in scripts)


def test_a_stack_without_a_logpush_job_leaves_logpush_off(graphs):
    assert not graphs["local"].of_type(JOB)
    assert all(s.inputs["logpush"] is False for s in graphs["local"].of_type(SCRIPT))


def test_each_stacks_job_is_filtered_to_exactly_its_own_scripts(graphs):
    for stack in ("staging", "prod"):
        own = sorted(s.inputs["scriptName"] for s in graphs[stack].of_type(SCRIPT))
        assert _pushed_scripts(graphs[stack]) == own
    # Same account, different scripts: staging's logs never land in prod's bucket.
    assert not set(_pushed_scripts(graphs["staging"])) & set(_pushed_scripts(graphs["prod"]))


# --- Paging: on without its secret endpoint is refused before anything is declared ------


def _prod_paging_without_secret(monkeypatch) -> None:
    from edgekit import stack_files

    real = stack_files.read_config

    def read_config(stack: str) -> dict:
        config = dict(real(stack))
        config["edgekit:alarms"] = {**config["edgekit:alarms"], "paging": True}
        config.pop("edgekit:alarmEndpoint", None)
        return config

    monkeypatch.setattr(stack_files, "read_config", read_config)


def test_preview_of_prod_paging_without_the_endpoint_exits_non_zero_naming_the_fix(
    monkeypatch, capsys
):
    from edgekit.cli import main

    _prod_paging_without_secret(monkeypatch)
    assert main(["preview", "--stack", "prod"]) != 0
    error = capsys.readouterr().err
    assert "edgekit:alarms.paging is true" in error
    assert "pulumi config set --secret edgekit:alarmEndpoint https://" in error
    assert "--stack prod" in error


def test_the_refusal_comes_before_the_first_resource(monkeypatch):
    import runpy

    from edgekit.config import ConfigError
    from edgekit.program import default_program_path

    _prod_paging_without_secret(monkeypatch)
    declared: list[str] = []

    def program() -> None:
        import pulumi

        original = pulumi.CustomResource.__init__

        def record(self, t, name, *args, **kwargs):
            declared.append(name)
            original(self, t, name, *args, **kwargs)

        monkeypatch.setattr(pulumi.CustomResource, "__init__", record)
        runpy.run_path(str(default_program_path()), run_name="__main__")

    with pytest.raises(ConfigError):
        run_program("prod", program=program)
    assert declared == []


def test_the_committed_prod_stack_previews_green(capsys):
    from edgekit.cli import main

    assert main(["preview", "--stack", "prod"]) == 0
    assert "Policy pack: no violations." in capsys.readouterr().out
