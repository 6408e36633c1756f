"""The stack's config, read once at program start into typed, validated settings.

Every key lives in the `edgekit` namespace of `stacks/Pulumi.<stack>.yaml`; objects are
camelCase like the rest of Pulumi config. A missing or malformed key fails before any
resource is declared, with the key, the stack file, and what is accepted. Secrets (the
Cloudflare API token, the incident endpoint) are never plain config: the token is the
provider's own secret `cloudflare:apiToken`, the endpoint `edgekit:alarmEndpoint` is read
with `require_secret` and stays a Pulumi secret.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import functools
import json
import operator
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PydanticSchemaGenerationError,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic.alias_generators import to_camel

from edgekit_iac.components._args import field_types
from edgekit_iac.components.alarms import EdgeAlarmsArgs
from edgekit_iac.components.auth_worker import AuthWorkerArgs
from edgekit_iac.components.cached_worker import CachedWorkerArgs, OriginDnsRecord
from edgekit_iac.components.cloudflare_rate_limit import PLAN_LIMITS, CloudflareRateLimitArgs
from edgekit_iac.components.dashboard import EdgeDashboardArgs
from edgekit_iac.components.domains import DnsTarget
from edgekit_iac.components.image_resizer import EdgeImageResizerArgs
from edgekit_iac.components.log_pipeline import EdgeLogPipelineArgs
from edgekit_iac.components.log_search import OpenSearchArgs
from edgekit_iac.components.logpush import CloudflareLogpushArgs
from edgekit_iac.components.rate_limit import EdgeRateLimitArgs
from edgekit_iac.components.worker import DEFAULT_COMPATIBILITY_DATE, EdgeWorkerArgs
from edgekit_iac.errors import UserError
from edgekit_iac.flag_types import FLAG_NAME, FlagError, FlagSpec

NAMESPACE = "edgekit"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
SEMVER_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$"


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
    *,
    exclude: Iterable[str] = (),
    only: Iterable[str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    **extra: Any,
) -> type[_Section]:
    """A config section made of a component's Args fields: declared once, there.

    Every field of `args_class` is a key, except those in `exclude`: what this program
    fills itself (another component's output, a live Python object, a secret, a value
    shared by several components and kept at a higher level). So a field added to the Args
    is a stack config key at once, typed and checked. (`only` instead names the few fields
    a section shares out of a larger Args.) Each key is the field's camelCase name, with
    the field's type (a `pulumi.Input[str]` is a plain string in a stack file) and default
    (unless this program's `defaults` differ); its documentation is the field's
    (`help(args_class)`). What a value may be beyond its type is the component's own check,
    which edgekit_iac.stack_args runs on the config's values before anything is declared.
    `extra` adds program-level keys, as pydantic field definitions (`enabled=(bool, True)`).
    """
    declared = {field.name: field for field in dataclasses.fields(args_class)}
    types = field_types(args_class)
    skipped = set(exclude)
    unknown = skipped - set(declared) | set(only or ()) - set(declared)
    if unknown:
        raise TypeError(f"{name}: {args_class.__name__} has no fields {sorted(unknown)}")
    names = list(only) if only is not None else [n for n in declared if n not in skipped]
    definitions: dict[str, Any] = {}
    for field_name in names:
        field = declared[field_name]
        if defaults and field_name in defaults:
            default = defaults[field_name]
        elif field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = ...
        definitions[field_name] = (_stack_type(types[field_name], f"{name}.{field_name}"), default)
    try:
        section = create_model(name, __base__=_Section, **definitions, **extra)
    except PydanticSchemaGenerationError as error:
        raise TypeError(
            f"{name}: a field of {args_class.__name__} has a type no stack file can hold "
            f"({error}); if the program sets it, list it in exclude="
        ) from None
    section.__doc__ = f"Keys of {args_class.__name__} (see help({args_class.__name__}))."
    SECTION_ARGS[section] = args_class
    return section


# Each derived section and the Args class its values build (see `args_value`).
SECTION_ARGS: dict[type, type] = {}


@functools.cache
def _nested_section(args_class: type) -> type[_Section]:
    """A dataclass-typed field (a DNS record, a migration) is a nested object in the stack
    file, made of that dataclass's fields in the same way."""
    return args_section(args_class.__name__, args_class)


def args_value(value: Any) -> Any:
    """A section's value as its Args field wants it: a nested section becomes its dataclass
    again (and so in lists and mappings); other values pass as they are."""
    args_class = SECTION_ARGS.get(type(value))
    if args_class is not None:
        names = {field.name for field in dataclasses.fields(args_class)}
        return args_class(**{name: args_value(item) for name, item in value if name in names})
    if isinstance(value, list | tuple):
        # Frozen Args hold sequences as tuples (a stack file's arrays arrive as lists).
        return tuple(args_value(item) for item in value)
    if isinstance(value, dict):
        return {key: args_value(item) for key, item in value.items()}
    return value


def _stack_type(annotation: Any, where: str) -> Any:
    """A field's type as a stack file holds it. `pulumi.Input[T]` is T there: its Awaitable
    and Output members come from other resources, never from a stack file."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [
            _stack_type(member, where)
            for member in typing.get_args(annotation)
            if not _from_another_resource(member)
        ]
        if all(member is type(None) for member in members):
            raise TypeError(
                f"{where}: {annotation} can only come from another resource; if the program "
                "sets it, list it in exclude="
            )
        return functools.reduce(operator.or_, members)
    if _from_another_resource(annotation):
        raise TypeError(f"{where}: {annotation} can only come from another resource")
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return _nested_section(annotation)
    arguments = typing.get_args(annotation)
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        # A stack file's lists are JSON arrays; strict validation takes no list as a tuple.
        return collections.abc.Sequence[_stack_type(arguments[0], where)]
    if origin in _CONTAINERS and arguments:
        return origin[tuple(_stack_type(argument, where) for argument in arguments)]
    return annotation


_CONTAINERS = (collections.abc.Sequence, collections.abc.Mapping, list, tuple, dict)


def _from_another_resource(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    return origin in (pulumi.Output, collections.abc.Awaitable)


# Fields the program itself fills, per component; every other Args field is a stack key.
_RESIZER_WIRED = (
    "artifact",  # the pinned or built bundle (edgekit:artifacts)
    "web_acl_arn",  # from EdgeRateLimit (edgekit:rateLimits.waf)
    "realtime_log_config_arn",  # from EdgeLogPipeline (edgekit:logging.realtime)
    "protect_data",  # edgekit:protectData, for every component that holds data
    "format_key_value_store_arn",  # from EdgeFlags (edgekit:flags), when flags are declared
    "auto_format_flag_default",  # edgekit:flags.auto_format.default
)
# Where and how each Worker is deployed: the account, zone and compatibility date are the
# stack's (edgekit:cloudflare), the routing is the section's `route`, the bundle comes from
# edgekit:artifacts, logpush follows edgekit:logging.logpush, and secrets are never plain
# stack config.
_WORKER_WIRED = (
    "account_id",
    "zone_id",
    "compatibility_date",
    "route_pattern",
    "custom_domain",
    "artifact",
    "logpush",
    "secret_bindings",
    "kv_namespaces",  # the FLAGS binding, from EdgeFlags (edgekit:flags), when flags are declared
)
# `edgekit canary` drives the cache wrapper's gradual deployment (its `canary` section, see
# components/canary.py); the other Workers deploy at 100 % (and Durable Object migrations
# cannot ride a gradual deployment).
_NO_CANARY = ("canary",)
# What an EdgeWorker runs is this program's choice (the function, its bindings, its
# Durable Object classes and their migration history), not a stack's.
_FUNCTION_WIRED = ("function", "plain_text_bindings", "durable_objects", "migrations")

ImagesSettings = args_section("ImagesSettings", EdgeImageResizerArgs, exclude=_RESIZER_WIRED)


class WorkerRoute(_Section):
    """Where a Worker answers: a route pattern on the zone, or a custom domain.

    Program-level: every Worker of this program is routed (the component also allows
    neither); the values are checked as the component's route_pattern / custom_domain.
    """

    pattern: str | None = None
    custom_domain: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> WorkerRoute:
        if (self.pattern is None) == (self.custom_domain is None):
            raise ValueError(
                "give exactly one of pattern (e.g. 'api.example.com/*') or customDomain"
            )
        return self


OriginDns = _nested_section(OriginDnsRecord)


CacheWrapperSettings = args_section(
    "CacheWrapperSettings",
    CachedWorkerArgs,
    exclude=_WORKER_WIRED,
    defaults={"script_name": "edge-cache"},
    route=(WorkerRoute, ...),
)

HelloGeoSettings = args_section(
    "HelloGeoSettings",
    EdgeWorkerArgs,
    exclude=(*_WORKER_WIRED, *_FUNCTION_WIRED, *_NO_CANARY, "applied_migration_tag"),
    defaults={"script_name": "hello-geo"},
    route=(WorkerRoute, ...),
    # Program-level: the geo function's MESSAGE binding (functions/hello_geo).
    message=(str, "Hello from the edge"),
)

# The named-counter Worker (functions/edge_counter) and its Durable Object class;
# appliedMigrationTag is how far this stack's migrations got.
EdgeCounterSettings = args_section(
    "EdgeCounterSettings",
    EdgeWorkerArgs,
    exclude=(*_WORKER_WIRED, *_FUNCTION_WIRED, *_NO_CANARY),
    defaults={"script_name": "edge-counter"},
    route=(WorkerRoute, ...),
)


EdgeAuthSettings = args_section(
    "EdgeAuthSettings",
    AuthWorkerArgs,
    exclude=(*_WORKER_WIRED, *_NO_CANARY),
    defaults={"script_name": "edge-auth"},
    route=(WorkerRoute, ...),
)


class CloudflareSettings(_Section):
    """Program-level: what every Cloudflare component of the stack shares (each checks the
    values as its own account_id, zone_id, compatibility_date and zone_plan)."""

    account_id: str
    zone_id: str
    compatibility_date: str = DEFAULT_COMPATIBILITY_DATE
    # The zone's Cloudflare plan: it bounds rate-limit periods and timeouts. Required
    # with rateLimits.cloudflare enabled (checked against the plan before declaring).
    zone_plan: Literal[tuple(PLAN_LIMITS)] | None = None  # type: ignore[valid-type]
    cache_wrapper: CacheWrapperSettings
    hello_geo: HelloGeoSettings
    edge_counter: EdgeCounterSettings | None = None
    # The JWT auth Worker in front of the origin's API (functions/edge_auth).
    edge_auth: EdgeAuthSettings | None = None


WafSettings = args_section(
    "WafSettings",
    EdgeRateLimitArgs,
    # This program's web ACL guards the image resizer: count its paths by default.
    defaults={"path_prefix": "/images/"},
    enabled=(bool, True),
)

CloudflareRateSettings = args_section(
    "CloudflareRateSettings",
    CloudflareRateLimitArgs,
    # The zone and its plan are edgekit:cloudflare's; the rule over every path is scoped to
    # the Workers' hosts; the ruleset to adopt is importRulesetId below.
    exclude=("zone_id", "zone_plan", "default_expression", "existing_ruleset_id"),
    enabled=(bool, True),
    # The id of the zone's existing http_ratelimit entry-point ruleset, to adopt it (import);
    # checked as CloudflareRateLimitArgs.existing_ruleset_id.
    import_ruleset_id=(str | None, None),
)


class RateLimitSettings(_Section):
    waf: WafSettings = WafSettings(enabled=False)
    cloudflare: CloudflareRateSettings = CloudflareRateSettings(enabled=False)


RealtimeLogSettings = args_section(
    "RealtimeLogSettings",
    EdgeLogPipelineArgs,
    # retentionDays is logging's (the bucket keeps Logpush's files too); force_destroy
    # follows images.forceDestroyBucket; the bucket policy is Logpush's when it is on; the
    # search copy is logging.opensearch; the transform is a pinned artifact.
    exclude=(
        "retention_days",
        "force_destroy",
        "protect_data",
        "external_bucket_policy",
        "search",
        "transform_artifact",
    ),
    enabled=(bool, True),
)

LogpushSettings = args_section(
    "LogpushSettings",
    CloudflareLogpushArgs,
    # The account is edgekit:cloudflare's, the bucket the log pipeline's, the scripts
    # this stack's Workers.
    exclude=("account_id", "bucket_name", "bucket_region", "script_names"),
    enabled=(bool, True),
)

# The real-time logs' searchable copy (components/log_search.py): off unless enabled.
OpenSearchSettings = args_section("OpenSearchSettings", OpenSearchArgs, enabled=(bool, True))

LoggingSettings = args_section(
    "LoggingSettings",
    EdgeLogPipelineArgs,
    only=("retention_days",),
    realtime=(RealtimeLogSettings, RealtimeLogSettings(enabled=False)),
    logpush=(LogpushSettings, LogpushSettings(enabled=False)),
    opensearch=(OpenSearchSettings, OpenSearchSettings(enabled=False)),
)

AlarmSettings = args_section(
    "AlarmSettings",
    EdgeAlarmsArgs,
    # What is watched comes from the resizer; the endpoint is the secret
    # edgekit:alarmEndpoint, used only with `paging` (program-level) on.
    exclude=("distribution_id", "function_name", "alarm_endpoint", "protect_data"),
    enabled=(bool, True),
    paging=(bool, False),
)

DashboardSettings = args_section(
    "DashboardSettings",
    EdgeDashboardArgs,
    # What is drawn comes from the resizer, the alarms and the WAF; the regions follow
    # images.priceClass; CloudWatch dashboards take no tags.
    exclude=(
        "distribution_id",
        "function_name",
        "alarms",
        "web_acl_metric_names",
        "lambda_regions",
        "tags",
    ),
    enabled=(bool, True),
)


class ArtifactPin(_Section):
    version: Annotated[str, Field(pattern=SEMVER_PATTERN)]
    sha256: Annotated[str, Field(pattern=SHA256_PATTERN)]


# Where the records go: DnsTarget's fields; the Cloudflare zone is edgekit:cloudflare's.
DnsSettings = args_section("DnsSettings", DnsTarget, exclude=("cloudflare_zone_id",))


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
    dashboard: DashboardSettings = DashboardSettings(enabled=False)
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

    @model_validator(mode="after")
    def _auto_format_is_a_bool(self) -> StackSettings:
        # The image_format CloudFront Function reads it as JSON true/false.
        flag = self.flags.get("auto_format")
        if flag is not None and flag.type != "bool":
            raise ValueError(
                f"flags.auto_format: type {flag.type!r}; accepted: bool (the image format "
                "function reads it as true or false)"
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


# urlSigningKey: the PEM private key `edgekit sign-url` signs with (its public half is in
# images.signingPublicKeys); the program only checks that it matches one of them.
SECRET_KEYS = {"alarmEndpoint", "urlSigningKey"}
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
