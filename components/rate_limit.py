"""EdgeRateLimit: a WAFv2 web ACL for CloudFront that throttles each client IP at the edge.

The ACL allows by default and blocks, with a 429 JSON body, any client IP that sends more
than `limit` requests within `window_seconds` (optionally only counting requests under a
path prefix). AWS's managed rule groups for common attacks and known bad inputs run after
the rate rule, on by default. Every rule reports CloudWatch metrics and keeps sampled
requests, so a platform team sees what was blocked and why.

The CloudFront rules live here, not with the caller: scope CLOUDFRONT, and the ACL in
us-east-1, the only region CloudFront reads web ACLs from. Attach it by passing
`web_acl_arn` to a distribution (`EdgeImageResizerArgs.web_acl_arn`): CloudFront's
`web_acl_id` takes the WAFv2 ARN.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from edgekit_iac.components._aws_helpers import is_tag_mapping

from edgekit_iac.errors import UserError

TYPE_TOKEN = "edgekit:aws:EdgeRateLimit"

# CloudFront web ACLs: global scope, managed through us-east-1 only.
SCOPE = "CLOUDFRONT"
WAF_REGION = "us-east-1"

# AWS WAF's documented bounds for a rate-based rule (checked 2026: minimum limit 10).
LIMIT_RANGE = (10, 2_000_000_000)
EVALUATION_WINDOWS = (60, 120, 300, 600)

RESPONSE_CODE = 429
RESPONSE_BODY_KEY = "rate-limited"
RESPONSE_CONTENT_TYPE = "APPLICATION_JSON"

RATE_RULE = "rate-limit-per-ip"
MANAGED_RULE_GROUPS = (
    # (rule name in the ACL, AWS managed rule group): common exploits first, then inputs
    # known to be malicious (Log4Shell lookups, exploitable paths).
    ("aws-common", "AWSManagedRulesCommonRuleSet"),
    ("aws-known-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet"),
)

# Component names become metric names: WAF allows letters, digits, - _ # : . / only.
_METRIC_SAFE = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
# A URI path prefix: starts with "/", printable, no spaces or wildcards (WAF matches bytes).
_PATH_PREFIX = re.compile(r"^/[A-Za-z0-9._~!$&'()+,;=:@/-]{0,199}$")


class RateLimitArgsError(UserError, ValueError):
    """A field of `EdgeRateLimitArgs` is wrong; the message names it and what is accepted."""


@dataclass
class EdgeRateLimitArgs:
    """What a caller may choose about the edge rate limit; scope and region are not among them."""

    limit: int = 2000
    """Requests one client IP may send within the evaluation window before it is answered
    with 429, 10..2_000_000_000 (AWS WAF's bounds). Default: 2000."""

    window_seconds: int = 300
    """Evaluation window in seconds: 60, 120, 300 or 600 (the values AWS WAF accepts).
    Default: 300."""

    path_prefix: str | None = None
    """Count only requests whose URI path starts with this prefix, e.g. "/images/".
    Matched after URL-decoding and lower-casing, so "/IMAGES/" and "/%69mages/" count too.
    Default: None (every request counts)."""

    managed_rules: bool = True
    """Add the AWS managed rule groups AWSManagedRulesCommonRuleSet and
    AWSManagedRulesKnownBadInputsRuleSet after the rate rule. Default: True."""

    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the web ACL. Default: none."""


@dataclass(frozen=True)
class RateLimitSettings:
    """Validated, normalized arguments: the only values the `_create_*` steps read."""

    limit: int
    window_seconds: int
    path_prefix: str | None
    managed_rules: bool
    tags: dict[str, str]


# --- validation: pure, runs before anything is declared ------------------------------------


def _fail(arg: str, problem: str, accepted: str) -> RateLimitArgsError:
    return RateLimitArgsError(f"EdgeRateLimitArgs.{arg}: {problem}; accepted: {accepted}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_args(args: EdgeRateLimitArgs) -> RateLimitSettings:
    """Check every field of `args` and return the normalized settings, or raise naming the field."""
    low, high = LIMIT_RANGE
    if not _is_int(args.limit) or not low <= args.limit <= high:
        raise _fail("limit", f"got {args.limit!r}", f"an integer from {low} to {high}")
    if not _is_int(args.window_seconds) or args.window_seconds not in EVALUATION_WINDOWS:
        raise _fail(
            "window_seconds",
            f"got {args.window_seconds!r}",
            ", ".join(str(window) for window in EVALUATION_WINDOWS),
        )
    prefix = args.path_prefix
    if prefix is not None:
        if not isinstance(prefix, str) or not _PATH_PREFIX.match(prefix):
            raise _fail(
                "path_prefix",
                f"got {prefix!r}",
                'a URI path starting with "/" without spaces or wildcards, e.g. "/images/", '
                "or None to count every request",
            )
        # WAF compares after the rule's LOWERCASE transformation, so the search string must
        # be lower case to ever match.
        prefix = prefix.lower()
    if not isinstance(args.managed_rules, bool):
        raise _fail("managed_rules", f"got {args.managed_rules!r}", "True or False")
    if not is_tag_mapping(args.tags):
        raise _fail("tags", f"got {args.tags!r}", "a mapping of strings to strings")
    return RateLimitSettings(
        limit=args.limit,
        window_seconds=args.window_seconds,
        path_prefix=prefix,
        managed_rules=args.managed_rules,
        tags=dict(args.tags),
    )


def check_component_name(name: str) -> str:
    """The component name prefixes every metric name, so it must be one WAF accepts."""
    if not _METRIC_SAFE.match(name):
        raise RateLimitArgsError(
            f"EdgeRateLimit name {name!r}: it prefixes WAF metric names; "
            "accepted: 1-100 letters, digits, '-' or '_'"
        )
    return name


# --- pure decisions the web ACL is built from ----------------------------------------------


def visibility(metric_name: str) -> dict[str, Any]:
    """CloudWatch metrics and sampled requests on, under `metric_name`."""
    return {
        "cloudwatch_metrics_enabled": True,
        "metric_name": metric_name,
        "sampled_requests_enabled": True,
    }


def response_body(settings: RateLimitSettings) -> str:
    """The JSON a throttled client reads: what happened and when trying again makes sense."""
    return json.dumps(
        {
            "error": "too_many_requests",
            "message": "Rate limit exceeded for this client; slow down and retry later.",
            "limit": settings.limit,
            "window_seconds": settings.window_seconds,
        },
        separators=(",", ":"),
    )


def scope_down(path_prefix: str) -> dict[str, Any]:
    """Count only paths starting with `path_prefix`, compared URL-decoded and lower-cased.

    The transformations close the cheap bypasses (`/IMAGES/...`, `/%69mages/...`) that
    would otherwise reach the origin uncounted.
    """
    return {
        "byte_match_statement": {
            "search_string": path_prefix,
            "positional_constraint": "STARTS_WITH",
            "field_to_match": {"uri_path": {}},
            "text_transformations": [
                {"priority": 0, "type": "URL_DECODE"},
                {"priority": 1, "type": "LOWERCASE"},
            ],
        }
    }


def rate_rule(settings: RateLimitSettings, metric_prefix: str) -> dict[str, Any]:
    """Block a client IP over the limit with the 429 JSON body; evaluated first."""
    rate_statement: dict[str, Any] = {
        "aggregate_key_type": "IP",
        "limit": settings.limit,
        "evaluation_window_sec": settings.window_seconds,
    }
    if settings.path_prefix is not None:
        rate_statement["scope_down_statement"] = scope_down(settings.path_prefix)
    return {
        "name": RATE_RULE,
        "priority": 0,
        "action": {
            "block": {
                "custom_response": {
                    "response_code": RESPONSE_CODE,
                    "custom_response_body_key": RESPONSE_BODY_KEY,
                }
            }
        },
        "statement": {"rate_based_statement": rate_statement},
        "visibility_config": visibility(f"{metric_prefix}-{RATE_RULE}"),
    }


def managed_rule(rule_name: str, group: str, priority: int, metric_prefix: str) -> dict[str, Any]:
    """An AWS managed rule group with its own actions (override "none" keeps them)."""
    return {
        "name": rule_name,
        "priority": priority,
        "override_action": {"none": {}},
        "statement": {"managed_rule_group_statement": {"vendor_name": "AWS", "name": group}},
        "visibility_config": visibility(f"{metric_prefix}-{rule_name}"),
    }


def web_acl_rules(settings: RateLimitSettings, metric_prefix: str) -> list[dict[str, Any]]:
    """The rate rule first (cheap, stops floods early), then the managed groups if wanted."""
    rules = [rate_rule(settings, metric_prefix)]
    if settings.managed_rules:
        rules.extend(
            managed_rule(rule_name, group, priority, metric_prefix)
            for priority, (rule_name, group) in enumerate(MANAGED_RULE_GROUPS, start=1)
        )
    return rules


# --- the component ---------------------------------------------------------------------------


class EdgeRateLimit(pulumi.ComponentResource):
    """A CloudFront-scoped WAFv2 web ACL: per-IP rate limit with a 429 JSON answer."""

    web_acl_arn: pulumi.Output[str]
    web_acl_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: EdgeRateLimitArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = validate_args(args or EdgeRateLimitArgs())
        check_component_name(name)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name = name
        self._settings = settings

        self._create_web_acl()

        self.web_acl_arn = self.web_acl.arn
        self.web_acl_id = self.web_acl.id
        self.register_outputs({"web_acl_arn": self.web_acl_arn, "web_acl_id": self.web_acl_id})

    def _create_web_acl(self) -> None:
        name, settings = self._name, self._settings
        self.web_acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            region=WAF_REGION,
            scope=SCOPE,
            # WAF descriptions allow few characters, so the path prefix stays out of it.
            description=(
                f"{name}: {settings.limit} requests per {settings.window_seconds} s per client IP"
            ),
            default_action={"allow": {}},
            custom_response_bodies=[
                {
                    "key": RESPONSE_BODY_KEY,
                    "content_type": RESPONSE_CONTENT_TYPE,
                    "content": response_body(settings),
                }
            ],
            rules=web_acl_rules(settings, name),
            visibility_config=visibility(f"{name}-acl"),
            tags=settings.tags or None,
            opts=pulumi.ResourceOptions(parent=self),
        )
