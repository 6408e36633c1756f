"""Inputs a provider normalises away, and the empty inputs it keeps, each with its evidence.

A value the provider does not write back to state after create (an empty
`s3_origin_config`, a disabled origin shield, a zero expiry) differs from the program's
input on every refresh: `pulumi preview` shows a change and `pulumi up` sends an update it
cannot converge (for a distribution, minutes of UpdateDistribution each time). The rule for
edgekit's components is "omit what you do not mean", so:

- `DROPPED` lists values known to be dropped; declaring one is always a finding.
- Every other empty string, empty list or empty object in a resource's inputs is a finding
  too, unless `KEPT` names it with the provider code that writes it back.

`findings(graph)` applies both to every custom resource a recorded graph declares. Paths are
the recorder's camelCase input paths with list indexes written `[]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from edgekit_iac.program import ProgramGraph, RecordedResource

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"

TF_AWS = "hashicorp/terraform-provider-aws"
CLOUDFRONT_FLEX = f"{TF_AWS} internal/service/cloudfront/distribution_configuration_structure.go"
LIFECYCLE_SRC = f"{TF_AWS} internal/service/s3/bucket_lifecycle_configuration.go"
WAFV2_FLEX = f"{TF_AWS} internal/service/wafv2/flex.go"


@dataclass(frozen=True)
class Dropped:
    """A value the provider does not write back to state: declaring it is a perpetual diff."""

    type: str
    path: str
    matches: Callable[[Any], bool]
    evidence: str


@dataclass(frozen=True)
class Kept:
    """An empty value the provider does write back (an attribute-less block, say)."""

    type: str
    path: str
    value: Any
    evidence: str


DROPPED: tuple[Dropped, ...] = (
    Dropped(
        DISTRIBUTION,
        "origins[].s3OriginConfig",
        lambda block: isinstance(block, dict) and not block.get("originAccessIdentity"),
        f"{CLOUDFRONT_FLEX}: FlattenOrigin sets s3_origin_config only when "
        'OriginAccessIdentity != ""; ExpandOrigin already sends an empty one when neither '
        "origin config is given (the OAC case).",
    ),
    Dropped(
        DISTRIBUTION,
        "origins[].originShield",
        lambda block: isinstance(block, dict) and not block.get("enabled"),
        f"{CLOUDFRONT_FLEX}: FlattenOrigin sets origin_shield only when Enabled is true.",
    ),
    Dropped(
        DISTRIBUTION,
        "comment",
        lambda text: text == "",
        f'{CLOUDFRONT_FLEX}: flattenDistributionConfig sets comment only when it is not "".',
    ),
    Dropped(
        LIFECYCLE,
        "rules[].expiration.days",
        lambda days: days == 0,
        f"{LIFECYCLE_SRC}: lifecycleExpirationModel.Expand treats days 0 as null "
        "(ZeroInt32AsNull), so S3 never stores it.",
    ),
)

KEPT: tuple[Kept, ...] = (
    Kept(
        LIFECYCLE,
        "rules[].filter.prefix",
        "",
        f'{LIFECYCLE_SRC}: lifecycleRuleModel.Expand sends Filter{{Prefix: ""}} for it '
        '("Setting filter.prefix to \\"\\" is equivalent to an empty filter") and Flatten '
        'keeps a filter whose Prefix is set, so state reads "" back: the whole bucket.',
    ),
    Kept(
        WEB_ACL,
        "defaultAction.allow",
        {},
        f"{WAFV2_FLEX}: flattenDefaultAction writes allow as a one-element block whenever "
        "the API returns Allow.",
    ),
    Kept(
        WEB_ACL,
        "rules[].overrideAction.none",
        {},
        f"{WAFV2_FLEX}: flattenOverrideAction writes none as a one-element block whenever "
        "the API returns None.",
    ),
    Kept(
        WEB_ACL,
        "rules[].statement.rateBasedStatement.scopeDownStatement.byteMatchStatement"
        ".fieldToMatch.uriPath",
        {},
        f"{WAFV2_FLEX}: flattenFieldToMatch writes uri_path as a one-element block whenever "
        "the API returns UriPath.",
    ),
)


@dataclass(frozen=True)
class Finding:
    resource: str
    type: str
    path: str
    value: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.resource} ({self.type}) {self.path} = {self.value!r}: {self.reason}"


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, f"{path}[]")


def _is_empty(value: Any) -> bool:
    return value == "" or (isinstance(value, list | dict) and not value)


def resource_findings(resource: RecordedResource) -> list[Finding]:
    """What in one resource's inputs the provider would not give back."""
    found = []
    for path, value in _walk(resource.inputs, ""):
        if not path:
            continue
        dropped = [
            rule
            for rule in DROPPED
            if rule.type == resource.type and rule.path == path and rule.matches(value)
        ]
        if dropped:
            found.append(Finding(resource.name, resource.type, path, value, dropped[0].evidence))
            continue
        # A secret or an asset is recorded as a marker dict, never as an empty value.
        if not _is_empty(value):
            continue
        kept = any(
            rule.type == resource.type and rule.path == path and rule.value == value
            for rule in KEPT
        )
        if not kept:
            found.append(
                Finding(
                    resource.name,
                    resource.type,
                    path,
                    value,
                    "an empty input not known to survive a refresh: omit it, or add it to "
                    "KEPT with the provider code that writes it back",
                )
            )
    return found


def findings(graph: ProgramGraph) -> list[Finding]:
    return [f for r in graph.resources if r.custom for f in resource_findings(r)]


def evidence_names_a_source(evidence: str) -> bool:
    """Evidence points at provider source (repo + path) or a documentation URL."""
    return bool(re.search(r"(\w[\w.-]*/[\w.-]+ \S+\.go|https://\S+)", evidence))
