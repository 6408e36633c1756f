"""Each component's arguments, built from the typed stack config and checked before anything
is declared.

`__main__.py` declares its components with the arguments built here, and `check` builds
the same arguments first, with placeholders where another component's output goes (a
distribution id, a bucket name), and runs every component's own argument checks on them.
A bad value therefore stops the program before its first resource, and the error names the
config key and the stack file (`edgekit:cloudflare.cacheWrapper.originUrl` in
`stacks/Pulumi.staging.yaml`), not the Python field (`CachedWorkerArgs.origin_url`). Because
the program and the check share one builder per component, they cannot drift apart.

`check` also refuses what only the stack file can get wrong: an `aws:region` that is not a
region, and a secret (`edgekit:alarmEndpoint`, the Cloudflare API token) written in plain
text instead of with `pulumi config set --secret`. It never prints a secret's value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic.alias_generators import to_camel

from edgekit_iac.components import auth_worker, cached_worker, worker
from edgekit_iac.components._args import AWS_REGIONS, ArgsError
from edgekit_iac.components.alarms import EdgeAlarmsArgs
from edgekit_iac.components.alarms import check_https_endpoint as _check_https
from edgekit_iac.components.alarms import validate_args as _validate_alarms
from edgekit_iac.components.auth_worker import AuthWorkerArgs
from edgekit_iac.components.cached_worker import CachedWorkerArgs
from edgekit_iac.components.cloudflare_rate_limit import PLAN_LIMITS, CloudflareRateLimitArgs
from edgekit_iac.components.cloudflare_rate_limit import (
    validate_args as _validate_cloudflare_limits,
)
from edgekit_iac.components.dashboard import (
    PRICE_CLASS_REGIONS,
    REGIONAL_EDGE_CACHE_REGIONS,
    EdgeDashboardArgs,
)
from edgekit_iac.components.dashboard import validate_args as _validate_dashboard
from edgekit_iac.components.domains import DnsTarget, check_target
from edgekit_iac.components.durable_objects import DurableObjectMigration
from edgekit_iac.components.edge_flags import EdgeFlagsArgs
from edgekit_iac.components.image_resizer import EdgeImageResizerArgs
from edgekit_iac.components.image_resizer import validate_args as _validate_resizer
from edgekit_iac.components.log_pipeline import EdgeLogPipelineArgs
from edgekit_iac.components.log_pipeline import validate_args as _validate_log_pipeline
from edgekit_iac.components.log_search import TRANSFORM_FUNCTION, OpenSearchArgs
from edgekit_iac.components.logpush import CloudflareLogpushArgs
from edgekit_iac.components.logpush import validate_args as _validate_logpush
from edgekit_iac.components.rate_limit import EdgeRateLimitArgs
from edgekit_iac.components.rate_limit import validate_args as _validate_waf
from edgekit_iac.components.worker import EdgeWorkerArgs
from edgekit_iac.config import (
    NAMESPACE,
    CloudflareSettings,
    ConfigError,
    StackSettings,
    WorkerRoute,
    args_value,
    load_settings,
    stack_file,
)

CACHE_WRAPPER_FUNCTION = "cache_wrapper"
GEO_FUNCTION = "hello_geo"
COUNTER_FUNCTION = "edge_counter"
AUTH_FUNCTION = "edge_auth"
# The edge counter's Durable Object class history, oldest first: add entries, never edit one
# (each stack's edgekit:cloudflare.edgeCounter.appliedMigrationTag says how far it got).
COUNTER_MIGRATIONS = (DurableObjectMigration(tag="v1", new_sqlite_classes=("Counter",)),)
# Stands in, during `check`, for values another component computes at deploy time.
_PLACEHOLDER = "preflight"

ALARM_ENDPOINT_KEY = f"{NAMESPACE}:alarmEndpoint"
URL_SIGNING_KEY = f"{NAMESPACE}:urlSigningKey"
# Credentials the Cloudflare provider reads from its config namespace.
CLOUDFLARE_SECRET_KEYS = (
    "cloudflare:apiToken",
    "cloudflare:apiKey",
    "cloudflare:apiUserServiceKey",
)


# --- builders: the one place a config value becomes a component argument -------------------


def _args_of(section: Any, args_class: type) -> dict[str, Any]:
    """The section's values for `args_class`: the section is made of its fields
    (edgekit_iac.config.args_section), so nothing is copied field by field."""
    names = {field.name for field in dataclasses.fields(args_class)}
    return {name: args_value(value) for name, value in section if name in names}


def resizer_args(
    settings: StackSettings,
    *,
    artifact: Any = None,
    certificate_arn: pulumi.Input[str] | None = None,
    web_acl_arn: pulumi.Input[str] | None = None,
    realtime_log_config_arn: pulumi.Input[str] | None = None,
    flags_key_value_store_arn: pulumi.Input[str] | None = None,
) -> EdgeImageResizerArgs:
    """`certificate_arn`: the one edgekit requested (edgekit:dns), else the stack's own.
    `flags_key_value_store_arn`: EdgeFlags' CloudFront KeyValueStore, when the stack
    declares flags (edgekit:flags); the image_format function is associated with it and
    reads its `auto_format` flag, whose declared default (True when undeclared) is rendered
    into the function."""
    flag = settings.flag_specs.get("auto_format")
    return EdgeImageResizerArgs(
        **{
            **_args_of(settings.images, EdgeImageResizerArgs),
            "certificate_arn": certificate_arn or settings.images.certificate_arn,
        },
        artifact=artifact,
        protect_data=settings.protects_data,
        web_acl_arn=web_acl_arn,
        realtime_log_config_arn=realtime_log_config_arn,
        format_key_value_store_arn=flags_key_value_store_arn,
        auto_format_flag_default=True if flag is None else flag.default,
    )


def search_functions(settings: StackSettings) -> tuple[str, ...]:
    """The functions the log pipeline's searchable copy deploys (none when it is off)."""
    on = settings.logging.realtime.enabled and settings.logging.opensearch.enabled
    return (TRANSFORM_FUNCTION,) if on else ()


