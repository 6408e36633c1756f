"""The edgekit Pulumi program: read the stack's typed config once, compose the components.

`pulumi up` runs it against the real clouds; `edgekit preview` and `edgekit up --stack local`
run the same file under Pulumi's mock runtime.
"""

import pulumi
from edgekit_iac.components import (
    CachedWorker,
    CachedWorkerArgs,
    CloudflareLogpush,
    CloudflareLogpushArgs,
    CloudflareRateLimit,
    CloudflareRateLimitArgs,
    DnsTarget,
    EdgeAlarms,
    EdgeAlarmsArgs,
    EdgeCertificate,
    EdgeCertificateArgs,
    EdgeDnsRecords,
    EdgeDnsRecordsArgs,
    EdgeImageResizer,
    EdgeImageResizerArgs,
    EdgeLogPipeline,
    EdgeLogPipelineArgs,
    EdgeRateLimit,
    EdgeRateLimitArgs,
    EdgeWorker,
    EdgeWorkerArgs,
    OriginDnsRecord,
)

from edgekit_iac.config import StackSettings, load_settings, paging_endpoint, refuse
from edgekit_iac.errors import UserError
from edgekit_iac.release import artifacts

LAMBDA_FUNCTIONS = ("image_resizer",)
# Where each CloudflareRateLimitArgs field comes from in the stack file.
RATE_LIMIT_KEYS = {
    "period_seconds": "rateLimits.cloudflare.periodSeconds",
    "mitigation_timeout_seconds": "rateLimits.cloudflare.mitigationTimeoutSeconds",
    "requests_per_period": "rateLimits.cloudflare.requestsPerPeriod",
    "expression": "rateLimits.cloudflare.expression",
    "existing_ruleset_id": "rateLimits.cloudflare.importRulesetId",
    "zone_plan": "cloudflare.zonePlan",
}
WORKER_FUNCTIONS = ("cache_wrapper", "hello_geo")


def _given(**values):
    return {key: value for key, value in values.items() if value is not None}


def deploy_images(
    settings: StackSettings, built: dict, alarm_endpoint=None
) -> tuple[EdgeImageResizer, EdgeLogPipeline | None]:
    """The resizer with what protects and watches it; the log pipeline, if any, for Logpush."""
    images = settings.images
    waf = settings.rate_limits.waf
    web_acl = None
    if waf.enabled:
        web_acl = EdgeRateLimit(
            "images-waf",
            EdgeRateLimitArgs(
                limit=waf.limit,
                window_seconds=waf.window_seconds,
                path_prefix=waf.path_prefix,
                managed_rules=waf.managed_rules,
            ),
        )
    realtime = settings.logging.realtime
    logs = None
    if realtime.enabled:
        logs = EdgeLogPipeline(
            "edge-logs",
            EdgeLogPipelineArgs(
                sampling_rate=realtime.sampling_rate,
                shard_count=realtime.shard_count,
                retention_days=settings.logging.retention_days,
                force_destroy=images.force_destroy_bucket,
                protect_data=settings.protects_data,
            ),
        )
    certificate_arn = images.certificate_arn
    target = dns_target(settings)
    if images.aliases and certificate_arn is None and target is not None:
        certificate = EdgeCertificate(
            "images-certificate",
            EdgeCertificateArgs(domain_names=list(images.aliases), dns=target),
        )
        certificate_arn = certificate.certificate_arn
        pulumi.export("certificateValidationRecords", certificate.validation_records)
    resizer = EdgeImageResizer(
        "images",
        EdgeImageResizerArgs(
            artifact=built["image_resizer"],
            allowed_sizes=list(images.allowed_sizes),
            quality=images.quality,
            max_pixels=images.max_pixels,
            memory_mb=images.memory_mb,
            timeout_seconds=images.timeout_seconds,
            price_class=images.price_class,
            aliases=list(images.aliases),
            certificate_arn=certificate_arn,
            min_ttl=images.cache_ttl.min,
            default_ttl=images.cache_ttl.default,
            max_ttl=images.cache_ttl.max,
            force_destroy_bucket=images.force_destroy_bucket,
            protect_data=settings.protects_data,
            web_acl_arn=web_acl.web_acl_arn if web_acl else None,
            realtime_log_config_arn=logs.realtime_log_config_arn if logs else None,
        ),
    )
    if settings.alarms.enabled:
        EdgeAlarms(
            "edge-alarms",
            EdgeAlarmsArgs(
                distribution_id=resizer.distribution_id,
                function_name=resizer.function_name,
                origin_latency_p95_ms=settings.alarms.origin_latency_p95_ms,
                error_rate_percent=settings.alarms.error_rate_percent,
                alarm_endpoint=alarm_endpoint,
                protect_data=settings.protects_data,
            ),
        )
    pulumi.export("imagesDomain", resizer.domain_name)
    pulumi.export("imagesAllowedSizes", list(images.allowed_sizes))
    pulumi.export("imagesDistributionId", resizer.distribution_id)
    pulumi.export("originalsBucket", resizer.bucket_name)
    pulumi.export("imageResizerArn", resizer.function_qualified_arn)
    if logs:
        pulumi.export("logBucket", logs.log_bucket_name)
    return resizer, logs


