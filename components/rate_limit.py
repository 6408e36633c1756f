"""EdgeRateLimit: a WAFv2 web ACL for CloudFront that throttles each client IP at the edge.

The ACL allows by default and blocks, with a 429 JSON body, any client IP that sends more
than `limit` requests within `window_seconds` (optionally only counting requests under a
path prefix). With a path prefix, a second per-IP rule with its own, looser
`default_limit` counts every path, so requests outside the prefix (`/?bust=1`, `/any`)
cannot reach the origin unthrottled. AWS's managed rule groups for common attacks and
known bad inputs run after the rate rules, on by default. Every rule reports CloudWatch
metrics and keeps sampled requests, so a platform team sees what was blocked and why.

The CloudFront rules live here, not with the caller: scope CLOUDFRONT, and the ACL in
us-east-1, the only region CloudFront reads web ACLs from. Attach it by passing
`web_acl_arn` to a distribution (`EdgeImageResizerArgs.web_acl_arn`): CloudFront's
`web_acl_id` takes the WAFv2 ARN.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pulumi
from edgekit_iac.components._args import ArgsError, documented, int_in, is_int, provider_module
from edgekit_iac.components._args import check_component_name as _check_name
from edgekit_iac.components._aws_helpers import is_tag_mapping
from edgekit_iac.components._component import EdgeComponent

if TYPE_CHECKING:
    import pulumi_aws as aws
else:
    aws = provider_module("pulumi_aws")

TYPE_TOKEN = "edgekit:aws:EdgeRateLimit"

# CloudFront web ACLs: global scope, managed through us-east-1 only.
SCOPE = "CLOUDFRONT"
WAF_REGION = "us-east-1"

# AWS WAF's documented bounds for a rate-based rule (checked 2026: minimum limit 10).
LIMIT_RANGE = (10, 2_000_000_000)
EVALUATION_WINDOWS = (60, 120, 300, 600)

RESPONSE_CODE = 429
RESPONSE_BODY_KEY = "rate-limited"
DEFAULT_RESPONSE_BODY_KEY = "rate-limited-all-paths"
RESPONSE_CONTENT_TYPE = "APPLICATION_JSON"

RATE_RULE = "rate-limit-per-ip"
DEFAULT_RATE_RULE = "rate-limit-per-ip-all-paths"
MANAGED_RULE_GROUPS = (
    # (rule name in the ACL, AWS managed rule group): common exploits first, then inputs
    # known to be malicious (Log4Shell lookups, exploitable paths).
    ("aws-common", "AWSManagedRulesCommonRuleSet"),
    ("aws-known-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet"),
)


# A URI path prefix: starts with "/", printable, no spaces or wildcards (WAF matches bytes).
_PATH_PREFIX = re.compile(r"^/[A-Za-z0-9._~!$&'()+,;=:@/-]{0,199}$")


class RateLimitArgsError(ArgsError):
    """A field of `EdgeRateLimitArgs` is wrong; the message names it and what is accepted."""

    owner = "EdgeRateLimitArgs"


@documented
@dataclass(frozen=True)
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

    default_limit: int | None = 2000
    """With `path_prefix`: requests one client IP may send to any path within the window,
    counted by a second rule after the path rule; from `limit` (the path rule stays the
    tighter one) to 2_000_000_000. Without `path_prefix` the first rule already counts
    every path and this one is not declared. None: no rule for the other paths.
    Default: 2000."""

    managed_rules: bool = True
    """Add the AWS managed rule groups AWSManagedRulesCommonRuleSet and
    AWSManagedRulesKnownBadInputsRuleSet after the rate rule. Default: True."""

    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the web ACL. Default: none."""


# --- validation: pure, runs before anything is declared ------------------------------------


_fail = RateLimitArgsError


def validate_args(args: EdgeRateLimitArgs) -> EdgeRateLimitArgs:
    """Check every field of `args` and return the normalized settings, or raise naming the field."""
    low, high = LIMIT_RANGE
    int_in(RateLimitArgsError, "limit", args.limit, low, high)
    if not is_int(args.window_seconds) or args.window_seconds not in EVALUATION_WINDOWS:
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
    default_limit = args.default_limit
    if prefix is None:
        default_limit = None  # the one rule already counts every path
    elif default_limit is not None and (
        not is_int(default_limit) or not args.limit <= default_limit <= high
    ):
        raise _fail(
            "default_limit",
            f"got {default_limit!r} with limit {args.limit!r} on {prefix}",
            f"an integer from limit ({args.limit}) to {high}, so the path rule stays the "
            "tighter one, or None for no rule over the other paths",
        )
    if not isinstance(args.managed_rules, bool):
        raise _fail("managed_rules", f"got {args.managed_rules!r}", "True or False")
    if not is_tag_mapping(args.tags):
        raise _fail("tags", f"got {args.tags!r}", "a mapping of strings to strings")
    return replace(
        args,
        limit=args.limit,
        window_seconds=args.window_seconds,
        path_prefix=prefix,
        default_limit=default_limit,
        managed_rules=args.managed_rules,
        tags=dict(args.tags),
    )