def waf_args(settings: StackSettings) -> EdgeRateLimitArgs:
    return EdgeRateLimitArgs(**_args_of(settings.rate_limits.waf, EdgeRateLimitArgs))


def log_pipeline_args(
    settings: StackSettings, transform_artifact: Any = None
) -> EdgeLogPipelineArgs:
    search = settings.logging.opensearch
    return EdgeLogPipelineArgs(
        **_args_of(settings.logging.realtime, EdgeLogPipelineArgs),
        **_args_of(settings.logging, EdgeLogPipelineArgs),
        search=OpenSearchArgs(**_args_of(search, OpenSearchArgs)) if search.enabled else None,
        force_destroy=settings.images.force_destroy_bucket,
        protect_data=settings.protects_data,
        transform_artifact=transform_artifact,
        # CloudflareLogpush then writes the bucket's one policy (with the TLS-only deny).
        external_bucket_policy=settings.logging.logpush.enabled and settings.cloudflare is not None,
    )


def alarms_args(
    settings: StackSettings,
    *,
    distribution_id: pulumi.Input[str],
    function_name: pulumi.Input[str] | None,
    alarm_endpoint: pulumi.Output[str] | None,
) -> EdgeAlarmsArgs:
    return EdgeAlarmsArgs(
        **_args_of(settings.alarms, EdgeAlarmsArgs),
        distribution_id=distribution_id,
        function_name=function_name,
        alarm_endpoint=alarm_endpoint,
        protect_data=settings.protects_data,
    )


def dashboard_args(
    settings: StackSettings,
    *,
    distribution_id: pulumi.Input[str],
    function_name: pulumi.Input[str] | None,
    alarms: EdgeAlarmsArgs | None,
    web_acl_metric_names: Any = (),
) -> EdgeDashboardArgs:
    """The replicas run in the regional edge caches the distribution's price class uses."""
    return EdgeDashboardArgs(
        **_args_of(settings.dashboard, EdgeDashboardArgs),
        distribution_id=distribution_id,
        function_name=function_name,
        alarms=alarms,
        web_acl_metric_names=list(web_acl_metric_names),
        # An unknown price class is the resizer check's to report; draw every region meanwhile.
        lambda_regions=PRICE_CLASS_REGIONS.get(
            settings.images.price_class, REGIONAL_EDGE_CACHE_REGIONS
        ),
    )