def dns_target(settings: StackSettings) -> DnsTarget | None:
    """Where this stack's records go, or None when it manages no DNS."""
    provider = settings.dns_provider
    if provider is None:
        return None
    dns = settings.dns if not isinstance(settings.dns, str) else None
    return DnsTarget(
        provider=provider,
        route53_zone_id=dns.route53_zone_id if dns else None,
        cloudflare_zone_id=settings.cloudflare.zone_id if settings.cloudflare else None,
    )


def deploy_dns(settings: StackSettings, resizer: EdgeImageResizer) -> None:
    """Records for the image aliases and Worker routes; "external" only lists them."""
    target = dns_target(settings)
    if target is None:
        return
    cloudflare = settings.cloudflare
    routes = (
        [
            w.route.pattern
            for w in (cloudflare.cache_wrapper, cloudflare.hello_geo)
            if w.route.pattern
        ]
        if cloudflare
        else []
    )
    records = EdgeDnsRecords(
        "dns",
        EdgeDnsRecordsArgs(
            dns=target,
            cloudfront_aliases=list(settings.images.aliases),
            distribution_domain_name=resizer.domain_name,
            distribution_hosted_zone_id=resizer.hosted_zone_id,
            worker_route_patterns=routes,
        ),
    )
    if target.provider == "external":
        # The preview prints these under Outputs: the records the team must create.
        pulumi.export("dnsRecordsToCreate", records.records)


def _worker_deployment(cloudflare, worker, artifact, logpush: bool) -> dict:
    """Where and how a Worker is deployed: the arguments every Worker component shares."""
    return {
        "logpush": logpush,
        "account_id": cloudflare.account_id,
        "zone_id": cloudflare.zone_id,
        "script_name": worker.script_name,
        "artifact": artifact,
        "compatibility_date": cloudflare.compatibility_date,
        "route_pattern": worker.route.pattern,
        "custom_domain": worker.route.custom_domain,
    }


def cloudflare_rate_limit(settings: StackSettings) -> CloudflareRateLimitArgs | None:
    """The zone's rate limit, checked against the zone's plan before anything is declared."""
    from edgekit_iac.components.cloudflare_rate_limit import validate_args

    limits = settings.rate_limits.cloudflare
    if settings.cloudflare is None or not limits.enabled:
        return None
    plan = settings.cloudflare.zone_plan
    if plan is None:
        raise refuse(
            "cloudflare.zonePlan",
            "required with edgekit:rateLimits.cloudflare enabled (the plan bounds periods "
            "and timeouts); accepted: free, pro, business, enterprise",
        )
    args = CloudflareRateLimitArgs(
        zone_id=settings.cloudflare.zone_id,
        zone_plan=plan,
        expression=limits.expression,
        requests_per_period=limits.requests_per_period,
        period_seconds=limits.period_seconds,
        mitigation_timeout_seconds=limits.mitigation_timeout_seconds,
        existing_ruleset_id=limits.import_ruleset_id,
    )
    try:
        validate_args(args)
    except UserError as error:
        field = str(error).split(":", 1)[0].rsplit(".", 1)[-1]
        key = RATE_LIMIT_KEYS.get(field, "rateLimits.cloudflare")
        problem = str(error).split(":", 1)[1].strip()
        raise refuse(key, f"{problem} (edgekit:cloudflare.zonePlan is {plan!r})") from None
    return args


