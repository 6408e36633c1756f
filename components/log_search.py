"""EdgeLogPipeline's optional searchable copy: Firehose -> OpenSearch, failed documents -> S3.

A second Firehose delivery stream reads the same Kinesis stream as the S3 archive (a
stream serves several consumers; each Firehose reads it on its own) and delivers into
an OpenSearch Serverless collection this component creates (TIMESERIES), or into an
existing OpenSearch Service domain. The S3 archive stays the record of truth; the index is
for searching.

- CloudFront writes tab-separated records; OpenSearch takes JSON documents. Firehose's
  data transformation runs `functions/realtime_log_json` (a regular Lambda, bundled and
  pinned like every function) that names each value by its field and types it; a record
  that does not fit is `ProcessingFailed` and lands in the S3 backup.
- S3 backup of failed documents (`FailedDocumentsOnly`) into the log bucket under
  `opensearch-failed/`, GZIP, expiring with the bucket.
- The index template (time as a date, status as a keyword, time-taken as a float, `dynamic:
  false`) is PUT by the transform function itself at deploy time (an
  `aws.lambda_.Invocation`, re-run when the template changes), SigV4-signed as its role.
- Least privilege: Firehose's role reads this stream, invokes this function, writes under
  `opensearch-failed/` and may reach this collection (`aoss:APIAccessAll` on its ARN, with
  the collection's data access policy granting it only write permissions on this index
  pattern) or this domain (`es:ESHttpPost/Put` on the domain's paths); the function's role
  may write its own logs and create/update this collection's templates only.
- Encryption: the collection's encryption policy names a customer managed KMS key of this
  stack (rotated yearly, protected with the stack's data), usable by OpenSearch Serverless
  for this account only (kms:ViaService, kms:CallerAccount); Firehose reaches the
  collection over TLS; the failed documents are SSE-S3 in the private bucket. The
  collection's network policy allows its public endpoint, where every request must still
  be SigV4-signed by a principal of its data access policy (a VPC endpoint is not made).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from edgekit_iac.components._args import ArgsError, documented, int_in, provider_module
from edgekit_iac.components._aws_helpers import (
    account_of,
    bucket_arn,
    data_options,
    policy_document,
    policy_json,
    service_trust_policy,
    statement,
)

if TYPE_CHECKING:
    import pulumi_aws as aws
else:
    aws = provider_module("pulumi_aws")

TRANSFORM_FUNCTION = "realtime_log_json"
TRANSFORM_RUNTIME = "python3.13"
FAILED_PREFIX = "opensearch-failed/"
INDEX_ROTATIONS = ("NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth")
# OpenSearch Serverless: collection names 3-32 of a-z, 0-9, '-', starting with a letter;
# the policies are named "<collection>-enc|-net|-data" within the same 32 characters.
_COLLECTION = re.compile(r"^[a-z][a-z0-9-]{2,26}$")
_INDEX = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
_DOMAIN_ARN = re.compile(r"^arn:aws:es:[a-z0-9-]+:\d{12}:domain/[a-z][a-z0-9-]{2,27}$")

FIREHOSE_WRITE_PERMISSIONS = (
    "aoss:CreateIndex",
    "aoss:UpdateIndex",
    "aoss:DescribeIndex",
    "aoss:WriteDocument",
)
TEMPLATE_PERMISSIONS = (
    "aoss:CreateCollectionItems",
    "aoss:UpdateCollectionItems",
    "aoss:DescribeCollectionItems",
)
READER_PERMISSIONS = ("aoss:ReadDocument", "aoss:DescribeIndex")
DOMAIN_WRITE_ACTIONS = ("es:DescribeDomain", "es:ESHttpPost", "es:ESHttpPut")
DOMAIN_READ_ACTIONS = ("es:ESHttpGet",)
FUNCTION_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


@documented
@dataclass(frozen=True)
class OpenSearchArgs:
    """Where EdgeLogPipeline's searchable copy goes: give a collection name or a domain."""

    collection_name: str | None = None
    """Create an OpenSearch Serverless TIMESERIES collection of this name (3-27 of a-z,
    0-9, '-', starting with a letter). Default: None."""

    domain_arn: str | None = None
    """Deliver into this existing OpenSearch Service domain instead
    (arn:aws:es:REGION:ACCOUNT:domain/NAME); needs `domain_endpoint`. Default: None."""

    domain_endpoint: str | None = None
    """The domain's https:// endpoint (for the index template). Default: None."""

    index_name: str = "cloudfront-realtime"
    """The index (a domain rotates it into index-YYYY-MM-DD...). Default:
    cloudfront-realtime."""

    index_rotation: str = "OneDay"
    """Domains only: NoRotation, OneHour, OneDay, OneWeek, OneMonth. Default: OneDay."""

    buffer_size_mb: int = 5
    """Firehose sends a batch once this many MB arrived, 1..100. Default: 5."""

    buffer_interval_seconds: int = 60
    """... or once this many seconds passed, 0..900. Default: 60."""

    retry_seconds: int = 300
    """How long Firehose retries a failed delivery before the S3 backup, 0..7200.
    Default: 300."""

    reader_arns: Sequence[str] = ()
    """IAM principals (roles, users) that may search the collection's index. Default:
    none (add your team's role)."""


