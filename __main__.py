"""The edgekit Pulumi program: read the stack's typed config once, compose the components.

`pulumi up` runs it against the real clouds; `edgekit preview` and `edgekit up --stack local`
run the same file under Pulumi's mock runtime. Every component's arguments are built by
edgekit_iac.stack_args, which checks them all before the first resource is declared.
"""

import pulumi
from edgekit_iac.components import (
    AuthWorker,
    CachedWorker,
    CloudflareLogpush,
    CloudflareRateLimit,
    EdgeAlarms,
    EdgeCertificate,
    EdgeCertificateArgs,
    EdgeDashboard,
    EdgeDnsRecords,
    EdgeDnsRecordsArgs,
    EdgeFlags,
    EdgeImageResizer,
    EdgeLogPipeline,
    EdgeRateLimit,
    EdgeWorker,
)

from edgekit_iac import stack_args
from edgekit_iac.config import StackSettings, paging_endpoint
from edgekit_iac.release import artifacts

LAMBDA_FUNCTIONS = ("image_resizer",)
WORKER_FUNCTIONS = ("cache_wrapper", "hello_geo")


def export_worker(prefix: str, worker) -> None:
    """A Worker's script name, hostnames and routes, as `{prefix}`, `{prefix}Hostnames` and
    `{prefix}Routes` stack outputs."""
    pulumi.export(prefix, worker.script_name)
    pulumi.export(f"{prefix}Hostnames", worker.hostnames)
    pulumi.export(f"{prefix}Routes", worker.routes)


def deploy_images(
    settings: StackSettings, built: dict, alarm_endpoint=None, flags: EdgeFlags | None = None
) -> tuple[EdgeImageResizer, EdgeLogPipeline | None]:
    """The resizer with what protects and watches it; the log pipeline, if any, for Logpush."""
    images = settings.images
    web_acl = None
    if settings.rate_limits.waf.enabled:
        web_acl = EdgeRateLimit("images-waf", stack_args.waf_args(settings))
    logs = None
    if settings.logging.realtime.enabled:
        logs = EdgeLogPipeline(
            "edge-logs",
            stack_args.log_pipeline_args(
                settings, transform_artifact=built.get(stack_args.TRANSFORM_FUNCTION)
            ),
        )
    certificate_arn = images.certificate_arn
    target = stack_args.dns_target(settings)
    if images.aliases and certificate_arn is None and target is not None:
        certificate = EdgeCertificate(
            "images-certificate",
            EdgeCertificateArgs(domain_names=list(images.aliases), dns=target),
        )
        certificate_arn = certificate.certificate_arn
        pulumi.export("certificateValidationRecords", certificate.validation_records)
    resizer = EdgeImageResizer(
        "images",
        stack_args.resizer_args(
            settings,
            artifact=built["image_resizer"],
            certificate_arn=certificate_arn,
            web_acl_arn=web_acl.web_acl_arn if web_acl else None,
            realtime_log_config_arn=logs.realtime_log_config_arn if logs else None,
            flags_key_value_store_arn=flags.store.arn if flags and flags.store else None,
        ),
    )
    alarm_args = None
    if settings.alarms.enabled:
        alarm_args = stack_args.alarms_args(
            settings,
            distribution_id=resizer.distribution_id,
            function_name=resizer.function_name,
            alarm_endpoint=alarm_endpoint,
        )
        EdgeAlarms("edge-alarms", alarm_args)
    if settings.dashboard.enabled:
        # Built from the alarms' own arguments and the web ACL's metric names.
        dashboard = EdgeDashboard(
            "edge-dashboard",
            stack_args.dashboard_args(
                settings,
                distribution_id=resizer.distribution_id,
                function_name=resizer.function_name,
                alarms=alarm_args,
                web_acl_metric_names=web_acl.metric_names if web_acl else (),
            ),
        )
        pulumi.export("dashboardName", dashboard.dashboard_name)
    pulumi.export("imagesDomain", resizer.domain_name)
    pulumi.export("imagesAllowedSizes", list(images.allowed_sizes))
    pulumi.export("imagesDistributionId", resizer.distribution_id)
    pulumi.export("originalsBucket", resizer.bucket_name)
    pulumi.export("imageResizerArn", resizer.function_qualified_arn)
    if resizer.staging_distribution is not None:  # edgekit canary drives these
        pulumi.export("imagesStagingDistributionId", resizer.staging_distribution.id)
        pulumi.export("imagesCanaryPolicyId", resizer.canary_policy.id)
    # Key name -> CloudFront public key id (the Key-Pair-Id `edgekit sign-url` puts in URLs).
    pulumi.export("urlSigningKeyIds", resizer.signing_key_ids)
    if logs:
        pulumi.export("logBucket", logs.log_bucket_name)
    return resizer, logs


