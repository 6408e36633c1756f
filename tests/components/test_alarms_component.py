"""EdgeAlarms under Pulumi's mock runtime: metrics, thresholds, regions and where alarms go.

Runs in a stack whose default region is eu-west-1, so "CloudFront alarms are in us-east-1"
is the component's doing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
from edgekit_iac.components.alarms import (
    AlarmsArgsError,
    EdgeAlarms,
    EdgeAlarmsArgs,
    check_https_endpoint,
    validate_args,
)
from edgekit_iac.components.image_resizer import EdgeImageResizer, EdgeImageResizerArgs

from edgekit_iac.program import ProgramGraph, RecordedResource, run_program
from tests.components.graph_checks import (
    assert_children_named_after,
    assert_no_wildcard_actions,
    depends_on,
)
from tests.components.test_image_resizer_component import make_artifact

STACK_CONFIG = {"aws:region": "eu-west-1"}
DISTRIBUTION_ID = "E2QWRUHAPOMQZL"
FUNCTION = "images-fn-1a2b3c4"
ENDPOINT = "https://events.example-incidents.com/integration/abc123/enqueue"

ALARMS = "edgekit:aws:EdgeAlarms"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
MONITORING = "aws:cloudfront/monitoringSubscription:MonitoringSubscription"


def record(args: EdgeAlarmsArgs) -> ProgramGraph:
    return run_program("test", program=lambda: EdgeAlarms("edge-alarms", args), config=STACK_CONFIG)


@pytest.fixture(scope="module")
def alarms() -> ProgramGraph:
    """Defaults, with a function and a paging endpoint."""
    return record(
        EdgeAlarmsArgs(
            distribution_id=DISTRIBUTION_ID,
            function_name=FUNCTION,
            alarm_endpoint=pulumi.Output.secret(ENDPOINT),
        )
    )


@pytest.fixture(scope="module")
def two_regions() -> ProgramGraph:
    return record(
        EdgeAlarmsArgs(
            distribution_id=DISTRIBUTION_ID,
            function_name=FUNCTION,
            lambda_metric_regions=["us-east-1", "eu-west-1"],
            origin_latency_p95_ms=120,
            error_rate_percent=2.5,
        )
    )


def alarm(graph: ProgramGraph, suffix: str) -> dict:
    (found,) = [r for r in graph.of_type(ALARM) if r.name == f"edge-alarms-{suffix}"]
    return found.inputs


def topic_in(graph: ProgramGraph, region: str) -> RecordedResource:
    (topic,) = [t for t in graph.of_type(TOPIC) if t.inputs["region"] == region]
    return topic


def test_additional_cloudfront_metrics_are_enabled_for_the_distribution(alarms):
    monitoring = alarms.one(MONITORING).inputs
    assert monitoring["distributionId"] == DISTRIBUTION_ID
    config = monitoring["monitoringSubscription"]["realtimeMetricsSubscriptionConfig"]
    assert config == {"realtimeMetricsSubscriptionStatus": "Enabled"}


def test_p95_origin_latency_alarm_watches_cloudfronts_us_east_1_metrics(alarms):
    latency = alarm(alarms, "origin-latency-p95")
    assert latency["region"] == "us-east-1"
    assert (latency["namespace"], latency["metricName"]) == ("AWS/CloudFront", "OriginLatency")
    assert latency["extendedStatistic"] == "p95"
    assert "statistic" not in latency
    assert latency["dimensions"] == {"DistributionId": DISTRIBUTION_ID, "Region": "Global"}
    # A miss is a resize: ~1 s when healthy and expensive, so 80 ms flapped on every spike.
    assert (latency["comparisonOperator"], latency["threshold"]) == ("GreaterThanThreshold", 1500)


def test_latency_alarm_waits_for_the_metric_to_exist(alarms):
    (latency,) = [r for r in alarms.of_type(ALARM) if r.name.endswith("origin-latency-p95")]
    assert depends_on(latency, alarms.one(MONITORING))


def test_5xx_error_rate_alarm_averages_the_percentage(alarms, two_regions):
    errors = alarm(alarms, "5xx-error-rate")
    assert (errors["namespace"], errors["metricName"], errors["statistic"]) == (
        "AWS/CloudFront",
        "5xxErrorRate",
        "Average",
    )
    assert errors["dimensions"] == {"DistributionId": DISTRIBUTION_ID, "Region": "Global"}
    assert (errors["threshold"], errors["region"]) == (5, "us-east-1")
    assert alarm(two_regions, "5xx-error-rate")["threshold"] == 2.5
    assert alarm(two_regions, "origin-latency-p95")["threshold"] == 120


def test_lambda_edge_errors_from_every_region_alarm_once_from_cloudfronts_metrics(alarms):
    watched = alarm(alarms, "edge-function-errors")
    assert watched["region"] == "us-east-1"
    assert (watched["comparisonOperator"], watched["threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        5,
    )
    assert "metricName" not in watched and "namespace" not in watched
    queries = {q["id"]: q for q in watched["metricQueries"]}
    metrics = [q["metric"] for q in queries.values() if "metric" in q]
    assert {m["metricName"] for m in metrics} == {
        "LambdaExecutionError",
        "LambdaValidationError",
        "LambdaLimitExceededErrors",
    }
    for metric in metrics:
        # CloudFront's own per-distribution view: global, whichever region ran the replica.
        assert metric["namespace"] == "AWS/CloudFront"
        assert metric["dimensions"] == {"DistributionId": DISTRIBUTION_ID, "Region": "Global"}
        assert (metric["stat"], metric["period"]) == ("Sum", 60)
    returned = [q for q in queries.values() if q["returnData"]]
    assert [q["id"] for q in returned] == ["errors"]
    assert returned[0]["expression"] == "SUM([FILL(m1, 0), FILL(m2, 0), FILL(m3, 0)])"


def test_no_per_region_lambda_alarm_unless_asked(alarms):
    assert not [a for a in alarms.of_type(ALARM) if a.inputs.get("namespace") == "AWS/Lambda"]
    assert [t.inputs["region"] for t in alarms.of_type(TOPIC)] == ["us-east-1"]


def test_lambda_edge_errors_and_throttles_use_the_replicated_function_name(two_regions):
    for suffix, metric, threshold in (("errors", "Errors", 5), ("throttles", "Throttles", 1)):
        watched = alarm(two_regions, f"lambda-{suffix}-us-east-1")
        assert (watched["namespace"], watched["metricName"]) == ("AWS/Lambda", metric)
        assert watched["dimensions"] == {"FunctionName": f"us-east-1.{FUNCTION}"}
        assert (watched["statistic"], watched["threshold"]) == ("Sum", threshold)
        assert watched["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert watched["region"] == "us-east-1"


def test_lambda_alarms_are_repeated_in_each_region_that_reports_metrics(two_regions):
    for region in ("us-east-1", "eu-west-1"):
        for suffix in ("errors", "throttles"):
            watched = alarm(two_regions, f"lambda-{suffix}-{region}")
            assert watched["region"] == region
            assert watched["alarmActions"] == [topic_in(two_regions, region).outputs["arn"]]


def test_missing_data_never_pages_and_every_alarm_notifies_on_alarm_and_recovery(alarms):
    recorded = alarms.of_type(ALARM)
    assert len(recorded) == 3
    for found in recorded:
        inputs = found.inputs
        assert inputs["treatMissingData"] == "notBreaching"
        topic_arn = topic_in(alarms, inputs["region"]).outputs["arn"]
        assert inputs["alarmActions"] == [topic_arn]
        assert inputs["okActions"] == [topic_arn]
        assert (inputs["evaluationPeriods"], inputs["datapointsToAlarm"]) == (5, 3)
        assert inputs.get("period", 60) == 60


def test_topics_use_a_key_cloudwatch_may_use_not_the_aws_managed_sns_key(two_regions):
    for region in ("us-east-1", "eu-west-1"):
        topic = topic_in(two_regions, region)
        (key,) = [k for k in two_regions.of_type(KEY) if k.inputs["region"] == region]
        assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
        assert topic.inputs["kmsMasterKeyId"] != "alias/aws/sns"
        assert key.inputs["enableKeyRotation"] is True
        statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
        cloudwatch = statements["CloudWatchAlarmsPublish"]
        assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
        # Only this account's alarms in the key's region (no confused deputy).
        assert cloudwatch["Condition"] == {
            "StringEquals": {"aws:SourceAccount": "123456789012"},
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:123456789012:alarm:*"},
        }
        admin = statements["AccountAdministersKey"]
        assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
        assert "kms:PutKeyPolicy" in admin["Action"]
    assert assert_no_wildcard_actions(two_regions) == 2


def test_incident_endpoint_is_subscribed_over_https_as_a_secret(alarms, two_regions):
    (subscription,) = alarms.of_type(SUBSCRIPTION)
    inputs = subscription.inputs
    assert (inputs["protocol"], inputs["endpointAutoConfirms"]) == ("https", False)
    assert inputs["endpoint"] == {"secret": True}
    assert inputs["topic"] == topic_in(alarms, "us-east-1").outputs["arn"]
    assert two_regions.of_type(SUBSCRIPTION) == []


def test_without_a_function_only_cloudfront_is_watched():
    graph = record(EdgeAlarmsArgs(distribution_id=DISTRIBUTION_ID))
    assert sorted(r.inputs["metricName"] for r in graph.of_type(ALARM)) == [
        "5xxErrorRate",
        "OriginLatency",
    ]
    assert [t.inputs["region"] for t in graph.of_type(TOPIC)] == ["us-east-1"]


def test_outputs_and_children(two_regions):
    outputs = two_regions.one(ALARMS).outputs
    assert outputs["topic_arn"] == topic_in(two_regions, "us-east-1").outputs["arn"]
    assert outputs["topic_arns"] == {
        region: topic_in(two_regions, region).outputs["arn"]
        for region in ("us-east-1", "eu-west-1")
    }
    assert sorted(outputs["alarm_names"]) == sorted(
        r.outputs["name"] for r in two_regions.of_type(ALARM)
    )
    assert_children_named_after(two_regions, ALARMS, "edge-alarms")


def test_alarms_watch_the_resizers_distribution_and_function_when_composed(tmp_path: Path):
    def program() -> None:
        resizer = EdgeImageResizer("images", EdgeImageResizerArgs(artifact=make_artifact(tmp_path)))
        EdgeAlarms(
            "edge-alarms",
            EdgeAlarmsArgs(
                distribution_id=resizer.distribution_id, function_name=resizer.function_name
            ),
        )

    graph = run_program("test", program=program, config=STACK_CONFIG)
    distribution = graph.one("aws:cloudfront/distribution:Distribution")
    function = graph.one("aws:lambda/function:Function")
    assert graph.one(MONITORING).inputs["distributionId"] == distribution.id
    assert alarm(graph, "5xx-error-rate")["dimensions"]["DistributionId"] == distribution.id
    assert function.outputs["name"]
    queries = alarm(graph, "edge-function-errors")["metricQueries"]
    assert all(
        q["metric"]["dimensions"]["DistributionId"] == distribution.id
        for q in queries
        if "metric" in q
    )


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "accepted"),
    [
        ({"origin_latency_p95_ms": 0}, "origin_latency_p95_ms", "above 0"),
        ({"error_rate_percent": 101}, "error_rate_percent", "at most 100"),
        ({"error_rate_percent": True}, "error_rate_percent", "above 0"),
        ({"lambda_errors_per_period": 0}, "lambda_errors_per_period", "from 1"),
        ({"lambda_metric_regions": "us-east-1"}, "lambda_metric_regions", "list of AWS region"),
        ({"lambda_metric_regions": ["Europe"]}, "lambda_metric_regions", "an AWS region: af-"),
        ({"period_seconds": 90}, "period_seconds", "steps of 60"),
        ({"evaluation_periods": 0}, "evaluation_periods", "from 1 to 60"),
        ({"datapoints_to_alarm": 6}, "datapoints_to_alarm", "from 1 to 5"),
        ({"alarm_endpoint": ENDPOINT}, "alarm_endpoint", "a Pulumi secret"),
        ({"distribution_id": ""}, "distribution_id", "a distribution id"),
    ],
)
def test_refusals_name_the_field_and_what_is_accepted(changes, field, accepted):
    with pytest.raises(AlarmsArgsError) as raised:
        validate_args(EdgeAlarmsArgs(**{"distribution_id": DISTRIBUTION_ID, **changes}))
    assert str(raised.value).startswith(f"EdgeAlarmsArgs.{field}:")
    assert accepted in str(raised.value)


def test_a_name_sns_cannot_use_in_topic_names_is_refused():
    with pytest.raises(AlarmsArgsError, match="SNS topic names"):
        run_program(
            "test",
            program=lambda: EdgeAlarms("edge alarms", EdgeAlarmsArgs(distribution_id="E1")),
            config=STACK_CONFIG,
        )


def test_a_secret_that_is_not_an_https_url_stops_the_run_without_revealing_it():
    assert check_https_endpoint(ENDPOINT) == ENDPOINT
    with pytest.raises(
        ValueError, match="alarm_endpoint: the secret is not an https:// URL"
    ) as raised:
        record(
            EdgeAlarmsArgs(
                distribution_id=DISTRIBUTION_ID,
                alarm_endpoint=pulumi.Output.secret("http://hooks.example.com/key-123"),
            )
        )
    assert "key-123" not in str(raised.value)