class OpenSearchArgsError(ArgsError):
    owner = "OpenSearchArgs"


def validate(args: Any) -> OpenSearchArgs:
    """Check an OpenSearchArgs, or raise naming the field and what is accepted."""
    fail = OpenSearchArgsError
    if not isinstance(args, OpenSearchArgs):
        raise fail("search", f"got {args!r}", "an OpenSearchArgs or None")
    if (args.collection_name is None) == (args.domain_arn is None):
        raise fail(
            "collection_name",
            "give exactly one of collection_name and domain_arn",
            "collection_name='edge-logs' or domain_arn=arn:aws:es:...:domain/NAME",
        )
    if args.collection_name is not None and not _COLLECTION.match(args.collection_name):
        raise fail(
            "collection_name",
            f"got {args.collection_name!r}",
            "3-27 of a-z, 0-9, '-', starting with a letter",
        )
    if args.domain_arn is not None:
        if not _DOMAIN_ARN.match(args.domain_arn):
            raise fail(
                "domain_arn", f"got {args.domain_arn!r}", "arn:aws:es:REGION:ACCOUNT:domain/NAME"
            )
        if not str(args.domain_endpoint or "").startswith("https://"):
            raise fail(
                "domain_endpoint", f"got {args.domain_endpoint!r}", "the domain's https:// endpoint"
            )
    if not _INDEX.match(str(args.index_name)):
        raise fail(
            "index_name",
            f"got {args.index_name!r}",
            "1-80 of a-z, 0-9, '_', '-', not starting with '_' or '-'",
        )
    if args.index_rotation not in INDEX_ROTATIONS:
        raise fail("index_rotation", f"got {args.index_rotation!r}", ", ".join(INDEX_ROTATIONS))
    int_in(OpenSearchArgsError, "buffer_size_mb", args.buffer_size_mb, 1, 100)
    int_in(OpenSearchArgsError, "buffer_interval_seconds", args.buffer_interval_seconds, 0, 900)
    int_in(OpenSearchArgsError, "retry_seconds", args.retry_seconds, 0, 7200)
    readers = args.reader_arns
    if isinstance(readers, str) or not all(
        isinstance(arn, str) and arn.startswith("arn:aws:iam::") for arn in readers
    ):
        raise fail("reader_arns", f"got {readers!r}", "a list of IAM role or user ARNs")
    return args


# --- pure policies ---------------------------------------------------------------------------


def collection_arn_pattern(region: str, account: str) -> str:
    return f"arn:aws:aoss:{region}:{account}:collection/"


def encryption_policy(collection: str, key_arn: str) -> dict[str, Any]:
    """The collection's data at rest under this stack's own key (not an AWS owned one)."""
    return {
        "Rules": [{"ResourceType": "collection", "Resource": [f"collection/{collection}"]}],
        "AWSOwnedKey": False,
        "KmsARN": key_arn,
    }


