"""The protection components' recorded inputs, replayed against the AWS API shapes.

Mock runs record what each component would ask the providers for, in Pulumi's camelCase.
Here each recorded resource is translated into the AWS API request the provider would
send (one small, strict translation per resource type: a key it does not know fails the
test instead of being dropped) and sent through boto3 to moto. botocore checks every
request against the service model, and moto checks what it implements (IAM policy
grammar, WAF rule structure, Firehose sources), so a malformed rule or policy fails here
and not only in our own asserts. CloudFront's real-time log configs and monitoring
subscriptions are not implemented by moto; their requests are checked against the
CloudFront service model with botocore's parameter validator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pulumi
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import validate_parameters
from edgekit_iac.components.alarms import EdgeAlarms, EdgeAlarmsArgs
from edgekit_iac.components.log_pipeline import EdgeLogPipeline, EdgeLogPipelineArgs
from edgekit_iac.components.logpush import CloudflareLogpush, CloudflareLogpushArgs
from edgekit_iac.components.rate_limit import EdgeRateLimit, EdgeRateLimitArgs
from moto import mock_aws

from edgekit_iac.program import ProgramGraph, RecordedResource, run_program

STACK_CONFIG = {"aws:region": "eu-west-1"}
ACCOUNT = "0123456789abcdef0123456789abcdef"
ENDPOINT = "https://events.example-incidents.com/integration/abc123/enqueue"


# --- translations: recorded Pulumi inputs -> AWS API requests --------------------------------


def strict(inputs: Mapping[str, Any], *known: str) -> Mapping[str, Any]:
    """The recorded inputs, after checking the translation knows every key in them."""
    unknown = set(inputs) - set(known)
    assert not unknown, f"no translation for {sorted(unknown)}"
    return inputs


def waf_visibility(config: Mapping[str, Any]) -> dict[str, Any]:
    config = strict(config, "cloudwatchMetricsEnabled", "metricName", "sampledRequestsEnabled")
    return {
        "CloudWatchMetricsEnabled": config["cloudwatchMetricsEnabled"],
        "MetricName": config["metricName"],
        "SampledRequestsEnabled": config["sampledRequestsEnabled"],
    }


def waf_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    (kind,) = statement
    body = statement[kind]
    if kind == "rateBasedStatement":
        body = strict(
            body, "aggregateKeyType", "limit", "evaluationWindowSec", "scopeDownStatement"
        )
        rate: dict[str, Any] = {
            "AggregateKeyType": body["aggregateKeyType"],
            "Limit": int(body["limit"]),
            "EvaluationWindowSec": int(body["evaluationWindowSec"]),
        }
        if "scopeDownStatement" in body:
            rate["ScopeDownStatement"] = waf_statement(body["scopeDownStatement"])
        return {"RateBasedStatement": rate}
    if kind == "byteMatchStatement":
        body = strict(
            body, "searchString", "positionalConstraint", "fieldToMatch", "textTransformations"
        )
        assert body["fieldToMatch"] == {"uriPath": {}}, body["fieldToMatch"]
        return {
            "ByteMatchStatement": {
                "SearchString": body["searchString"].encode(),
                "PositionalConstraint": body["positionalConstraint"],
                "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [
                    {"Priority": int(t["priority"]), "Type": t["type"]}
                    for t in body["textTransformations"]
                ],
            }
        }
    if kind == "managedRuleGroupStatement":
        body = strict(body, "vendorName", "name")
        return {
            "ManagedRuleGroupStatement": {"VendorName": body["vendorName"], "Name": body["name"]}
        }
    raise AssertionError(f"no translation for statement {kind!r}")


def waf_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    rule = strict(
        rule, "name", "priority", "action", "overrideAction", "statement", "visibilityConfig"
    )
    request: dict[str, Any] = {
        "Name": rule["name"],
        "Priority": int(rule["priority"]),
        "Statement": waf_statement(rule["statement"]),
        "VisibilityConfig": waf_visibility(rule["visibilityConfig"]),
    }
    if "action" in rule:
        response = strict(rule["action"], "block")["block"]["customResponse"]
        response = strict(response, "responseCode", "customResponseBodyKey")
        request["Action"] = {
            "Block": {
                "CustomResponse": {
                    "ResponseCode": int(response["responseCode"]),
                    "CustomResponseBodyKey": response["customResponseBodyKey"],
                }
            }
        }
    if "overrideAction" in rule:
        assert rule["overrideAction"] == {"none": {}}, rule["overrideAction"]
        request["OverrideAction"] = {"None": {}}
    return request


def create_web_acl(resource: RecordedResource) -> dict[str, Any]:
    inputs = strict(
        resource.inputs,
        "region",
        "scope",
        "description",
        "defaultAction",
        "customResponseBodies",
        "rules",
        "visibilityConfig",
        "tags",
    )
    assert inputs["defaultAction"] == {"allow": {}}
    return {
        "Name": resource.outputs["name"],
        "Scope": inputs["scope"],
        "Description": inputs["description"],
        "DefaultAction": {"Allow": {}},
        "CustomResponseBodies": {
            body["key"]: {"ContentType": body["contentType"], "Content": body["content"]}
            for body in inputs["customResponseBodies"]
        },
        "Rules": [waf_rule(rule) for rule in inputs["rules"]],
        "VisibilityConfig": waf_visibility(inputs["visibilityConfig"]),
    }


def create_role(resource: RecordedResource) -> dict[str, Any]:
    inputs = strict(resource.inputs, "assumeRolePolicy", "description", "tags")
    return {
        "RoleName": resource.outputs["name"],
        "AssumeRolePolicyDocument": inputs["assumeRolePolicy"],
        "Description": inputs["description"],
    }


def put_role_policy(resource: RecordedResource) -> dict[str, Any]:
    inputs = strict(resource.inputs, "role", "policy")
    return {
        "RoleName": inputs["role"],
        "PolicyName": resource.name,
        "PolicyDocument": inputs["policy"],
    }


def create_stream(resource: RecordedResource) -> dict[str, Any]:
    inputs = strict(
        resource.inputs,
        "region",
        "streamModeDetails",
        "shardCount",
        "retentionPeriod",
        "encryptionType",
        "kmsKeyId",
        "tags",
    )
    request: dict[str, Any] = {
        "StreamName": resource.outputs["name"],
        "StreamModeDetails": {"StreamMode": inputs["streamModeDetails"]["streamMode"]},
    }
    if "shardCount" in inputs:
        request["ShardCount"] = int(inputs["shardCount"])
    return request


def lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    rule = strict(rule, "id", "status", "filter", "expiration", "abortIncompleteMultipartUpload")
    request: dict[str, Any] = {
        "ID": rule["id"],
        "Status": rule["status"],
        "Filter": {"Prefix": strict(rule["filter"], "prefix")["prefix"]},
    }
    if "expiration" in rule:
        request["Expiration"] = {"Days": int(strict(rule["expiration"], "days")["days"])}
    if "abortIncompleteMultipartUpload" in rule:
        days = rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"]
        request["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    return request


def firehose_request(resource: RecordedResource) -> dict[str, Any]:
    inputs = strict(
        resource.inputs,
        "region",
        "destination",
        "kinesisSourceConfiguration",
        "extendedS3Configuration",
        "tags",
    )
    assert inputs["destination"] == "extended_s3"
    source = strict(inputs["kinesisSourceConfiguration"], "kinesisStreamArn", "roleArn")
    s3 = strict(
        inputs["extendedS3Configuration"],
        "roleArn",
        "bucketArn",
        "prefix",
        "errorOutputPrefix",
        "compressionFormat",
        "bufferingSize",
        "bufferingInterval",
    )
    return {
        "DeliveryStreamName": resource.outputs["name"],
        "DeliveryStreamType": "KinesisStreamAsSource",
        "KinesisStreamSourceConfiguration": {
            "KinesisStreamARN": source["kinesisStreamArn"],
            "RoleARN": source["roleArn"],
        },
        "ExtendedS3DestinationConfiguration": {
            "RoleARN": s3["roleArn"],
            "BucketARN": s3["bucketArn"],
            "Prefix": s3["prefix"],
            "ErrorOutputPrefix": s3["errorOutputPrefix"],
            "CompressionFormat": s3["compressionFormat"],
            "BufferingHints": {
                "SizeInMBs": int(s3["bufferingSize"]),
                "IntervalInSeconds": int(s3["bufferingInterval"]),
            },
        },
    }


def realtime_log_config_request(resource: RecordedResource) -> dict[str, Any]:
    inputs = strict(resource.inputs, "samplingRate", "fields", "endpoint")
    endpoint = strict(inputs["endpoint"], "streamType", "kinesisStreamConfig")
    kinesis = strict(endpoint["kinesisStreamConfig"], "roleArn", "streamArn")
    return {
        "Name": resource.outputs["name"],
        "SamplingRate": int(inputs["samplingRate"]),
        "Fields": list(inputs["fields"]),
        "EndPoints": [
            {
                "StreamType": endpoint["streamType"],
                "KinesisStreamConfig": {
                    "RoleARN": kinesis["roleArn"],
                    "StreamARN": kinesis["streamArn"],
                },
            }
        ],
    }


def monitoring_subscription_request(resource: RecordedResource) -> dict[str, Any]:
    inputs = strict(resource.inputs, "distributionId", "monitoringSubscription")
    config = inputs["monitoringSubscription"]["realtimeMetricsSubscriptionConfig"]
    return {
        "DistributionId": inputs["distributionId"],
        "MonitoringSubscription": {
            "RealtimeMetricsSubscriptionConfig": {
                "RealtimeMetricsSubscriptionStatus": config["realtimeMetricsSubscriptionStatus"]
            }
        },
    }


def metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    query = strict(query, "id", "expression", "label", "returnData", "metric")
    translated: dict[str, Any] = {"Id": query["id"], "ReturnData": query["returnData"]}
    if "expression" in query:
        translated["Expression"] = query["expression"]
    if "label" in query:
        translated["Label"] = query["label"]
    if "metric" in query:
        metric = strict(query["metric"], "namespace", "metricName", "dimensions", "period", "stat")
        translated["MetricStat"] = {
            "Metric": {
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": [{"Name": k, "Value": v} for k, v in metric["dimensions"].items()],
            },
            "Period": int(metric["period"]),
            "Stat": metric["stat"],
        }
    return translated


def metric_alarm_request(resource: RecordedResource, topics: Mapping[str, str]) -> dict[str, Any]:
    inputs = strict(
        resource.inputs,
        "region",
        "alarmDescription",
        "namespace",
        "metricName",
        "metricQueries",
        "dimensions",
        "statistic",
        "extendedStatistic",
        "comparisonOperator",
        "threshold",
        "period",
        "evaluationPeriods",
        "datapointsToAlarm",
        "treatMissingData",
        "alarmActions",
        "okActions",
        "tags",
    )
    request: dict[str, Any] = {
        "AlarmName": resource.outputs["name"],
        "AlarmDescription": inputs["alarmDescription"],
        "ComparisonOperator": inputs["comparisonOperator"],
        "Threshold": float(inputs["threshold"]),
        "EvaluationPeriods": int(inputs["evaluationPeriods"]),
        "DatapointsToAlarm": int(inputs["datapointsToAlarm"]),
        "TreatMissingData": inputs["treatMissingData"],
        # The recorded topic ARNs are the mock's; moto names the same topics the same way.
        "AlarmActions": [topics[arn] for arn in inputs["alarmActions"]],
        "OKActions": [topics[arn] for arn in inputs["okActions"]],
    }
    if "metricQueries" in inputs:
        request["Metrics"] = [metric_query(query) for query in inputs["metricQueries"]]
        return request
    request.update(
        {
            "Namespace": inputs["namespace"],
            "MetricName": inputs["metricName"],
            "Dimensions": [{"Name": k, "Value": v} for k, v in inputs["dimensions"].items()],
            "Period": int(inputs["period"]),
        }
    )
    if "statistic" in inputs:
        request["Statistic"] = inputs["statistic"]
    if "extendedStatistic" in inputs:
        request["ExtendedStatistic"] = inputs["extendedStatistic"]
    return request


# --- recorded graphs -----------------------------------------------------------------------


def record(program) -> ProgramGraph:
    return run_program("test", program=program, config=STACK_CONFIG)


@pytest.fixture(scope="module")
def protected() -> ProgramGraph:
    """The prod shape: WAF with a path prefix and managed rules, logs with Logpush."""

    def program() -> None:
        EdgeRateLimit("images-waf", EdgeRateLimitArgs(limit=2000, path_prefix="/images/"))
        logs = EdgeLogPipeline(
            "edge-logs",
            EdgeLogPipelineArgs(
                shard_count=2, retention_days=90, sampling_rate=10, external_bucket_policy=True
            ),
        )
        CloudflareLogpush(
            "workers-logpush",
            CloudflareLogpushArgs(
                account_id=ACCOUNT,
                bucket_name=logs.log_bucket_name,
                bucket_region=logs.log_bucket_region,
                script_names=["edge-cache"],
                prefix="cloudflare/prod",
            ),
        )

    return record(program)


@pytest.fixture(scope="module")
def observed() -> ProgramGraph:
    def program() -> None:
        EdgeAlarms(
            "edge-alarms",
            EdgeAlarmsArgs(
                distribution_id="E2QWRUHAPOMQZL",
                function_name="images-fn-1a2b3c4",
                lambda_metric_regions=["us-east-1", "eu-west-1"],
                alarm_endpoint=pulumi.Output.secret(ENDPOINT),
            ),
        )

    return record(program)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def client(service: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region)


def create_roles(graph: ProgramGraph) -> None:
    iam = client("iam")
    for role in graph.of_type("aws:iam/role:Role"):
        iam.create_role(**create_role(role))
    for policy in graph.of_type("aws:iam/rolePolicy:RolePolicy"):
        iam.put_role_policy(**put_role_policy(policy))


# --- EdgeRateLimit ----------------------------------------------------------------------------


def test_web_acl_is_accepted_by_wafv2_as_recorded(protected: ProgramGraph, aws):
    recorded = protected.one("aws:wafv2/webAcl:WebAcl")
    request = create_web_acl(recorded)
    waf = client("wafv2", recorded.inputs["region"])
    summary = waf.create_web_acl(**request)["Summary"]
    stored = waf.get_web_acl(Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"])["WebACL"]

    assert summary["ARN"].startswith("arn:aws:wafv2:us-east-1:123456789012:global/webacl/")
    rules = {rule["Name"]: rule for rule in stored["Rules"]}
    assert list(rules) == [
        "rate-limit-per-ip",
        "rate-limit-per-ip-all-paths",
        "aws-common",
        "aws-known-bad-inputs",
    ]
    # The rule over every path has no scope-down and its own body naming its own limit.
    every_path = rules["rate-limit-per-ip-all-paths"]
    assert "ScopeDownStatement" not in every_path["Statement"]["RateBasedStatement"]
    every_key = every_path["Action"]["Block"]["CustomResponse"]["CustomResponseBodyKey"]
    assert every_key in request["CustomResponseBodies"]
    assert [rule["Priority"] for rule in stored["Rules"]] == [0, 1, 2, 3]
    rate = rules["rate-limit-per-ip"]["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["AggregateKeyType"], rate["EvaluationWindowSec"]) == (
        2000,
        "IP",
        300,
    )
    block = rules["rate-limit-per-ip"]["Action"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 429
    assert block["CustomResponseBodyKey"] in request["CustomResponseBodies"]
    assert stored["DefaultAction"] == {"Allow": {}}


def test_a_rule_the_api_cannot_take_is_caught_by_the_replay(protected: ProgramGraph, aws):
    request = create_web_acl(protected.one("aws:wafv2/webAcl:WebAcl"))
    del request["Rules"][0]["VisibilityConfig"]
    with pytest.raises(ParamValidationError, match="VisibilityConfig"):
        client("wafv2").create_web_acl(**request)


# --- EdgeLogPipeline and CloudflareLogpush -------------------------------------------------


def test_log_pipeline_builds_in_aws_from_its_recorded_inputs(protected: ProgramGraph, aws):
    create_roles(protected)

    recorded_stream = protected.one("aws:kinesis/stream:Stream")
    kinesis = client("kinesis", recorded_stream.inputs["region"])
    kinesis.create_stream(**create_stream(recorded_stream))
    kinesis.start_stream_encryption(
        StreamName=recorded_stream.outputs["name"],
        EncryptionType=recorded_stream.inputs["encryptionType"],
        KeyId=recorded_stream.inputs["kmsKeyId"],
    )
    summary = kinesis.describe_stream_summary(StreamName=recorded_stream.outputs["name"])
    stream = summary["StreamDescriptionSummary"]
    assert stream["StreamARN"] == recorded_stream.outputs["arn"]
    assert (stream["EncryptionType"], stream["OpenShardCount"]) == ("KMS", 2)
    assert stream["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}

    bucket_name = protected.one("aws:s3/bucket:Bucket").outputs["bucket"]
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket_name)
    block = protected.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    s3.put_public_access_block(
        Bucket=bucket_name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": block["blockPublicAcls"],
            "IgnorePublicAcls": block["ignorePublicAcls"],
            "BlockPublicPolicy": block["blockPublicPolicy"],
            "RestrictPublicBuckets": block["restrictPublicBuckets"],
        },
    )
    ownership = protected.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    s3.put_bucket_ownership_controls(
        Bucket=bucket_name,
        OwnershipControls={"Rules": [{"ObjectOwnership": ownership["rule"]["objectOwnership"]}]},
    )
    encryption = protected.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    algorithm = encryption["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
    s3.put_bucket_encryption(
        Bucket=bucket_name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}]
        },
    )
    lifecycle = protected.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket_name,
        LifecycleConfiguration={"Rules": [lifecycle_rule(r) for r in lifecycle.inputs["rules"]]},
    )
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket_name)["Rules"]
    assert {rule["ID"]: rule.get("Expiration") for rule in rules}["expire-logs"] == {"Days": 90}

    recorded_firehose = protected.one("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    firehose = client("firehose", recorded_firehose.inputs["region"])
    firehose.create_delivery_stream(**firehose_request(recorded_firehose))
    described = firehose.describe_delivery_stream(
        DeliveryStreamName=recorded_firehose.outputs["name"]
    )["DeliveryStreamDescription"]
    source = described["Source"]["KinesisStreamSourceDescription"]
    assert source["KinesisStreamARN"] == stream["StreamARN"]
    (destination,) = described["Destinations"]
    written = destination["ExtendedS3DestinationDescription"]
    assert written["BucketARN"] == f"arn:aws:s3:::{bucket_name}"
    assert written["CompressionFormat"] == "GZIP"
    assert "!{timestamp:yyyy/MM/dd}" in written["Prefix"]
    # Both roles Firehose names exist, with the grants the replay attached.
    iam = client("iam")
    for arn in (source["RoleARN"], written["RoleARN"]):
        role_name = arn.rsplit("/", 1)[1]
        assert iam.list_role_policies(RoleName=role_name)["PolicyNames"]


def test_realtime_log_config_request_fits_the_cloudfront_api(protected: ProgramGraph, aws):
    create_roles(protected)
    request = realtime_log_config_request(
        protected.one("aws:cloudfront/realtimeLogConfig:RealtimeLogConfig")
    )
    model = client("cloudfront").meta.service_model.operation_model("CreateRealtimeLogConfig")
    validate_parameters(request, model.input_shape)
    (endpoint,) = request["EndPoints"]
    role_name = endpoint["KinesisStreamConfig"]["RoleARN"].rsplit("/", 1)[1]
    trust = client("iam").get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}


def test_logpush_bucket_policy_is_accepted_by_s3(protected: ProgramGraph, aws):
    bucket_policy = protected.one("aws:s3/bucketPolicy:BucketPolicy").inputs
    s3 = client("s3", bucket_policy["region"])
    s3.create_bucket(Bucket=bucket_policy["bucket"])
    s3.put_bucket_policy(Bucket=bucket_policy["bucket"], Policy=bucket_policy["policy"])
    stored = json.loads(s3.get_bucket_policy(Bucket=bucket_policy["bucket"])["Policy"])
    tls_only, grant = stored["Statement"]
    assert tls_only["Effect"] == "Deny" and tls_only["Action"] == ["s3:*"]
    assert grant["Resource"] == [f"arn:aws:s3:::{bucket_policy['bucket']}/cloudflare/prod/*"]


def test_a_malformed_grant_is_caught_by_the_replay(protected: ProgramGraph, aws):
    create_roles(protected)
    policy = put_role_policy(next(p for p in protected.of_type("aws:iam/rolePolicy:RolePolicy")))
    document = json.loads(policy["PolicyDocument"])
    document["Statement"][0]["Action"] = ["kinesis PutRecord"]
    with pytest.raises(ClientError, match="MalformedPolicyDocument"):
        client("iam").put_role_policy(**{**policy, "PolicyDocument": json.dumps(document)})


# --- EdgeAlarms --------------------------------------------------------------------------------


def test_alarm_stack_builds_in_aws_from_its_recorded_inputs(observed: ProgramGraph, aws):
    model = client("cloudfront").meta.service_model
    validate_parameters(
        monitoring_subscription_request(
            observed.one("aws:cloudfront/monitoringSubscription:MonitoringSubscription")
        ),
        model.operation_model("CreateMonitoringSubscription").input_shape,
    )

    keys: dict[str, str] = {}
    for recorded in observed.of_type("aws:kms/key:Key"):
        kms = client("kms", recorded.inputs["region"])
        created = kms.create_key(
            Policy=recorded.inputs["policy"], Description=recorded.inputs["description"]
        )["KeyMetadata"]
        kms.enable_key_rotation(KeyId=created["KeyId"])
        keys[recorded.outputs["arn"]] = created["Arn"]

    topics: dict[str, str] = {}
    for recorded in observed.of_type("aws:sns/topic:Topic"):
        sns = client("sns", recorded.inputs["region"])
        created = sns.create_topic(
            Name=recorded.outputs["name"],
            Attributes={
                "DisplayName": recorded.inputs["displayName"],
                "KmsMasterKeyId": keys[recorded.inputs["kmsMasterKeyId"]],
            },
        )
        topics[recorded.outputs["arn"]] = created["TopicArn"]
        attributes = sns.get_topic_attributes(TopicArn=created["TopicArn"])["Attributes"]
        assert attributes["KmsMasterKeyId"] == keys[recorded.inputs["kmsMasterKeyId"]]

    for recorded in observed.of_type("aws:sns/topicSubscription:TopicSubscription"):
        inputs = recorded.inputs
        sns = client("sns", inputs["region"])
        # The endpoint is a secret in the graph; the replay subscribes a stand-in URL.
        sns.subscribe(
            TopicArn=topics[inputs["topic"]], Protocol=inputs["protocol"], Endpoint=ENDPOINT
        )

    for recorded in observed.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        cloudwatch = client("cloudwatch", recorded.inputs["region"])
        cloudwatch.put_metric_alarm(**metric_alarm_request(recorded, topics))

    east = client("cloudwatch").describe_alarms()["MetricAlarms"]
    west = client("cloudwatch", "eu-west-1").describe_alarms()["MetricAlarms"]
    assert len(east) == 5
    assert len(west) == 2
    latency = next(a for a in east if a.get("MetricName") == "OriginLatency")
    assert latency["ExtendedStatistic"] == "p95"
    assert latency["Threshold"] == 1500.0
    # The global Lambda@Edge alarm is metric math over CloudFront's own metrics.
    edge = next(a for a in east if a.get("Metrics"))
    assert [m["Id"] for m in edge["Metrics"] if m["ReturnData"]] == ["errors"]
    assert {d["Name"]: d["Value"] for d in latency["Dimensions"]} == {
        "DistributionId": "E2QWRUHAPOMQZL",
        "Region": "Global",
    }
    for region, alarms in (("us-east-1", east), ("eu-west-1", west)):
        for found in alarms:
            assert found["TreatMissingData"] == "notBreaching"
            (action,) = found["AlarmActions"]
            assert action.split(":")[3] == region
            client("sns", region).get_topic_attributes(TopicArn=action)
    lambda_errors = next(a for a in west if a.get("MetricName") == "Errors")
    assert lambda_errors["Dimensions"] == [
        {"Name": "FunctionName", "Value": "us-east-1.images-fn-1a2b3c4"}
    ]
