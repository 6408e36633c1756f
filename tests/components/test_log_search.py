"""EdgeLogPipeline's OpenSearch option: the graph it declares (mock runtime), its AWS calls
replayed against moto where moto implements them (IAM, OpenSearch Serverless policies and
collection, Lambda), and botocore's service model where it does not (Firehose's OpenSearch
Serverless destination, the data access policy)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.validate import validate_parameters
from edgekit_iac.components.log_pipeline import EdgeLogPipeline, EdgeLogPipelineArgs
from edgekit_iac.components.log_search import OpenSearchArgs, OpenSearchArgsError, validate
from moto import mock_aws

from edgekit_iac.bundle import build
from edgekit_iac.program import ProgramGraph, run_program
from tests.components.graph_checks import assert_no_wildcard_actions

READER = "arn:aws:iam::123456789012:role/oncall"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
COLLECTION = "aws:opensearch/serverlessCollection:ServerlessCollection"
SECURITY_POLICY = "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy"
ACCESS_POLICY = "aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy"
FUNCTION = "aws:lambda/function:Function"
INVOCATION = "aws:lambda/invocation:Invocation"


def record(**search) -> ProgramGraph:
    args = EdgeLogPipelineArgs(search=OpenSearchArgs(**search) if search else None)
    return run_program("test", program=lambda: EdgeLogPipeline("edge-logs", args),
                       config={"aws:region": "eu-west-1"})


@pytest.fixture(scope="module")
def searchable() -> ProgramGraph:
    return record(collection_name="edge-logs-prod", reader_arns=[READER])


def named(graph: ProgramGraph, suffix: str):
    return graph.named(f"edge-logs-{suffix}")


def test_off_by_default_the_pipeline_declares_no_search(searchable):
    plain = record()
    assert [r.type for r in plain.of_type(FIREHOSE)] == [FIREHOSE]
    assert not plain.of_type(COLLECTION) and not plain.of_type(FUNCTION)
    assert len(searchable.of_type(FIREHOSE)) == 2


def test_firehose_transforms_into_the_collection_and_backs_up_failures(searchable):
    delivery = named(searchable, "search-firehose").inputs
    assert delivery["destination"] == "opensearchserverless"
    config = delivery["opensearchserverlessConfiguration"]
    collection = searchable.one(COLLECTION)
    assert config["collectionEndpoint"] == collection.outputs["collectionEndpoint"]
    assert config["s3BackupMode"] == "FailedDocumentsOnly"
    assert config["s3Configuration"]["prefix"] == "opensearch-failed/"
    (processor,) = config["processingConfiguration"]["processors"]
    transform = searchable.one(FUNCTION)
    assert processor["parameters"][0]["parameterValue"] == transform.outputs["arn"]
    # The same stream as the S3 archive feeds it.
    archive = named(searchable, "firehose").inputs["kinesisSourceConfiguration"]
    assert delivery["kinesisSourceConfiguration"]["kinesisStreamArn"] == archive[
        "kinesisStreamArn"]
    variables = transform.inputs["environment"]["variables"]
    assert variables["EDGEKIT_FIELDS"].split(",")[0] == "timestamp"
    assert variables["EDGEKIT_SIGNING_SERVICE"] == "aoss"
    template = searchable.one(INVOCATION)
    assert json.loads(template.inputs["input"])["edgekit"] == "put-index-template"
    assert collection.urn in template.dependencies


def test_least_privilege_and_encryption(searchable):
    assert assert_no_wildcard_actions(searchable) >= 6
    policies = {r.name: json.loads(r.inputs["policy"]) for r in searchable.of_type(
        "aws:iam/rolePolicy:RolePolicy")}
    firehose = policies["edge-logs-search-firehose-policy"]["Statement"]
    collection_arn = searchable.one(COLLECTION).outputs["arn"]
    (reach,) = [s for s in firehose if s["Sid"] == "ReachCollection"]
    assert reach["Resource"] == [collection_arn]
    (backup,) = [s for s in firehose if s["Sid"] == "BackUpFailedDocuments"]
    assert backup["Resource"][0].endswith("/opensearch-failed/*")
    encryption = [json.loads(r.inputs["policy"]) for r in searchable.of_type(SECURITY_POLICY)
                  if r.inputs["type"] == "encryption"]
    key = named(searchable, "search-key")
    assert encryption == [{"Rules": [{"ResourceType": "collection",
                                      "Resource": ["collection/edge-logs-prod"]}],
                           "AWSOwnedKey": False, "KmsARN": key.outputs["arn"]}]
    assert key.inputs["enableKeyRotation"] is True
    access = json.loads(searchable.one(ACCESS_POLICY).inputs["policy"])
    readers = [rule for rule in access if READER in rule["Principal"]]
    assert readers[0]["Rules"][0]["Permission"] == ["aoss:ReadDocument", "aoss:DescribeIndex"]
    assert all(len(rule["Principal"]) == 1 for rule in access)


def test_an_existing_domain_instead_of_a_collection():
    graph = record(domain_arn="arn:aws:es:us-east-1:123456789012:domain/edge-logs",
                   domain_endpoint="https://search-edge-logs.us-east-1.es.amazonaws.com")
    assert not graph.of_type(COLLECTION)
    delivery = named(graph, "search-firehose").inputs
    assert delivery["destination"] == "opensearch"
    assert delivery["opensearchConfiguration"]["indexRotationPeriod"] == "OneDay"
    statements = json.loads(named(graph, "search-firehose-policy").inputs["policy"])["Statement"]
    (write,) = [s for s in statements if s["Sid"] == "WriteDomain"]
    assert write["Resource"][1] == "arn:aws:es:us-east-1:123456789012:domain/edge-logs/*"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({}, "collection_name"),
        ({"collection_name": "Edge_Logs"}, "collection_name"),
        ({"collection_name": "a", "domain_arn": "arn:aws:es:x"}, "collection_name"),
        ({"domain_arn": "arn:aws:es:us-east-1:123456789012:domain/logs"}, "domain_endpoint"),
        ({"collection_name": "edge-logs", "index_rotation": "Daily"}, "index_rotation"),
        ({"collection_name": "edge-logs", "buffer_size_mb": 101}, "buffer_size_mb"),
        ({"collection_name": "edge-logs", "reader_arns": "arn:aws:iam::1:role/x"}, "reader_arns"),
    ],
)
def test_bad_search_args_are_refused_naming_the_field(changes, field):
    with pytest.raises(OpenSearchArgsError) as refused:
        validate(OpenSearchArgs(**changes))
    assert refused.value.arg == field


def test_the_collection_and_its_access_build_in_aws_as_recorded(searchable):
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        for role in searchable.of_type("aws:iam/role:Role"):
            iam.create_role(RoleName=role.outputs["name"],
                            AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"])
        for policy in searchable.of_type("aws:iam/rolePolicy:RolePolicy"):
            iam.put_role_policy(RoleName=policy.inputs["role"], PolicyName=policy.name,
                                PolicyDocument=policy.inputs["policy"])
        kms = boto3.client("kms", region_name="us-east-1")
        key = kms.create_key(Policy=named(searchable, "search-key").inputs["policy"])
        key_arn = key["KeyMetadata"]["Arn"]
        aoss = boto3.client("opensearchserverless", region_name="us-east-1")
        policies = {p.inputs["type"]: p.inputs for p in searchable.of_type(SECURITY_POLICY)}
        encryption = json.loads(policies["encryption"]["policy"])
        encryption["KmsARN"] = key_arn  # the recorded ARN is the mock runtime's
        aoss.create_security_policy(name=policies["encryption"]["name"], type="encryption",
                                    policy=json.dumps(encryption))
        recorded = searchable.one(COLLECTION)
        # moto refuses a collection no encryption policy covers, as AWS does. (moto reads
        # the last policy naming the collection as the encryption policy, so the network
        # policy comes after the collection here; Pulumi creates both before it.)
        created = aoss.create_collection(name=recorded.inputs["name"],
                                         type=recorded.inputs["type"])["createCollectionDetail"]
        assert created["type"] == "TIMESERIES" and created["kmsKeyArn"] == key_arn
        aoss.create_security_policy(name=policies["network"]["name"], type="network",
                                    policy=policies["network"]["policy"])
        access = searchable.one(ACCESS_POLICY).inputs
        validate_parameters(
            {"name": access["name"], "type": access["type"], "policy": access["policy"]},
            aoss.meta.service_model.operation_model("CreateAccessPolicy").input_shape)

        transform = searchable.one(FUNCTION)
        artifact = build.build_function("realtime_log_json")
        lam = boto3.client("lambda", region_name="us-east-1")
        role_arn = iam.get_role(RoleName=transform.inputs["role"].split("/")[-1])["Role"]["Arn"]
        made = lam.create_function(
            FunctionName=transform.outputs["name"], Runtime=transform.inputs["runtime"],
            Role=role_arn, Handler=transform.inputs["handler"],
            Code={"ZipFile": artifact.path.read_bytes()},
            Architectures=transform.inputs["architectures"],
            Environment={"Variables": transform.inputs["environment"]["variables"]},
            Timeout=transform.inputs["timeout"], MemorySize=transform.inputs["memorySize"])
        assert made["Handler"] == "transform.handler"

    config = named(searchable, "search-firehose").inputs
    search = config["opensearchserverlessConfiguration"]
    backup = search["s3Configuration"]
    processor = search["processingConfiguration"]["processors"][0]
    request = {
        "DeliveryStreamName": "edge-logs-search-firehose",
        "DeliveryStreamType": "KinesisStreamAsSource",
        "KinesisStreamSourceConfiguration": {
            "KinesisStreamARN": config["kinesisSourceConfiguration"]["kinesisStreamArn"],
            "RoleARN": config["kinesisSourceConfiguration"]["roleArn"],
        },
        "AmazonOpenSearchServerlessDestinationConfiguration": {
            "RoleARN": search["roleArn"],
            "CollectionEndpoint": search["collectionEndpoint"],
            "IndexName": search["indexName"],
            "BufferingHints": {"IntervalInSeconds": search["bufferingInterval"],
                               "SizeInMBs": search["bufferingSize"]},
            "RetryOptions": {"DurationInSeconds": search["retryDuration"]},
            "S3BackupMode": search["s3BackupMode"],
            "S3Configuration": {"RoleARN": backup["roleArn"], "BucketARN": backup["bucketArn"],
                                "Prefix": backup["prefix"],
                                "CompressionFormat": backup["compressionFormat"]},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{
                "Type": processor["type"],
                "Parameters": [{"ParameterName": p["parameterName"],
                                "ParameterValue": p["parameterValue"]}
                               for p in processor["parameters"]]}]},
        },
    }
    firehose = boto3.client("firehose", region_name="us-east-1")
    validate_parameters(request, firehose.meta.service_model.operation_model(
        "CreateDeliveryStream").input_shape)
