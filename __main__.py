"""The edgekit Pulumi program: read the stack's typed config once, compose the components.

`pulumi up` runs it against the real clouds; `edgekit preview` and `edgekit up --stack local`
run the same file under Pulumi's mock runtime.
"""

import pulumi
from edgekit_iac.components import (
    CachedWorker,
    CloudflareLogpush,
    CloudflareRateLimit,
    EdgeAlarms,
    EdgeImageResizer,
    EdgeLogPipeline,
    EdgeRateLimit,
    EdgeWorker,
)

from edgekit_iac import stack_args
from edgekit_iac.config import StackSettings, alarm_endpoint
from edgekit_iac.release import artifacts

LAMBDA_FUNCTIONS = ("image_resizer",)
WORKER_FUNCTIONS = ("cache_wrapper", "hello_geo")


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
    web_acl = None
    if settings.rate_limits.waf.enabled:
        web_acl = EdgeRateLimit("images-waf", stack_args.waf_args(settings))
    logs = None
    if settings.logging.realtime.enabled:
        logs = EdgeLogPipeline("edge-logs", stack_args.log_pipeline_args(settings))
    resizer = EdgeImageResizer(
        "images",
        stack_args.resizer_args(
            settings,
            artifact=built["image_resizer"],
            web_acl_arn=web_acl.web_acl_arn if web_acl else None,
            realtime_log_config_arn=logs.realtime_log_config_arn if logs else None,
        ),
    )
    if settings.alarms.enabled:
        EdgeAlarms(
            "edge-alarms",
            stack_args.alarms_args(
                settings,
                distribution_id=resizer.distribution_id,
                function_name=resizer.function_name,
                alarm_endpoint=_paging_endpoint(settings),
            ),
        )
    pulumi.export("imagesDomain", resizer.domain_name)
    pulumi.export("imagesAllowedSizes", list(settings.images.allowed_sizes))
    pulumi.export("imagesDistributionId", resizer.distribution_id)
    pulumi.export("originalsBucket", resizer.bucket_name)
    pulumi.export("imageResizerArn", resizer.function_qualified_arn)
    if logs:
        pulumi.export("logBucket", logs.log_bucket_name)
    return resizer, logs


def deploy_workers(settings: StackSettings, built: dict, logs: EdgeLogPipeline | None) -> None:
    cloudflare = settings.cloudflare
    if cloudflare is None:
        return
    cached = CachedWorker(
        "api-cache", stack_args.cached_worker_args(cloudflare, built["cache_wrapper"])
    )
    hello = EdgeWorker("hello-geo", stack_args.geo_worker_args(cloudflare, built["hello_geo"]))
    if settings.rate_limits.cloudflare.enabled:
        CloudflareRateLimit("api-rate-limit", stack_args.cloudflare_rate_limit_args(settings))
    if settings.logging.logpush.enabled and logs is not None:
        CloudflareLogpush(
            "workers-logpush",
            stack_args.logpush_args(
                settings, bucket_name=logs.log_bucket_name, bucket_region=logs.log_bucket_region
            ),
        )
    pulumi.export("cacheWorker", cached.script_name)
    pulumi.export("cacheWorkerHostnames", cached.hostnames)
    pulumi.export("cacheWorkerRoutes", cached.routes)
    pulumi.export("geoWorker", hello.script_name)
    pulumi.export("geoWorkerHostnames", hello.hostnames)
    pulumi.export("geoWorkerRoutes", hello.routes)


# Every value is checked, by every component's own checks, before the first resource.
settings = stack_args.load()
names = LAMBDA_FUNCTIONS + (WORKER_FUNCTIONS if settings.cloudflare else ())
built = artifacts.resolve(names, settings.artifacts)
_, log_pipeline = deploy_images(settings, built)
deploy_workers(settings, built, log_pipeline)
pulumi.export("environment", settings.environment)
pulumi.export("artifacts", artifacts.as_pins(built))
