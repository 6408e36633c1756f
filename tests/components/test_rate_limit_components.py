"""EdgeRateLimit and CloudflareRateLimit under Pulumi's mock runtime.

The WAF runs are recorded in a stack whose default region is eu-west-1, so "the web ACL is
in us-east-1" is the component's doing. One run composes the ACL with EdgeImageResizer to
check that the distribution really carries it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from edgekit_iac.components.cloudflare_rate_limit import (
    PLAN_LIMITS,
    CloudflareRateLimit,
    CloudflareRateLimitArgs,
    CloudflareRateLimitArgsError,
)
from edgekit_iac.components.image_resizer import EdgeImageResizer, EdgeImageResizerArgs
from edgekit_iac.components.rate_limit import (
    EdgeRateLimit,
    EdgeRateLimitArgs,
    RateLimitArgsError,
    check_component_name,
    validate_args,
)

from edgekit_iac.errors import UserError
from edgekit_iac.program import ProgramGraph, run_program
from tests.components.graph_checks import assert_children_named_after
from tests.components.test_image_resizer_component import make_artifact

STACK_CONFIG = {"aws:region": "eu-west-1"}
ZONE = "fedcba9876543210fedcba9876543210"

RATE_LIMIT = "edgekit:aws:EdgeRateLimit"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CF_RATE_LIMIT = "edgekit:cloudflare:CloudflareRateLimit"
RULESET = "cloudflare:index/ruleset:Ruleset"


def record_waf(args: EdgeRateLimitArgs | None = None, name: str = "images-waf") -> ProgramGraph:
    return run_program("test", program=lambda: EdgeRateLimit(name, args), config=STACK_CONFIG)


def record_cloudflare(args: CloudflareRateLimitArgs) -> ProgramGraph:
    return run_program("test", program=lambda: CloudflareRateLimit("api-rl", args), config={})


@pytest.fixture(scope="module")
def waf() -> ProgramGraph:
    """Every argument at its default."""
    return record_waf()


@pytest.fixture(scope="module")
def scoped_waf() -> ProgramGraph:
    """The prod shape: a path prefix (given in mixed case) and a short window."""
    return record_waf(EdgeRateLimitArgs(limit=100, window_seconds=60, path_prefix="/Images/"))


def acl(graph: ProgramGraph) -> dict:
    return graph.one(WEB_ACL).inputs


def rules_by_name(graph: ProgramGraph) -> dict[str, dict]:
    return {rule["name"]: rule for rule in acl(graph)["rules"]}


def rate_statement(graph: ProgramGraph) -> dict:
    return rules_by_name(graph)["rate-limit-per-ip"]["statement"]["rateBasedStatement"]


# --- EdgeRateLimit: where the ACL lives and what it does ----------------------------------


def test_web_acl_is_cloudfront_scoped_in_us_east_1_whatever_the_stack_region(waf: ProgramGraph):
    inputs = acl(waf)
    assert inputs["scope"] == "CLOUDFRONT"
    assert inputs["region"] == "us-east-1"
    assert inputs["defaultAction"] == {"allow": {}}


def test_rate_rule_counts_each_client_ip_over_the_window(waf, scoped_waf):
    assert rate_statement(waf) == {
        "aggregateKeyType": "IP",
        "limit": 2000,
        "evaluationWindowSec": 300,
    }
    scoped = rate_statement(scoped_waf)
    assert (scoped["aggregateKeyType"], scoped["limit"], scoped["evaluationWindowSec"]) == (
        "IP",
        100,
        60,
    )


def test_path_prefix_scopes_the_count_and_closes_case_and_encoding_bypasses(scoped_waf):
    match = rate_statement(scoped_waf)["scopeDownStatement"]["byteMatchStatement"]
    assert match["fieldToMatch"] == {"uriPath": {}}
    assert match["positionalConstraint"] == "STARTS_WITH"
    assert match["searchString"] == "/images/"
    transformations = sorted(match["textTransformations"], key=lambda t: t["priority"])
    assert [t["type"] for t in transformations] == ["URL_DECODE", "LOWERCASE"]


def test_throttled_clients_get_429_with_a_json_body_the_acl_defines(scoped_waf):
    rule = rules_by_name(scoped_waf)["rate-limit-per-ip"]
    response = rule["action"]["block"]["customResponse"]
    assert response["responseCode"] == 429
    bodies = {body["key"]: body for body in acl(scoped_waf)["customResponseBodies"]}
    body = bodies[response["customResponseBodyKey"]]
    assert body["contentType"] == "APPLICATION_JSON"
    payload = json.loads(body["content"])
    assert payload["error"] == "too_many_requests"
    assert (payload["limit"], payload["window_seconds"]) == (100, 60)


def test_managed_rule_groups_follow_the_rate_rule_and_keep_their_own_actions(waf):
    rules = sorted(acl(waf)["rules"], key=lambda rule: rule["priority"])
    assert rules[0]["name"] == "rate-limit-per-ip"
    managed = [rule["statement"]["managedRuleGroupStatement"] for rule in rules[1:]]
    assert managed == [
        {"vendorName": "AWS", "name": "AWSManagedRulesCommonRuleSet"},
        {"vendorName": "AWS", "name": "AWSManagedRulesKnownBadInputsRuleSet"},
    ]
    assert all(rule["overrideAction"] == {"none": {}} for rule in rules[1:])
    assert len({rule["priority"] for rule in rules}) == len(rules)


def test_managed_rule_groups_can_be_switched_off():
    graph = record_waf(EdgeRateLimitArgs(managed_rules=False))
    assert list(rules_by_name(graph)) == ["rate-limit-per-ip"]


def test_metrics_and_sampled_requests_are_on_for_the_acl_and_every_rule(waf):
    configs = [acl(waf)["visibilityConfig"]] + [
        rule["visibilityConfig"] for rule in acl(waf)["rules"]
    ]
    assert all(c["cloudwatchMetricsEnabled"] and c["sampledRequestsEnabled"] for c in configs)
    names = [c["metricName"] for c in configs]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[\w#:.\-/]{1,128}", name) for name in names)


def test_outputs_hand_over_the_acl_arn_a_distribution_takes(waf):
    web_acl = waf.one(WEB_ACL)
    outputs = waf.one(RATE_LIMIT).outputs
    assert outputs == {"web_acl_arn": web_acl.outputs["arn"], "web_acl_id": web_acl.id}
    assert outputs["web_acl_arn"].startswith("arn:aws:wafv2:us-east-1:")
    assert ":global/webacl/" in outputs["web_acl_arn"]
    assert_children_named_after(waf, RATE_LIMIT, "images-waf")


def test_distribution_is_protected_by_the_acl_when_composed(tmp_path: Path):
    def program() -> None:
        waf = EdgeRateLimit("images-waf", EdgeRateLimitArgs(path_prefix="/images/"))
        EdgeImageResizer(
            "images",
            EdgeImageResizerArgs(artifact=make_artifact(tmp_path), web_acl_arn=waf.web_acl_arn),
        )

    graph = run_program("test", program=program, config=STACK_CONFIG)
    distribution = graph.one(DISTRIBUTION)
    web_acl = graph.one(WEB_ACL)
    assert distribution.inputs["webAclId"] == web_acl.outputs["arn"]
    assert web_acl.urn in distribution.dependencies


# --- EdgeRateLimit: refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "accepted"),
    [
        ({"limit": 9}, "limit", "from 10 to 2000000000"),
        ({"limit": 2_000_000_001}, "limit", "from 10 to 2000000000"),
        ({"limit": True}, "limit", "from 10"),
        ({"limit": "100"}, "limit", "from 10"),
        ({"window_seconds": 90}, "window_seconds", "60, 120, 300, 600"),
        ({"path_prefix": "images/"}, "path_prefix", 'starting with "/"'),
        ({"path_prefix": "/img *"}, "path_prefix", 'starting with "/"'),
        ({"managed_rules": "yes"}, "managed_rules", "True or False"),
        ({"tags": {"team": 1}}, "tags", "strings to strings"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field_and_what_is_accepted(changes, field, accepted):
    with pytest.raises(RateLimitArgsError) as raised:
        validate_args(EdgeRateLimitArgs(**changes))
    message = str(raised.value)
    assert message.startswith(f"EdgeRateLimitArgs.{field}:")
    assert accepted in message
    assert isinstance(raised.value, UserError)


def test_a_component_name_waf_cannot_use_in_metric_names_is_refused():
    assert check_component_name("images-waf") == "images-waf"
    with pytest.raises(RateLimitArgsError, match="WAF metric names"):
        record_waf(name="images waf")


def test_nothing_is_declared_when_an_argument_is_wrong():
    declared: list[str] = []

    def program() -> None:
        try:
            EdgeRateLimit("images-waf", EdgeRateLimitArgs(window_seconds=30))
        except RateLimitArgsError:
            declared.append("refused")

    graph = run_program("test", program=program, config=STACK_CONFIG)
    assert declared == ["refused"]
    assert graph.resources == []


# --- CloudflareRateLimit -------------------------------------------------------------------


@pytest.fixture(scope="module")
def cloudflare() -> ProgramGraph:
    return record_cloudflare(CloudflareRateLimitArgs(zone_id=ZONE))


def only_rule(graph: ProgramGraph) -> dict:
    """The path rule: the first of the ruleset's rules."""
    return graph.one(RULESET).inputs["rules"][0]


