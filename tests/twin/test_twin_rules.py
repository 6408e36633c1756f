"""The twin's pure decisions, table-driven: CloudFront rules, rate limits, expressions, policies."""

from __future__ import annotations

import json

import pytest
from packaging.tags import parse_tag

from edgekit_iac.errors import UserError
from edgekit_iac.twin import ports, stack_overrides
from edgekit_iac.twin.aws import cloudfront_rules as rules
from edgekit_iac.twin.aws import lambda_edge as edge
from edgekit_iac.twin.aws import s3_policy
from edgekit_iac.twin.aws.lambda_bundle import VendoredDistribution, incompatibility
from edgekit_iac.twin.aws.waf import WafRequest, WebAcl
from edgekit_iac.twin.clock import TwinClock
from edgekit_iac.twin.cloudflare.expression import (
    ExpressionError,
    compile_expression,
    request_fields,
)
from edgekit_iac.twin.cloudflare.rate_limits import ZoneRateLimits
from edgekit_iac.twin.http_io import EdgeRequest
from edgekit_iac.twin.rate_counter import SlidingWindowCounter
from edgekit_iac.twin.stats import TwinStats, percentile
from edgekit_iac.twin.status_page import StatusPage


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- CloudFront ---------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("/images/*", "/images/400x300/a.jpg", True),
    ("images/*", "/images/a.jpg", True),  # a leading slash is optional in patterns
    ("/images/*", "/Images/a.jpg", False),  # case-sensitive
    ("*.jpg", "/a/b/c.jpg", True),
    ("/a?c", "/abc", True),
    ("/a?c", "/abbc", False),
    ("/api/health*", "/api/healthz", True),
])
def test_path_patterns(pattern, path, matches):
    assert rules.path_matches(pattern, path) is matches


def test_first_matching_ordered_behaviour_wins_then_the_default():
    inputs = {"orderedCacheBehaviors": [{"pathPattern": "/api/*", "n": 1},
                                        {"pathPattern": "/api/v2/*", "n": 2}],
              "defaultCacheBehavior": {"n": 0}}
    assert rules.choose_behaviour(inputs, "/api/v2/x")["n"] == 1
    assert rules.choose_behaviour(inputs, "/other")["n"] == 0


POLICY = rules.CachePolicy(min_ttl=5, default_ttl=100, max_ttl=1000)


@pytest.mark.parametrize(("status", "headers", "ttl"), [
    (200, {}, 100),  # default TTL
    (200, {"cache-control": "max-age=50"}, 50),
    (200, {"cache-control": "max-age=50, s-maxage=70"}, 70),  # s-maxage first
    (200, {"cache-control": "max-age=1"}, 5),  # raised to the minimum
    (200, {"cache-control": "max-age=99999"}, 1000),  # capped at the maximum
    (200, {"cache-control": "no-store"}, 5),  # kept for the minimum when it is not 0
    (404, {}, rules.ERROR_CACHING_MIN_TTL),
    (404, {"cache-control": "max-age=60"}, 60),
    (302, {"cache-control": "max-age=60"}, 0),  # not a status CloudFront caches
    (200, {"expires": "Thu, 01 Jan 1970 00:00:00 GMT"}, 5),
])
def test_ttls(status, headers, ttl):
    assert rules.ttl_seconds(status, headers, POLICY, now=1_000_000) == ttl


def test_no_store_is_not_cached_with_a_zero_minimum():
    policy = rules.CachePolicy(min_ttl=0)
    assert rules.ttl_seconds(200, {"cache-control": "private"}, policy, 0) == 0


@pytest.mark.parametrize(("part", "query", "selected"), [
    (rules.KeyPart("whitelist", ("format",)), "utm=1&format=webp&x=2", "format=webp"),
    (rules.KeyPart("allExcept", ("utm",)), "b=2&utm=1&a=1", "b=2&a=1"),  # viewer order kept
    (rules.KeyPart("all"), "b=2&a=1", "b=2&a=1"),
    (rules.KeyPart("none"), "a=1", ""),
])
def test_query_strings_in_the_key(part, query, selected):
    assert rules.selected_query(query, part) == selected


def test_cache_key_shares_get_and_head_and_ignores_what_the_policy_leaves_out():
    policy = rules.CachePolicy(query_strings=rules.KeyPart("whitelist", ("format",)))
    get = rules.cache_key("GET", "/i.jpg", "format=png&utm=1", [("Accept", "a")], policy)
    head = rules.cache_key("HEAD", "/i.jpg", "format=png", [("Accept", "b")], policy)
    assert get == head


