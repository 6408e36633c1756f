"""CloudflareRateLimit: the zone's rate-limiting rule in front of a Worker, answered with 429 JSON.

One zone `Ruleset` in the `http_ratelimit` phase with two rules. The first counts requests
matching `expression` per client IP per Cloudflare data center (characteristics
`cf.colo.id` and `ip.src`; Cloudflare's API requires `cf.colo.id`), and once a client sends
more than `requests_per_period` within `period_seconds` it is blocked for
`mitigation_timeout_seconds` with a JSON body and status 429. The second, with its own
looser `default_requests_per_period`, counts every request `default_expression` matches
(by default every request on the zone), so paths outside `expression` (`/?bust=1`) are
limited too. Cloudflare evaluates the rules in order and a block ends the evaluation.

A zone has one entry-point ruleset per phase, so this component owns the zone's
`http_ratelimit` phase: declare it once per zone. Which periods and timeouts are allowed
depends on the zone's plan (see `PLAN_LIMITS`); the plan is an argument so a value the
plan cannot use fails here, before anything is declared, instead of at the Cloudflare API.

A zone that already has an `http_ratelimit` entry point (rules made in the dashboard) makes
Cloudflare refuse a second one: "'zone' is not a valid value for kind because exceeded
maximum number of zone rulesets for phase http_ratelimit" (API error 20217). Give its id
as `existing_ruleset_id` and the ruleset is adopted (Pulumi's `import` option) and its rules
replaced by this component's on the next `pulumi up`; or import it once with `pulumi
import` (`adoption_steps` prints both). An error hook on the ruleset prints those steps
next to Cloudflare's message when the create fails.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pulumi
from edgekit_iac.components._args import (
    ArgsError,
    check_cloudflare_id,
    documented,
    int_in,
    is_int,
    provider_module,
)
from edgekit_iac.components._component import EdgeComponent
from pulumi.resource_hooks import ErrorHook, ErrorHookArgs, ResourceHookBinding
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

if TYPE_CHECKING:
    import pulumi_cloudflare as cloudflare
else:
    cloudflare = provider_module("pulumi_cloudflare")

TYPE_TOKEN = "edgekit:cloudflare:CloudflareRateLimit"
PHASE = "http_ratelimit"
RULE_REF = "edgekit_rate_limit"
DEFAULT_RULE_REF = "edgekit_rate_limit_all"
DEFAULT_RULE_EXPRESSION = "true"
# Cloudflare documents no maximum for requests_per_period; edgekit caps it where AWS WAF
# caps the same setting, which keeps it a 32-bit integer and refuses absurd values (1e20).
REQUESTS_PER_PERIOD_RANGE = (1, 2_000_000_000)

# Cloudflare's documented API values (developers.cloudflare.com/waf/rate-limiting-rules/).
PERIODS = (10, 60, 120, 300, 600, 3600)
MITIGATION_TIMEOUTS = (0, 10, 60, 120, 300, 600, 3600, 86400)
RESPONSE_CONTENT_TYPES = ("application/json", "text/html", "text/xml", "text/plain")
RESPONSE_STATUS_RANGE = (400, 499)
RESPONSE_CONTENT_LIMIT = 30 * 1024
EXPRESSION_LIMIT = 4096

REQUIRED_CHARACTERISTIC = "cf.colo.id"
# "IP" and "IP with NAT support" cannot be combined in one rule.
INCOMPATIBLE_CHARACTERISTICS = frozenset({"ip.src", "cf.unique_visitor_id"})


@dataclass(frozen=True)
class PlanLimits:
    """What a Cloudflare plan allows a rate-limiting rule (counting period, timeout, keys)."""

    max_period: int
    max_mitigation_timeout: int
    characteristics: frozenset[str] | None  # None: any characteristic the API accepts
    throttling: bool  # mitigation_timeout 0 with "block" (throttle above the rate)
    max_rules: int = 5  # rate limiting rules per zone


PLAN_LIMITS: dict[str, PlanLimits] = {
    "free": PlanLimits(10, 10, frozenset({"cf.colo.id", "ip.src"}), False, max_rules=1),
    "pro": PlanLimits(60, 3600, frozenset({"cf.colo.id", "ip.src"}), False, max_rules=2),
    "business": PlanLimits(
        600, 86400, frozenset({"cf.colo.id", "ip.src", "cf.unique_visitor_id"}), False
    ),
    "enterprise": PlanLimits(3600, 86400, None, True),
}

DEFAULT_EXPRESSION = '(starts_with(http.request.uri.path, "/api/"))'
# How Cloudflare answers the create of a second entry point for the phase.
ENTRYPOINT_EXISTS = "exceeded maximum number of zone rulesets for phase"
IMPORT_CONFIG_KEY = "edgekit:rateLimits.cloudflare.importRulesetId"


class CloudflareRateLimitArgsError(ArgsError):
    """A field of `CloudflareRateLimitArgs` is wrong; the message names it and what is accepted."""

    owner = "CloudflareRateLimitArgs"


@documented
@dataclass(frozen=True)
class CloudflareRateLimitArgs:
    """What a caller chooses about the zone's rate limit."""

    zone_id: str
    """The Cloudflare zone (32 hex characters) whose traffic is rate limited. Required."""

    expression: str = DEFAULT_EXPRESSION
    """Which requests count, in Cloudflare's Rules language (must not use cf.colo.id).
    Default: '(starts_with(http.request.uri.path, "/api/"))'."""

    requests_per_period: int = 100
    """Requests one client may send per period before it is blocked, 1..2_000_000_000.
    Default: 100."""

    default_requests_per_period: int | None = 300
    """Requests one client may send per period to anything `default_expression` matches,
    counted by a second rule after the first; from `requests_per_period` (the first rule
    stays the tighter one) to 2_000_000_000. Needs a plan with two rules (not free).
    None: no second rule. Default: 300."""

    default_expression: str = DEFAULT_RULE_EXPRESSION
    """Which requests the second rule counts, in the Rules language. Default: "true", every
    request on the zone: scope it to your Workers' hosts (`http.host in {...}`) when the
    zone serves other sites too."""

    period_seconds: int = 60
    """Counting period: 10, 60, 120, 300, 600 or 3600 seconds, up to what the plan
    allows (free 10, pro 60, business 600, enterprise 3600). Default: 60."""

    mitigation_timeout_seconds: int = 600
    """How long a client over the rate stays blocked: 10, 60, 120, 300, 600, 3600 or
    86400 seconds up to the plan's cap (free 10, pro 3600, others 86400); 0 (throttle
    only above the rate) on enterprise. Default: 600."""

    characteristics: Sequence[str] = (REQUIRED_CHARACTERISTIC, "ip.src")
    """What identifies one client: must include cf.colo.id (counters are per data
    center); ip.src and cf.unique_visitor_id exclude each other. Default:
    ("cf.colo.id", "ip.src")."""

    zone_plan: str = "pro"
    """The zone's plan, which bounds the period, the timeout and the characteristics:
    free, pro, business or enterprise. Default: pro."""

    response_status: int = 429
    """Status of the block response, 400..499. Default: 429."""

    response_content_type: str = "application/json"
    """Content type of the block response: application/json, text/html, text/xml or
    text/plain. Default: application/json."""

    response_body: str | None = None
    """Body of the block response, at most 30 KB. Default: None, which sends a JSON object
    with error "too_many_requests" and retry_after_seconds set to the mitigation timeout."""

    existing_ruleset_id: str | None = None
    """The id (32 hex characters) of the zone's existing `http_ratelimit` entry-point ruleset
    to adopt instead of creating one (Cloudflare allows one per zone and phase); its rules
    are replaced by this component's on the next `pulumi up`. Default: None (create it)."""


