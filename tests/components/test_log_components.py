"""EdgeLogPipeline and CloudflareLogpush under Pulumi's mock runtime, plus the one piece of
Logpush that runs code at deploy time (reading the ownership token) against moto S3.

The pipeline runs in a stack whose default region is eu-west-1, so "everything regional is
in us-east-1" is the component's doing.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from edgekit_iac.components.image_resizer import EdgeImageResizer, EdgeImageResizerArgs
from edgekit_iac.components.log_pipeline import (
    DEFAULT_FIELDS,
    REALTIME_LOG_FIELDS,
    EdgeLogPipeline,
    EdgeLogPipelineArgs,
    LogPipelineArgsError,
    normalize_fields,
)
from edgekit_iac.components.logpush import (
    CLOUDFLARE_LOGPUSH_PRINCIPAL,
    ChallengeFileMissing,
    CloudflareLogpush,
    CloudflareLogpushArgs,
    LogpushArgsError,
    _ChallengeTokenProvider,
    destination_conf,
    read_challenge_token,
)
from moto import mock_aws

from edgekit_iac.program import ProgramGraph, RecordedResource, run_program
from tests.components.graph_checks import (
    assert_children_named_after,
    assert_no_wildcard_actions,
    depends_on,
    statement_values,
)
from tests.components.test_image_resizer_component import make_artifact

STACK_CONFIG = {"aws:region": "eu-west-1"}
ACCOUNT = "0123456789abcdef0123456789abcdef"
ZONE = "fedcba9876543210fedcba9876543210"
SCRIPTS = ("hello-geo", "edge-cache")

PIPELINE = "edgekit:aws:EdgeLogPipeline"
LOGPUSH = "edgekit:cloudflare:CloudflareLogpush"
BUCKET = "aws:s3/bucket:Bucket"
STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
REALTIME = "aws:cloudfront/realtimeLogConfig:RealtimeLogConfig"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
CHALLENGE = "cloudflare:index/logpushOwnershipChallenge:LogpushOwnershipChallenge"
TOKEN = "pulumi-python:dynamic:Resource"
JOB = "cloudflare:index/logpushJob:LogpushJob"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


def record_pipeline(args: EdgeLogPipelineArgs | None = None) -> ProgramGraph:
    return run_program(
        "test", program=lambda: EdgeLogPipeline("edge-logs", args), config=STACK_CONFIG
    )


def record_with_logpush(**logpush_changes) -> ProgramGraph:
    def program() -> None:
        logs = EdgeLogPipeline(
            "edge-logs", EdgeLogPipelineArgs(retention_days=90, external_bucket_policy=True)
        )
        CloudflareLogpush(
            "workers-logpush",
            CloudflareLogpushArgs(
                account_id=ACCOUNT,
                bucket_name=logs.log_bucket_name,
                bucket_region=logs.log_bucket_region,
                **{"script_names": SCRIPTS, **logpush_changes},
            ),
        )

    return run_program("test", program=program, config=STACK_CONFIG)


@pytest.fixture(scope="module")
def pipeline() -> ProgramGraph:
    """Every argument at its default."""
    return record_pipeline()


@pytest.fixture(scope="module")
def provisioned() -> ProgramGraph:
    return record_pipeline(
        EdgeLogPipelineArgs(
            shard_count=2,
            sampling_rate=10,
            retention_days=90,
            fields=["x-edge-result-type", "timestamp", "c-ip", "time-to-first-byte", "c-ip"],
        )
    )


@pytest.fixture(scope="module")
def logpush() -> ProgramGraph:
    return record_with_logpush(prefix="cloudflare/prod", http_requests_zone_id=ZONE)


def named(graph: ProgramGraph, type_token: str, name: str) -> RecordedResource:
    (resource,) = [r for r in graph.of_type(type_token) if r.name == name]
    return resource


def policy(resource: RecordedResource, key: str = "policy") -> dict:
    return json.loads(resource.inputs[key])


def statements_by_sid(document: dict) -> dict[str, dict]:
    return {statement["Sid"]: statement for statement in document["Statement"]}


# --- EdgeLogPipeline: the stream -> Firehose -> bucket chain --------------------------------


def test_realtime_logs_flow_from_cloudfront_through_kinesis_and_firehose_into_the_bucket(
    pipeline: ProgramGraph,
):
    stream, bucket = pipeline.one(STREAM), pipeline.one(BUCKET)
    cloudfront_role = named(pipeline, ROLE, "edge-logs-cloudfront-role")
    firehose_role = named(pipeline, ROLE, "edge-logs-firehose-role")

    endpoint = pipeline.one(REALTIME).inputs["endpoint"]
    assert endpoint["streamType"] == "Kinesis"
    assert endpoint["kinesisStreamConfig"] == {
        "streamArn": stream.outputs["arn"],
        "roleArn": cloudfront_role.outputs["arn"],
    }
    firehose = pipeline.one(FIREHOSE).inputs
    assert firehose["destination"] == "extended_s3"
    assert firehose["kinesisSourceConfiguration"] == {
        "kinesisStreamArn": stream.outputs["arn"],
        "roleArn": firehose_role.outputs["arn"],
    }
    destination = firehose["extendedS3Configuration"]
    assert destination["bucketArn"] == bucket.outputs["arn"]
    assert destination["roleArn"] == firehose_role.outputs["arn"]


def test_regional_pieces_are_in_us_east_1_whatever_the_stack_region(pipeline: ProgramGraph):
    regional = [STREAM, FIREHOSE, BUCKET] + [
        r.type for r in pipeline.resources if r.type.startswith("aws:s3/bucket")
    ]
    for type_token in regional:
        for resource in pipeline.of_type(type_token):
            assert resource.inputs["region"] == "us-east-1", resource.name
    assert pipeline.one(STREAM).outputs["arn"].startswith("arn:aws:kinesis:us-east-1:")


def test_stream_is_encrypted_and_on_demand_unless_shards_are_given(pipeline, provisioned):
    stream = pipeline.one(STREAM).inputs
    assert (stream["encryptionType"], stream["kmsKeyId"]) == ("KMS", "alias/aws/kinesis")
    assert stream["streamModeDetails"] == {"streamMode": "ON_DEMAND"}
    assert "shardCount" not in stream
    fixed = provisioned.one(STREAM).inputs
    assert fixed["streamModeDetails"] == {"streamMode": "PROVISIONED"}
    assert fixed["shardCount"] == 2


def test_realtime_config_carries_the_platform_fields_and_sampling_rate(pipeline, provisioned):
    config = pipeline.one(REALTIME).inputs
    assert config["samplingRate"] == 100
    for needed in ("timestamp", "c-ip", "sc-status", "cs-uri-stem", "x-edge-location"):
        assert needed in config["fields"]
    for needed in ("time-taken", "x-edge-result-type", "sc-bytes"):
        assert needed in config["fields"]
    assert provisioned.one(REALTIME).inputs["samplingRate"] == 10


def test_fields_are_published_in_the_column_order_cloudfront_delivers(pipeline, provisioned):
    assert pipeline.one(PIPELINE).outputs["fields"] == pipeline.one(REALTIME).inputs["fields"]
    assert provisioned.one(REALTIME).inputs["fields"] == [
        "timestamp",
        "c-ip",
        "time-to-first-byte",
        "x-edge-result-type",
    ]
    assert list(normalize_fields(list(reversed(DEFAULT_FIELDS)))) == [
        name for name in REALTIME_LOG_FIELDS if name in DEFAULT_FIELDS
    ]


def test_firehose_writes_gzip_batches_partitioned_by_date_with_errors_apart(pipeline):
    destination = pipeline.one(FIREHOSE).inputs["extendedS3Configuration"]
    assert destination["compressionFormat"] == "GZIP"
    assert destination["prefix"] == "cloudfront/realtime/!{timestamp:yyyy/MM/dd}/"
    assert destination["errorOutputPrefix"] == (
        "cloudfront/realtime-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
    )
    assert (destination["bufferingSize"], destination["bufferingInterval"]) == (5, 300)


def test_log_bucket_is_private_encrypted_and_expires_after_the_retention(pipeline, provisioned):
    block = pipeline.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[key] is True
        for key in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    ownership = pipeline.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    encryption = pipeline.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    assert encryption["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "AES256"
    }
    for graph, days in ((pipeline, 14), (provisioned, 90)):
        lifecycle = graph.one(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
        ).inputs
        rules = {rule["id"]: rule for rule in lifecycle["rules"]}
        assert rules["expire-logs"]["expiration"] == {"days": days}
        assert rules["expire-logs"]["filter"] == {"prefix": ""}
        assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {
            "daysAfterInitiation": 1
        }
        for configuration in graph.resources:
            if configuration.type.startswith("aws:s3/bucket") and configuration.type != BUCKET:
                assert configuration.inputs["bucket"] == graph.one(BUCKET).id


def test_cloudfront_may_only_put_records_into_this_stream(pipeline: ProgramGraph):
    role = named(pipeline, ROLE, "edge-logs-cloudfront-role")
    (trust,) = policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    (grant,) = policy(named(pipeline, ROLE_POLICY, "edge-logs-cloudfront-policy"))["Statement"]
    assert sorted(grant["Action"]) == [
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:PutRecord",
        "kinesis:PutRecords",
    ]
    assert grant["Resource"] == [pipeline.one(STREAM).outputs["arn"]]


def test_firehose_reads_this_stream_and_writes_only_its_log_prefixes(pipeline: ProgramGraph):
    role = named(pipeline, ROLE, "edge-logs-firehose-role")
    (trust,) = policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "123456789012"}}
    grants = statements_by_sid(policy(named(pipeline, ROLE_POLICY, "edge-logs-firehose-policy")))
    stream_arn, bucket_arn = (
        pipeline.one(STREAM).outputs["arn"],
        pipeline.one(BUCKET).outputs["arn"],
    )
    assert grants["ReadRealtimeLogStream"]["Resource"] == [stream_arn]
    assert "kinesis:GetRecords" in grants["ReadRealtimeLogStream"]["Action"]
    assert grants["LocateLogBucket"]["Resource"] == [bucket_arn]
    assert grants["WriteCloudFrontLogs"]["Resource"] == [
        f"{bucket_arn}/cloudfront/realtime/*",
        f"{bucket_arn}/cloudfront/realtime-errors/*",
    ]
    assert sorted(grants["WriteCloudFrontLogs"]["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:PutObject",
    ]


def test_nothing_starts_before_its_role_may_act(pipeline: ProgramGraph):
    assert depends_on(
        pipeline.one(REALTIME), named(pipeline, ROLE_POLICY, "edge-logs-cloudfront-policy")
    )
    assert depends_on(
        pipeline.one(FIREHOSE), named(pipeline, ROLE_POLICY, "edge-logs-firehose-policy")
    )


def test_pipeline_outputs_and_children(pipeline: ProgramGraph):
    outputs = pipeline.one(PIPELINE).outputs
    bucket = pipeline.one(BUCKET)
    assert outputs["realtime_log_config_arn"] == pipeline.one(REALTIME).outputs["arn"]
    assert outputs["stream_arn"] == pipeline.one(STREAM).outputs["arn"]
    assert outputs["delivery_stream_arn"] == pipeline.one(FIREHOSE).outputs["arn"]
    assert outputs["log_bucket_name"] == bucket.outputs["bucket"]
    assert outputs["log_bucket_arn"] == bucket.outputs["arn"]
    assert outputs["log_bucket_region"] == "us-east-1"
    assert_children_named_after(pipeline, PIPELINE, "edge-logs")


def test_no_policy_in_the_protected_stack_grants_a_wildcard_action(pipeline, logpush):
    # The pipeline's own bucket policy is the TLS-only deny (the one wildcard allowed).
    assert assert_no_wildcard_actions(pipeline) == 5
    assert assert_no_wildcard_actions(logpush) == 5


def test_distribution_sends_real_time_logs_when_composed(tmp_path: Path):
    def program() -> None:
        logs = EdgeLogPipeline("edge-logs")
        EdgeImageResizer(
            "images",
            EdgeImageResizerArgs(
                artifact=make_artifact(tmp_path),
                realtime_log_config_arn=logs.realtime_log_config_arn,
            ),
        )

    graph = run_program("test", program=program, config=STACK_CONFIG)
    behaviour = graph.one(DISTRIBUTION).inputs["defaultCacheBehavior"]
    assert behaviour["realtimeLogConfigArn"] == graph.one(REALTIME).outputs["arn"]


@pytest.mark.parametrize(
    ("changes", "field", "accepted"),
    [
        ({"sampling_rate": 0}, "sampling_rate", "from 1 to 100"),
        ({"sampling_rate": 101}, "sampling_rate", "from 1 to 100"),
        ({"fields": ["timestamp", "date"]}, "fields", "unknown fields ['date']"),
        ({"fields": []}, "fields", "non-empty list"),
        ({"fields": "timestamp"}, "fields", "non-empty list"),
        ({"shard_count": 0}, "shard_count", "from 1 to 500"),
        ({"retention_days": 0}, "retention_days", "from 1 to 3650"),
        ({"stream_retention_hours": 12}, "stream_retention_hours", "from 24 to 8760"),
        ({"buffer_size_mb": 129}, "buffer_size_mb", "from 1 to 128"),
        ({"buffer_interval_seconds": 901}, "buffer_interval_seconds", "from 0 to 900"),
        ({"region": "mars-1"}, "region", "us-east-1"),
        ({"force_destroy": "yes"}, "force_destroy", "True or False"),
    ],
)
def test_pipeline_refusals_name_the_field_and_what_is_accepted(changes, field, accepted):
    with pytest.raises(LogPipelineArgsError) as raised:
        record_pipeline(EdgeLogPipelineArgs(**changes))
    assert str(raised.value).startswith(f"EdgeLogPipelineArgs.{field}:")
    assert accepted in str(raised.value)


@pytest.mark.parametrize("name", ["Edge-Logs", "edge_logs", "-logs", "a" * 41])
def test_a_name_that_cannot_prefix_bucket_role_and_stream_names_is_refused(name):
    with pytest.raises(LogPipelineArgsError, match="1-40 lower-case letters"):
        run_program("test", program=lambda: EdgeLogPipeline(name), config=STACK_CONFIG)


# --- CloudflareLogpush -----------------------------------------------------------------------


def test_bucket_grants_cloudflares_logpush_user_put_object_under_its_prefix_only(logpush):
    bucket = logpush.one(BUCKET)
    bucket_policy = logpush.one(BUCKET_POLICY)
    assert bucket_policy.inputs["bucket"] == bucket.outputs["bucket"]
    tls_only, grant = policy(bucket_policy)["Statement"]
    assert tls_only["Sid"] == "DenyInsecureTransport"
    assert tls_only["Resource"] == [bucket.outputs["arn"], f"{bucket.outputs['arn']}/*"]
    assert grant["Principal"] == {"AWS": CLOUDFLARE_LOGPUSH_PRINCIPAL}
    assert grant["Principal"]["AWS"] == "arn:aws:iam::391854517948:user/cloudflare-logpush"
    assert statement_values(grant, "Action") == ["s3:PutObject"]
    assert statement_values(grant, "Resource") == [f"{bucket.outputs['arn']}/cloudflare/prod/*"]


def test_bucket_policy_waits_for_the_bucket_to_be_private(logpush: ProgramGraph):
    lifecycle = logpush.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert depends_on(logpush.one(BUCKET_POLICY), lifecycle)
    assert logpush.one(BUCKET_POLICY).inputs["region"] == "us-east-1"


def test_workers_trace_events_are_pushed_at_account_level_as_ndjson(logpush: ProgramGraph):
    job = named(logpush, JOB, "workers-logpush-workers-trace-events").inputs
    assert job["accountId"] == ACCOUNT
    assert "zoneId" not in job
    assert (job["dataset"], job["enabled"]) == ("workers_trace_events", True)
    options = job["outputOptions"]
    assert (options["outputType"], options["timestampFormat"]) == ("ndjson", "rfc3339")
    for needed in ("EventTimestampMs", "Outcome", "ScriptName", "Exceptions", "Logs"):
        assert needed in options["fieldNames"]
    # Destination configurations can hold credentials, so the provider keeps them secret.
    assert job["destinationConf"] == {"secret": True}


def test_workers_trace_events_are_filtered_to_the_stacks_own_scripts(logpush: ProgramGraph):
    # The dataset is account-wide: without the filter every stack's Workers land here.
    job = named(logpush, JOB, "workers-logpush-workers-trace-events").inputs
    assert json.loads(job["filter"]) == {
        "where": {"key": "ScriptName", "operator": "in", "value": ["edge-cache", "hello-geo"]}
    }
    # The zone dataset is the zone's own; it needs no script filter.
    assert "filter" not in named(logpush, JOB, "workers-logpush-http-requests").inputs


def test_http_requests_are_pushed_from_the_zone_only_when_asked(logpush: ProgramGraph):
    job = named(logpush, JOB, "workers-logpush-http-requests").inputs
    assert (job["zoneId"], job["dataset"]) == (ZONE, "http_requests")
    assert "accountId" not in job
    assert "ClientIP" in job["outputOptions"]["fieldNames"]
    workers_only = record_with_logpush()
    assert [job.inputs["dataset"] for job in workers_only.of_type(JOB)] == ["workers_trace_events"]


def test_each_job_proves_ownership_with_the_token_of_its_own_challenge(logpush: ProgramGraph):
    for label, scope in (("workers-trace-events", "accountId"), ("http-requests", "zoneId")):
        challenge = named(logpush, CHALLENGE, f"workers-logpush-{label}-challenge")
        token = named(logpush, TOKEN, f"workers-logpush-{label}-token")
        job = named(logpush, JOB, f"workers-logpush-{label}")
        # Cloudflare writes the challenge file only once it may write to the bucket.
        assert depends_on(challenge, logpush.one(BUCKET_POLICY))
        assert scope in challenge.inputs
        # The token is read from the file Cloudflare named, in the bucket, and stays secret.
        assert token.inputs["key"] == challenge.outputs["filename"]
        assert token.inputs["bucket"] == logpush.one(BUCKET).outputs["bucket"]
        assert depends_on(token, challenge)
        assert depends_on(job, token)
        assert job.inputs["ownershipChallenge"] == {"secret": True}


def test_destination_is_one_daily_folder_per_dataset_with_sse():
    assert destination_conf("edge-logs-1", "cloudflare/prod", "http_requests", "us-east-1") == (
        "s3://edge-logs-1/cloudflare/prod/http_requests/{DATE}?region=us-east-1&sse=AES256"
    )


def test_logpush_outputs_and_children(logpush: ProgramGraph):
    outputs = logpush.one(LOGPUSH).outputs
    assert sorted(outputs["job_ids"]) == sorted(job.id for job in logpush.of_type(JOB))
    assert outputs["destinations"] == {"secret": True}
    assert_children_named_after(logpush, LOGPUSH, "workers-logpush")


@pytest.mark.parametrize(
    ("changes", "field", "accepted"),
    [
        ({"account_id": "acct"}, "account_id", "32 lower-case hex"),
        ({"http_requests_zone_id": "zone"}, "http_requests_zone_id", "32 lower-case hex"),
        ({"prefix": "/cloudflare"}, "prefix", "lower-case path segments"),
        ({"prefix": "cloudflare/"}, "prefix", "lower-case path segments"),
        ({"prefix": "cloudfront/realtime"}, "prefix", "overlaps EdgeLogPipeline"),
        ({"prefix": "cloudfront"}, "prefix", "overlaps EdgeLogPipeline"),
        ({"workers_fields": ["ClientIP"]}, "workers_fields", "unknown fields ['ClientIP']"),
        ({"workers_fields": []}, "workers_fields", "non-empty list"),
        (
            {"http_requests_zone_id": ZONE, "http_requests_fields": ["client-ip"]},
            "http_requests_fields",
            "unknown fields",
        ),
        ({"bucket_region": "cn-north-1"}, "bucket_region", "China"),
        ({"bucket_name": ""}, "bucket_name", "the log bucket's name"),
        ({"script_names": []}, "script_names", "account-wide"),
        ({"script_names": "edge-cache"}, "script_names", "non-empty list"),
        ({"script_names": ["Edge Cache"]}, "script_names", "bad script names"),
    ],
)
def test_logpush_refusals_name_the_field_and_what_is_accepted(changes, field, accepted):
    args = {
        "account_id": ACCOUNT,
        "bucket_name": "edge-logs-1",
        "script_names": SCRIPTS,
        **changes,
    }
    with pytest.raises(LogpushArgsError) as raised:
        run_program(
            "test",
            program=lambda: CloudflareLogpush("workers-logpush", CloudflareLogpushArgs(**args)),
            config=STACK_CONFIG,
        )
    assert str(raised.value).startswith(f"CloudflareLogpushArgs.{field}:")
    assert accepted in str(raised.value)


# --- the ownership token, read once, against moto S3 -----------------------------------------


@pytest.fixture
def challenge_bucket():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="edge-logs-challenge")
        yield s3


def test_token_is_read_from_the_file_cloudflare_wrote(challenge_bucket):
    key = "cloudflare/prod/workers_trace_events/ownership-challenge-1a2b.txt"
    challenge_bucket.put_object(
        Bucket="edge-logs-challenge", Key=key, Body=b"eyJhbGciOiJIUzI1NiJ9.token\n"
    )
    assert read_challenge_token("edge-logs-challenge", key, "us-east-1") == (
        "eyJhbGciOiJIUzI1NiJ9.token"
    )
    created = _ChallengeTokenProvider().create(
        {"bucket": "edge-logs-challenge", "key": key, "region": "us-east-1"}
    )
    assert created.outs["token"] == "eyJhbGciOiJIUzI1NiJ9.token"
    assert created.id == f"edge-logs-challenge/{key}"


def test_a_missing_challenge_file_fails_with_its_location(challenge_bucket):
    with pytest.raises(ChallengeFileMissing, match=r"s3://edge-logs-challenge/nope.txt: NoSuchKey"):
        read_challenge_token("edge-logs-challenge", "nope.txt", "us-east-1", attempts=1)


def test_the_token_is_read_again_only_for_a_different_challenge_file():
    provider = _ChallengeTokenProvider()
    same = {"bucket": "b", "key": "k.txt", "region": "us-east-1", "token": "t"}
    assert provider.diff("b/k.txt", same, {**same}).changes is False
    moved = provider.diff("b/k.txt", same, {**same, "key": "other.txt"})
    assert (moved.changes, moved.replaces) == (True, ["key"])


def test_the_log_bucket_has_one_policy_and_it_denies_requests_without_tls(pipeline, logpush):
    (own,) = pipeline.of_type(BUCKET_POLICY)
    (deny,) = policy(own)["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}
    # With Logpush, its grant is the bucket's one policy (S3 keeps one per bucket).
    (only,) = logpush.of_type(BUCKET_POLICY)
    assert only.name == "workers-logpush-bucket-policy"
