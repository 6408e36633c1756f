"""The computed outputs a provider would return for a resource, for mock runs.

Physical names follow Pulumi's auto-naming (`<logical name>-<7 hex>`), ids and ARNs follow
each AWS service's documented format, and every value is derived from (stack, type, name),
so the same program gives the same graph on every run: `edgekit preview` is stable and the
local twin can find a bucket by the name the program computed.
"""

from __future__ import annotations

import hashlib
from typing import Any

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"


def _digest(*parts: str, length: int = 7) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def _auto_name(stack: str, type_token: str, name: str) -> str:
    return f"{name}-{_digest(stack, type_token, name)}"


def _region(inputs: dict[str, Any]) -> str:
    return inputs.get("region") or DEFAULT_REGION


# type token -> (ARN template, input key that holds the physical name).
# Templates see: region, account, name, id.
_ARNS: dict[str, tuple[str, str | None]] = {
    "aws:s3/bucket:Bucket": ("arn:aws:s3:::{name}", "bucket"),
    "aws:iam/role:Role": ("arn:aws:iam::{account}:role/{name}", "name"),
    "aws:iam/policy:Policy": ("arn:aws:iam::{account}:policy/{name}", "name"),
    "aws:lambda/function:Function": (
        "arn:aws:lambda:{region}:{account}:function:{name}",
        "name",
    ),
    "aws:cloudfront/distribution:Distribution": (
        "arn:aws:cloudfront::{account}:distribution/{id}",
        None,
    ),
    "aws:cloudfront/function:Function": ("arn:aws:cloudfront::{account}:function/{name}", "name"),
    "aws:cloudfront/realtimeLogConfig:RealtimeLogConfig": (
        "arn:aws:cloudfront::{account}:realtime-log-config/{name}",
        "name",
    ),
    "aws:wafv2/webAcl:WebAcl": (
        "arn:aws:wafv2:{region}:{account}:global/webacl/{name}/{id}",
        "name",
    ),
    "aws:kinesis/stream:Stream": ("arn:aws:kinesis:{region}:{account}:stream/{name}", "name"),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": (
        "arn:aws:firehose:{region}:{account}:deliverystream/{name}",
        "name",
    ),
    "aws:sns/topic:Topic": ("arn:aws:sns:{region}:{account}:{name}", "name"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
        "name",
    ),
    "aws:cloudwatch/logGroup:LogGroup": (
        "arn:aws:logs:{region}:{account}:log-group:{name}",
        "name",
    ),
    # The ARN ends in a uuid, not the name: _extras writes it.
    "aws:cloudfront/keyValueStore:KeyValueStore": ("", "name"),
    "aws:kms/key:Key": ("arn:aws:kms:{region}:{account}:key/{id}", None),
    "aws:acm/certificate:Certificate": (
        "arn:aws:acm:{region}:{account}:certificate/{id}",
        None,
    ),
}

# Cloudflare resources whose id is 32 lowercase hex characters (a KV namespace's id).
_CLOUDFLARE_HEX_IDS = {"cloudflare:index/workersKvNamespace:WorkersKvNamespace"}

# Resources whose id is their physical name rather than an opaque identifier.
_ID_IS_NAME = {
    "aws:cloudfront/keyValueStore:KeyValueStore",
    "aws:s3/bucket:Bucket",
    "aws:iam/role:Role",
    "aws:lambda/function:Function",
    "aws:kinesis/stream:Stream",
    "aws:sns/topic:Topic",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/logGroup:LogGroup",
}


def computed(
    type_token: str, name: str, inputs: dict[str, Any], stack: str
) -> tuple[str, dict[str, Any]]:
    """(id, state) for a new custom resource: its inputs plus what the provider computes."""
    arn_template, name_key = _ARNS.get(type_token, (None, None))
    physical = (inputs.get(name_key) if name_key else None) or _auto_name(stack, type_token, name)
    opaque_id = _digest(stack, type_token, name, length=14).upper()
    resource_id = physical if type_token in _ID_IS_NAME else opaque_id
    if type_token in _CLOUDFLARE_HEX_IDS:
        resource_id = _digest(stack, type_token, name, length=32)
    region = _region(inputs)
    state: dict[str, Any] = dict(inputs)
    if name_key:
        state[name_key] = physical
    if arn_template:
        state["arn"] = arn_template.format(
            region=region, account=ACCOUNT_ID, name=physical, id=resource_id
        )
    state.update(_extras(type_token, state, resource_id, physical, region))
    return resource_id, state


