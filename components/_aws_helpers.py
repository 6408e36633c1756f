"""Small AWS building blocks the edgekit components share: policy documents and private buckets.

Policy documents are built by pure functions from plain values, so tests can read them and
the "no `*` action" rule is enforced where a statement is made, not only in review. The
private bucket is the one recipe every log or asset bucket follows: public access blocked,
ACLs disabled, encrypted at rest, lifecycle rules applied, and its name handed out only once
all of that is in place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from edgekit_iac.components._args import provider_module

if TYPE_CHECKING:
    import pulumi_aws as aws
else:
    aws = provider_module("pulumi_aws")

POLICY_VERSION = "2012-10-17"


class WildcardActionError(ValueError):
    """A policy statement asked for a `*` action; edgekit grants named actions only."""


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str] | str,
    *,
    principal: Mapping[str, Any] | None = None,
    condition: Mapping[str, Any] | None = None,
    effect: str = "Allow",
) -> dict[str, Any]:
    """One policy statement. Every action is named: `*`, `s3:*` and `s3:Get*` are refused,
    except in the one statement that needs them: `deny_insecure_transport`'s Deny."""
    if isinstance(actions, str):
        actions = [actions]
    wildcards = [action for action in actions if "*" in action]
    tls_deny = effect == "Deny" and dict(condition or {}) == INSECURE_TRANSPORT
    if (wildcards and not tls_deny) or not actions:
        raise WildcardActionError(
            f"statement {sid!r}: actions {list(actions)} must name each action "
            "(no `*`, `service:*` or `service:Prefix*`)"
        )
    result: dict[str, Any] = {"Sid": sid, "Effect": effect}
    if principal is not None:
        result["Principal"] = dict(principal)
    result["Action"] = list(actions)
    result["Resource"] = [resources] if isinstance(resources, str) else list(resources)
    if condition:
        result["Condition"] = dict(condition)
    return result


# The condition of a request made without TLS (aws:SecureTransport is "false").
INSECURE_TRANSPORT = {"Bool": {"aws:SecureTransport": "false"}}


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    """Deny every S3 action on the bucket and its objects to requests without TLS.

    AWS's own recommendation for enforcing encryption in transit (S3 User Guide, "Security
    best practices for Amazon S3"): the one statement where `s3:*` is right, because it
    denies rather than grants. The policy pack accepts `*` actions only in this form.
    """
    return statement(
        "DenyInsecureTransport",
        ["s3:*"],
        [bucket_arn, f"{bucket_arn}/*"],
        principal={"AWS": "*"},
        condition=INSECURE_TRANSPORT,
        effect="Deny",
    )


def policy_document(*statements: dict[str, Any]) -> dict[str, Any]:
    """A policy document holding `statements` in order."""
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def service_trust_policy(
    service: str, *, condition: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Trust for one AWS service principal to assume a role (optionally conditioned)."""
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        trust["Condition"] = dict(condition)
    return {"Version": POLICY_VERSION, "Statement": [trust]}


def policy_json(
    make: Callable[..., dict[str, Any]], *values: pulumi.Input[Any]
) -> pulumi.Output[str]:
    """A policy document from resolved values: pure `make`, applied once they are known."""
    return pulumi.Output.all(*values).apply(lambda resolved: json.dumps(make(*resolved)))


def account_of(arn: str) -> str:
    """The account id field of an ARN (arn:partition:service:region:account:resource)."""
    return arn.split(":")[4]


def is_tag_mapping(value: object) -> bool:
    """AWS resource tags: a mapping of strings to strings."""
    return isinstance(value, Mapping) and all(
        isinstance(key, str) and isinstance(text, str) for key, text in value.items()
    )


def bucket_arn(bucket_name: str) -> str:
    """S3 bucket ARNs carry neither region nor account."""
    return f"arn:aws:s3:::{bucket_name}"


# --- the private bucket recipe -----------------------------------------------------------


def data_options(parent: pulumi.Resource, protect: bool) -> pulumi.ResourceOptions:
    """Options for a resource that holds data (a bucket, a KMS key).

    protect: `pulumi destroy`, and any change that would replace the resource, stop before
    anything is deleted, instead of deleting the distribution first and then failing on
    BucketNotEmpty. retain_on_delete: once someone unprotects it on purpose, removing it
    from the program (or a replacement) leaves the cloud resource and its data in place,
    only Pulumi's state forgets it.
    """
    return pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect)


@dataclass(frozen=True)
class ExpiryRule:
    """Objects under `prefix` ("" for the whole bucket) are deleted `days` after creation."""

    rule_id: str
    prefix: str
    days: int


def lifecycle_rules(expiry: Sequence[ExpiryRule]) -> list[dict[str, Any]]:
    """Expiry rules plus one that cleans up abandoned multipart uploads after a day.

    Log writers (Firehose, Cloudflare Logpush) upload in parts; an aborted upload leaves
    invisible parts that are billed until removed, which is why both AWS and Cloudflare
    recommend the abort rule for log buckets.
    """
    rules = [
        {
            "id": rule.rule_id,
            "status": "Enabled",
            "filter": {"prefix": rule.prefix},
            "expiration": {"days": rule.days},
        }
        for rule in expiry
    ]
    rules.append(
        {
            "id": "abort-incomplete-multipart-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
        }
    )
    return rules


@dataclass
class PrivateBucket:
    """A bucket created by `private_bucket` and the configuration resources that guard it."""

    bucket: aws.s3.Bucket
    public_access_block: aws.s3.BucketPublicAccessBlock
    ownership: aws.s3.BucketOwnershipControls
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    lifecycle: aws.s3.BucketLifecycleConfiguration
    ready_name: pulumi.Output[str]
    """The bucket name, resolved only after every guard above exists: whoever writes to the
    bucket or attaches a policy by this name waits for the bucket to be private first (and
    S3 refuses concurrent configuration calls on one bucket with OperationAborted)."""


def private_bucket(
    name: str,
    *,
    parent: pulumi.Resource,
    region: str | None,
    expiry: Sequence[ExpiryRule],
    force_destroy: bool = False,
    tags: Mapping[str, str] | None = None,
    protect: bool = False,
) -> PrivateBucket:
    """A private, encrypted bucket named `name` (auto-named physically), children of `parent`.

    `region` None leaves the bucket, and every guard, in the provider's region (`aws:region`).

    SSE-S3 (AES256) rather than a KMS key on purpose: cross-account writers such as
    Cloudflare Logpush cannot use the account's AWS managed `aws/s3` key, and SSE-S3 needs
    no key-policy grants for any reader or writer.

    `protect` makes the bucket itself (not its configuration resources) a protected
    resource that is also retained on delete: see `data_options`.
    """
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(
        name,
        region=region,
        force_destroy=force_destroy,
        tags=dict(tags or {}) or None,
        opts=data_options(parent, protect),
    )
    public_access_block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        region=region,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    # Each configuration call waits for the previous one: S3 answers concurrent
    # configuration changes on one bucket with OperationAborted.
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        region=region,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[public_access_block]),
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        region=region,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[ownership]),
    )
    lifecycle = aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=bucket.id,
        region=region,
        rules=lifecycle_rules(expiry),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[encryption]),
    )
    ready_name = pulumi.Output.all(bucket.bucket, lifecycle.id).apply(lambda values: values[0])
    return PrivateBucket(bucket, public_access_block, ownership, encryption, lifecycle, ready_name)