# --- validation: pure, runs before anything is declared ------------------------------------



_fail = CloudflareRateLimitArgsError


def _one_of(arg: str, value: Any, allowed: Sequence[int], cap: int, plan: str) -> int:
    usable = [choice for choice in allowed if choice <= cap]
    if not is_int(value) or value not in usable:
        raise _fail(
            arg,
            f"got {value!r} on the {plan} plan",
            ", ".join(str(choice) for choice in usable),
        )
    return value


def _expression(value: Any, arg: str = "expression") -> str:
    accepted = (
        "a non-empty Rules language expression of at most "
        f"{EXPRESSION_LIMIT} characters that does not use cf.colo.id"
    )
    if not isinstance(value, str) or not value.strip():
        raise _fail(arg, f"got {value!r}", accepted)
    text = value.strip()
    if len(text) > EXPRESSION_LIMIT:
        raise _fail(arg, f"{len(text)} characters", accepted)
    # cf.colo.id is a counting characteristic; Cloudflare refuses it inside expressions.
    if REQUIRED_CHARACTERISTIC in text:
        raise _fail(arg, "uses cf.colo.id", accepted)
    if text.count("(") != text.count(")"):
        raise _fail(arg, f"unbalanced parentheses in {text!r}", accepted)
    return text


def _default_rule(args: CloudflareRateLimitArgs, limits: PlanLimits, plan: str) -> int | None:
    """The second rule's limit: looser than the first, and only on a plan with two rules."""
    value = args.default_requests_per_period
    if value is None:
        return None
    low, high = args.requests_per_period, REQUESTS_PER_PERIOD_RANGE[1]
    if not is_int(value) or not low <= value <= high:
        raise _fail(
            "default_requests_per_period",
            f"got {value!r} with requests_per_period {low}",
            f"an integer from requests_per_period ({low}) to {high}, so the first rule stays "
            "the tighter one, or None for no second rule",
        )
    if limits.max_rules < 2:
        raise _fail(
            "default_requests_per_period",
            f"a second rule on the {plan} plan, which allows {limits.max_rules}",
            "None on the free plan (one rate limiting rule per zone), or a pro or higher plan",
        )
    return value


