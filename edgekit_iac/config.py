"""The stack's config, read once at program start into typed, validated settings.

Every key lives in the `edgekit` namespace of `stacks/Pulumi.<stack>.yaml`; objects are
camelCase like the rest of Pulumi config. A missing or malformed key fails before any
resource is declared, with the key, the stack file, and what is accepted. Secrets (the
Cloudflare API token, the incident endpoint) are never plain config: the token is the
provider's own secret `cloudflare:apiToken`, the endpoint `edgekit:alarmEndpoint` is read
with `require_secret` and stays a Pulumi secret.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic.alias_generators import to_camel

from edgekit_iac.components.alarms import EdgeAlarmsArgs
from edgekit_iac.components.cached_worker import CachedWorkerArgs, OriginDnsRecord
from edgekit_iac.components.canary import CloudFrontCanaryArgs, WorkerCanaryArgs
from edgekit_iac.components.cloudflare_rate_limit import CloudflareRateLimitArgs
from edgekit_iac.components.image_resizer import EdgeImageResizerArgs
from edgekit_iac.components.log_pipeline import EdgeLogPipelineArgs
from edgekit_iac.components.logpush import CloudflareLogpushArgs
from edgekit_iac.components.rate_limit import EdgeRateLimitArgs
from edgekit_iac.errors import UserError
from edgekit_iac.flag_types import FLAG_NAME, FlagError, FlagSpec
from edgekit_iac.functions.image_resizer import contract

NAMESPACE = "edgekit"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
SEMVER_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$"
ACM_ARN_PATTERN = r"^arn:aws:acm:us-east-1:\d{12}:certificate/"
DEFAULT_SIZES = tuple(contract.format_size(size) for size in contract.DEFAULT_SIZES)


class ConfigError(UserError):
    """A stack config key is missing or malformed."""


class _Section(BaseModel):
    # Strict: `quality: true` or `limit: "100"` is an error, not 1 or 100. (A stack file's
    # numbers arrive as JSON numbers, so strict costs nothing for well-formed values.)
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, strict=True
    )


def args_section(
    name: str,
    args_class: type,
    fields: Sequence[str],
    *,
    defaults: Mapping[str, Any] | None = None,
    **extra: Any,
) -> type[_Section]:
    """A config section made of `fields` of a component's Args: declared once, there.

    Each key is the field's camelCase name, with the field's type (a `pulumi.Input[str]` is a
    plain string in a stack file) and default (unless this program's `defaults` differ), and
    its documentation is the field's (`help(args_class)`). What a value may be beyond its
    type is the component's own check, which edgekit_iac.stack_args runs on the config's
    values before anything is declared. `extra` adds section-only keys, as pydantic field
    definitions (`enabled=(bool, True)`).
    """
    declared = {field.name: field for field in dataclasses.fields(args_class)}
    definitions: dict[str, Any] = {}
    for field_name in fields:
        field = declared[field_name]
        if defaults and field_name in defaults:
            default = defaults[field_name]
        elif field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = ...
        definitions[field_name] = (_plain_type(args_class, field.type), default)
    section = create_model(name, __base__=_Section, **definitions, **extra)
    section.__doc__ = f"Keys of {args_class.__name__} (see help({args_class.__name__}))."
    return section


def _plain_type(args_class: type, annotation: Any) -> Any:
    """A field's type as a stack file holds it: `pulumi.Input[T]` (T, or another
    resource's Output) is just T there."""
    if not isinstance(annotation, str):
        return annotation
    plain = re.sub(r"pulumi\.Input\[(\w+)\]", r"\1", annotation)
    return eval(plain, vars(sys.modules[args_class.__module__]))  # noqa: S307 - our own source


CloudFrontCanarySettings = args_section(
    "CloudFrontCanarySettings",
    CloudFrontCanaryArgs,
    ("weight_percent", "by_header", "idle_ttl", "maximum_ttl", "stable_version"),
)

WorkerCanarySettings = args_section(
    "WorkerCanarySettings", WorkerCanaryArgs, ("stable_version_id", "percent")
)

ImagesSettings = args_section(
    "ImagesSettings",
    EdgeImageResizerArgs,
    (
        "price_class",
        "aliases",
        "certificate_arn",
        "allowed_sizes",
        "quality",
        "max_pixels",
        "memory_mb",
        "timeout_seconds",
        "min_ttl",
        "default_ttl",
        "max_ttl",
        "force_destroy_bucket",
    ),
    # Continuous deployment (components/canary.py): `edgekit canary` drives it.
    canary=(CloudFrontCanarySettings | None, None),
)


class WorkerRoute(_Section):
    """Where a Worker answers: a route pattern on the zone, or a custom domain."""

    pattern: str | None = None
    custom_domain: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> WorkerRoute:
        if (self.pattern is None) == (self.custom_domain is None):
            raise ValueError(
                "give exactly one of pattern (e.g. 'api.example.com/*') or customDomain"
            )
        return self


OriginDns = args_section("OriginDns", OriginDnsRecord, ("name", "content", "type"))


CacheWrapperSettings = args_section(
    "CacheWrapperSettings",
    CachedWorkerArgs,
    (
        "origin_url",
        "default_ttl",
        "max_ttl",
        "stale_if_error",
        "origin_timeout_ms",
        "cacheable_statuses",
        "session_cookies",
        "api_key_headers",
        "forward_headers",
        "tracking_params",
    ),
    script_name=(str, "edge-cache"),
    route=(WorkerRoute, ...),
    # A gradual deployment of the candidate version (components/canary.py).
    canary=(WorkerCanarySettings | None, None),
    origin_dns=(OriginDns | None, None),
)


class HelloGeoSettings(_Section):
    script_name: str = "hello-geo"
    route: WorkerRoute
    message: str = "Hello from the edge"


class EdgeCounterSettings(_Section):
    """The named-counter Worker (functions/edge_counter) and its Durable Object class."""

    script_name: str = "edge-counter"
    route: WorkerRoute
    # The last Durable Object migration tag already applied in this stack (None: first deploy).
    applied_migration_tag: str | None = None


class CloudflareSettings(_Section):
    account_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    zone_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    compatibility_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] = "2026-11-01"
    # The zone's Cloudflare plan: it bounds rate-limit periods and timeouts. Required
    # with rateLimits.cloudflare enabled (checked against the plan before declaring).
    zone_plan: Literal["free", "pro", "business", "enterprise"] | None = None
    cache_wrapper: CacheWrapperSettings
    hello_geo: HelloGeoSettings
    edge_counter: EdgeCounterSettings | None = None


