"""The real `__main__.py` per stack, checked against what the providers actually do on day one:
Logpush reaching the right bucket, stateful resources protected in prod, paging that cannot
silently page nobody, rate limits bounded by the zone's plan. (Issue 10.)"""

from __future__ import annotations

import json

import pytest

from edgekit_iac.program import ProgramGraph, run_program

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
    assert len(scripts) == 4  # cache wrapper, geo API, edge counter, auth Worker
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
    from edgekit_iac.release import stack_files

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
    from edgekit_iac.cli import main

    _prod_paging_without_secret(monkeypatch)
    assert main(["preview", "--stack", "prod"]) != 0
    error = capsys.readouterr().err
    assert "edgekit:alarms.paging is true" in error
    assert "pulumi config set --secret edgekit:alarmEndpoint https://" in error
    assert "--stack prod" in error


def test_the_refusal_comes_before_the_first_resource(monkeypatch):
    import runpy

    from edgekit_iac.config import ConfigError
    from edgekit_iac.program import default_program_path

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
    from edgekit_iac.cli import main

    assert main(["preview", "--stack", "prod"]) == 0
    assert "Policy pack: no violations." in capsys.readouterr().out


# --- Cloudflare rate limits: the zone's plan, and adopting an existing entry point --------

RULESET = "cloudflare:index/ruleset:Ruleset"
ZONE = "0123456789abcdef0123456789abcd00"


def _cloudflare(plan: str | None) -> dict:
    from edgekit_iac.release import stack_files

    section = dict(stack_files.read_config("prod")["edgekit:cloudflare"])
    section.pop("zonePlan", None)
    if plan is not None:
        section["zonePlan"] = plan
    return section


def _limits(**changes) -> dict:
    from edgekit_iac.release import stack_files

    return {**stack_files.read_config("prod")["edgekit:rateLimits"]["cloudflare"], **changes}


def _run_limits(plan: str | None, **changes) -> ProgramGraph:
    # The free plan has one rate limiting rule per zone: no second rule over every path.
    if plan == "free":
        changes.setdefault("defaultRequestsPerPeriod", None)
    return _run(
        "prod",
        **{
            "edgekit:cloudflare": _cloudflare(plan),
            "edgekit:rateLimits": {"cloudflare": _limits(**changes)},
        },
    )


@pytest.mark.parametrize(
    ("plan", "changes", "key", "accepted"),
    [
        ("free", {}, "rateLimits.cloudflare.periodSeconds", "accepted: 10"),
        ("pro", {"periodSeconds": 120}, "rateLimits.cloudflare.periodSeconds", "10, 60"),
        (
            "pro",
            {"mitigationTimeoutSeconds": 86400},
            "rateLimits.cloudflare.mitigationTimeoutSeconds",
            "3600",
        ),
        ("business", {"periodSeconds": 3600}, "rateLimits.cloudflare.periodSeconds", "600"),
        (
            "business",
            {"mitigationTimeoutSeconds": 0},
            "rateLimits.cloudflare.mitigationTimeoutSeconds",
            "86400",
        ),
    ],
)
def test_a_period_or_timeout_the_zones_plan_refuses_names_the_keys(plan, changes, key, accepted):
    from edgekit_iac.config import ConfigError

    with pytest.raises(ConfigError) as raised:
        _run_limits(plan, **changes)
    message = str(raised.value)
    assert f"edgekit:{key}" in message
    assert f"edgekit:cloudflare.zonePlan is {plan!r}" in message
    assert accepted in message


@pytest.mark.parametrize(
    ("plan", "period", "timeout"),
    [("free", 10, 10), ("pro", 60, 3600), ("business", 600, 86400), ("enterprise", 3600, 0)],
)
def test_each_plan_accepts_its_own_limits(plan, period, timeout):
    graph = _run_limits(plan, periodSeconds=period, mitigationTimeoutSeconds=timeout)
    ratelimit = graph.one(RULESET).inputs["rules"][0]["ratelimit"]
    assert (ratelimit["period"], ratelimit["mitigationTimeout"]) == (period, timeout)


def test_the_zone_plan_is_required_once_cloudflare_rate_limits_are_on():
    from edgekit_iac.config import ConfigError

    with pytest.raises(ConfigError, match=r"edgekit:cloudflare.zonePlan: required"):
        _run_limits(None)


def test_an_existing_entry_point_is_adopted_by_import_from_config():
    existing = "a" * 32
    graph = _run_limits("pro", importRulesetId=existing)
    ruleset = graph.one(RULESET)
    assert ruleset.options["importId"] == f"zones/{ZONE}/{existing}"


def test_without_an_import_id_the_ruleset_is_created_with_its_error_hook(graphs):
    ruleset = graphs["prod"].one(RULESET)
    assert "importId" not in ruleset.options
    assert ruleset.options["onErrorHooks"] == ["api-rate-limit-entrypoint-exists"]


# --- Alarms: resizer failures anywhere in the world; latency from what a miss costs -------

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_resizer_failures_in_any_region_alarm_from_cloudfronts_global_metrics(graphs, stack):
    graph = graphs[stack]
    alarms = {a.name: a.inputs for a in graph.of_type(ALARM)}
    distribution_id = graph.one("aws:cloudfront/distribution:Distribution").id
    errors = alarms["edge-alarms-edge-function-errors"]
    metrics = [q["metric"] for q in errors["metricQueries"] if "metric" in q]
    assert {m["metricName"] for m in metrics} >= {"LambdaExecutionError", "LambdaValidationError"}
    assert all(m["dimensions"]["DistributionId"] == distribution_id for m in metrics)
    # The handler's own 500s: what every viewer got, whichever region served it.
    assert alarms["edge-alarms-5xx-error-rate"]["metricName"] == "5xxErrorRate"
    # No alarm watches one region's AWS/Lambda metrics as if they were the whole world.
    assert not [a for a in alarms.values() if a.get("namespace") == "AWS/Lambda"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_origin_latency_alarm_is_set_above_what_a_healthy_miss_costs(graphs, stack):
    latency = graphs[stack].named("edge-alarms-origin-latency-p95").inputs
    assert latency["extendedStatistic"] == "p95"
    assert latency["threshold"] == 1500