def _worker_deployment(
    cloudflare: CloudflareSettings, section: Any, artifact: Any, logpush: bool
) -> dict:
    """Where and how a Worker is deployed: the arguments every Worker component shares that
    the program fills (the section's own Args keys come with `_args_of`)."""
    return {
        "logpush": logpush,
        "account_id": cloudflare.account_id,
        "zone_id": cloudflare.zone_id,
        "artifact": artifact,
        "compatibility_date": cloudflare.compatibility_date,
        "route_pattern": section.route.pattern,
        "custom_domain": section.route.custom_domain,
    }


def _flag_bindings(flags_namespace: pulumi.Input[str] | None) -> dict[str, Any]:
    """The FLAGS KV binding of a Worker that reads flags (components/edge_flags.py)."""
    return {"kv_namespaces": {"FLAGS": flags_namespace}} if flags_namespace is not None else {}


def cached_worker_args(
    cloudflare: CloudflareSettings, artifact: Any = None, *, logpush: bool = False,
    flags_namespace: pulumi.Input[str] | None = None,
) -> CachedWorkerArgs:
    wrapper = cloudflare.cache_wrapper
    cache = {
        **_args_of(wrapper, CachedWorkerArgs),
        **_worker_deployment(cloudflare, wrapper, artifact, logpush),
        **_flag_bindings(flags_namespace),
    }
    return CachedWorkerArgs(**cache)


def geo_worker_args(
    cloudflare: CloudflareSettings, artifact: Any = None, *, logpush: bool = False,
    flags_namespace: pulumi.Input[str] | None = None,
) -> EdgeWorkerArgs:
    geo = cloudflare.hello_geo
    return EdgeWorkerArgs(
        **_args_of(geo, EdgeWorkerArgs),
        **_worker_deployment(cloudflare, geo, artifact, logpush),
        **_flag_bindings(flags_namespace),
        function=GEO_FUNCTION,
        plain_text_bindings={"MESSAGE": geo.message},
    )


def counter_worker_args(
    cloudflare: CloudflareSettings, artifact: Any = None, *, logpush: bool = False
) -> EdgeWorkerArgs:
    counter = cloudflare.edge_counter
    assert counter is not None
    return EdgeWorkerArgs(
        **_args_of(counter, EdgeWorkerArgs),
        **_worker_deployment(cloudflare, counter, artifact, logpush),
        function=COUNTER_FUNCTION,
        durable_objects={"COUNTERS": "Counter"},
        migrations=COUNTER_MIGRATIONS,
    )


def auth_worker_args(
    cloudflare: CloudflareSettings, artifact: Any = None, *, logpush: bool = False
) -> AuthWorkerArgs:
    auth = cloudflare.edge_auth
    assert auth is not None
    return AuthWorkerArgs(
        **{**_args_of(auth, AuthWorkerArgs),
           **_worker_deployment(cloudflare, auth, artifact, logpush)}
    )


def declared_workers(cloudflare: CloudflareSettings) -> list[Any]:
    """The stack's Worker sections, in declaration order: every field of edgekit:cloudflare
    that holds a routed Worker (optional ones only where configured). Read off the settings
    model, so a Worker section added there is in DNS, the rate-limit host expression and
    the Logpush filter without being listed again."""
    sections = (getattr(cloudflare, name) for name in type(cloudflare).model_fields)
    return [section for section in sections
            if isinstance(getattr(section, "route", None), WorkerRoute)]


def worker_hosts_expression(cloudflare: CloudflareSettings) -> str:
    """The requests for the Workers' own hosts, in the Rules language.

    The zone's rate limits cover every hostname on the zone, which may serve other sites:
    the rule over every path counts only what the Workers answer. A route host "*.a.com"
    matches its subdomains, "*a.com" also a.com itself.
    """
    exact: list[str] = []
    suffixes: list[str] = []
    for section in declared_workers(cloudflare):
        host = section.route.custom_domain or (section.route.pattern or "").partition("/")[0]
        host = host.lower().rstrip(".")
        if host.startswith("*"):
            suffixes.append(host[1:])
        elif host:
            exact.append(host)
    clauses = []
    if exact:
        names = " ".join(f'"{name}"' for name in sorted(set(exact)))
        clauses.append(f"(http.host in {{{names}}})")
    clauses.extend(f'ends_with(http.host, "{suffix}")' for suffix in sorted(set(suffixes)))
    return " or ".join(clauses) or "true"