WafSettings = args_section(
    "WafSettings",
    EdgeRateLimitArgs,
    ("limit", "window_seconds", "path_prefix", "default_limit", "managed_rules"),
    # This program's web ACL guards the image resizer: count its paths by default.
    defaults={"path_prefix": "/images/"},
    enabled=(bool, True),
)

CloudflareRateSettings = args_section(
    "CloudflareRateSettings",
    CloudflareRateLimitArgs,
    (
        "requests_per_period",
        "period_seconds",
        "mitigation_timeout_seconds",
        "expression",
        "default_requests_per_period",
    ),
    enabled=(bool, True),
    # The id of the zone's existing http_ratelimit entry-point ruleset, to adopt it (import).
    import_ruleset_id=(Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None, None),
)


class RateLimitSettings(_Section):
    waf: WafSettings = WafSettings(enabled=False)
    cloudflare: CloudflareRateSettings = CloudflareRateSettings(enabled=False)


RealtimeLogSettings = args_section(
    "RealtimeLogSettings",
    EdgeLogPipelineArgs,
    ("sampling_rate", "shard_count"),
    enabled=(bool, True),
)


LogpushSettings = args_section(
    "LogpushSettings", CloudflareLogpushArgs, ("prefix",), enabled=(bool, True)
)

LoggingSettings = args_section(
    "LoggingSettings",
    EdgeLogPipelineArgs,
    ("retention_days",),
    realtime=(RealtimeLogSettings, RealtimeLogSettings(enabled=False)),
    logpush=(LogpushSettings, LogpushSettings(enabled=False)),
)