def _characteristics(value: Any, limits: PlanLimits, plan: str) -> tuple[str, ...]:
    accepted = f'a list including "{REQUIRED_CHARACTERISTIC}", e.g. ["cf.colo.id", "ip.src"]' + (
        f"; the {plan} plan allows {sorted(limits.characteristics)}"
        if limits.characteristics is not None
        else ""
    )
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _fail("characteristics", f"got {value!r}, not a list", accepted)
    names = tuple(dict.fromkeys(value))  # order kept, duplicates dropped
    if not all(isinstance(name, str) and name for name in names):
        raise _fail("characteristics", f"got {list(value)!r}", accepted)
    if REQUIRED_CHARACTERISTIC not in names:
        raise _fail("characteristics", f"{list(names)} lacks {REQUIRED_CHARACTERISTIC}", accepted)
    if set(names) >= INCOMPATIBLE_CHARACTERISTICS:
        raise _fail(
            "characteristics",
            "ip.src and cf.unique_visitor_id cannot be combined",
            accepted,
        )
    if limits.characteristics is not None:
        unavailable = [name for name in names if name not in limits.characteristics]
        if unavailable:
            raise _fail("characteristics", f"{unavailable} on the {plan} plan", accepted)
    return names


def default_response_body(mitigation_timeout_seconds: int) -> str:
    """The JSON a blocked client reads: what happened and when to retry."""
    return json.dumps(
        {
            "error": "too_many_requests",
            "message": "Rate limit exceeded for this client; retry later.",
            "retry_after_seconds": mitigation_timeout_seconds,
        },
        separators=(",", ":"),
    )


