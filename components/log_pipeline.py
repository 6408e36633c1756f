"""EdgeLogPipeline: CloudFront real-time logs -> Kinesis -> Firehose -> a private S3 log bucket.

A distribution that names `realtime_log_config_arn` (e.g. through
`EdgeImageResizerArgs.realtime_log_config_arn`) sends one record per sampled request to an
encrypted Kinesis data stream; Firehose reads the stream and writes GZIP batches to the log
bucket under `cloudfront/realtime/YYYY/MM/DD/`, failed records under
`cloudfront/realtime-errors/<error type>/YYYY/MM/DD/`. Everything in the bucket expires
after `retention_days` (Cloudflare Logpush, which writes to the same bucket, included).

The rules live here: the bucket blocks public access, has ACLs disabled and SSE-S3, and is
handed out by name only once all of that is in place; CloudFront may only describe and put
records to this stream; Firehose may only read this stream and write under its prefix.
No role gets a `*` action.

CloudFront delivers each record as tab-separated values in CloudFront's own field order,
whatever order the configuration lists them in, so `fields` is normalized to that order:
the output `fields` is the column order a consumer reads.
"""

from __future__ import annotations

import functools
import json
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
    ExpiryRule,
    account_of,
    bucket_arn,
    deny_insecure_transport,
    is_tag_mapping,
    policy_document,
    policy_json,
    private_bucket,
    service_trust_policy,
    statement,
)
from edgekit_iac.components._component import EdgeComponent

if TYPE_CHECKING:
    import pulumi_aws as aws
else:
    aws = provider_module("pulumi_aws")

TYPE_TOKEN = "edgekit:aws:EdgeLogPipeline"

# Every real-time log field, in the order CloudFront writes them (CloudFront developer guide,
# "Real-time log configuration fields"). A record holds at most 40 fields.
REALTIME_LOG_FIELDS = (
    "timestamp",
    "c-ip",
    "time-to-first-byte",
    "sc-status",
    "sc-bytes",
    "cs-method",
    "cs-protocol",
    "cs-host",
    "cs-uri-stem",
    "cs-bytes",
    "x-edge-location",
    "x-edge-request-id",
    "x-host-header",
    "time-taken",
    "cs-protocol-version",
    "c-ip-version",
    "cs-user-agent",
    "cs-referer",
    "cs-cookie",
    "cs-uri-query",
    "x-edge-response-result-type",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-result-type",
    "fle-encrypted-fields",
    "fle-status",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
    "c-port",
    "x-edge-detailed-result-type",
    "c-country",
    "cs-accept-encoding",
    "cs-accept",
    "cache-behavior-path-pattern",
    "cs-headers",
    "cs-header-names",
    "cs-headers-count",
)
MAX_FIELDS = 40

# What a platform team reads first: when, who, what, how it ended, where, how long, cache.
DEFAULT_FIELDS = (
    "timestamp",
    "c-ip",
    "sc-status",
    "sc-bytes",
    "cs-method",
    "cs-host",
    "cs-uri-stem",
    "x-edge-location",
    "time-taken",
    "x-edge-result-type",
)

LOG_PREFIX = "cloudfront/realtime/"
ERROR_PREFIX = "cloudfront/realtime-errors/"
# Firehose partitions by the record's arrival time; errors keep their error type apart.
DATE_PARTITION = "!{timestamp:yyyy/MM/dd}/"
ERROR_TYPE_PARTITION = "!{firehose:error-output-type}/"

# Encrypted with the AWS managed key: its key policy already lets principals of this
# account use it through Kinesis, so neither CloudFront's nor Firehose's role needs a KMS
# grant (a customer managed key would need kms:GenerateDataKey / kms:Decrypt grants).
STREAM_KMS_KEY = "alias/aws/kinesis"

CLOUDFRONT_STREAM_ACTIONS = (
    "kinesis:DescribeStreamSummary",
    "kinesis:DescribeStream",
    "kinesis:PutRecord",
    "kinesis:PutRecords",
)
FIREHOSE_STREAM_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
    "kinesis:ListShards",
)
FIREHOSE_BUCKET_ACTIONS = (
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
)
FIREHOSE_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject")