AlarmSettings = args_section(
    "AlarmSettings",
    EdgeAlarmsArgs,
    ("origin_latency_p95_ms", "error_rate_percent"),
    enabled=(bool, True),
    paging=(bool, False),
)


class ArtifactPin(_Section):
    version: Annotated[str, Field(pattern=SEMVER_PATTERN)]
    sha256: Annotated[str, Field(pattern=SHA256_PATTERN)]


class DnsSettings(_Section):
    """Where the records for the served names go (see components/domains.py)."""

    provider: Literal["route53", "cloudflare", "external"]
    # The Route 53 hosted zone of the image aliases (provider route53).
    route53_zone_id: Annotated[str, Field(pattern=r"^Z[A-Z0-9]{1,31}$")] | None = None

    @model_validator(mode="after")
    def _zone_for_route53(self) -> DnsSettings:
        if self.provider == "route53" and self.route53_zone_id is None:
            raise ValueError("provider route53 needs route53ZoneId (the hosted zone's id)")
        return self


class FlagSettings(_Section):
    """One feature flag (edgekit_iac.flag_types): its type and the default the program seeds.
    `stickyBy` (percentage flags only): ip, header:<name> or cookie:<name>."""

    type: Literal["bool", "number", "string", "percentage"]
    default: bool | int | float | str
    sticky_by: str | None = None

    @model_validator(mode="after")
    def _typed_default(self) -> FlagSettings:
        try:
            FlagSpec("flag", self.type, self.default, self.sticky_by)
        except FlagError as error:
            raise ValueError(str(error).replace("flag flag", "the flag")) from None
        return self


class StackSettings(_Section):
    """Everything under the `edgekit:` namespace of one stack file."""

    environment: Literal["local", "staging", "prod"]
    images: ImagesSettings = ImagesSettings()
    cloudflare: CloudflareSettings | None = None
    rate_limits: RateLimitSettings = RateLimitSettings()
    logging: LoggingSettings = LoggingSettings()
    alarms: AlarmSettings = AlarmSettings(enabled=False)
    artifacts: dict[str, ArtifactPin] = {}
    # Optional DNS management: "external" (print the records), or where to create them.
    # Without it, no records and no certificate are managed.
    dns: Literal["external"] | DnsSettings | None = None
    # Protect what holds data (buckets, KMS keys): Pulumi protect + retain_on_delete.
    # None means "in prod only"; prod's policy pack refuses it off.
    protect_data: bool | None = None
    # Feature flags read at the edge (components/edge_flags.py), name -> type and default.
    flags: dict[str, FlagSettings] = {}

    @model_validator(mode="after")
    def _flag_names(self) -> StackSettings:
        bad = [name for name in self.flags if not FLAG_NAME.match(name)]
        if bad:
            raise ValueError(
                f"flags: bad flag name(s) {bad}; accepted: a lowercase letter, then lowercase "
                "letters, digits or '_', at most 64 characters"
            )
        return self

    @property
    def flag_specs(self) -> dict[str, FlagSpec]:
        return {
            name: FlagSpec(name, flag.type, flag.default, flag.sticky_by)
            for name, flag in self.flags.items()
        }

    @model_validator(mode="after")
    def _certificate_with_aliases(self) -> StackSettings:
        if self.images.aliases and not self.images.certificate_arn and self.dns is None:
            raise ValueError(
                "images.aliases need images.certificateArn (an ACM certificate in us-east-1), "
                "or edgekit:dns so that edgekit requests and validates one"
            )
        return self

    @property
    def dns_provider(self) -> str | None:
        return self.dns if isinstance(self.dns, str) else (self.dns.provider if self.dns else None)

    @property
    def protects_data(self) -> bool:
        if self.protect_data is None:
            return self.environment == "prod"
        return self.protect_data


SECRET_KEYS = {"alarmEndpoint"}
_KNOWN_KEYS = {field.alias or name for name, field in StackSettings.model_fields.items()}


def stack_file() -> str:
    return f"stacks/Pulumi.{pulumi.get_stack()}.yaml"