def validate_args(args: CloudflareRateLimitArgs) -> CloudflareRateLimitArgs:
    """Check every field of `args` and return the normalized settings, or raise naming the field."""
    check_cloudflare_id(_fail, "zone_id", args.zone_id)
    plan = args.zone_plan
    if plan not in PLAN_LIMITS:
        raise _fail("zone_plan", f"got {plan!r}", ", ".join(PLAN_LIMITS))
    limits = PLAN_LIMITS[plan]
    low, high = REQUESTS_PER_PERIOD_RANGE
    int_in(_fail, "requests_per_period", args.requests_per_period, low, high)
    default_requests = _default_rule(args, limits, plan)
    period = _one_of("period_seconds", args.period_seconds, PERIODS, limits.max_period, plan)
    allowed_timeouts = [t for t in MITIGATION_TIMEOUTS if t > 0 or limits.throttling]
    timeout = _one_of(
        "mitigation_timeout_seconds",
        args.mitigation_timeout_seconds,
        allowed_timeouts,
        limits.max_mitigation_timeout,
        plan,
    )
    low, high = RESPONSE_STATUS_RANGE
    if not is_int(args.response_status) or not low <= args.response_status <= high:
        raise _fail("response_status", f"got {args.response_status!r}", f"{low}..{high}")
    if args.response_content_type not in RESPONSE_CONTENT_TYPES:
        raise _fail(
            "response_content_type",
            f"got {args.response_content_type!r}",
            ", ".join(RESPONSE_CONTENT_TYPES),
        )
    body = args.response_body
    if body is None:
        body = default_response_body(timeout)
    if not isinstance(body, str) or len(body.encode()) > RESPONSE_CONTENT_LIMIT:
        raise _fail(
            "response_body",
            f"got {type(body).__name__} of {len(str(body).encode())} bytes",
            f"a string of at most {RESPONSE_CONTENT_LIMIT} bytes (30 KB)",
        )
    existing = args.existing_ruleset_id
    if existing is not None:
        check_cloudflare_id(
            _fail,
            "existing_ruleset_id",
            existing,
            accepted="the 32 hex character id of the zone's http_ratelimit entry-point ruleset "
            f"(GET {entrypoint_url(args.zone_id)} answers it as result.id)",
        )
    if args.response_content_type == "application/json":
        try:
            json.loads(body)
        except ValueError as error:
            raise _fail(
                "response_body", f"is not JSON ({error})", "a JSON text for application/json"
            ) from None
    return replace(
        args,
        zone_id=args.zone_id,
        expression=_expression(args.expression),
        requests_per_period=args.requests_per_period,
        default_requests_per_period=default_requests,
        default_expression=_expression(args.default_expression, "default_expression"),
        period_seconds=period,
        mitigation_timeout_seconds=timeout,
        characteristics=_characteristics(args.characteristics, limits, plan),
        response_status=args.response_status,
        response_content_type=args.response_content_type,
        response_body=body,
        existing_ruleset_id=existing,
    )


# --- pure decision the ruleset is built from ------------------------------------------------


def rate_limit_rule(
    settings: CloudflareRateLimitArgs,
    description: str,
    *,
    ref: str = RULE_REF,
    expression: str | None = None,
    requests_per_period: int | None = None,
) -> dict[str, Any]:
    """One rule of the phase: count, then block with the configured response."""
    return {
        "ref": ref,
        "description": description,
        "enabled": True,
        "expression": settings.expression if expression is None else expression,
        "action": "block",
        "action_parameters": {
            "response": {
                "status_code": settings.response_status,
                "content_type": settings.response_content_type,
                "content": settings.response_body,
            }
        },
        "ratelimit": {
            "characteristics": list(settings.characteristics),
            "period": settings.period_seconds,
            "requests_per_period": (
                settings.requests_per_period if requests_per_period is None else requests_per_period
            ),
            "mitigation_timeout": settings.mitigation_timeout_seconds,
        },
    }


