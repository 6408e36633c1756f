"""Rate limits as declared: the WAF web ACL on the distribution, the zone ruleset on Workers."""

from __future__ import annotations

import json

from .client import KeepAlive, request
from .conftest import RunningTwin


def burst(base_url: str, target: str, client_ip: str, count: int) -> list[int]:
    connection = KeepAlive(base_url)
    try:
        return [connection.get(target, {"X-Edgekit-Client-Ip": client_ip}).status
                for _ in range(count)]
    finally:
        connection.close()


def test_waf_blocks_a_burst_from_one_client_while_another_is_served(twin: RunningTwin):
    acl = twin.resource("aws:wafv2/webAcl:WebAcl")["inputs"]
    rate = acl["rules"][0]["statement"]["rateBasedStatement"]
    limit = rate["limit"]
    assert limit <= 200  # the local stack keeps limits low enough to see
    target = "/images/150x150/samples/landscape.jpg"
    base = twin.endpoints["images-cdn"]

    statuses = burst(base, target, "203.0.113.10", limit)
    assert set(statuses) == {200}
    blocked = request(base + target, headers={"X-Edgekit-Client-Ip": "203.0.113.10"})
    assert blocked.status == 429
    body = next(b["content"] for b in acl["customResponseBodies"])
    assert blocked.json() == json.loads(body)

    other = request(base + target, headers={"X-Edgekit-Client-Ip": "203.0.113.11"})
    assert other.status == 200
    outside_scope = request(base + "/favicon.ico", headers={"X-Edgekit-Client-Ip":
                                                           "203.0.113.10"})
    assert outside_scope.status != 429  # the rule is scoped down to /images/


def test_cloudflare_rate_limit_blocks_api_bursts_per_client(twin: RunningTwin):
    ruleset = twin.resource("cloudflare:index/ruleset:Ruleset")["inputs"]
    rule = ruleset["rules"][0]
    limit = rule["ratelimit"]["requestsPerPeriod"]
    base = twin.endpoints["api-cache-worker-script"]

    statuses = burst(base, "/api/cities", "198.51.100.20", limit)
    assert set(statuses) == {200}
    blocked = request(base + "/api/cities", headers={"X-Edgekit-Client-Ip": "198.51.100.20"})
    assert blocked.status == rule["actionParameters"]["response"]["statusCode"] == 429
    assert blocked.body.decode() == rule["actionParameters"]["response"]["content"]

    assert request(base + "/api/cities",
                   headers={"X-Edgekit-Client-Ip": "198.51.100.21"}).status == 200
    # The rule's expression scopes it to /api/: the same client is still served elsewhere.
    assert request(base + "/", headers={"X-Edgekit-Client-Ip": "198.51.100.20"}).status == 200
