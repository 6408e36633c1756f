"""EdgeAlarms: CloudWatch alarms on a CloudFront distribution and its Lambda@Edge function.

What pages, and why it is built this way:

- CloudFront's additional metrics are switched on for the distribution (a monitoring
  subscription): OriginLatency exists only then.
- p95 OriginLatency over a threshold (80 ms by default) and the 5xx error rate over a
  threshold, in us-east-1: CloudFront publishes its metrics there only, under namespace
  AWS/CloudFront with dimensions DistributionId and Region=Global.
- Resizer failures anywhere in the world. Lambda@Edge writes its own AWS/Lambda metrics
  in the region where each replica ran (the regional edge cache nearest the viewer), so an
  alarm on AWS/Lambda in us-east-1 sees only that region, and the handler answers its own
  errors with a 500 instead of raising, which AWS/Lambda `Errors` never counts. Two alarms
  cover it from CloudFront's side, which reports per distribution and globally (namespace
  AWS/CloudFront, dimensions DistributionId + Region=Global, us-east-1 only):
  `5xxErrorRate` counts every 5xx a viewer got, the handler's own 500s included, wherever
  it ran; `edge-function-errors` sums the distribution's Lambda@Edge metrics
  `LambdaExecutionError` (the function crashed, timed out or ran out of memory),
  `LambdaValidationError` (it returned an invalid response) and
  `LambdaLimitExceededErrors` (throttled), again from every region. Per-region AWS/Lambda
  `Errors`/`Throttles` alarms remain available (`lambda_metric_regions`) for diagnosis,
  off by default: they need an alarm, a topic and a key per region and still miss the
  handler's 500s. A metric filter on the function's logs was not chosen: the log groups
  (`/aws/lambda/us-east-1.<name>`) appear in each region only once a replica ran there, so
  the filters could not be declared ahead of the traffic.
- p95 OriginLatency: see `DEFAULT_ORIGIN_LATENCY_P95_MS` for why the default is 1500 ms.
- Missing data never pages (`notBreaching`): quiet hours and regions without traffic send
  no data points, which is not an incident.
- Alarm and OK notifications go to an SNS topic per alarm region (CloudWatch alarm actions
  must be in the alarm's region). Topics are encrypted with a customer managed KMS key
  whose policy lets CloudWatch use it: with the AWS managed `alias/aws/sns` key CloudWatch
  cannot publish (its key policy cannot grant cloudwatch.amazonaws.com) and the alarms
  would fail silently. An optional HTTPS subscription (an incident tool's endpoint) must
  come as a Pulumi secret, since such URLs carry credentials.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pulumi
from edgekit_iac.components._args import (
    ArgsError,
    check_region,
    documented,
    int_in,
    provider_module,
)
from edgekit_iac.components._args import check_component_name as _check_name
from edgekit_iac.components._aws_helpers import (
    data_options,
    is_tag_mapping,
    policy_document,
    policy_json,
    statement,
)
from edgekit_iac.components._component import EdgeComponent

if TYPE_CHECKING:
    import pulumi_aws as aws
else:
    aws = provider_module("pulumi_aws")

TYPE_TOKEN = "edgekit:aws:EdgeAlarms"

CLOUDFRONT_METRICS_REGION = "us-east-1"
CLOUDFRONT_NAMESPACE = "AWS/CloudFront"
LAMBDA_NAMESPACE = "AWS/Lambda"
# Lambda@Edge functions are created in us-east-1 and report under this prefixed name.
EDGE_FUNCTION_PREFIX = "us-east-1."
TREAT_MISSING_DATA = "notBreaching"
# CloudFront's per-distribution Lambda@Edge error metrics (Sum), reported from every region.
EDGE_FUNCTION_ERROR_METRICS = (
    "LambdaExecutionError",
    "LambdaValidationError",
    "LambdaLimitExceededErrors",
)

# OriginLatency is measured only on requests CloudFront could not answer from its cache, so
# its p95 is the p95 of what a miss costs, and a miss here is a resize. What one costs
# (bench/RESULTS.md, 2-core machine; Lambda at 1769 MB has one such core): decoding a
# 12 MP phone JPEG and encoding the largest allowed size takes 100 ms (JPEG) to 230 ms
# (AVIF) and 320 ms (PNG); a cold start adds about 325 ms (handler import + first request)
# before Lambda's own init; reading a 2-5 MB original from the bucket's region into a
# regional edge cache on another continent adds 100-300 ms, storing the variant 50-100 ms.
# A healthy but expensive miss therefore takes about one second, and the p95 of a burst of
# misses (new images, a cold region) sits near it. 80 ms, the old default, is below the
# cheapest resize: it breached on every traffic spike. 1500 ms sits above the healthy p95
# and far below the 30 s origin timeout, so it fires when misses are really slow (S3
# throttling, an origin region in trouble, a function starved of memory), not when there
# are simply many of them.
DEFAULT_ORIGIN_LATENCY_P95_MS = 1500

# The key's administrators are the account's IAM principals (delegated to IAM policies);
# each action is named, as everywhere in edgekit.
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
)

# What CloudWatch needs to publish to an encrypted topic.
PUBLISHER_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
# CloudWatch's OriginLatency cannot exceed CloudFront's longest origin response timeout
# (60 s, 180 s with a quota increase): a higher p95 threshold would never alarm.
ORIGIN_LATENCY_LIMIT_MS = 180_000


class AlarmsArgsError(ArgsError):
    """A field of `EdgeAlarmsArgs` is wrong; the message names it and what is accepted."""

    owner = "EdgeAlarmsArgs"


@documented
@dataclass(frozen=True)
class EdgeAlarmsArgs:
    """What a caller chooses about edge alarms; where CloudFront metrics live is not a choice."""

    distribution_id: pulumi.Input[str]
    """The CloudFront distribution watched, e.g. `EdgeImageResizer.distribution_id`.
    Required."""

    function_name: pulumi.Input[str] | None = None
    """The Lambda@Edge function (unqualified name, as created in us-east-1) the distribution
    runs, e.g. `EdgeImageResizer.function_name`; given, the distribution's Lambda@Edge
    errors from every region are watched. Default: None (no Lambda@Edge alarms)."""

    origin_latency_p95_ms: float = DEFAULT_ORIGIN_LATENCY_P95_MS
    """Alarm when p95 OriginLatency (cache misses only, i.e. resizes) exceeds this many
    milliseconds, 0 < x <= 180000 (CloudFront's longest origin response timeout).
    Default: 1500 (see DEFAULT_ORIGIN_LATENCY_P95_MS for the costs)."""

    error_rate_percent: float = 5.0
    """Alarm when the average 5xx error rate exceeds this percentage, 0 < x <= 100.
    Default: 5.0."""

    lambda_errors_per_period: int = 5
    """A period with at least this many Lambda@Edge errors (execution, validation and
    throttling errors summed over every region) breaches, >= 1. Default: 5."""

    lambda_throttles_per_period: int = 1
    """A period with at least this many Lambda@Edge throttles breaches, >= 1. Default: 1."""

    lambda_metric_regions: Sequence[str] = ()
    """Regions whose own AWS/Lambda Errors and Throttles of the replicas are also watched
    (each gets its own alarms, topic and key), for diagnosis: the global alarm already
    covers every region. Default: none."""

    period_seconds: int = 60
    """Length of one evaluated period: 60..3600 in whole minutes. Default: 60."""

    evaluation_periods: int = 5
    """How many recent periods an alarm looks at, 1..60. Default: 5."""

    datapoints_to_alarm: int = 3
    """How many of those must breach to alarm, 1..evaluation_periods. Default: 3
    (3 of the last 5 minutes, so one slow minute does not page)."""

    alarm_endpoint: pulumi.Output[str] | None = None
    """HTTPS endpoint of an incident tool subscribed to every alarm topic, as a Pulumi
    secret (e.g. `pulumi.Config("edgekit").require_secret("alarmEndpoint")`); plain strings
    are refused. The endpoint confirms the subscription itself. Default: None."""

    protect_data: bool = False
    """Protect the topics' KMS keys (Pulumi `protect` and `retain_on_delete`), as prod's
    policy requires of every key. Default: False."""

    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the topics, keys and alarms. Default: none."""


# --- validation: pure, runs before anything is declared ------------------------------------


_fail = AlarmsArgsError


_int_in = functools.partial(int_in, AlarmsArgsError)


def _positive(arg: str, value: Any, high: float | None = None) -> float:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or number <= 0 or (high is not None and number > high):
        bound = f" and at most {high:g}" if high is not None else ""
        raise _fail(arg, f"got {value!r}", f"a number above 0{bound}")
    return float(number)


def _regions(value: Any) -> tuple[str, ...]:
    accepted = 'a list of AWS region names such as ["us-east-1", "eu-west-1"], or none'
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _fail("lambda_metric_regions", f"got {value!r}", accepted)
    for region in value:
        check_region(AlarmsArgsError, "lambda_metric_regions", region)
    return tuple(dict.fromkeys(value))


def _endpoint(value: Any) -> pulumi.Output[str] | None:
    if value is None:
        return None
    if not isinstance(value, pulumi.Output):
        raise _fail(
            "alarm_endpoint",
            "got a plain value, which would be stored unencrypted in the stack state",
            "a Pulumi secret: pulumi.Config().require_secret(...) or pulumi.Output.secret(url)",
        )
    return pulumi.Output.secret(value).apply(check_https_endpoint)


def check_https_endpoint(url: str) -> str:
    """SNS HTTPS subscriptions need an https:// URL with a host."""
    if not isinstance(url, str) or not re.match(r"^https://[^/\s]+(/\S*)?$", url):
        raise AlarmsArgsError(
            "alarm_endpoint",
            "the secret is not an https:// URL",
            "https://host/path of the incident tool's SNS integration",
        )
    return url


def check_component_name(name: str) -> str:
    """The name must make valid SNS topic names once suffixed with a region."""
    return _check_name(AlarmsArgsError, "EdgeAlarms", name, "SNS topic names")


def validate_args(args: EdgeAlarmsArgs) -> EdgeAlarmsArgs:
    """Check every field of `args` and return them normalized (the only values the
    `_create_*` steps read), or raise naming the field."""
    if args.distribution_id is None or args.distribution_id == "":
        raise _fail("distribution_id", f"got {args.distribution_id!r}", "a distribution id")
    if args.period_seconds not in range(60, 3601, 60):
        raise _fail("period_seconds", f"got {args.period_seconds!r}", "60..3600 in steps of 60")
    evaluation_periods = _int_in("evaluation_periods", args.evaluation_periods, 1, 60)
    if not is_tag_mapping(args.tags):
        raise _fail("tags", f"got {args.tags!r}", "a mapping of strings to strings")
    if not isinstance(args.protect_data, bool):
        raise _fail("protect_data", f"got {args.protect_data!r}", "True or False")
    return replace(
        args,
        origin_latency_p95_ms=_positive(
            "origin_latency_p95_ms", args.origin_latency_p95_ms, ORIGIN_LATENCY_LIMIT_MS
        ),
        error_rate_percent=_positive("error_rate_percent", args.error_rate_percent, 100),
        lambda_errors_per_period=_int_in(
            "lambda_errors_per_period", args.lambda_errors_per_period, 1, 10**9
        ),
        lambda_throttles_per_period=_int_in(
            "lambda_throttles_per_period", args.lambda_throttles_per_period, 1, 10**9
        ),
        lambda_metric_regions=_regions(args.lambda_metric_regions),
        period_seconds=args.period_seconds,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=_int_in(
            "datapoints_to_alarm", args.datapoints_to_alarm, 1, evaluation_periods
        ),
        alarm_endpoint=_endpoint(args.alarm_endpoint),
        tags=dict(args.tags),
    )


def topic_regions(settings: EdgeAlarmsArgs) -> tuple[str, ...]:
    """Every region an alarm lives in (`settings` validated), CloudFront's first."""
    regions = [CLOUDFRONT_METRICS_REGION]
    if settings.function_name is not None:
        regions.extend(settings.lambda_metric_regions)
    return tuple(dict.fromkeys(regions))


# --- pure decisions the resources are built from ------------------------------------------


def topic_key_policy(account_id: str, region: str) -> dict[str, Any]:
    """The account administers the key through IAM; CloudWatch may encrypt alarm messages.

    CloudWatch's grant holds only for alarms of this account in the key's region
    (aws:SourceAccount and aws:SourceArn, as the SNS developer guide's "compatibility with
    AWS services" key policy allows), so no other account's alarm can have CloudWatch use
    this key (the confused deputy). The ARN pattern is the account's alarms in `region`,
    not the alarm names themselves: those are auto-named, and a pattern that drifted from
    them would drop every notification without an error.
    """
    return policy_document(
        statement(
            "AccountAdministersKey",
            KEY_ADMIN_ACTIONS,
            "*",
            principal={"AWS": f"arn:aws:iam::{account_id}:root"},
        ),
        statement(
            "CloudWatchAlarmsPublish",
            PUBLISHER_KEY_ACTIONS,
            "*",
            principal={"Service": "cloudwatch.amazonaws.com"},
            condition={
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"},
            },
        ),
    )


def edge_function_metric_name(function_name: str) -> str:
    """The FunctionName dimension Lambda@Edge replicas report under."""
    return f"{EDGE_FUNCTION_PREFIX}{function_name}"


def cloudfront_dimensions(distribution_id: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """CloudFront metrics are keyed by distribution and the constant Region=Global."""
    return {"DistributionId": distribution_id, "Region": "Global"}


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: what it watches and when it breaches (region and actions come later)."""

    suffix: str
    description: str
    namespace: str
    metric_name: str
    comparison: str
    threshold: float
    statistic: str | None = None
    extended_statistic: str | None = None


def cloudfront_alarms(settings: EdgeAlarmsArgs) -> list[AlarmSpec]:
    """Origin latency (p95) and viewer 5xx rate, both from CloudFront's us-east-1 metrics."""
    return [
        AlarmSpec(
            suffix="origin-latency-p95",
            description=(
                f"p95 origin latency above {settings.origin_latency_p95_ms:g} ms "
                "(CloudFront additional metrics)"
            ),
            namespace=CLOUDFRONT_NAMESPACE,
            metric_name="OriginLatency",
            comparison="GreaterThanThreshold",
            threshold=settings.origin_latency_p95_ms,
            extended_statistic="p95",
        ),
        AlarmSpec(
            suffix="5xx-error-rate",
            description=f"5xx responses above {settings.error_rate_percent:g}% of requests",
            namespace=CLOUDFRONT_NAMESPACE,
            metric_name="5xxErrorRate",
            comparison="GreaterThanThreshold",
            threshold=settings.error_rate_percent,
            statistic="Average",
        ),
    ]


def edge_function_error_queries(
    distribution_id: pulumi.Input[str], period_seconds: int
) -> list[dict[str, Any]]:
    """CloudFront's three Lambda@Edge error counts for the distribution, and their sum.

    Exactly one query returns data (the sum): CloudWatch alarms on a math expression need
    every other query marked `return_data: False`.
    """
    queries: list[dict[str, Any]] = [
        {
            "id": f"m{index}",
            "return_data": False,
            "metric": {
                "namespace": CLOUDFRONT_NAMESPACE,
                "metric_name": metric,
                "dimensions": cloudfront_dimensions(distribution_id),
                "period": period_seconds,
                "stat": "Sum",
            },
        }
        for index, metric in enumerate(EDGE_FUNCTION_ERROR_METRICS, start=1)
    ]
    # FILL(..., 0): a metric without data points in a period counts as no errors, so one
    # quiet metric does not blank the sum.
    filled = ", ".join(f"FILL({query['id']}, 0)" for query in queries)
    queries.append(
        {
            "id": "errors",
            "expression": f"SUM([{filled}])",
            "label": "Lambda@Edge errors, all regions",
            "return_data": True,
        }
    )
    return queries


def lambda_alarms(settings: EdgeAlarmsArgs, region: str) -> list[AlarmSpec]:
    """Lambda@Edge errors and throttles as reported in one region."""
    return [
        AlarmSpec(
            suffix=f"lambda-errors-{region}",
            description=(
                f"Lambda@Edge errors in {region}: at least "
                f"{settings.lambda_errors_per_period} per period"
            ),
            namespace=LAMBDA_NAMESPACE,
            metric_name="Errors",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=settings.lambda_errors_per_period,
            statistic="Sum",
        ),
        AlarmSpec(
            suffix=f"lambda-throttles-{region}",
            description=(
                f"Lambda@Edge throttles in {region}: at least "
                f"{settings.lambda_throttles_per_period} per period"
            ),
            namespace=LAMBDA_NAMESPACE,
            metric_name="Throttles",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=settings.lambda_throttles_per_period,
            statistic="Sum",
        ),
    ]


# --- the component ---------------------------------------------------------------------------


class EdgeAlarms(EdgeComponent):
    """Additional CloudFront metrics, alarms on latency/5xx/Lambda@Edge, SNS topics."""

    TYPE_TOKEN = TYPE_TOKEN

    topic_arn: pulumi.Output[str]
    topic_arns: pulumi.Output[dict[str, str]]
    alarm_names: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: EdgeAlarmsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = validate_args(args)
        check_component_name(name)
        super().__init__(name, opts)
        self._settings = settings
        self._child = self.child_opts()

        self._create_monitoring_subscription()
        self._create_topics()
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        self._create_cloudfront_alarms()
        self._create_edge_function_alarm()
        self._create_lambda_alarms()

        self.set_outputs(
            topic_arn=self.topics[CLOUDFRONT_METRICS_REGION].arn,
            topic_arns=pulumi.Output.all(
                **{region: topic.arn for region, topic in self.topics.items()}
            ),
            alarm_names=pulumi.Output.all(*[alarm.name for alarm in self.alarms]),
        )

    def _create_monitoring_subscription(self) -> None:
        self.monitoring = aws.cloudfront.MonitoringSubscription(
            self.child_name("additional-metrics"),
            distribution_id=self._settings.distribution_id,
            monitoring_subscription={
                "realtime_metrics_subscription_config": {
                    "realtime_metrics_subscription_status": "Enabled"
                }
            },
            opts=self._child,
        )

    def _create_topics(self) -> None:
        settings = self._settings
        account_id = aws.get_caller_identity_output().account_id
        self.topics: dict[str, aws.sns.Topic] = {}
        for region in topic_regions(settings):
            key = aws.kms.Key(
                self.child_name(f"key-{region}"),
                region=region,
                description=f"{self._name}: encrypts alarm notifications CloudWatch publishes",
                enable_key_rotation=True,
                deletion_window_in_days=7,
                policy=policy_json(topic_key_policy, account_id, region),
                tags=settings.tags or None,
                opts=data_options(self, settings.protect_data),
            )
            topic = aws.sns.Topic(
                self.child_name(f"topic-{region}"),
                region=region,
                display_name=f"{self._name} alarms",
                kms_master_key_id=key.arn,
                tags=settings.tags or None,
                opts=self._child,
            )
            if settings.alarm_endpoint is not None:
                aws.sns.TopicSubscription(
                    self.child_name(f"paging-{region}"),
                    region=region,
                    topic=topic.arn,
                    protocol="https",
                    endpoint=settings.alarm_endpoint,
                    endpoint_auto_confirms=False,
                    opts=self._child,
                )
            self.topics[region] = topic

    def _declare_alarm(
        self,
        suffix: str,
        region: str,
        description: str,
        opts: pulumi.ResourceOptions,
        **watch: Any,
    ) -> None:
        """One alarm: what it watches (`watch`), plus what every edgekit alarm shares."""
        settings = self._settings
        actions = [self.topics[region].arn]
        self.alarms.append(
            aws.cloudwatch.MetricAlarm(
                self.child_name(suffix),
                region=region,
                alarm_description=f"{self._name}: {description}",
                evaluation_periods=settings.evaluation_periods,
                datapoints_to_alarm=settings.datapoints_to_alarm,
                treat_missing_data=TREAT_MISSING_DATA,
                alarm_actions=actions,
                ok_actions=actions,
                tags=settings.tags or None,
                opts=opts,
                **watch,
            )
        )

    def _create_alarm(
        self,
        spec: AlarmSpec,
        region: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        opts: pulumi.ResourceOptions,
    ) -> None:
        self._declare_alarm(
            spec.suffix,
            region,
            spec.description,
            opts,
            namespace=spec.namespace,
            metric_name=spec.metric_name,
            dimensions=dict(dimensions),
            statistic=spec.statistic,
            extended_statistic=spec.extended_statistic,
            comparison_operator=spec.comparison,
            threshold=spec.threshold,
            period=self._settings.period_seconds,
        )

    def _create_cloudfront_alarms(self) -> None:
        dimensions = cloudfront_dimensions(self._settings.distribution_id)
        # OriginLatency is published only once the additional metrics are on.
        after_subscription = pulumi.ResourceOptions(parent=self, depends_on=[self.monitoring])
        for spec in cloudfront_alarms(self._settings):
            self._create_alarm(spec, CLOUDFRONT_METRICS_REGION, dimensions, after_subscription)

    def _create_edge_function_alarm(self) -> None:
        """Lambda@Edge errors of the distribution, every region summed, one alarm."""
        settings = self._settings
        if settings.function_name is None:
            return
        self._declare_alarm(
            "edge-function-errors",
            CLOUDFRONT_METRICS_REGION,
            f"at least {settings.lambda_errors_per_period} Lambda@Edge errors (execution, "
            "validation, throttling) per period, any region",
            self._child,
            metric_queries=edge_function_error_queries(
                settings.distribution_id, settings.period_seconds
            ),
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=settings.lambda_errors_per_period,
        )

    def _create_lambda_alarms(self) -> None:
        settings = self._settings
        if settings.function_name is None or not settings.lambda_metric_regions:
            return
        metric_function = pulumi.Output.from_input(settings.function_name).apply(
            edge_function_metric_name
        )
        for region in settings.lambda_metric_regions:
            for spec in lambda_alarms(settings, region):
                self._create_alarm(spec, region, {"FunctionName": metric_function}, self._child)