def collection_key_policy(account_id: str, region: str) -> dict[str, Any]:
    """The account administers the key through IAM; OpenSearch Serverless may use it for
    this account's collections only, called through the service (kms:ViaService)."""
    from edgekit_iac.components.alarms import key_admin_statement

    return policy_document(
        key_admin_statement(account_id),
        statement(
            "OpenSearchServerlessUsesKey",
            ("kms:DescribeKey", "kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"),
            "*",
            principal={"AWS": f"arn:aws:iam::{account_id}:root"},
            condition={
                "StringEquals": {
                    "kms:ViaService": f"aoss.{region}.amazonaws.com",
                    "kms:CallerAccount": account_id,
                }
            },
        ),
    )


def network_policy(collection: str) -> list[dict[str, Any]]:
    return [
        {
            "Description": "SigV4-authenticated HTTPS endpoint (data access policy decides)",
            "Rules": [
                {"ResourceType": "collection", "Resource": [f"collection/{collection}"]},
                {"ResourceType": "dashboard", "Resource": [f"collection/{collection}"]},
            ],
            "AllowFromPublic": True,
        }
    ]


def data_access_policy(
    collection: str, index: str, firehose_role: str, template_role: str, readers: Sequence[str]
) -> list[dict[str, Any]]:
    """Firehose writes this index pattern, the transform role manages its template,
    the readers search it. Nothing else, nobody else."""
    indexes = [f"index/{collection}/{index}*"]
    rules = [
        {
            "Description": "Firehose delivers the real-time logs",
            "Rules": [
                {
                    "ResourceType": "index",
                    "Resource": indexes,
                    "Permission": list(FIREHOSE_WRITE_PERMISSIONS),
                }
            ],
            "Principal": [firehose_role],
        },
        {
            "Description": "the transform function puts the index template",
            "Rules": [
                {
                    "ResourceType": "collection",
                    "Resource": [f"collection/{collection}"],
                    "Permission": list(TEMPLATE_PERMISSIONS),
                }
            ],
            "Principal": [template_role],
        },
    ]
    if readers:
        rules.append(
            {
                "Description": "people and tools that search the logs",
                "Rules": [
                    {
                        "ResourceType": "index",
                        "Resource": indexes,
                        "Permission": list(READER_PERMISSIONS),
                    }
                ],
                "Principal": list(readers),
            }
        )
    return rules


def firehose_search_policy(
    stream_arn: str, bucket: str, function_arn: str, store_arn: str, kind: str
) -> dict[str, Any]:
    """Read this stream, run this transform, back up under opensearch-failed/, reach the
    store (the collection's API, or the domain's document paths)."""
    from edgekit_iac.components.log_pipeline import (
        FIREHOSE_BUCKET_ACTIONS,
        FIREHOSE_OBJECT_ACTIONS,
        FIREHOSE_STREAM_ACTIONS,
    )

    arn = bucket_arn(bucket)
    if kind == "collection":
        store = statement("ReachCollection", ("aoss:APIAccessAll",), store_arn)
    else:
        store = statement("WriteDomain", DOMAIN_WRITE_ACTIONS, [store_arn, f"{store_arn}/*"])
    return policy_document(
        statement("ReadRealtimeLogStream", FIREHOSE_STREAM_ACTIONS, stream_arn),
        statement(
            "TransformRecords",
            ("lambda:InvokeFunction", "lambda:GetFunctionConfiguration"),
            function_arn,
        ),
        statement("LocateLogBucket", FIREHOSE_BUCKET_ACTIONS, arn),
        statement("BackUpFailedDocuments", FIREHOSE_OBJECT_ACTIONS, f"{arn}/{FAILED_PREFIX}*"),
        store,
    )


def transform_policy(
    log_group_prefix: str, region: str, account: str, store_arn: str, kind: str
) -> dict[str, Any]:
    """Its own logs, and the index template: nothing else."""
    logs = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{log_group_prefix}*"
    if kind == "collection":
        store = statement("PutIndexTemplate", ("aoss:APIAccessAll",), store_arn)
    else:
        store = statement("PutIndexTemplate", ("es:ESHttpPut",), f"{store_arn}/_index_template/*")
    return policy_document(statement("WriteOwnLogs", FUNCTION_LOG_ACTIONS, logs), store)