def check_component_name(name: str) -> str:
    """The component name prefixes every metric name, so it must be one WAF accepts."""
    return _check_name(RateLimitArgsError, "EdgeRateLimit", name, "WAF metric names")


# --- pure decisions the web ACL is built from ----------------------------------------------


def visibility(metric_name: str) -> dict[str, Any]:
    """CloudWatch metrics and sampled requests on, under `metric_name`."""
    return {
        "cloudwatch_metrics_enabled": True,
        "metric_name": metric_name,
        "sampled_requests_enabled": True,
    }


def response_body(settings: EdgeRateLimitArgs, limit: int | None = None) -> str:
    """The JSON a throttled client reads: what happened and when trying again makes sense."""
    return json.dumps(
        {
            "error": "too_many_requests",
            "message": "Rate limit exceeded for this client; slow down and retry later.",
            "limit": settings.limit if limit is None else limit,
            "window_seconds": settings.window_seconds,
        },
        separators=(",", ":"),
    )


def response_bodies(settings: EdgeRateLimitArgs) -> list[dict[str, str]]:
    """One body per rate rule, each stating its own limit."""
    bodies = [(RESPONSE_BODY_KEY, settings.limit)]
    if settings.default_limit is not None:
        bodies.append((DEFAULT_RESPONSE_BODY_KEY, settings.default_limit))
    return [
        {
            "key": key,
            "content_type": RESPONSE_CONTENT_TYPE,
            "content": response_body(settings, limit),
        }
        for key, limit in bodies
    ]


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


def rate_rule(
    settings: EdgeRateLimitArgs,
    metric_prefix: str,
    *,
    name: str = RATE_RULE,
    limit: int | None = None,
    path_prefix: str | None = None,
    priority: int = 0,
    body_key: str = RESPONSE_BODY_KEY,
) -> dict[str, Any]:
    """Block a client IP over `limit` (on `path_prefix`, or every path) with the 429 body."""
    rate_statement: dict[str, Any] = {
        "aggregate_key_type": "IP",
        "limit": settings.limit if limit is None else limit,
        "evaluation_window_sec": settings.window_seconds,
    }
    if path_prefix is not None:
        rate_statement["scope_down_statement"] = scope_down(path_prefix)
    return {
        "name": name,
        "priority": priority,
        "action": {
            "block": {
                "custom_response": {
                    "response_code": RESPONSE_CODE,
                    "custom_response_body_key": body_key,
                }
            }
        },
        "statement": {"rate_based_statement": rate_statement},
        "visibility_config": visibility(f"{metric_prefix}-{name}"),
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


def web_acl_rules(settings: EdgeRateLimitArgs, metric_prefix: str) -> list[dict[str, Any]]:
    """The rate rules first (cheap, stop floods early): the path rule, then the looser one
    over every path; then the managed groups if wanted."""
    rules = [rate_rule(settings, metric_prefix, path_prefix=settings.path_prefix)]
    if settings.default_limit is not None:
        rules.append(
            rate_rule(
                settings,
                metric_prefix,
                name=DEFAULT_RATE_RULE,
                limit=settings.default_limit,
                priority=1,
                body_key=DEFAULT_RESPONSE_BODY_KEY,
            )
        )
    if settings.managed_rules:
        rules.extend(
            managed_rule(rule_name, group, priority, metric_prefix)
            for priority, (rule_name, group) in enumerate(MANAGED_RULE_GROUPS, start=len(rules))
        )
    return rules


# --- the component ---------------------------------------------------------------------------


class EdgeRateLimit(EdgeComponent):
    """A CloudFront-scoped WAFv2 web ACL: per-IP rate limit with a 429 JSON answer."""

    TYPE_TOKEN = TYPE_TOKEN

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
        super().__init__(name, opts)
        self._settings = settings

        self._create_web_acl()

        self.set_outputs(
            web_acl_arn=self.web_acl.arn,
            web_acl_id=self.web_acl.id,
        )

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
            custom_response_bodies=response_bodies(settings),
            rules=web_acl_rules(settings, name),
            visibility_config=visibility(f"{name}-acl"),
            tags=settings.tags or None,
            opts=pulumi.ResourceOptions(parent=self),
        )