def deploy_workers(
    settings: StackSettings,
    built: dict,
    logs: EdgeLogPipeline | None,
    rate_limit: CloudflareRateLimitArgs | None = None,
) -> None:
    cloudflare = settings.cloudflare
    if cloudflare is None:
        return
    # A Worker's trace events reach Logpush only with its own logpush flag on, and only
    # where this stack runs a job for them.
    logpush = settings.logging.logpush
    pushed = logpush.enabled and logs is not None
    wrapper = cloudflare.cache_wrapper
    cached = CachedWorker(
        "api-cache",
        CachedWorkerArgs(
            **_worker_deployment(cloudflare, wrapper, built["cache_wrapper"], pushed),
            origin_url=wrapper.origin_url,
            default_ttl=wrapper.default_ttl,
            max_ttl=wrapper.max_ttl,
            stale_if_error=wrapper.stale_if_error,
            origin_timeout_ms=wrapper.origin_timeout_ms,
            origin_dns=(
                OriginDnsRecord(**wrapper.origin_dns.model_dump()) if wrapper.origin_dns else None
            ),
            # Unset lists keep the Worker's own defaults.
            **_given(
                cacheable_statuses=wrapper.cacheable_statuses,
                session_cookies=wrapper.session_cookies,
                api_key_headers=wrapper.api_key_headers,
                forward_headers=wrapper.forward_headers,
                tracking_params=wrapper.tracking_params,
            ),
        ),
    )
    geo = cloudflare.hello_geo
    hello = EdgeWorker(
        "hello-geo",
        EdgeWorkerArgs(
            **_worker_deployment(cloudflare, geo, built["hello_geo"], pushed),
            plain_text_bindings={"MESSAGE": geo.message},
        ),
    )
    if rate_limit is not None:
        CloudflareRateLimit("api-rate-limit", rate_limit)
    if pushed:
        CloudflareLogpush(
            "workers-logpush",
            CloudflareLogpushArgs(
                account_id=cloudflare.account_id,
                bucket_name=logs.log_bucket_name,
                # The dataset is account-wide: only this stack's scripts go to its bucket.
                script_names=[wrapper.script_name, geo.script_name],
                bucket_region=logs.log_bucket_region,
                prefix=logpush.prefix,
            ),
        )
    pulumi.export("cacheWorker", cached.script_name)
    pulumi.export("cacheWorkerHostnames", cached.hostnames)
    pulumi.export("cacheWorkerRoutes", cached.routes)
    pulumi.export("geoWorker", hello.script_name)
    pulumi.export("geoWorkerHostnames", hello.hostnames)
    pulumi.export("geoWorkerRoutes", hello.routes)


settings = load_settings()
# Refused here, before any resource: paging on without the secret endpoint.
endpoint = paging_endpoint(settings)
rate_limit = cloudflare_rate_limit(settings)
names = LAMBDA_FUNCTIONS + (WORKER_FUNCTIONS if settings.cloudflare else ())
built = artifacts.resolve(names, settings.artifacts)
resizer, log_pipeline = deploy_images(settings, built, endpoint)
deploy_workers(settings, built, log_pipeline, rate_limit)
deploy_dns(settings, resizer)
pulumi.export("environment", settings.environment)
pulumi.export("artifacts", artifacts.as_pins(built))