def dns_target(settings: StackSettings) -> DnsTarget | None:
    """Where this stack's records go, or None when it manages no DNS."""
    dns = settings.dns
    if dns is None:
        return None
    # "external" is short for {"provider": "external"}.
    values = {"provider": dns} if isinstance(dns, str) else _args_of(dns, DnsTarget)
    return DnsTarget(
        **values,
        cloudflare_zone_id=settings.cloudflare.zone_id if settings.cloudflare else None,
    )


def cloudflare_rate_limit_args(settings: StackSettings) -> CloudflareRateLimitArgs:
    assert settings.cloudflare is not None
    return CloudflareRateLimitArgs(
        **_args_of(settings.rate_limits.cloudflare, CloudflareRateLimitArgs),
        zone_id=settings.cloudflare.zone_id,
        default_expression=worker_hosts_expression(settings.cloudflare),
        existing_ruleset_id=settings.rate_limits.cloudflare.import_ruleset_id,
        **({"zone_plan": plan} if (plan := settings.cloudflare.zone_plan) else {}),
    )


def flags_args(settings: StackSettings, stack: str) -> EdgeFlagsArgs:
    """The stack's flag stores: KV where it has Workers, a KeyValueStore for CloudFront."""
    return EdgeFlagsArgs(
        flags=settings.flag_specs,
        store_name=f"edgekit-flags-{stack}",
        account_id=settings.cloudflare.account_id if settings.cloudflare else None,
    )


def logpush_args(
    settings: StackSettings,
    *,
    bucket_name: pulumi.Input[str],
    bucket_region: pulumi.Input[str],
) -> CloudflareLogpushArgs:
    assert settings.cloudflare is not None
    return CloudflareLogpushArgs(
        **_args_of(settings.logging.logpush, CloudflareLogpushArgs),
        account_id=settings.cloudflare.account_id,
        bucket_name=bucket_name,
        # The dataset is account-wide: only this stack's scripts go to its bucket.
        script_names=[section.script_name for section in declared_workers(settings.cloudflare)],
        bucket_region=bucket_region,
    )


# --- the check: every component's own checks, on the same arguments, reported as keys -------


@dataclass(frozen=True)
class _Check:
    """One component's arguments from the config, its checks, and where its fields live."""

    section: str  # the config key of the section, e.g. "cloudflare.cacheWrapper"
    build: Callable[[], Any]
    validate: Callable[[Any], Any]
    keys: Mapping[str, str]  # component field -> config key, where not section.<camelCase>
    note: str = ""  # what else decided the answer, e.g. the zone's plan


def _worker_keys(section: str) -> dict[str, str]:
    return {
        "account_id": "cloudflare.accountId",
        "zone_id": "cloudflare.zoneId",
        "compatibility_date": "cloudflare.compatibilityDate",
        "route_pattern": f"{section}.route.pattern",
        "custom_domain": f"{section}.route.customDomain",
    }


def _check_cached_worker(args: CachedWorkerArgs) -> None:
    cache = cached_worker.validate_args(args)
    worker.validate_args(cached_worker.edge_worker_args(cache), owner=cached_worker.OWNER)


def _check_auth_worker(args: AuthWorkerArgs) -> None:
    bindings = auth_worker.validate_args(args)
    worker.validate_args(auth_worker.edge_worker_args(args, bindings), owner=auth_worker.OWNER)


def _requested_certificate(settings: StackSettings) -> str | None:
    """The certificate edgekit:dns makes edgekit request for the aliases, as a placeholder
    ARN of the right shape (its real ARN exists only at deploy time)."""
    if settings.images.aliases and not settings.images.certificate_arn and settings.dns:
        return "arn:aws:acm:us-east-1:000000000000:certificate/preflight"
    return None