def template_trigger(fields: Sequence[str], index: str) -> str:
    """Changes when the template would: the fields and the index pattern."""
    return hashlib.sha256(json.dumps([list(fields), index]).encode()).hexdigest()[:16]


# --- declaring it (called by EdgeLogPipeline, children of it) --------------------------------


@dataclass
class SearchResources:
    delivery_stream: Any
    endpoint: pulumi.Output[str]
    function: Any
    collection: Any | None


def declare(
    pipeline: Any,
    args: OpenSearchArgs,
    *,
    stream: Any,
    bucket_name: pulumi.Output[str],
    fields: Sequence[str],
    artifact: Any,
    region: str,
    tags: dict[str, str],
    protect: bool = False,
) -> SearchResources:
    """The transform, the store (collection or domain), the roles and the delivery stream."""
    child = pipeline.child_opts()
    name = pipeline.child_name
    account = stream.arn.apply(account_of)
    kind = "collection" if args.collection_name else "domain"
    tag_args = tags or None

    transform_role = aws.iam.Role(
        name("search-transform-role"),
        assume_role_policy=json.dumps(service_trust_policy("lambda.amazonaws.com")),
        description="Firehose transform: real-time log records to JSON, index template",
        tags=tag_args,
        opts=child,
    )
    firehose_role = aws.iam.Role(
        name("search-firehose-role"),
        assume_role_policy=policy_json(_firehose_trust, account),
        description="Firehose: real-time log stream to OpenSearch, failures to S3",
        tags=tag_args,
        opts=child,
    )

    collection = None
    if kind == "collection":
        collection_name = args.collection_name
        key = aws.kms.Key(
            name("search-key"),
            region=region,
            description=f"{collection_name}: OpenSearch Serverless collection at rest",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            policy=policy_json(collection_key_policy, account, pulumi.Output.from_input(region)),
            tags=tag_args,
            opts=data_options(pipeline, protect),
        )
        encryption = aws.opensearch.ServerlessSecurityPolicy(
            name("search-encryption"),
            name=f"{collection_name}-enc",
            type="encryption",
            region=region,
            policy=key.arn.apply(lambda arn: json.dumps(encryption_policy(collection_name, arn))),
            opts=child,
        )
        network = aws.opensearch.ServerlessSecurityPolicy(
            name("search-network"),
            name=f"{collection_name}-net",
            type="network",
            region=region,
            policy=json.dumps(network_policy(collection_name)),
            opts=child,
        )
        collection = aws.opensearch.ServerlessCollection(
            name("search-collection"),
            name=collection_name,
            type="TIMESERIES",
            region=region,
            description="edgekit: CloudFront real-time logs",
            tags=tag_args,
            opts=pulumi.ResourceOptions(parent=pipeline, depends_on=[encryption, network]),
        )
        access = aws.opensearch.ServerlessAccessPolicy(
            name("search-data-access"),
            name=f"{collection_name}-data",
            type="data",
            region=region,
            policy=pulumi.Output.all(firehose_role.arn, transform_role.arn).apply(
                lambda arns: json.dumps(
                    data_access_policy(
                        collection_name, args.index_name, arns[0], arns[1], args.reader_arns
                    )
                )
            ),
            opts=child,
        )
        store_arn: pulumi.Output[str] = collection.arn
        endpoint: pulumi.Output[str] = collection.collection_endpoint
        ready = [access, collection]
    else:
        store_arn = pulumi.Output.from_input(args.domain_arn)
        endpoint = pulumi.Output.from_input(args.domain_endpoint)
        ready = []

    transform_policy_resource = aws.iam.RolePolicy(
        name("search-transform-policy"),
        role=transform_role.id,
        policy=policy_json(
            transform_policy,
            name("search-transform"),
            pulumi.Output.from_input(region),
            account,
            store_arn,
            pulumi.Output.from_input(kind),
        ),
        opts=child,
    )
    function = aws.lambda_.Function(
        name("search-transform"),
        region=region,
        runtime=TRANSFORM_RUNTIME,
        architectures=["arm64"],  # pure Python: Graviton is cheaper per ms
        handler=artifact.manifest["handler"],
        code=pulumi.FileArchive(str(artifact.path)),
        source_code_hash=source_code_hash(artifact.sha256),
        role=transform_role.arn,
        timeout=60,
        memory_size=256,
        environment={
            "variables": {
                "EDGEKIT_FIELDS": ",".join(fields),
                "EDGEKIT_ENDPOINT": endpoint,
                "EDGEKIT_SIGNING_SERVICE": "aoss" if kind == "collection" else "es",
            }
        },
        tags=tag_args,
        opts=pulumi.ResourceOptions(parent=pipeline, depends_on=[transform_policy_resource]),
    )
    aws.lambda_.Invocation(
        name("search-index-template"),
        region=region,
        function_name=function.name,
        input=json.dumps({"edgekit": "put-index-template", "index_name": args.index_name}),
        triggers={"template": template_trigger(fields, args.index_name)},
        opts=pulumi.ResourceOptions(parent=pipeline, depends_on=[function, *ready]),
    )

    firehose_policy = aws.iam.RolePolicy(
        name("search-firehose-policy"),
        role=firehose_role.id,
        policy=policy_json(
            firehose_search_policy,
            stream.arn,
            bucket_name,
            function.arn,
            store_arn,
            pulumi.Output.from_input(kind),
        ),
        opts=child,
    )
    common = {
        "role_arn": firehose_role.arn,
        "index_name": args.index_name,
        "s3_backup_mode": "FailedDocumentsOnly",
        "s3_configuration": {
            "role_arn": firehose_role.arn,
            "bucket_arn": bucket_name.apply(bucket_arn),
            "prefix": FAILED_PREFIX,
            "compression_format": "GZIP",
        },
        "buffering_size": args.buffer_size_mb,
        "buffering_interval": args.buffer_interval_seconds,
        "retry_duration": args.retry_seconds,
        "processing_configuration": {
            "enabled": True,
            "processors": [
                {
                    "type": "Lambda",
                    "parameters": [
                        {"parameter_name": "LambdaArn", "parameter_value": function.arn}
                    ],
                }
            ],
        },
    }
    destination: dict[str, Any]
    if kind == "collection":
        destination = {
            "destination": "opensearchserverless",
            "opensearchserverless_configuration": {"collection_endpoint": endpoint, **common},
        }
    else:
        destination = {
            "destination": "opensearch",
            "opensearch_configuration": {
                "domain_arn": args.domain_arn,
                "index_rotation_period": args.index_rotation,
                **common,
            },
        }
    delivery = aws.kinesis.FirehoseDeliveryStream(
        name("search-firehose"),
        region=region,
        kinesis_source_configuration={
            "kinesis_stream_arn": stream.arn,
            "role_arn": firehose_role.arn,
        },
        **destination,
        tags=tag_args,
        opts=pulumi.ResourceOptions(parent=pipeline, depends_on=[firehose_policy, *ready]),
    )
    return SearchResources(delivery, endpoint, function, collection)


def source_code_hash(sha256_hex: str) -> str:
    """Lambda's CodeSha256: base64 of the raw digest, so Pulumi sees no diff after deploy."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


def check_artifact(artifact: Any) -> Any:
    """A bundle of functions/realtime_log_json (kind "lambda"), or a clear refusal."""
    if getattr(artifact, "name", None) != TRANSFORM_FUNCTION or artifact.kind != "lambda":
        raise OpenSearchArgsError(
            "transform_artifact",
            f"got {getattr(artifact, 'name', artifact)!r}",
            f"the {TRANSFORM_FUNCTION} bundle (edgekit_iac.bundle.build_function"
            f"({TRANSFORM_FUNCTION!r}) or its promoted pin)",
        )
    return artifact


def _firehose_trust(account_id: str) -> dict[str, Any]:
    from edgekit_iac.components.log_pipeline import firehose_trust_policy

    return firehose_trust_policy(account_id)