def ruleset_rules(settings: CloudflareRateLimitArgs, name: str) -> list[dict[str, Any]]:
    """The tighter rule on `expression` first, then the looser one on `default_expression`."""

    def description(requests: int, scope: str) -> str:
        return (
            f"{name}: {requests} requests per {settings.period_seconds} s per client "
            f"({scope}), blocked {settings.mitigation_timeout_seconds} s"
        )

    rules = [rate_limit_rule(settings, description(settings.requests_per_period, "path rule"))]
    if settings.default_requests_per_period is not None:
        rules.append(
            rate_limit_rule(
                settings,
                description(settings.default_requests_per_period, "every path"),
                ref=DEFAULT_RULE_REF,
                expression=settings.default_expression,
                requests_per_period=settings.default_requests_per_period,
            )
        )
    return rules


def entrypoint_url(zone_id: str) -> str:
    """Cloudflare's API address of the zone's http_ratelimit entry-point ruleset."""
    return f"https://api.cloudflare.com/client/v4/zones/{zone_id}/rulesets/phases/{PHASE}/entrypoint"


def import_id(zone_id: str, ruleset_id: str) -> str:
    """The id Pulumi imports a zone ruleset by (pulumi-cloudflare Ruleset docs)."""
    return f"zones/{zone_id}/{ruleset_id}"


def adoption_steps(zone_id: str, resource_name: str) -> str:
    """What to do when the zone already has an http_ratelimit entry point."""
    return (
        f"zone {zone_id} already has an {PHASE} entry-point ruleset (one per zone and phase; "
        "rules made in the dashboard create it). Adopt it instead of creating one: "
        f'1. find its id: curl -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN" '
        f"{entrypoint_url(zone_id)}  (result.id; copy any rules you want to keep, edgekit "
        f"replaces them); 2. either set {IMPORT_CONFIG_KEY}: <id> in the stack file "
        "(CloudflareRateLimitArgs.existing_ruleset_id) and run pulumi up, or run once "
        f"`pulumi import cloudflare:index/ruleset:Ruleset {resource_name} "
        f"{import_id(zone_id, '<id>')} --parent <name>=<URN of the CloudflareRateLimit "
        "component>`. README: \"Rate limits on a zone that already has rules\"."
    )


def explain_failure(args: ErrorHookArgs, zone_id: str) -> bool:
    """Error hook of the ruleset: a refused second entry point gets the adoption steps."""
    if args.failed_operation == "create" and any(ENTRYPOINT_EXISTS in e for e in args.errors):
        pulumi.log.error(adoption_steps(zone_id, args.name))
    return False  # never retry: the zone will not change by itself


# --- the component ---------------------------------------------------------------------------


class CloudflareRateLimit(EdgeComponent):
    """The zone's `http_ratelimit` entry-point ruleset with one per-client rule."""

    TYPE_TOKEN = TYPE_TOKEN

    ruleset_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: CloudflareRateLimitArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = validate_args(args)
        super().__init__(name, opts)
        self._settings = settings

        self._create_ruleset()

        self.set_outputs(
            ruleset_id=self.ruleset.id,
        )

    def _create_ruleset(self) -> None:
        name, settings = self._name, self._settings
        self.ruleset = cloudflare.Ruleset(
            f"{name}-ruleset",
            zone_id=settings.zone_id,
            kind="zone",
            phase=PHASE,
            name=f"{name} rate limits",
            description="Managed by edgekit (CloudflareRateLimit)",
            rules=ruleset_rules(settings, name),
            opts=pulumi.ResourceOptions(
                parent=self,
                import_=(
                    import_id(settings.zone_id, settings.existing_ruleset_id)
                    if settings.existing_ruleset_id
                    else None
                ),
                hooks=self._entrypoint_hook(),
            ),
        )

    def _entrypoint_hook(self) -> ResourceHookBinding | None:
        # A Pulumi CLI without error hooks would refuse the whole program for one: there,
        # the README's troubleshooting entry is all the user gets.
        if not monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_ERROR_HOOKS):
            return None
        zone_id = self._settings.zone_id
        hook = ErrorHook(
            f"{self._name}-entrypoint-exists", lambda args: explain_failure(args, zone_id)
        )
        return ResourceHookBinding(on_error=[hook])
