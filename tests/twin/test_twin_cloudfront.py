"""CloudFront as the twin serves any distribution: a small program with a custom origin, a
cache policy, a managed policy, and one Lambda@Edge function on four triggers."""

from __future__ import annotations

import base64
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from edgekit_iac.twin.demo_origin import DemoOrigin
from edgekit_iac.twin.supervisor import RunningTwin, TwinOptions, start_twin

from .client import request

# pulumi_aws warns about its own deprecated Lambda types when aws.lambda_ loads.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS managed cache policy

HANDLER = textwrap.dedent('''
    import base64

    def handler(event, context):
        cf = event["Records"][0]["cf"]
        kind = cf["config"]["eventType"]
        if kind == "origin-response":
            response = cf["response"]
            response["headers"]["x-seen-by"] = [{"key": "X-Seen-By", "value": "origin-response"}]
            return response
        request = cf["request"]
        uri = request["uri"]
        if uri == "/generated":
            return {"status": "200", "bodyEncoding": "base64",
                    "body": base64.b64encode(b"made at the edge").decode(),
                    "headers": {"content-type": [{"key": "Content-Type",
                                                  "value": "text/plain"}]}}
        if uri == "/too-big-for-viewer":
            return {"status": "200", "body": "x" * 50_000}
        if uri == "/o/fits-origin":
            return {"status": "200", "body": "x" * 50_000}
        if uri == "/o/too-big-for-origin":
            return {"status": "200", "body": "x" * 1_100_000}
        if uri == "/bad-base64":
            return {"status": "200", "bodyEncoding": "base64", "body": "not base64!"}
        if uri == "/throws":
            raise RuntimeError("boom")
        if uri == "/old-cities":
            request["uri"] = "/api/cities"
        return request
''')


def edge_zip(folder: Path) -> Path:
    path = folder / "edge.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.py", HANDLER)
    return path


def site_program(origin_port: int, code: Path):
    def program() -> None:
        function = aws.lambda_.Function(
            "edge-fn", region="us-east-1", publish=True, runtime="python3.13",
            handler="index.handler", role="arn:aws:iam::123456789012:role/edge",
            code=pulumi.FileArchive(str(code)), timeout=5)
        policy = aws.cloudfront.CachePolicy(
            "site-cache", min_ttl=0, default_ttl=60, max_ttl=3600,
            parameters_in_cache_key_and_forwarded_to_origin={
                "cookies_config": {"cookie_behavior": "none"},
                "headers_config": {"header_behavior": "none"},
                "query_strings_config": {"query_string_behavior": "whitelist",
                                         "query_strings": {"items": ["city"]}}})
        common = {"target_origin_id": "api", "viewer_protocol_policy": "allow-all",
                  "allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"]}
        arn = function.qualified_arn
        aws.cloudfront.Distribution(
            "site-cdn", enabled=True,
            origins=[{"origin_id": "api", "domain_name": "127.0.0.1",
                      "custom_origin_config": {"http_port": origin_port, "https_port": 443,
                                               "origin_protocol_policy": "http-only",
                                               "origin_ssl_protocols": ["TLSv1.2"]}}],
            default_cache_behavior={**common, "cache_policy_id": policy.id,
                                    "lambda_function_associations": [
                                        {"event_type": "viewer-request", "lambda_arn": arn},
                                        {"event_type": "origin-response", "lambda_arn": arn}]},
            ordered_cache_behaviors=[
                {**common, "path_pattern": "/api/health*", "cache_policy_id": CACHING_DISABLED},
                {**common, "path_pattern": "/o/*", "cache_policy_id": policy.id,
                 "lambda_function_associations": [
                     {"event_type": "origin-request", "lambda_arn": arn}]},
            ],
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={"cloudfront_default_certificate": True})
    return program


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningTwin, str]]:
    folder = tmp_path_factory.mktemp("site")
    origin = DemoOrigin(0)
    twin = start_twin(TwinOptions(stack="site", state_dir=folder / "state", port_base=0,
                                  program=site_program(origin.port, edge_zip(folder)),
                                  config={"aws:region": "us-east-1"}),
                      say=lambda _line: None)
    try:
        yield twin, twin.endpoints["site-cdn"]
    finally:
        twin.stop()
        origin.stop()


def test_cache_key_holds_only_the_query_strings_the_policy_names(site):
    _, cdn = site
    first = request(f"{cdn}/api/weather?city=Oslo&utm_source=a")
    again = request(f"{cdn}/api/weather?city=Oslo&utm_source=b")
    other = request(f"{cdn}/api/weather?city=Lima")
    assert first.header("x-cache") == "Miss from cloudfront"
    assert first.header("x-seen-by") == "origin-response"  # the origin-response trigger ran
    assert again.header("x-cache") == "Hit from cloudfront"
    assert again.header("x-origin-requests") == first.header("x-origin-requests")
    assert other.header("x-cache") == "Miss from cloudfront"
    assert other.json()["city"] == "Lima"


def test_ordered_behaviour_with_the_managed_caching_disabled_policy(site):
    _, cdn = site
    replies = [request(f"{cdn}/api/health") for _ in range(2)]
    assert [r.header("x-cache") for r in replies] == ["Miss from cloudfront"] * 2
    assert replies[0].header("x-seen-by") is None  # that behaviour has no functions


def test_viewer_request_rewrites_and_generates(site):
    _, cdn = site
    rewritten = request(f"{cdn}/old-cities")
    assert rewritten.status == 200 and "Oslo" in rewritten.json()["cities"]
    generated = request(f"{cdn}/generated")
    assert generated.status == 200 and generated.body == b"made at the edge"
    assert generated.header("x-cache") == "LambdaGeneratedResponse from cloudfront"
    assert base64.b64encode(generated.body)  # decoded from the function's base64 body


def test_generated_response_limits_are_40_kb_viewer_and_1_mb_origin(site):
    _, cdn = site
    too_big = request(f"{cdn}/too-big-for-viewer")
    assert too_big.status == 502
    assert too_big.header("x-cache") == "LambdaValidationError from cloudfront"
    assert request(f"{cdn}/o/fits-origin").status == 200  # 50 KB is fine at the origin
    assert request(f"{cdn}/o/too-big-for-origin").status == 502
    assert request(f"{cdn}/bad-base64").status == 502


def test_a_throwing_function_is_503_and_a_disallowed_method_403(site):
    _, cdn = site
    failed = request(f"{cdn}/throws")
    assert failed.status == 503
    assert failed.header("x-cache") == "LambdaExecutionError from cloudfront"
    assert request(f"{cdn}/api/weather?city=Oslo", method="POST", body=b"{}").status == 403