def test_ruleset_is_the_zones_rate_limit_phase(cloudflare: ProgramGraph):
    ruleset = cloudflare.one(RULESET).inputs
    assert (ruleset["kind"], ruleset["phase"], ruleset["zoneId"]) == (
        "zone",
        "http_ratelimit",
        ZONE,
    )
    assert_children_named_after(cloudflare, CF_RATE_LIMIT, "api-rl")
    assert cloudflare.one(CF_RATE_LIMIT).outputs == {"ruleset_id": cloudflare.one(RULESET).id}


def test_rule_counts_per_colo_and_client_ip_and_blocks_with_429_json(cloudflare: ProgramGraph):
    rule = only_rule(cloudflare)
    assert rule["action"] == "block"
    assert rule["enabled"] is True
    assert rule["expression"] == '(starts_with(http.request.uri.path, "/api/"))'
    assert rule["ratelimit"] == {
        "characteristics": ["cf.colo.id", "ip.src"],
        "period": 60,
        "requestsPerPeriod": 100,
        "mitigationTimeout": 600,
    }
    response = rule["actionParameters"]["response"]
    assert (response["statusCode"], response["contentType"]) == (429, "application/json")
    assert json.loads(response["content"])["retry_after_seconds"] == 600


def test_a_looser_rule_after_the_path_rule_counts_every_path(cloudflare: ProgramGraph):
    path_rule, every_path = cloudflare.one(RULESET).inputs["rules"]
    assert (path_rule["ref"], every_path["ref"]) == ("edgekit_rate_limit", "edgekit_rate_limit_all")
    assert every_path["expression"] == "true"
    assert every_path["ratelimit"]["requestsPerPeriod"] == 300
    assert every_path["ratelimit"]["characteristics"] == path_rule["ratelimit"]["characteristics"]
    assert every_path["action"] == "block"


