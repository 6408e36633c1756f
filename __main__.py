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
    EdgeAlarms,
    EdgeAlarmsArgs,
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

from edgekit_iac.config import StackSettings, alarm_endpoint, load_settings
from edgekit_iac.release import artifacts

LAMBDA_FUNCTIONS = ("image_resizer",)
WORKER_FUNCTIONS = ("cache_wrapper", "hello_geo")


def _given(**values):
    return {key: value for key, value in values.items() if value is not None}


def _paging_endpoint(settings: StackSettings):
    """The incident endpoint alarms page, or None; paging without one is said, not hidden."""
    if not settings.alarms.paging:
        return None
    endpoint = alarm_endpoint()
    if endpoint is None:
        pulumi.log.warn(
            "edgekit:alarms.paging is true but the secret edgekit:alarmEndpoint is not set: "
            "the alarms notify their SNS topics and page nobody. Set it with "
            "`pulumi config set --secret edgekit:alarmEndpoint https://...`."
        )
    return endpoint


def deploy_images(
    settings: StackSettings, built: dict
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
            ),
        )
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
            certificate_arn=images.certificate_arn,
            min_ttl=images.cache_ttl.min,
            default_ttl=images.cache_ttl.default,
            max_ttl=images.cache_ttl.max,
            force_destroy_bucket=images.force_destroy_bucket,
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
                alarm_endpoint=_paging_endpoint(settings),
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


def _worker_deployment(cloudflare, worker, artifact) -> dict:
    """Where and how a Worker is deployed: the arguments every Worker component shares."""
    return {
        "account_id": cloudflare.account_id,
        "zone_id": cloudflare.zone_id,
        "script_name": worker.script_name,
        "artifact": artifact,
        "compatibility_date": cloudflare.compatibility_date,
        "route_pattern": worker.route.pattern,
        "custom_domain": worker.route.custom_domain,
    }


def deploy_workers(settings: StackSettings, built: dict, logs: EdgeLogPipeline | None) -> None:
    cloudflare = settings.cloudflare
    if cloudflare is None:
        return
    wrapper = cloudflare.cache_wrapper
    cached = CachedWorker(
        "api-cache",
        CachedWorkerArgs(
            **_worker_deployment(cloudflare, wrapper, built["cache_wrapper"]),
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
                tracking_params=wrapper.tracking_params,
            ),
        ),
    )
    geo = cloudflare.hello_geo
    hello = EdgeWorker(
        "hello-geo",
        EdgeWorkerArgs(
            **_worker_deployment(cloudflare, geo, built["hello_geo"]),
            plain_text_bindings={"MESSAGE": geo.message},
        ),
    )
    limits = settings.rate_limits.cloudflare
    if limits.enabled:
        CloudflareRateLimit(
            "api-rate-limit",
            CloudflareRateLimitArgs(
                zone_id=cloudflare.zone_id,
                expression=limits.expression,
                requests_per_period=limits.requests_per_period,
                period_seconds=limits.period_seconds,
                mitigation_timeout_seconds=limits.mitigation_timeout_seconds,
            ),
        )
    logpush = settings.logging.logpush
    if logpush.enabled and logs is not None:
        CloudflareLogpush(
            "workers-logpush",
            CloudflareLogpushArgs(
                account_id=cloudflare.account_id,
                bucket_name=logs.log_bucket_name,
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
names = LAMBDA_FUNCTIONS + (WORKER_FUNCTIONS if settings.cloudflare else ())
built = artifacts.resolve(names, settings.artifacts)
_, log_pipeline = deploy_images(settings, built)
deploy_workers(settings, built, log_pipeline)
pulumi.export("environment", settings.environment)
pulumi.export("artifacts", artifacts.as_pins(built))