def test_cache_policy_from_recorded_inputs():
    policy = rules.cache_policy_from_inputs({
        "minTtl": 0.0, "defaultTtl": 3600.0, "maxTtl": 86400.0,
        "parametersInCacheKeyAndForwardedToOrigin": {
            "queryStringsConfig": {"queryStringBehavior": "whitelist",
                                   "queryStrings": {"items": ["format"]}},
            "headersConfig": {"headerBehavior": "none"},
            "cookiesConfig": {"cookieBehavior": "none"}}})
    assert (policy.min_ttl, policy.default_ttl, policy.max_ttl) == (0, 3600, 86400)
    assert policy.query_strings == rules.KeyPart("whitelist", ("format",))


@pytest.mark.parametrize(("policy", "scheme", "answer"), [
    ("redirect-to-https", "http", rules.ProtocolAnswer(301, "https://d.example/p?q=1")),
    ("https-only", "http", rules.ProtocolAnswer(403)),
    ("allow-all", "http", None),
    ("redirect-to-https", "https", None),
])
def test_viewer_protocol_policy(policy, scheme, answer):
    assert rules.viewer_protocol_answer(policy, scheme, "d.example", "/p?q=1") == answer


# --- Lambda@Edge results ------------------------------------------------------------------


def test_headers_round_trip_through_cloudfronts_form():
    pairs = [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert edge.header_pairs(edge.cf_headers(pairs), "t") == pairs


@pytest.mark.parametrize(("result", "problem"), [
    ({"status": "200", "body": "x" * 41_000}, "over the Lambda@Edge limit of 40,960"),
    ({"status": "99"}, "not an HTTP status"),
    ({"status": "200", "bodyEncoding": "base64", "body": "%%%"}, "not valid base64"),
    ({"status": "200", "headers": {"a": {"key": "a", "value": "1"}}}, "must be a list"),
    ({"status": "200", "headers": {"a": [{"key": "b", "value": "1"}]}}, "does not match"),
])
def test_invalid_generated_responses_are_refused(result, problem):
    with pytest.raises(edge.LambdaValidationError, match=problem):
        edge.response_from_result(edge.VIEWER_REQUEST, result)


def test_origin_triggers_may_generate_up_to_a_megabyte():
    response = edge.response_from_result(edge.ORIGIN_REQUEST,
                                         {"status": 200, "body": "x" * 500_000})
    assert response.status == 200 and len(response.body) == 500_000


def test_a_request_result_must_keep_a_uri():
    before = edge.CfRequest("1.2.3.4", "GET", "/a", "", [])
    with pytest.raises(edge.LambdaValidationError, match="neither a response"):
        edge.request_from_result(edge.ORIGIN_REQUEST, {"method": "GET"}, before)


# --- rate limits --------------------------------------------------------------------------


def test_sliding_window_forgets_requests_older_than_the_window():
    clock = Clock()
    counter = SlidingWindowCounter(60, clock)
    assert [counter.add("a") for _ in range(3)] == [1, 2, 3]
    clock.now += 59
    assert counter.add("a") == 4
    clock.now += 2  # the first three are now 61 s old
    assert counter.count("a") == 1
    assert counter.count("b") == 0


RATE_ACL = {
    "defaultAction": {"allow": {}},
    "customResponseBodies": [{"key": "slow", "content": '{"error":"slow"}',
                              "contentType": "APPLICATION_JSON"}],
    "rules": [
        {"name": "managed", "priority": 0, "overrideAction": {"none": {}},
         "statement": {"managedRuleGroupStatement": {"name": "AWSManagedRulesCommonRuleSet"}}},
        {"name": "per-ip", "priority": 1,
         "action": {"block": {"customResponse": {"responseCode": 429,
                                                 "customResponseBodyKey": "slow"}}},
         "statement": {"rateBasedStatement": {
             "limit": 3, "evaluationWindowSec": 60, "aggregateKeyType": "IP",
             "scopeDownStatement": {"byteMatchStatement": {
                 "searchString": "/images/", "positionalConstraint": "STARTS_WITH",
                 "fieldToMatch": {"uriPath": {}},
                 "textTransformations": [{"priority": 0, "type": "LOWERCASE"}]}}}}},
    ],
}


def waf_request(ip: str, path: str = "/images/a.jpg") -> WafRequest:
    return WafRequest(ip, "GET", path, "", {})


def test_waf_rate_rule_blocks_one_ip_over_the_limit_with_the_custom_response():
    clock = Clock()
    acl = WebAcl("acl", RATE_ACL, clock)
    assert [acl.check(waf_request("1.1.1.1")) for _ in range(3)] == [None] * 3
    block = acl.check(waf_request("1.1.1.1"))
    assert (block.status, block.body) == (429, b'{"error":"slow"}')
    assert ("Content-Type", "application/json") in block.headers
    assert acl.check(waf_request("2.2.2.2")) is None
    assert acl.check(waf_request("1.1.1.1", "/other")) is None  # outside the scope-down
    assert acl.check(waf_request("1.1.1.1", "/IMAGES/a.jpg")) is not None  # lower-cased
    clock.now += 61
    assert acl.check(waf_request("1.1.1.1")) is None
    assert any("managed" in note for note in acl.unsupported)


def test_waf_reads_rules_given_as_the_aws_api_json():
    api_rules = [{"Name": "per-ip", "Priority": 0,
                  "Action": {"Block": {}},
                  "Statement": {"RateBasedStatement": {"Limit": 1, "AggregateKeyType": "IP"}}}]
    acl = WebAcl("acl", {"defaultAction": {"allow": {}}, "ruleJson": json.dumps(api_rules)},
                 Clock())
    assert acl.check(waf_request("1.1.1.1")) is None
    assert acl.check(waf_request("1.1.1.1")).status == 403  # the default block


def cf_fields(ip: str, path: str = "/api/x", colo: str = "OSL") -> dict:
    fields = request_fields("GET", "https", "api.example", path, "", {}, ip, "NO")
    fields["cf.colo.id"] = colo
    return fields


def test_cloudflare_rule_blocks_for_the_mitigation_timeout():
    clock = Clock()
    ruleset = {"rules": [{
        "action": "block", "expression": '(starts_with(http.request.uri.path, "/api/"))',
        "ratelimit": {"characteristics": ["cf.colo.id", "ip.src"], "period": 10,
                      "requestsPerPeriod": 2, "mitigationTimeout": 60},
        "actionParameters": {"response": {"statusCode": 429, "content": "{}",
                                          "contentType": "application/json"}}}]}
    limits = ZoneRateLimits([ruleset], clock)
    assert [limits.check(cf_fields("1.1.1.1")) for _ in range(2)] == [None, None]
    assert limits.check(cf_fields("1.1.1.1")).status == 429
    assert limits.check(cf_fields("1.1.1.1", colo="FRA")) is None  # another colo counts apart
    assert limits.check(cf_fields("1.1.1.1", path="/web")) is None  # outside the expression
    clock.now += 30  # the window has passed, the mitigation has not
    assert limits.check(cf_fields("1.1.1.1")) is not None
    clock.now += 31
    assert limits.check(cf_fields("1.1.1.1")) is None


def test_unsupported_characteristics_fail_at_start():
    ruleset = {"rules": [{"action": "block", "expression": "true",
                          "ratelimit": {"characteristics": ["cf.unique_visitor_id"],
                                        "period": 10, "requestsPerPeriod": 1}}]}
    with pytest.raises(UserError, match="cf.unique_visitor_id"):
        ZoneRateLimits([ruleset], Clock())


# --- Cloudflare expressions ---------------------------------------------------------------


@pytest.mark.parametrize(("expression", "matches"), [
    ('(starts_with(http.request.uri.path, "/api/"))', True),
    ('http.request.uri.path eq "/api/x"', True),
    ('http.request.method ne "GET"', False),
    ('http.request.method in {"GET" "HEAD"}', True),
    ('ip.src.country == "NO" and not ssl', False),
    ('ends_with(http.request.uri.path, ".png") or http.host contains "api"', True),
    ('lower(http.request.uri.path) matches "^/API/"', False),
    ('http.request.uri.path ~ "^/api/[a-z]+$"', True),
    ("true", True),
])
def test_expressions(expression, matches):
    assert compile_expression(expression)(cf_fields("1.1.1.1")) is matches


@pytest.mark.parametrize("expression", [
    'http.request.headers["x"] eq "1"', "cf.bot_management.score lt 30",
    'http.request.uri.path eq', '(true',
])
def test_expressions_outside_the_subset_are_refused_with_what_is_supported(expression):
    with pytest.raises(ExpressionError, match="the twin evaluates the fields"):
        compile_expression(expression)


# --- S3 bucket policies -------------------------------------------------------------------


DIST = "arn:aws:cloudfront::123456789012:distribution/E1"
OAC_POLICY = {"Statement": [
    {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
     "Condition": {"StringEquals": {"AWS:SourceArn": DIST}}},
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
]}


@pytest.mark.parametrize(("principal", "verdict"), [
    (s3_policy.Principal(service="cloudfront.amazonaws.com",
                         context={"AWS:SourceArn": DIST, "aws:SecureTransport": "true"}),
     s3_policy.ALLOW),
    (s3_policy.Principal(service="cloudfront.amazonaws.com",
                         context={"AWS:SourceArn": DIST + "X", "aws:SecureTransport": "true"}),
     s3_policy.NOT_ALLOWED),
    (s3_policy.Principal(service="cloudfront.amazonaws.com",
                         context={"AWS:SourceArn": DIST, "aws:SecureTransport": "false"}),
     s3_policy.DENY),
    (s3_policy.Principal(context={"aws:SecureTransport": "true"}), s3_policy.NOT_ALLOWED),
])
def test_bucket_policy_reads(principal, verdict):
    assert s3_policy.evaluate(OAC_POLICY, principal, "s3:GetObject",
                              "arn:aws:s3:::b/k.jpg") == verdict


# --- vendored packages, ports, config, stats ----------------------------------------------


def dist(tag: str) -> VendoredDistribution:
    return VendoredDistribution("pillow", "13.0.0", frozenset(parse_tag(tag)), ())


def test_vendored_wheels_load_only_where_their_tags_fit():
    here = frozenset(parse_tag("cp311-cp311-manylinux_2_28_x86_64"))
    assert incompatibility(dist("cp311-cp311-manylinux_2_28_x86_64"), here) is None
    assert "cp313" in incompatibility(dist("cp313-cp313-manylinux_2_28_x86_64"), here)


def test_port_plan_is_stable_from_the_base_and_free_with_zero():
    assert ports.plan(["b", "a"], 8700, {}) == {"a": 8702, "b": 8703}
    assert ports.plan(["b", "a"], 8700, {"b": 9000}) == {"a": 8702, "b": 9000}
    assert ports.plan(["a"], 0, {}) == {"a": 0}
    assert ports.demo_origin_port(8700, {}, 8790, 90) == 8790
    assert ports.demo_origin_port(0, {}, 8790, 90) == 0
    with pytest.raises(UserError, match="NAME=PORT"):
        ports.parse_port_overrides(["s3:9000"])


def test_only_a_loopback_origin_url_is_pointed_at_the_demo_origin():
    local = {"edgekit:cloudflare": {"cacheWrapper": {"originUrl": "http://127.0.0.1:8790"}}}
    assert stack_overrides.loopback_origin_port(local) == 8790
    moved = stack_overrides.with_demo_origin(local, "http://127.0.0.1:5555")
    assert moved["edgekit:cloudflare"]["cacheWrapper"]["originUrl"] == "http://127.0.0.1:5555"
    assert local["edgekit:cloudflare"]["cacheWrapper"]["originUrl"].endswith(":8790")
    real = {"edgekit:cloudflare": {"cacheWrapper": {"originUrl": "https://api.example.com"}}}
    assert stack_overrides.with_demo_origin(real, "http://127.0.0.1:5555") == real


def test_origin_url_option_points_the_cache_wrapper_anywhere():
    real = {"edgekit:cloudflare": {"cacheWrapper": {"originUrl": "https://api.example.com"}}}
    moved = stack_overrides.with_origin_url(real, "http://127.0.0.1:6000")
    assert moved["edgekit:cloudflare"]["cacheWrapper"]["originUrl"] == "http://127.0.0.1:6000"
    assert real["edgekit:cloudflare"]["cacheWrapper"]["originUrl"] == "https://api.example.com"
    assert stack_overrides.with_origin_url({}, "http://127.0.0.1:6000") == {}


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50, 95)
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0


# --- the control listener -----------------------------------------------------------------


@pytest.mark.parametrize(("headers", "status"), [
    ([("Host", "127.0.0.1:8700")], 200),
    ([("Host", "127.0.0.1:8700"), ("Origin", "http://127.0.0.1:8700")], 200),
    ([("Host", "127.0.0.1:8700"), ("Origin", "https://evil.example")], 403),
    ([("Host", "evil.example:8700")], 403),  # DNS rebinding
])
def test_controls_only_obey_the_status_page_itself(headers, status):
    clock = TwinClock()
    page = StatusPage("local", {}, TwinStats(), clock, None, list)
    reply = page(EdgeRequest("POST", "/control/clock/advance?seconds=5", headers))
    assert reply.status == status
    assert clock.offset == (5 if status == 200 else 0)