def _namespace_values() -> dict[str, Any]:
    """Every `edgekit:*` value the runtime was given, JSON objects decoded."""
    from pulumi.runtime import config as runtime_config

    values: dict[str, Any] = {}
    all_config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    for full_key, raw in all_config.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE or key in SECRET_KEYS:
            continue
        try:
            values[key] = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            values[key] = raw
    return values


def parse_settings(values: dict[str, Any], stack_file: str) -> StackSettings:
    """Validate the namespace's values; errors name the key, the file and what is accepted."""
    unknown = sorted(set(values) - _KNOWN_KEYS - SECRET_KEYS)
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(_KNOWN_KEYS), n=1)
            hint = f" (did you mean {NAMESPACE}:{close[0]}?)" if close else ""
            hints.append(f"{NAMESPACE}:{key}{hint}")
        raise ConfigError(
            f"{stack_file}: unknown config key {', '.join(hints)}; "
            f"accepted: {', '.join(f'{NAMESPACE}:{k}' for k in sorted(_KNOWN_KEYS | SECRET_KEYS))}"
        )
    try:
        return StackSettings.model_validate(values)
    except ValidationError as error:
        raise ConfigError(_describe(error, stack_file)) from None


def _describe(error: ValidationError, stack_file: str) -> str:
    lines = [f"{stack_file}: {error.error_count()} config problem(s):"]
    for problem in error.errors():
        # A rule across sections (a stack-level validator) has no location of its own.
        location = [str(part) for part in problem["loc"]] or ["*"]
        key = f"{NAMESPACE}:{location[0]}" + "".join(
            f"[{part}]" if part.isdigit() else f".{part}" for part in location[1:]
        )
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        elif problem["type"] == "extra_forbidden":
            accepted = _accepted_keys(problem["loc"][:-1])
            close = difflib.get_close_matches(location[-1], accepted, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            lines.append(f"  {key}: unknown key{hint}; accepted here: {', '.join(accepted)}")
        else:
            lines.append(f"  {key}: {message} (got {problem.get('input')!r})")
    return "\n".join(lines)


def _accepted_keys(location: tuple[Any, ...]) -> list[str]:
    """The camelCase keys the section at `location` accepts."""
    model: Any = StackSettings
    for part in location:
        # Locations name fields by their camelCase alias; a dict key (an artifact's name)
        # matches no field and keeps the section its values are.
        if isinstance(model, type) and issubclass(model, BaseModel):
            by_alias = {field.alias or name: field for name, field in model.model_fields.items()}
            if part in by_alias:
                model = _section_type(by_alias[part].annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(field.alias or name for name, field in model.model_fields.items())
    return []


def _section_type(annotation: Any) -> Any:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return annotation


def load_settings() -> StackSettings:
    """The current stack's settings, from the config the Pulumi runtime was given."""
    return parse_settings(_namespace_values(), stack_file())


def alarm_endpoint() -> pulumi.Output[str] | None:
    """The incident tool's HTTPS endpoint, kept a secret, or None when not configured."""
    return pulumi.Config(NAMESPACE).get_secret("alarmEndpoint")


def refuse(key: str, problem: str) -> ConfigError:
    """The error for a stack key the program cannot use: the stack file, the key, why."""
    return ConfigError(f"{stack_file()}: {NAMESPACE}:{key}: {problem}")


def paging_endpoint(settings: StackSettings) -> pulumi.Output[str] | None:
    """The endpoint alarms page when `alarms.paging` is on, else None.

    Paging on without the secret is refused here, before the program declares anything:
    alarms that notify only their SNS topics would page nobody, and a warning is lost in a
    deploy log.
    """
    if not (settings.alarms.enabled and settings.alarms.paging):
        return None
    endpoint = alarm_endpoint()
    if endpoint is None:
        stack = pulumi.get_stack()
        raise ConfigError(
            f"{stack_file()}: {NAMESPACE}:alarms.paging is true but the secret "
            f"{NAMESPACE}:alarmEndpoint is not set, so the alarms would page nobody. Set it "
            f"with `pulumi config set --secret {NAMESPACE}:alarmEndpoint "
            f"https://<incident tool's SNS endpoint> --stack {stack}`, or set "
            f"{NAMESPACE}:alarms.paging to false until you have one."
        )
    return endpoint