# The component name prefixes physical names: the bucket's must be lower case, and the
# longest auto-name (`<name>-cloudfront-role-<7 hex>`) must fit IAM's and Firehose's 64.
_COMPONENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class LogPipelineArgsError(ArgsError):
    """A field of `EdgeLogPipelineArgs` is wrong; the message names it and what is accepted."""

    owner = "EdgeLogPipelineArgs"


@documented
@dataclass(frozen=True)
class EdgeLogPipelineArgs:
    """What a caller chooses about the real-time log pipeline; its access rules are fixed."""

    sampling_rate: int = 100
    """Percentage of viewer requests logged, 1..100. Default: 100."""

    fields: Sequence[str] = DEFAULT_FIELDS
    """Real-time log fields, any of CloudFront's documented fields (at most 40); delivered
    in CloudFront's order. Default: timestamp, c-ip, sc-status, sc-bytes, cs-method,
    cs-host, cs-uri-stem, x-edge-location, time-taken, x-edge-result-type."""

    shard_count: int | None = None
    """Kinesis shards, 1..500, for a PROVISIONED stream. Default: None (ON_DEMAND, which
    scales with traffic and bills per GB)."""

    stream_retention_hours: int = 24
    """How long records stay readable in the stream, 24..8760 hours (Firehose normally
    drains it within minutes). Default: 24."""

    retention_days: int = 14
    """Days after which every object in the log bucket expires, 1..3650. Default: 14."""

    buffer_size_mb: int = 5
    """Firehose writes a batch once this many MB arrived, 1..128. Default: 5."""

    buffer_interval_seconds: int = 300
    """... or once this many seconds passed, 0..900. Default: 300."""

    region: str = "us-east-1"
    """Region of the stream, Firehose and bucket (CloudFront itself is global).
    Default: us-east-1."""

    force_destroy: bool = False
    """Let `pulumi destroy` delete a log bucket that still holds logs. Default: False."""

    protect_data: bool = False
    """Protect the log bucket (Pulumi `protect` and `retain_on_delete`), as prod's policy
    requires. Default: False."""

    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the stream, Firehose, bucket and roles. Default: none."""

    external_bucket_policy: bool = False
    """Another component writes the log bucket's one policy (CloudflareLogpush's grant,
    which carries the TLS-only deny too). Default: False: the pipeline attaches a policy
    denying every request without TLS."""


# --- validation: pure, runs before anything is declared ------------------------------------


_fail = LogPipelineArgsError


_int_in = functools.partial(int_in, LogPipelineArgsError)


def normalize_fields(fields: Any) -> tuple[str, ...]:
    """Known fields, duplicates dropped, in the column order CloudFront delivers them."""
    accepted = f"a non-empty list of at most {MAX_FIELDS} of {', '.join(REALTIME_LOG_FIELDS)}"
    if isinstance(fields, str) or not isinstance(fields, Sequence) or not fields:
        raise _fail("fields", f"got {fields!r}", accepted)
    unknown = [name for name in fields if name not in REALTIME_LOG_FIELDS]
    if unknown:
        raise _fail("fields", f"unknown fields {unknown}", accepted)
    chosen = set(fields)
    ordered = tuple(name for name in REALTIME_LOG_FIELDS if name in chosen)
    if len(ordered) > MAX_FIELDS:
        raise _fail("fields", f"{len(ordered)} fields", accepted)
    return ordered


def check_component_name(name: str) -> str:
    """The name must make valid bucket, role and Firehose names once Pulumi suffixes it."""
    return _check_name(
        LogPipelineArgsError,
        "EdgeLogPipeline",
        name,
        "bucket, role and stream names",
        _COMPONENT_NAME,
        "1-40 lower-case letters, digits or '-', starting with a letter or digit",
    )


def _bool(arg: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(arg, f"got {value!r}", "True or False")
    return value


def validate_args(args: EdgeLogPipelineArgs) -> EdgeLogPipelineArgs:
    """Check every field of `args` and return the normalized settings, or raise naming the field."""
    shard_count = args.shard_count
    if shard_count is not None:
        _int_in("shard_count", shard_count, 1, 500)
    check_region(LogPipelineArgsError, "region", args.region)
    if not isinstance(args.force_destroy, bool):
        raise _fail("force_destroy", f"got {args.force_destroy!r}", "True or False")
    if not isinstance(args.protect_data, bool):
        raise _fail("protect_data", f"got {args.protect_data!r}", "True or False")
    if not is_tag_mapping(args.tags):
        raise _fail("tags", f"got {args.tags!r}", "a mapping of strings to strings")
    return replace(
        args,
        sampling_rate=_int_in("sampling_rate", args.sampling_rate, 1, 100),
        fields=normalize_fields(args.fields),
        shard_count=shard_count,
        stream_retention_hours=_int_in(
            "stream_retention_hours", args.stream_retention_hours, 24, 8760
        ),
        retention_days=_int_in("retention_days", args.retention_days, 1, 3650),
        buffer_size_mb=_int_in("buffer_size_mb", args.buffer_size_mb, 1, 128),
        buffer_interval_seconds=_int_in(
            "buffer_interval_seconds", args.buffer_interval_seconds, 0, 900
        ),
        region=args.region,
        force_destroy=args.force_destroy,
        protect_data=args.protect_data,
        tags=dict(args.tags),
        external_bucket_policy=_bool("external_bucket_policy", args.external_bucket_policy),
    )


# --- pure decisions the resources are built from ------------------------------------------


def stream_mode(shard_count: int | None) -> dict[str, Any]:
    """ON_DEMAND unless a shard count asks for PROVISIONED capacity."""
    return {"stream_mode": "ON_DEMAND" if shard_count is None else "PROVISIONED"}


def cloudfront_stream_policy(stream_arn: str) -> dict[str, Any]:
    """CloudFront may describe this stream and put records into it, nothing else."""
    return policy_document(
        statement("PutRealtimeLogRecords", CLOUDFRONT_STREAM_ACTIONS, stream_arn)
    )


def firehose_trust_policy(account_id: str) -> dict[str, Any]:
    """Firehose may assume the role only on behalf of this account (confused deputy)."""
    return service_trust_policy(
        "firehose.amazonaws.com",
        condition={"StringEquals": {"sts:ExternalId": account_id}},
    )


def firehose_delivery_policy(stream_arn: str, bucket: str) -> dict[str, Any]:
    """Firehose reads this stream and writes objects only under the CloudFront log prefix."""
    arn = bucket_arn(bucket)
    return policy_document(
        statement("ReadRealtimeLogStream", FIREHOSE_STREAM_ACTIONS, stream_arn),
        statement("LocateLogBucket", FIREHOSE_BUCKET_ACTIONS, arn),
        statement(
            "WriteCloudFrontLogs",
            FIREHOSE_OBJECT_ACTIONS,
            [f"{arn}/{LOG_PREFIX}*", f"{arn}/{ERROR_PREFIX}*"],
        ),
    )


def s3_destination(settings: EdgeLogPipelineArgs) -> dict[str, Any]:
    """Where and how Firehose writes: date-partitioned GZIP batches, errors kept apart."""
    return {
        "prefix": f"{LOG_PREFIX}{DATE_PARTITION}",
        "error_output_prefix": f"{ERROR_PREFIX}{ERROR_TYPE_PARTITION}{DATE_PARTITION}",
        "compression_format": "GZIP",
        "buffering_size": settings.buffer_size_mb,
        "buffering_interval": settings.buffer_interval_seconds,
    }


# --- the component ---------------------------------------------------------------------------


class EdgeLogPipeline(EdgeComponent):
    """Real-time log config + Kinesis stream + Firehose + private, expiring log bucket."""

    TYPE_TOKEN = TYPE_TOKEN

    realtime_log_config_arn: pulumi.Output[str]
    stream_arn: pulumi.Output[str]
    stream_name: pulumi.Output[str]
    delivery_stream_arn: pulumi.Output[str]
    log_bucket_name: pulumi.Output[str]
    log_bucket_arn: pulumi.Output[str]
    log_bucket_region: pulumi.Output[str]
    fields: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: EdgeLogPipelineArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = validate_args(args or EdgeLogPipelineArgs())
        check_component_name(name)
        super().__init__(name, opts)
        self._settings = settings
        self._child = self.child_opts()

        self._create_bucket()
        self._create_bucket_policy()
        self._create_stream()
        self._create_cloudfront_access()
        self._create_realtime_log_config()
        self._create_firehose_access()
        self._create_delivery_stream()

        self.set_outputs(
            realtime_log_config_arn=self.realtime_log_config.arn,
            stream_arn=self.stream.arn,
            stream_name=self.stream.name,
            delivery_stream_arn=self.delivery_stream.arn,
            log_bucket_name=self.logs.ready_name,
            log_bucket_arn=self.logs.bucket.arn,
            log_bucket_region=pulumi.Output.from_input(settings.region),
            fields=pulumi.Output.from_input(list(settings.fields)),
        )

    def _create_bucket(self) -> None:
        settings = self._settings
        self.logs = private_bucket(
            self.child_name("bucket"),
            parent=self,
            region=settings.region,
            expiry=[ExpiryRule("expire-logs", "", settings.retention_days)],
            force_destroy=settings.force_destroy,
            tags=settings.tags,
            protect=settings.protect_data,
        )

    def _create_bucket_policy(self) -> None:
        if self._settings.external_bucket_policy:
            return
        self.bucket_policy = aws.s3.BucketPolicy(
            self.child_name("bucket-policy"),
            bucket=self.logs.ready_name,
            region=self._settings.region,
            policy=policy_json(
                lambda arn: policy_document(deny_insecure_transport(arn)), self.logs.bucket.arn
            ),
            opts=self._child,
        )

    def _create_stream(self) -> None:
        settings = self._settings
        self.stream = aws.kinesis.Stream(
            self.child_name("stream"),
            region=settings.region,
            stream_mode_details=stream_mode(settings.shard_count),
            shard_count=settings.shard_count,
            retention_period=settings.stream_retention_hours,
            encryption_type="KMS",
            kms_key_id=STREAM_KMS_KEY,
            tags=settings.tags or None,
            opts=self._child,
        )

    def _create_cloudfront_access(self) -> None:
        # Trust without aws:SourceAccount: CloudFront's real-time log docs give no condition
        # for this role, and only a principal of this account with iam:PassRole can name it
        # in a real-time log config. (Firehose's trust has the sts:ExternalId its docs use.)
        self.cloudfront_role = aws.iam.Role(
            self.child_name("cloudfront-role"),
            assume_role_policy=json.dumps(service_trust_policy("cloudfront.amazonaws.com")),
            description="CloudFront real-time logs: put records into one Kinesis stream",
            tags=self._settings.tags or None,
            opts=self._child,
        )
        self.cloudfront_policy = aws.iam.RolePolicy(
            self.child_name("cloudfront-policy"),
            role=self.cloudfront_role.id,
            policy=policy_json(cloudfront_stream_policy, self.stream.arn),
            opts=self._child,
        )

    def _create_realtime_log_config(self) -> None:
        settings = self._settings
        self.realtime_log_config = aws.cloudfront.RealtimeLogConfig(
            self.child_name("realtime"),
            sampling_rate=settings.sampling_rate,
            fields=list(settings.fields),
            endpoint={
                "stream_type": "Kinesis",
                "kinesis_stream_config": {
                    "role_arn": self.cloudfront_role.arn,
                    "stream_arn": self.stream.arn,
                },
            },
            # CloudFront checks at creation that the role may write to the stream.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cloudfront_policy]),
        )

    def _create_firehose_access(self) -> None:
        account_id = self.stream.arn.apply(account_of)
        self.firehose_role = aws.iam.Role(
            self.child_name("firehose-role"),
            assume_role_policy=policy_json(firehose_trust_policy, account_id),
            description="Firehose: read the real-time log stream, write its log prefix",
            tags=self._settings.tags or None,
            opts=self._child,
        )
        self.firehose_policy = aws.iam.RolePolicy(
            self.child_name("firehose-policy"),
            role=self.firehose_role.id,
            policy=policy_json(firehose_delivery_policy, self.stream.arn, self.logs.ready_name),
            opts=self._child,
        )

    def _create_delivery_stream(self) -> None:
        settings = self._settings
        self.delivery_stream = aws.kinesis.FirehoseDeliveryStream(
            self.child_name("firehose"),
            region=settings.region,
            destination="extended_s3",
            kinesis_source_configuration={
                "kinesis_stream_arn": self.stream.arn,
                "role_arn": self.firehose_role.arn,
            },
            extended_s3_configuration={
                "role_arn": self.firehose_role.arn,
                "bucket_arn": self.logs.ready_name.apply(bucket_arn),
                **s3_destination(settings),
            },
            tags=settings.tags or None,
            # Firehose starts reading at creation; its role must already allow it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.firehose_policy]),
        )