def _extras(
    type_token: str, state: dict[str, Any], resource_id: str, physical: str, region: str
) -> dict[str, Any]:
    if type_token == "aws:cloudfront/keyValueStore:KeyValueStore":
        # arn:aws:cloudfront::<account>:key-value-store/<uuid> (the API's ARN pattern).
        hexed = _digest(physical, type_token, length=32)
        uuid = "-".join((hexed[:8], hexed[8:12], hexed[12:16], hexed[16:20], hexed[20:]))
        return {"arn": f"arn:aws:cloudfront::{ACCOUNT_ID}:key-value-store/{uuid}",
                "etag": _digest(physical, "etag", length=14).upper()}
    if type_token == "aws:s3/bucket:Bucket":
        return {
            "region": region,
            "bucketDomainName": f"{physical}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{physical}.s3.{region}.amazonaws.com",
        }
    if type_token == "aws:lambda/function:Function":
        # A published function gets version 1 on first deploy; unpublished stays $LATEST.
        version = "1" if state.get("publish") else "$LATEST"
        return {
            "version": version,
            "qualifiedArn": f"{state['arn']}:{version}",
            "invokeArn": (
                f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
                f"{state['arn']}/invocations"
            ),
        }
    if type_token == "aws:cloudfront/distribution:Distribution":
        return {
            "domainName": f"d{resource_id.lower()[:13]}.cloudfront.net",
            "hostedZoneId": "Z2FDTNDATAQYW2",
            "status": "Deployed",
            "etag": f"E{resource_id[:12]}",
        }
    if type_token == "aws:cloudfront/function:Function":
        # publish=True makes the LIVE stage the code just uploaded.
        etag = f"E{resource_id[:12]}"
        return {"etag": etag, "liveStageEtag": etag if state.get("publish") else "",
                "status": "UNASSOCIATED"}
    if type_token == "aws:cloudfront/originAccessControl:OriginAccessControl":
        return {"etag": f"E{resource_id[:12]}"}
    if type_token.startswith("aws:cloudfront/") and type_token.endswith("Policy"):
        return {"etag": f"E{resource_id[:12]}"}
    if type_token == "aws:wafv2/webAcl:WebAcl":
        return {"capacity": 0, "lockToken": resource_id.lower()}
    if type_token == "aws:kms/key:Key":
        return {"keyId": resource_id}
    if type_token == "aws:acm/certificate:Certificate":
        # One CNAME per name; a wildcard shares its base name's record, as ACM does.
        names = [state.get("domainName"), *(state.get("subjectAlternativeNames") or [])]
        return {
            "status": "PENDING_VALIDATION",
            "domainValidationOptions": [
                {
                    "domainName": name,
                    "resourceRecordName": f"_{_digest(name.removeprefix('*.'), length=32)}."
                    f"{name.removeprefix('*.')}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{_digest('acm', name.removeprefix('*.'), length=32)}"
                    ".acm-validations.aws.",
                }
                for name in names
                if name
            ],
        }
    if type_token == "aws:opensearch/serverlessCollection:ServerlessCollection":
        # Collection ids are 20 lower-case letters and digits; endpoints derive from them.
        collection = resource_id.lower()[:14] + _digest("aoss", resource_id, length=6).lower()
        return {
            "id": collection,
            "arn": f"arn:aws:aoss:{region}:{ACCOUNT_ID}:collection/{collection}",
            "collectionEndpoint": f"https://{collection}.{region}.aoss.amazonaws.com",
            "dashboardEndpoint": f"https://{collection}.{region}.aoss.amazonaws.com/_dashboards",
        }
    if type_token == "aws:route53/record:Record":
        return {"fqdn": str(state.get("name", "")).rstrip(".")}
    if type_token == "cloudflare:index/logpushOwnershipChallenge:LogpushOwnershipChallenge":
        # Cloudflare writes the challenge file beside the destination's path ({DATE} aside).
        path = str(state.get("destinationConf", "")).split("?")[0].split("://", 1)[-1]
        folder = "/".join(part for part in path.split("/")[1:] if part != "{DATE}")
        filename = f"ownership-challenge-{resource_id[:8].lower()}.txt"
        return {
            "id": resource_id.lower(),
            "filename": f"{folder}/{filename}" if folder else filename,
            "valid": True,
            "message": "",
        }
    if type_token.startswith("cloudflare:"):
        return {"id": resource_id.lower()}
    return {}


def invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Results of the data-source calls a program may make."""
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": ACCOUNT_ID,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/edgekit",
            "userId": "AIDAEDGEKIT",
            "id": ACCOUNT_ID,
        }
    if token in ("aws:index/getRegion:getRegion",):
        region = args.get("region") or DEFAULT_REGION
        return {"name": region, "region": region, "id": region}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    return {}