def _checks(settings: StackSettings) -> list[_Check]:
    checks = [
        _Check(
            "images",
            lambda: resizer_args(settings, certificate_arn=_requested_certificate(settings)),
            _validate_resizer,
            {},
        )
    ]
    if settings.rate_limits.waf.enabled:
        checks.append(_Check("rateLimits.waf", lambda: waf_args(settings), _validate_waf, {}))
    if settings.logging.realtime.enabled:
        checks.append(
            _Check(
                "logging.realtime",
                lambda: log_pipeline_args(settings),
                _validate_log_pipeline,
                {
                    "retention_days": "logging.retentionDays",
                    "force_destroy": "images.forceDestroyBucket",
                    **{
                        f.name: f"logging.opensearch.{to_camel(f.name)}"
                        for f in dataclasses.fields(OpenSearchArgs)
                    },
                },
            )
        )
    if settings.alarms.enabled:
        checks.append(
            _Check(
                "alarms",
                lambda: alarms_args(
                    settings,
                    distribution_id=_PLACEHOLDER,
                    function_name=_PLACEHOLDER,
                    alarm_endpoint=None,
                ),
                _validate_alarms,
                {},
            )
        )
    if settings.dashboard.enabled:
        checks.append(
            _Check(
                "dashboard",
                lambda: dashboard_args(
                    settings,
                    distribution_id=_PLACEHOLDER,
                    function_name=_PLACEHOLDER,
                    alarms=None,
                ),
                _validate_dashboard,
                {},
            )
        )
    if settings.dns is not None:
        checks.append(
            _Check(
                "dns",
                lambda: dns_target(settings),
                lambda target: check_target("DnsTarget", target),
                {
                    "dns": "dns.provider",
                    "dns.route53_zone_id": "dns.route53ZoneId",
                    "dns.cloudflare_zone_id": "cloudflare.zoneId",
                },
            )
        )
    cloudflare = settings.cloudflare
    if cloudflare is None:
        return checks
    checks += [
        _Check(
            "cloudflare.cacheWrapper",
            lambda: cached_worker_args(cloudflare),
            _check_cached_worker,
            _worker_keys("cloudflare.cacheWrapper"),
        ),
        _Check(
            "cloudflare.helloGeo",
            lambda: geo_worker_args(cloudflare),
            worker.validate_args,
            {
                **_worker_keys("cloudflare.helloGeo"),
                "plain_text_bindings": "cloudflare.helloGeo.message",
            },
        ),
    ]
    if cloudflare.edge_counter is not None:
        checks.append(
            _Check(
                "cloudflare.edgeCounter",
                lambda: counter_worker_args(cloudflare),
                worker.validate_args,
                _worker_keys("cloudflare.edgeCounter"),
            )
        )
    if cloudflare.edge_auth is not None:
        checks.append(
            _Check(
                "cloudflare.edgeAuth",
                lambda: auth_worker_args(cloudflare),
                _check_auth_worker,
                _worker_keys("cloudflare.edgeAuth"),
            )
        )
    if settings.rate_limits.cloudflare.enabled and cloudflare.zone_plan is not None:
        checks.append(
            _Check(
                "rateLimits.cloudflare",
                lambda: cloudflare_rate_limit_args(settings),
                _validate_cloudflare_limits,
                {
                    "zone_id": "cloudflare.zoneId",
                    "zone_plan": "cloudflare.zonePlan",
                    "existing_ruleset_id": "rateLimits.cloudflare.importRulesetId",
                },
                note=f" ({NAMESPACE}:cloudflare.zonePlan is {cloudflare.zone_plan!r})",
            )
        )
    if settings.logging.logpush.enabled and settings.logging.realtime.enabled:
        checks.append(
            _Check(
                "logging.logpush",
                lambda: logpush_args(
                    settings,
                    bucket_name=_PLACEHOLDER,
                    bucket_region=log_pipeline_args(settings).region,
                ),
                _validate_logpush,
                {"account_id": "cloudflare.accountId"},
            )
        )
    return checks


def config_key(section: str, arg: str, keys: Mapping[str, str]) -> str:
    """The `edgekit:` key a component field comes from."""
    if arg in keys:
        return f"{NAMESPACE}:{keys[arg]}"
    return f"{NAMESPACE}:{section}." + ".".join(to_camel(part) for part in arg.split("."))


