"""The stack's config, read once at program start into typed, validated settings.

Every key lives in the `edgekit` namespace of `stacks/Pulumi.<stack>.yaml`; objects are
camelCase like the rest of Pulumi config. A missing or malformed key fails before any
resource is declared, with the key, the stack file, and what is accepted. Secrets (the
Cloudflare API token, the incident endpoint) are never plain config: the token is the
provider's own secret `cloudflare:apiToken`, the endpoint `edgekit:alarmEndpoint` is read
with `require_secret` and stays a Pulumi secret.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from edgekit_iac.errors import UserError

NAMESPACE = "edgekit"
SIZE_PATTERN = re.compile(r"^([1-9][0-9]{0,3})x([1-9][0-9]{0,3})$")
MAX_SIDE = 4096
SHA256_PATTERN = r"^[0-9a-f]{64}$"
SEMVER_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$"
ACM_ARN_PATTERN = r"^arn:aws:acm:us-east-1:\d{12}:certificate/"
DEFAULT_SIZES = ("150x150", "300x200", "400x300", "800x600", "1200x800", "1920x1080")


class ConfigError(UserError):
    """A stack config key is missing or malformed."""


class _Section(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class CacheTtls(_Section):
    min: Annotated[int, Field(ge=0)] = 0
    default: Annotated[int, Field(ge=0)] = 86_400
    max: Annotated[int, Field(ge=0, le=31_536_000)] = 31_536_000

    @model_validator(mode="after")
    def _ordered(self) -> CacheTtls:
        if not self.min <= self.default <= self.max:
            raise ValueError("needs min <= default <= max")
        return self


def _valid_size(size: str) -> bool:
    match = SIZE_PATTERN.match(size)
    return bool(match) and all(int(side) <= MAX_SIDE for side in match.groups())


class ImagesSettings(_Section):
    """The image resizer: CloudFront + Lambda@Edge over a private originals bucket."""

    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_100"
    aliases: list[str] = []
    certificate_arn: Annotated[str, Field(pattern=ACM_ARN_PATTERN)] | None = None
    allowed_sizes: list[str] = list(DEFAULT_SIZES)
    quality: Annotated[int, Field(ge=1, le=100)] = 80
    max_pixels: Annotated[int, Field(ge=1_000_000, le=200_000_000)] = 50_000_000
    memory_mb: Annotated[int, Field(ge=128, le=10_240)] = 1536
    timeout_seconds: Annotated[int, Field(ge=1, le=30)] = 30
    cache_ttl: CacheTtls = CacheTtls()
    force_destroy_bucket: bool = False

    @field_validator("allowed_sizes")
    @classmethod
    def _sizes(cls, sizes: list[str]) -> list[str]:
        bad = [s for s in sizes if not _valid_size(s)]
        if bad or not sizes:
            raise ValueError(
                f"sizes are WIDTHxHEIGHT with 1..{MAX_SIDE} each, e.g. '400x300'; "
                f"got {bad or sizes}"
            )
        return sizes



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


class OriginDns(_Section):
    name: str
    content: str
    type: Literal["A", "AAAA", "CNAME"] = "CNAME"


class CacheWrapperSettings(_Section):
    script_name: str = "edge-cache"
    origin_url: str
    route: WorkerRoute
    default_ttl: Annotated[int, Field(ge=0)] = 0
    max_ttl: Annotated[int, Field(ge=0)] = 86_400
    stale_if_error: Annotated[int, Field(ge=0)] = 300
    origin_timeout_ms: Annotated[int, Field(ge=100, le=60_000)] = 5000
    # None keeps the Worker's own defaults (cache_policy.py), so the two cannot drift apart.
    cacheable_statuses: list[Annotated[int, Field(ge=200, le=599)]] | None = None
    session_cookies: list[str] | None = None
    api_key_headers: list[str] | None = None
    forward_headers: list[str] | None = None
    tracking_params: list[str] | None = None
    origin_dns: OriginDns | None = None


class HelloGeoSettings(_Section):
    script_name: str = "hello-geo"
    route: WorkerRoute
    message: str = "Hello from the edge"


class CloudflareSettings(_Section):
    account_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    zone_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    compatibility_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] = "2026-11-01"
    # The zone's Cloudflare plan: it bounds rate-limit periods and timeouts. Required
    # with rateLimits.cloudflare enabled (checked against the plan before declaring).
    zone_plan: Literal["free", "pro", "business", "enterprise"] | None = None
    cache_wrapper: CacheWrapperSettings
    hello_geo: HelloGeoSettings


class WafSettings(_Section):
    enabled: bool = True
    limit: Annotated[int, Field(ge=10, le=2_000_000_000)] = 2000
    window_seconds: Literal[60, 120, 300, 600] = 300
    path_prefix: str | None = "/images/"
    managed_rules: bool = True


class CloudflareRateSettings(_Section):
    enabled: bool = True
    requests_per_period: Annotated[int, Field(ge=1)] = 100
    period_seconds: Literal[10, 60, 120, 300, 600, 3600] = 60
    mitigation_timeout_seconds: Annotated[int, Field(ge=0, le=86_400)] = 600
    expression: str = '(starts_with(http.request.uri.path, "/api/"))'
    # The id of the zone's existing http_ratelimit entry-point ruleset, to adopt it (import).
    import_ruleset_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None


class RateLimitSettings(_Section):
    waf: WafSettings = WafSettings(enabled=False)
    cloudflare: CloudflareRateSettings = CloudflareRateSettings(enabled=False)


class RealtimeLogSettings(_Section):
    enabled: bool = True
    sampling_rate: Annotated[int, Field(ge=1, le=100)] = 100
    shard_count: Annotated[int, Field(ge=1)] | None = None


class LogpushSettings(_Section):
    enabled: bool = True
    prefix: str = "cloudflare/workers"


class LoggingSettings(_Section):
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 14
    realtime: RealtimeLogSettings = RealtimeLogSettings(enabled=False)
    logpush: LogpushSettings = LogpushSettings(enabled=False)


class AlarmSettings(_Section):
    enabled: bool = True
    # p95 of cache misses, i.e. of resizes: a healthy expensive miss takes about a second
    # (components/alarms.py DEFAULT_ORIGIN_LATENCY_P95_MS has the measured costs).
    origin_latency_p95_ms: Annotated[int, Field(ge=1)] = 1500
    error_rate_percent: Annotated[float, Field(gt=0, le=100)] = 5.0
    paging: bool = False


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


def _stack_file() -> str:
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
    return parse_settings(_namespace_values(), _stack_file())


def alarm_endpoint() -> pulumi.Output[str] | None:
    """The incident tool's HTTPS endpoint, kept a secret, or None when not configured."""
    return pulumi.Config(NAMESPACE).get_secret("alarmEndpoint")


def refuse(key: str, problem: str) -> ConfigError:
    """The error for a stack key the program cannot use: the stack file, the key, why."""
    return ConfigError(f"{_stack_file()}: {NAMESPACE}:{key}: {problem}")


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
            f"{_stack_file()}: {NAMESPACE}:alarms.paging is true but the secret "
            f"{NAMESPACE}:alarmEndpoint is not set, so the alarms would page nobody. Set it "
            f"with `pulumi config set --secret {NAMESPACE}:alarmEndpoint "
            f"https://<incident tool's SNS endpoint> --stack {stack}`, or set "
            f"{NAMESPACE}:alarms.paging to false until you have one."
        )
    return endpoint
