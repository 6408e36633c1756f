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