def test_the_rule_over_every_path_can_be_scoped_or_left_out():
    scoped = record_cloudflare(
        CloudflareRateLimitArgs(
            zone_id=ZONE,
            default_requests_per_period=1000,
            default_expression='(http.host in {"api.example.com"})',
        )
    )
    every_path = scoped.one(RULESET).inputs["rules"][1]
    assert every_path["expression"] == '(http.host in {"api.example.com"})'
    assert every_path["ratelimit"]["requestsPerPeriod"] == 1000
    alone = record_cloudflare(
        CloudflareRateLimitArgs(zone_id=ZONE, default_requests_per_period=None)
    )
    assert len(alone.one(RULESET).inputs["rules"]) == 1


def test_config_values_reach_the_rule():
    graph = record_cloudflare(
        CloudflareRateLimitArgs(
            zone_id=ZONE,
            expression='(http.request.uri.path eq "/login")',
            requests_per_period=5,
            period_seconds=10,
            mitigation_timeout_seconds=60,
        )
    )
    rule = only_rule(graph)
    assert rule["expression"] == '(http.request.uri.path eq "/login")'
    ratelimit = rule["ratelimit"]
    assert (
        ratelimit["requestsPerPeriod"],
        ratelimit["period"],
        ratelimit["mitigationTimeout"],
    ) == (
        5,
        10,
        60,
    )
    assert "cf.colo.id" in ratelimit["characteristics"]


@pytest.mark.parametrize(
    ("changes", "field", "accepted"),
    [
        ({"zone_id": "not-a-zone"}, "zone_id", "32 lower-case hex"),
        ({"characteristics": ["ip.src"]}, "characteristics", "cf.colo.id"),
        ({"characteristics": "cf.colo.id"}, "characteristics", "a list"),
        (
            {
                "characteristics": ["cf.colo.id", "ip.src", "cf.unique_visitor_id"],
                "zone_plan": "business",
            },
            "characteristics",
            "cannot be combined",
        ),
        (
            {"characteristics": ["cf.colo.id", "ip.src.country"]},
            "characteristics",
            "pro plan allows",
        ),
        ({"period_seconds": 30}, "period_seconds", "10, 60"),
        ({"period_seconds": 600}, "period_seconds", "10, 60"),
        ({"mitigation_timeout_seconds": 0}, "mitigation_timeout_seconds", "10, 60"),
        ({"mitigation_timeout_seconds": 86400}, "mitigation_timeout_seconds", "3600"),
        ({"requests_per_period": 0}, "requests_per_period", "from 1 to 2000000000"),
        ({"requests_per_period": 10**20}, "requests_per_period", "from 1 to 2000000000"),
        ({"default_requests_per_period": 50}, "default_requests_per_period", "tighter one"),
        (
            {"zone_plan": "free", "period_seconds": 10, "mitigation_timeout_seconds": 10},
            "default_requests_per_period",
            "one rate limiting rule per zone",
        ),
        ({"default_expression": "(true"}, "default_expression", "parentheses"),
        ({"expression": "  "}, "expression", "non-empty"),
        ({"expression": "(cf.colo.id eq 1)"}, "expression", "does not use cf.colo.id"),
        ({"expression": '(http.host eq "a"'}, "expression", "parentheses"),
        ({"zone_plan": "premium"}, "zone_plan", "free, pro, business, enterprise"),
        ({"existing_ruleset_id": "dashboard"}, "existing_ruleset_id", "entrypoint"),
        ({"response_status": 503}, "response_status", "400..499"),
        ({"response_content_type": "text/csv"}, "response_content_type", "application/json"),
        ({"response_body": "slow down"}, "response_body", "JSON"),
        (
            {"response_body": "x" * 40_000, "response_content_type": "text/plain"},
            "response_body",
            "30 KB",
        ),
    ],
)
def test_cloudflare_refusals_name_the_field_and_what_the_plan_accepts(changes, field, accepted):
    with pytest.raises(CloudflareRateLimitArgsError) as raised:
        record_cloudflare(CloudflareRateLimitArgs(**{"zone_id": ZONE, **changes}))
    message = str(raised.value)
    assert message.startswith(f"CloudflareRateLimitArgs.{field}:")
    assert accepted in message