def deploy_dns(settings: StackSettings, resizer: EdgeImageResizer) -> None:
    """Records for the image aliases and Worker routes; "external" only lists them."""
    target = stack_args.dns_target(settings)
    if target is None:
        return
    cloudflare = settings.cloudflare
    # Every Worker the stack declares; a custom domain's record is Cloudflare's to make.
    workers = stack_args.declared_workers(cloudflare) if cloudflare else []
    routes = [w.route.pattern for w in workers if w.route.pattern]
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


def deploy_flags(settings: StackSettings) -> EdgeFlags | None:
    """The stack's feature-flag stores, when it declares flags (edgekit:flags)."""
    if not settings.flags:
        return None
    flags = EdgeFlags("flags", stack_args.flags_args(settings, pulumi.get_stack()))
    pulumi.export("flagsNamespaceId", flags.namespace_id)
    pulumi.export("flagsKeyValueStoreArn", flags.key_value_store_arn)
    return flags


def deploy_workers(settings: StackSettings, built: dict, logs: EdgeLogPipeline | None,
                   flags: EdgeFlags | None = None) -> None:
    cloudflare = settings.cloudflare
    if cloudflare is None:
        return
    # A Worker's trace events reach Logpush only with its own logpush flag on, and only
    # where this stack runs a job for them.
    pushed = settings.logging.logpush.enabled and logs is not None
    namespace = flags.namespace_id if flags else None
    cached = CachedWorker(
        "api-cache",
        stack_args.cached_worker_args(cloudflare, built["cache_wrapper"], logpush=pushed,
                                      flags_namespace=namespace),
    )
    hello = EdgeWorker(
        "hello-geo", stack_args.geo_worker_args(cloudflare, built["hello_geo"], logpush=pushed,
                                                flags_namespace=namespace)
    )
    if cloudflare.edge_counter is not None:
        counter = EdgeWorker(
            "edge-counter",
            stack_args.counter_worker_args(cloudflare, built["edge_counter"], logpush=pushed),
        )
        export_worker("counterWorker", counter)
    if cloudflare.edge_auth is not None:
        auth = AuthWorker(
            "api-auth",
            stack_args.auth_worker_args(cloudflare, built["edge_auth"], logpush=pushed),
        )
        export_worker("authWorker", auth)
    if settings.rate_limits.cloudflare.enabled:
        CloudflareRateLimit("api-rate-limit", stack_args.cloudflare_rate_limit_args(settings))
    if pushed:
        CloudflareLogpush(
            "workers-logpush",
            stack_args.logpush_args(
                settings, bucket_name=logs.log_bucket_name, bucket_region=logs.log_bucket_region
            ),
        )
    if cached.worker.candidate is not None:  # edgekit canary drives the split
        pulumi.export("cacheWorkerCandidateVersionId", cached.worker.candidate.id)
    export_worker("cacheWorker", cached)
    export_worker("geoWorker", hello)


# Every value is checked, by every component's own checks, before the first resource.
settings = stack_args.load()
# Refused here too, before any resource: paging on without the secret endpoint.
endpoint = paging_endpoint(settings)
names = LAMBDA_FUNCTIONS + (WORKER_FUNCTIONS if settings.cloudflare else ())
names += stack_args.search_functions(settings)
if settings.cloudflare is not None and settings.cloudflare.edge_counter is not None:
    names += (stack_args.COUNTER_FUNCTION,)
if settings.cloudflare is not None and settings.cloudflare.edge_auth is not None:
    names += (stack_args.AUTH_FUNCTION,)
built = artifacts.resolve(names, settings.artifacts)
flag_stores = deploy_flags(settings)
resizer, log_pipeline = deploy_images(settings, built, endpoint, flag_stores)
deploy_workers(settings, built, log_pipeline, flag_stores)
deploy_dns(settings, resizer)
pulumi.export("environment", settings.environment)
pulumi.export("artifacts", artifacts.as_pins(built))