def component_problems(settings: StackSettings) -> list[str]:
    """Every component's own argument checks, run on the config's values: one line each."""
    problems = []
    limits = settings.rate_limits.cloudflare
    if settings.cloudflare and limits.enabled and settings.cloudflare.zone_plan is None:
        problems.append(
            f"{NAMESPACE}:cloudflare.zonePlan: required with {NAMESPACE}:rateLimits.cloudflare "
            "enabled (the plan bounds periods, timeouts and the number of rules); accepted: "
            f"{', '.join(PLAN_LIMITS)}"
        )
    for check in _checks(settings):
        try:
            check.validate(check.build())
        except ArgsError as error:
            key = config_key(check.section, error.arg, check.keys)
            problems.append(f"{key}: {error.problem}; accepted: {error.accepted}{check.note}")
    # A shared key (the account id every Worker gets) is reported once.
    return list(dict.fromkeys(problems))


def secret_problems(settings: StackSettings) -> list[str]:
    """Secrets in plain text, and an alarm endpoint that is not https; never their values."""
    problems = []
    how = (
        "set it with `pulumi config set --secret {key} ...`, then rotate it: "
        "the plain value is in the stack file's history"
    )
    for key in (ALARM_ENDPOINT_KEY, URL_SIGNING_KEY, *CLOUDFLARE_SECRET_KEYS):
        if runtime_config.get_config(key) is not None and not runtime_config.is_config_secret(key):
            problems.append(f"{key}: is in plain text, not a secret; {how.format(key=key)}")
    endpoint = runtime_config.get_config(ALARM_ENDPOINT_KEY)
    if settings.alarms.enabled and settings.alarms.paging and endpoint is not None:
        try:
            _check_https(endpoint)
        except ArgsError as error:
            problems.append(
                f"{ALARM_ENDPOINT_KEY}: {error.problem} (value not shown); "
                f"accepted: {error.accepted}"
            )
    problems.extend(signing_key_problems(settings))
    return problems


def signing_key_problems(settings: StackSettings) -> list[str]:
    """The secret signing key, when the runtime can read it, must be one the key group trusts
    (offline it is a placeholder: nothing to compare). Never shows the key."""
    from edgekit_iac.cloudfront_signing import load_private_key, public_pem, same_key
    from edgekit_iac.release.stack_files import OFFLINE_SECRET_PLACEHOLDER

    value = runtime_config.get_config(URL_SIGNING_KEY)
    if value is None or value == OFFLINE_SECRET_PLACEHOLDER:
        return []
    try:
        public = public_pem(load_private_key(value))
    except ValueError as error:
        return [f"{URL_SIGNING_KEY}: {error} (value not shown); accepted: the PEM private key "
                "of one of edgekit:images.signingPublicKeys"]
    trusted = settings.images.signing_public_keys

    def matches(pem: str) -> bool:
        try:
            return same_key(public, pem)
        except ValueError:
            return False  # a bad public key: the component's own check reports it

    if not any(matches(pem) for pem in trusted.values()):
        return [f"{URL_SIGNING_KEY}: its public key is none of edgekit:images.signingPublicKeys "
                f"({', '.join(trusted) or 'none configured'}); URLs signed with it would be "
                "refused: add its public key there first"]
    return []


def region_problems() -> list[str]:
    region = runtime_config.get_config("aws:region")
    if region is None or region in AWS_REGIONS:
        return []
    return [
        f"aws:region: got {region!r}; accepted: an AWS region: {', '.join(sorted(AWS_REGIONS))}"
    ]


def check(settings: StackSettings, stack_file: str) -> StackSettings:
    """`settings` if every component accepts what the config gives it, else a ConfigError
    listing each problem by config key."""
    problems = region_problems() + secret_problems(settings) + component_problems(settings)
    if problems:
        raise ConfigError(
            f"{stack_file}: {len(problems)} config problem(s), nothing was declared:\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )
    return settings


def load() -> StackSettings:
    """The current stack's settings, refused with every problem before anything is declared."""
    return check(load_settings(), stack_file())