@pytest.mark.parametrize(
    ("plan", "period", "timeout"),
    [("free", 10, 10), ("pro", 60, 3600), ("business", 600, 86400), ("enterprise", 3600, 0)],
)
def test_each_plan_may_use_its_documented_maximum(plan, period, timeout):
    graph = record_cloudflare(
        CloudflareRateLimitArgs(
            zone_id=ZONE,
            zone_plan=plan,
            period_seconds=period,
            mitigation_timeout_seconds=timeout,
            # The free plan has one rate limiting rule per zone: no second rule there.
            default_requests_per_period=None if plan == "free" else 300,
        )
    )
    ratelimit = only_rule(graph)["ratelimit"]
    assert (ratelimit["period"], ratelimit["mitigationTimeout"]) == (period, timeout)
    assert PLAN_LIMITS[plan].max_period == period


# --- an existing http_ratelimit entry point (issue 10) --------------------------------------


def test_cloudflares_refusal_of_a_second_entry_point_prints_the_adoption_steps(monkeypatch):
    from edgekit_iac.components import cloudflare_rate_limit as module
    from pulumi.resource_hooks import ErrorHookArgs

    logged: list[str] = []
    monkeypatch.setattr(module.pulumi.log, "error", lambda message, *a, **k: logged.append(message))
    zone = "fedcba9876543210fedcba9876543210"
    refused = ErrorHookArgs(
        urn="urn:x",
        id="",
        name="api-rate-limit-ruleset",
        type="cloudflare:index/ruleset:Ruleset",
        failed_operation="create",
        errors=[
            "400 Bad Request: 'zone' is not a valid value for kind because exceeded maximum "
            "number of zone rulesets for phase http_ratelimit (20217)"
        ],
    )
    assert module.explain_failure(refused, zone) is False
    (message,) = logged
    assert f"zones/{zone}/rulesets/phases/http_ratelimit/entrypoint" in message
    assert "edgekit:rateLimits.cloudflare.importRulesetId" in message
    assert (
        f"pulumi import cloudflare:index/ruleset:Ruleset api-rate-limit-ruleset zones/{zone}/<id>"
        in message
    )
    # Any other failure is Cloudflare's own message alone.
    other = ErrorHookArgs(
        urn="urn:x", id="", name="r", type="t", failed_operation="create", errors=["timeout"]
    )
    assert module.explain_failure(other, zone) is False
    assert len(logged) == 1


def test_an_existing_entry_point_is_imported_by_its_zone_qualified_id():
    existing = "0" * 31 + "1"
    graph = record_cloudflare(CloudflareRateLimitArgs(zone_id=ZONE, existing_ruleset_id=existing))
    ruleset = graph.one("cloudflare:index/ruleset:Ruleset")
    assert ruleset.options["importId"] == f"zones/{ZONE}/{existing}"
    assert ruleset.options["onErrorHooks"] == ["api-rl-entrypoint-exists"]


def test_a_pulumi_cli_without_error_hooks_still_gets_the_ruleset(monkeypatch):
    from edgekit_iac.components import cloudflare_rate_limit as module

    monkeypatch.setattr(module, "monitor_supports_feature", lambda feature: False)
    graph = record_cloudflare(CloudflareRateLimitArgs(zone_id=ZONE))
    assert "onErrorHooks" not in graph.one("cloudflare:index/ruleset:Ruleset").options
