"""`edgekit canary`: traffic moves and guards, against the providers' clients without a cloud.

CloudFront and CloudWatch are real boto3 clients under botocore's Stubber (every request and
response is validated against the service model); Cloudflare is the real `cloudflare` SDK on
an httpx MockTransport answering as the REST and GraphQL APIs document.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import boto3
import cloudflare
import httpx
import pytest
from botocore.stub import ANY, Stubber

from edgekit_iac.release import canary
from edgekit_iac.release.canary import CanaryRefused

ACCOUNT = "0123456789abcdef0123456789abcdef"
STABLE = "0f2ac74b-498b-4802-8cb6-8387c421e279"
CANDIDATE = "7d3c6e1a-1111-4222-8333-944455556666"
NOW = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)
POLICY = {
    "ContinuousDeploymentPolicy": {
        "Id": "CDP1", "LastModifiedTime": NOW,
        "ContinuousDeploymentPolicyConfig": {
            "StagingDistributionDnsNames": {"Quantity": 1, "Items": ["d2.cloudfront.net"]},
            "Enabled": True,
            "TrafficConfig": {"Type": "SingleWeight", "SingleWeightConfig": {
                "Weight": 0.1, "SessionStickinessConfig": {"IdleTTL": 300, "MaximumTTL": 600}}},
        },
    },
    "ETag": "EPOLICY",
}


def _config(etag: str) -> dict:
    return {"DistributionConfig": {
        "CallerReference": "x", "Comment": "images", "Enabled": True,
        "Origins": {"Quantity": 1,
                    "Items": [{"Id": "originals", "DomainName": "b.s3.amazonaws.com"}]},
        "DefaultCacheBehavior": {"TargetOriginId": "originals",
                                 "ViewerProtocolPolicy": "redirect-to-https"}},
        "ETag": etag}


class CloudflareApi:
    """Deployments (POST .../workers/scripts/{name}/deployments) and GraphQL analytics."""

    def __init__(self, requests: int = 0, errors: int = 0):
        self.analytics = (requests, errors)
        self.deployments = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/client/v4/graphql":
            body = json.loads(request.read())
            assert body["variables"]["scriptName"] == "edge-cache"
            rows = [{"sum": {"requests": self.analytics[0], "errors": self.analytics[1]},
                     "dimensions": {"scriptVersion": CANDIDATE}},
                    {"sum": {"requests": 90_000, "errors": 0},
                     "dimensions": {"scriptVersion": STABLE}}]
            return httpx.Response(200, json={"data": {"viewer": {"accounts": [
                {"workersInvocationsAdaptive": rows}]}}, "errors": None})
        assert request.url.path == (
            f"/client/v4/accounts/{ACCOUNT}/workers/scripts/edge-cache/deployments")
        self.deployments.append(json.loads(request.read()))
        return httpx.Response(200, json={"success": True, "errors": [], "messages": [],
                                         "result": {"id": "dep", "created_on": NOW.isoformat(),
                                                    "source": "api", "strategy": "percentage",
                                                    "versions": []}})


def _stack(tmp_path: Path, api: CloudflareApi, cloudfront, cloudwatch) -> canary.StackCanary:
    client = cloudflare.Cloudflare(api_token="t", max_retries=0,
                                   http_client=httpx.Client(transport=httpx.MockTransport(api)))
    sides = [canary.CloudFrontCanary(cloudfront, cloudwatch, "EPRIMARY", "ESTAGING", "CDP1"),
             canary.WorkerCanary(client, ACCOUNT, "edge-cache", STABLE, CANDIDATE)]
    return canary.StackCanary("prod", sides, False, 10, tmp_path / "prod-canary.json")


def _clients():
    def make(service):
        return boto3.client(service, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing")
    return make("cloudfront"), make("cloudwatch")


def _args(action: str, **extra) -> argparse.Namespace:
    defaults = {"weight": None, "min_requests": 1000, "max_error_rate": 1.0, "window": 30,
                "force": False, "stack": "prod"}
    return argparse.Namespace(action=action, **{**defaults, **extra})


def _metrics(stub: Stubber, requests: float, rate: float) -> None:
    for metric, stat, value in (("Requests", "Sum", requests), ("5xxErrorRate", "Average", rate)):
        stub.add_response("get_metric_statistics", {"Datapoints": [{stat: value}]}, {
            "Namespace": "AWS/CloudFront", "MetricName": metric,
            "Dimensions": [{"Name": "DistributionId", "Value": "ESTAGING"},
                           {"Name": "Region", "Value": "Global"}],
            "StartTime": NOW - dt.timedelta(minutes=30), "EndTime": NOW, "Period": 1800,
            "Statistics": [stat]})


def _promotion(front: Stubber) -> None:
    """UpdateDistributionWithStagingConfig with both ETags, as `promote` calls it."""
    front.add_response("get_distribution_config", _config("E1"), {"Id": "EPRIMARY"})
    front.add_response("get_distribution_config", _config("E2"), {"Id": "ESTAGING"})
    front.add_response("update_distribution_with_staging_config", {"ETag": "E3"}, {
        "Id": "EPRIMARY", "StagingDistributionId": "ESTAGING", "IfMatch": "E1, E2"})


def test_start_sets_the_policy_weight_with_its_etag_and_the_worker_split(tmp_path):
    api, (cloudfront, cloudwatch) = CloudflareApi(), _clients()
    lines = []
    with Stubber(cloudfront) as stub:
        stub.add_response("get_continuous_deployment_policy", POLICY, {"Id": "CDP1"})
        stub.add_response("update_continuous_deployment_policy", POLICY, {
            "Id": "CDP1", "IfMatch": "EPOLICY", "ContinuousDeploymentPolicyConfig": ANY})
        canary.run_action(_args("start", weight=5), _stack(tmp_path, api, cloudfront, cloudwatch),
                          lines.append)
        stub.assert_no_pending_responses()
    assert api.deployments[0]["versions"] == [{"version_id": STABLE, "percentage": 95},
                                              {"version_id": CANDIDATE, "percentage": 5}]
    assert lines == ["canary started on prod: candidate gets 5% (cloudfront, cloudflare)"]
    assert json.loads((tmp_path / "prod-canary.json").read_text())[0]["percent"] == 5


def test_start_over_cloudfronts_limit_is_refused(tmp_path):
    cloudfront, cloudwatch = _clients()
    with pytest.raises(CanaryRefused, match="accepted 0..15"):
        canary.run_action(_args("start", weight=20),
                          _stack(tmp_path, CloudflareApi(), cloudfront, cloudwatch), print)


def test_promote_with_too_few_requests_is_refused(tmp_path):
    cloudfront, cloudwatch = _clients()
    with Stubber(cloudwatch) as stub, pytest.raises(CanaryRefused) as refused:
        _metrics(stub, requests=120, rate=0.0)
        canary.run_action(_args("promote"), _stack(tmp_path, CloudflareApi(5000, 1),
                                                   cloudfront, cloudwatch), print, now=lambda: NOW)
    assert "cloudfront: the candidate served 120 requests in 30 min, fewer than 1000" in str(
        refused.value)
    assert not (tmp_path / "prod-canary.json").exists()


def test_promote_with_too_many_errors_is_refused(tmp_path):
    cloudfront, cloudwatch = _clients()
    with Stubber(cloudwatch) as stub, pytest.raises(CanaryRefused) as refused:
        _metrics(stub, requests=5000, rate=0.2)
        canary.run_action(_args("promote"), _stack(tmp_path, CloudflareApi(4000, 200),
                                                   cloudfront, cloudwatch), print, now=lambda: NOW)
    assert "cloudflare: error rate 5.00% is over 1.0%" in str(refused.value)


def test_promote_copies_staging_onto_primary_and_force_is_recorded(tmp_path):
    api, (cloudfront, cloudwatch) = CloudflareApi(4000, 200), _clients()
    lines = []
    with Stubber(cloudwatch) as watch, Stubber(cloudfront) as front:
        _metrics(watch, requests=5000, rate=0.2)
        _promotion(front)
        canary.run_action(_args("promote", force=True),
                          _stack(tmp_path, api, cloudfront, cloudwatch), lines.append,
                          now=lambda: NOW)
        front.assert_no_pending_responses()
    assert api.deployments[-1]["versions"][1] == {"version_id": CANDIDATE, "percentage": 100}
    entry = json.loads((tmp_path / "prod-canary.json").read_text())[0]
    assert entry["action"] == "promote" and entry["forced"] is True
    assert entry["overridden"] == ["cloudflare: error rate 5.00% is over 1.0%"]
    assert {r["provider"]: r["requests"] for r in entry["readings"]} == {
        "cloudfront": 5000, "cloudflare": 4000}
    assert "FORCED" in lines[0]


def test_abort_sends_the_candidate_nothing(tmp_path):
    api, (cloudfront, cloudwatch) = CloudflareApi(), _clients()
    with Stubber(cloudfront) as stub:
        stub.add_response("get_continuous_deployment_policy", POLICY, {"Id": "CDP1"})
        expected = json.loads(json.dumps(
            POLICY["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"]))
        expected["TrafficConfig"]["SingleWeightConfig"]["Weight"] = 0.0
        stub.add_response("update_continuous_deployment_policy", POLICY, {
            "Id": "CDP1", "IfMatch": "EPOLICY", "ContinuousDeploymentPolicyConfig": expected})
        canary.run_action(_args("abort"), _stack(tmp_path, api, cloudfront, cloudwatch), print)
    assert api.deployments[0]["versions"][0] == {"version_id": STABLE, "percentage": 100}


def test_a_canary_on_a_stack_without_one_is_refused():
    with pytest.raises(CanaryRefused, match="stack 'staging' has no canary; configure "
                                            "edgekit:images.canary"):
        canary.open_stack(_args("start", stack="staging", outputs=None), dict)


def test_the_guard_comes_from_the_stack_config_unless_a_flag_overrides_it(tmp_path):
    cloudfront, cloudwatch = _clients()
    side = canary.CloudFrontCanary(cloudfront, cloudwatch, "EPRIMARY", "ESTAGING", "CDP1",
                                   guard=canary.Guard(min_requests=100, max_error_rate=5.0))
    stack = canary.StackCanary("prod", [side], False, 10, tmp_path / "prod-canary.json")
    with Stubber(cloudwatch) as watch, Stubber(cloudfront) as front:
        _metrics(watch, requests=120, rate=2.0)  # enough for minRequests 100, maxErrorRate 5
        _promotion(front)
        canary.run_action(_args("promote", min_requests=None, max_error_rate=None), stack,
                          print, now=lambda: NOW)
    with Stubber(cloudwatch) as watch, pytest.raises(CanaryRefused, match="fewer than 500"):
        _metrics(watch, requests=120, rate=2.0)
        canary.run_action(_args("promote", min_requests=500, max_error_rate=None), stack,
                          print, now=lambda: NOW)


def test_a_cloudfront_promote_drops_stable_version_from_the_stack_file(tmp_path):
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text("config:\n  edgekit:images:\n    # canary: see README\n    canary:\n"
                          "      weightPercent: 10\n      stableVersion: \"7\"\n")
    cloudfront, cloudwatch = _clients()
    side = canary.CloudFrontCanary(cloudfront, cloudwatch, "EPRIMARY", "ESTAGING", "CDP1")
    stack = canary.StackCanary("prod", [side], False, 10, tmp_path / "prod-canary.json",
                               stack_file)
    lines = []
    with Stubber(cloudwatch) as watch, Stubber(cloudfront) as front:
        _metrics(watch, requests=5000, rate=0.0)
        _promotion(front)
        canary.run_action(_args("promote"), stack, lines.append, now=lambda: NOW)
    assert stack_file.read_text() == ("config:\n  edgekit:images:\n    # canary: see README\n"
                                      "    canary:\n      weightPercent: 10\n")
    assert "removed edgekit:images.canary.stableVersion from Pulumi.prod.yaml" in lines[0]


def _local(action: str, state_dir: Path, **extra) -> argparse.Namespace:
    return _args(action, **{"stack": "local", "state_dir": str(state_dir), "candidate": None,
                            "min_requests": None, "max_error_rate": None, **extra})


def test_local_refusals_name_what_is_missing(tmp_path):
    with pytest.raises(CanaryRefused, match="runs no CloudFront canary"):
        canary.run_local(_local("start", tmp_path, candidate=str(tmp_path / "c.zip")), print)
    (tmp_path / "lambda" / "canary" / "images-fn").mkdir(parents=True)
    with pytest.raises(CanaryRefused, match="no such zip; accepted: a resizer bundle"):
        canary.run_local(_local("start", tmp_path, candidate=str(tmp_path / "c.txt")), print)
    with pytest.raises(CanaryRefused, match="nothing in the twin .* has two recorded versions"):
        canary.run_local(_local("start", tmp_path), print)
    with pytest.raises(CanaryRefused, match="no local canary is running"):
        canary.run_local(_local("promote", tmp_path), print)


def test_the_guard_defaults_are_the_stack_configs():
    from edgekit_iac.components.canary import CloudFrontCanaryArgs, WorkerCanaryArgs

    for args in (CloudFrontCanaryArgs(), WorkerCanaryArgs(stable_version_id=STABLE)):
        assert canary.Guard.of(args) == canary.Guard()
