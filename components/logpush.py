"""CloudflareLogpush: Workers trace events (and zone HTTP requests) pushed as NDJSON into S3.

Cloudflare Logpush writes to an S3 bucket as Cloudflare's own IAM user, and only after the
destination's owner proves ownership. Both steps are modelled here:

1. A bucket policy lets Cloudflare's documented Logpush principal
   (`arn:aws:iam::391854517948:user/cloudflare-logpush`) `s3:PutObject` under
   `<prefix>/` only. S3 holds one policy per bucket and EdgeLogPipeline declares none, so
   this component owns the log bucket's policy.
2. For each destination a `LogpushOwnershipChallenge` makes Cloudflare write a token file
   into the bucket; `OwnershipToken` reads that file once, when the challenge is created,
   and the `LogpushJob` presents the token. Reading it through a resource rather than a
   data source matters: a data source would re-read the file on every update and fail
   once the bucket's lifecycle has expired it (or someone deleted it, as Cloudflare
   suggests), while the token is only needed when a job is created.

Jobs: `workers_trace_events` at account level, always; `http_requests` at zone level when
`http_requests_zone_id` is set (a zone dataset, Enterprise plans).

`workers_trace_events` is an account-wide dataset: a job without a filter receives every
Worker's events in the account, so two stacks in one account would each push the other's
logs into their own bucket. The job is therefore always filtered to `script_names`
(`{"where": {"key": "ScriptName", "operator": "in", "value": [...]}}`, Cloudflare's Logpush
filter syntax), and a script only emits trace events once its own `logpush` flag is on
(`EdgeWorkerArgs.logpush`); both halves are needed. Each writes NDJSON with
RFC 3339 timestamps to `s3://<bucket>/<prefix>/<dataset>/{DATE}/` with SSE-S3. The
Cloudflare API token is the provider's secret config (`cloudflare:apiToken`); this
component takes no credentials.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi.dynamic
from edgekit_iac.components._args import (
    AWS_REGIONS,
    ArgsError,
    check_cloudflare_id,
    documented,
    provider_module,
)
from edgekit_iac.components._aws_helpers import (
    bucket_arn,
    deny_insecure_transport,
    policy_document,
    policy_json,
    statement,
)
from edgekit_iac.components._component import EdgeComponent
from edgekit_iac.components.log_pipeline import ERROR_PREFIX, LOG_PREFIX

if TYPE_CHECKING:
    import pulumi_aws as aws
    import pulumi_cloudflare as cloudflare
else:
    aws = provider_module("pulumi_aws")
    cloudflare = provider_module("pulumi_cloudflare")

TYPE_TOKEN = "edgekit:cloudflare:CloudflareLogpush"

# Cloudflare's documented Logpush writer for Amazon S3 destinations.
CLOUDFLARE_LOGPUSH_PRINCIPAL = "arn:aws:iam::391854517948:user/cloudflare-logpush"

WORKERS_DATASET = "workers_trace_events"
HTTP_DATASET = "http_requests"
OUTPUT_TYPE = "ndjson"
TIMESTAMP_FORMAT = "rfc3339"

# Every field of the workers_trace_events dataset (Cloudflare Logs reference).
WORKERS_FIELDS = (
    "CPUTimeMs",
    "DispatchNamespace",
    "Entrypoint",
    "Event",
    "EventTimestampMs",
    "EventType",
    "Exceptions",
    "Logs",
    "Outcome",
    "ScriptName",
    "ScriptTags",
    "ScriptVersion",
    "WallTimeMs",
)
DEFAULT_WORKERS_FIELDS = (
    "EventTimestampMs",
    "EventType",
    "Outcome",
    "ScriptName",
    "ScriptVersion",
    "CPUTimeMs",
    "WallTimeMs",
    "Exceptions",
    "Logs",
    "Event",
)

DEFAULT_HTTP_FIELDS = (
    "EdgeStartTimestamp",
    "EdgeEndTimestamp",
    "RayID",
    "ClientIP",
    "ClientCountry",
    "ClientRequestHost",
    "ClientRequestMethod",
    "ClientRequestURI",
    "EdgeColoCode",
    "EdgeResponseStatus",
    "EdgeResponseBytes",
    "CacheCacheStatus",
    "OriginResponseStatus",
    "WorkerSubrequest",
)

# EdgeLogPipeline's Firehose writes there; Cloudflare must not be able to overwrite it.
RESERVED_PREFIXES = (LOG_PREFIX, ERROR_PREFIX)

_PREFIX = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")
_FIELD = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# Workers script names: a letter first, then letters, digits, '-' or '_', at most 63.
_SCRIPT_NAME = re.compile(r"^[a-z]([a-z0-9_-]{0,61}[a-z0-9])?$")


class LogpushArgsError(ArgsError):
    """A field of `CloudflareLogpushArgs` is wrong; the message names it and what is accepted."""

    owner = "CloudflareLogpushArgs"


@documented
@dataclass(frozen=True)
class CloudflareLogpushArgs:
    """Which Cloudflare logs go where; the grant and the ownership proof are not optional."""

    account_id: str
    """Cloudflare account (32 hex characters) whose Workers trace events are pushed.
    Required."""

    bucket_name: pulumi.Input[str]
    """The S3 bucket that receives the logs, e.g. `EdgeLogPipeline.log_bucket_name`.
    Required."""

    script_names: Sequence[str]
    """The Workers scripts whose trace events this job pushes (the job's ScriptName
    filter); each script must also set `logpush` (EdgeWorkerArgs.logpush). Required and
    non-empty: the dataset is account-wide, so an unfiltered job would collect every
    stack's Workers."""

    bucket_region: pulumi.Input[str] = "us-east-1"
    """The bucket's region (China regions are not supported by Logpush), e.g.
    `EdgeLogPipeline.log_bucket_region`. Default: us-east-1."""

    prefix: str = "cloudflare/workers"
    """Key prefix under which Cloudflare may write: lower-case path segments without
    leading or trailing "/", outside EdgeLogPipeline's cloudfront/ prefixes.
    Default: cloudflare/workers."""

    workers_fields: Sequence[str] = DEFAULT_WORKERS_FIELDS
    """workers_trace_events fields to push. Default: EventTimestampMs, EventType, Outcome,
    ScriptName, ScriptVersion, CPUTimeMs, WallTimeMs, Exceptions, Logs, Event."""

    http_requests_zone_id: str | None = None
    """Also push the zone's http_requests dataset (Enterprise plans) from this zone.
    Default: None (Workers trace events only)."""

    http_requests_fields: Sequence[str] = DEFAULT_HTTP_FIELDS
    """http_requests fields to push when `http_requests_zone_id` is set. Default: timing,
    RayID, client IP/country, host, method, URI, colo, status, bytes, cache status,
    origin status, WorkerSubrequest."""


@dataclass(frozen=True)
class LogpushDestination:
    """One dataset's job: where it is scoped (account or zone) and which fields it pushes."""

    dataset: str
    scope: str  # "account_id" or "zone_id"
    scope_id: str
    fields: tuple[str, ...]
    filter: str | None = None


# --- validation: pure, runs before anything is declared ------------------------------------


_fail = LogpushArgsError


def _hex_id(arg: str, value: Any) -> str:
    return check_cloudflare_id(LogpushArgsError, arg, value)


def _fields(arg: str, value: Any, known: Sequence[str] | None) -> tuple[str, ...]:
    accepted = (
        f"a non-empty list of {', '.join(known)}"
        if known
        else "a non-empty list of Cloudflare field names such as ClientIP"
    )
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise _fail(arg, f"got {value!r}", accepted)
    bad = [
        name
        for name in value
        if not isinstance(name, str) or not _FIELD.match(name) or (known and name not in known)
    ]
    if bad:
        raise _fail(arg, f"unknown fields {bad}", accepted)
    return tuple(dict.fromkeys(value))


def _script_names(value: Any) -> tuple[str, ...]:
    accepted = (
        'a non-empty list of this stack\'s Workers script names, e.g. ["edge-cache", '
        '"hello-geo"] (workers_trace_events is account-wide; unfiltered it collects every '
        "stack's Workers)"
    )
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise _fail("script_names", f"got {value!r}", accepted)
    bad = [name for name in value if not isinstance(name, str) or not _SCRIPT_NAME.match(name)]
    if bad:
        raise _fail("script_names", f"bad script names {bad}", accepted)
    return tuple(sorted(set(value)))


def script_filter(script_names: Sequence[str]) -> str:
    """The Logpush filter that keeps only these scripts' trace events (sorted: stable diff)."""
    return json.dumps(
        {"where": {"key": "ScriptName", "operator": "in", "value": sorted(script_names)}},
        separators=(",", ":"),
    )


def _prefix(value: Any) -> str:
    accepted = (
        'lower-case path segments without leading or trailing "/", e.g. "cloudflare/workers", '
        f"not under {', '.join(RESERVED_PREFIXES)}"
    )
    if not isinstance(value, str) or not _PREFIX.match(value):
        raise _fail("prefix", f"got {value!r}", accepted)
    if any(
        f"{value}/".startswith(reserved) or reserved.startswith(f"{value}/")
        for reserved in RESERVED_PREFIXES
    ):
        raise _fail("prefix", f"{value!r} overlaps EdgeLogPipeline's log prefixes", accepted)
    return value


def validate_args(args: CloudflareLogpushArgs) -> CloudflareLogpushArgs:
    """Check every field of `args` and return them normalized (the only values the
    `_create_*` steps read), or raise naming the field."""
    account_id = _hex_id("account_id", args.account_id)
    if args.bucket_name is None or (isinstance(args.bucket_name, str) and not args.bucket_name):
        raise _fail("bucket_name", f"got {args.bucket_name!r}", "the log bucket's name")
    region = args.bucket_region
    # An Output (the log pipeline's region) was checked where it was made. China regions
    # are not in AWS_REGIONS; Logpush does not support them either.
    if isinstance(region, str) and region not in AWS_REGIONS:
        raise _fail(
            "bucket_region",
            f"got {region!r}",
            "an AWS region of the aws partition such as us-east-1 (Logpush does not support "
            "China regions)",
        )
    zone_id = args.http_requests_zone_id
    if zone_id is not None:
        zone_id = _hex_id("http_requests_zone_id", zone_id)
    return replace(
        args,
        account_id=account_id,
        workers_fields=_fields("workers_fields", args.workers_fields, WORKERS_FIELDS),
        script_names=_script_names(args.script_names),
        http_requests_zone_id=zone_id,
        http_requests_fields=(
            args.http_requests_fields
            if zone_id is None
            else _fields("http_requests_fields", args.http_requests_fields, None)
        ),
        prefix=_prefix(args.prefix),
    )


def destinations(settings: CloudflareLogpushArgs) -> tuple[LogpushDestination, ...]:
    """One job per dataset (`settings` validated): the Workers' trace events, filtered to
    the stack's scripts, and the zone's http_requests when asked for."""
    jobs = [
        LogpushDestination(
            WORKERS_DATASET,
            "account_id",
            settings.account_id,
            tuple(settings.workers_fields),
            script_filter(settings.script_names),
        )
    ]
    if settings.http_requests_zone_id is not None:
        jobs.append(
            LogpushDestination(
                HTTP_DATASET,
                "zone_id",
                settings.http_requests_zone_id,
                tuple(settings.http_requests_fields),
            )
        )
    return tuple(jobs)


# --- pure decisions the resources are built from ------------------------------------------


def destination_conf(bucket: str, prefix: str, dataset: str, region: str) -> str:
    """Logpush's S3 destination: one folder per dataset, one subfolder per day, SSE-S3."""
    return f"s3://{bucket}/{prefix}/{dataset}/{{DATE}}?region={region}&sse=AES256"


def logpush_bucket_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """Cloudflare's Logpush user may put objects under `prefix/`, and nothing else; nobody
    over plain HTTP. This is the bucket's one policy: EdgeLogPipeline leaves it to us."""
    return policy_document(
        deny_insecure_transport(bucket_arn(bucket)),
        statement(
            "CloudflareLogpushWrites",
            ["s3:PutObject"],
            f"{bucket_arn(bucket)}/{prefix}/*",
            principal={"AWS": CLOUDFLARE_LOGPUSH_PRINCIPAL},
        )
    )


def output_options(fields: Sequence[str]) -> dict[str, Any]:
    """NDJSON with the chosen fields and RFC 3339 timestamps."""
    return {
        "output_type": OUTPUT_TYPE,
        "field_names": list(fields),
        "timestamp_format": TIMESTAMP_FORMAT,
    }


# --- reading the ownership token once --------------------------------------------------------


class ChallengeFileMissing(RuntimeError):
    """Cloudflare reported a challenge file that is not (yet) in the bucket."""


def read_challenge_token(
    bucket: str, key: str, region: str, *, attempts: int = 5, delay_seconds: float = 2.0
) -> str:
    """The token Cloudflare wrote to s3://bucket/key, read with the deployer's AWS credentials.

    Cloudflare writes the file before it answers the challenge request; a few retries only
    cover a slow write becoming visible.
    """
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("s3", region_name=region)
    for attempt in range(1, attempts + 1):
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body.decode("utf-8").strip()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code not in ("NoSuchKey", "404") or attempt == attempts:
                raise ChallengeFileMissing(
                    f"cannot read Cloudflare's ownership challenge s3://{bucket}/{key}: {code}"
                ) from error
            time.sleep(delay_seconds)
    raise AssertionError("unreachable")


class _ChallengeTokenProvider(pulumi.dynamic.ResourceProvider):
    """Reads the challenge file on create; a different file means a new token (replace)."""

    _KEYS = ("bucket", "key", "region")

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        token = read_challenge_token(props["bucket"], props["key"], props["region"])
        return pulumi.dynamic.CreateResult(
            id_=f"{props['bucket']}/{props['key']}", outs={**props, "token": token}
        )

    def diff(
        self, _id: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> pulumi.dynamic.DiffResult:
        replaces = [key for key in self._KEYS if olds.get(key) != news.get(key)]
        return pulumi.dynamic.DiffResult(changes=bool(replaces), replaces=replaces)


class OwnershipToken(pulumi.dynamic.Resource):
    """The token in a Logpush ownership challenge file, read once and kept as a secret."""

    token: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        bucket: pulumi.Input[str],
        key: pulumi.Input[str],
        region: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["token"])
        super().__init__(
            _ChallengeTokenProvider(),
            name,
            {"bucket": bucket, "key": key, "region": region, "token": None},
            pulumi.ResourceOptions.merge(opts, secret),
        )


# --- the component ---------------------------------------------------------------------------


class CloudflareLogpush(EdgeComponent):
    """Bucket grant for Cloudflare, ownership proof, and one Logpush job per dataset."""

    TYPE_TOKEN = TYPE_TOKEN

    job_ids: pulumi.Output[list[str]]
    destinations: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: CloudflareLogpushArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = validate_args(args)
        super().__init__(name, opts)
        self._settings = settings

        self._grant_cloudflare_access()
        self.jobs = [self._create_job(destination) for destination in destinations(settings)]

        self.set_outputs(
            job_ids=pulumi.Output.all(*[job.id for job in self.jobs]),
            destinations=pulumi.Output.all(*[job.destination_conf for job in self.jobs]),
        )

    def _grant_cloudflare_access(self) -> None:
        settings = self._settings
        self.bucket_policy = aws.s3.BucketPolicy(
            self.child_name("bucket-policy"),
            bucket=settings.bucket_name,
            region=settings.bucket_region,
            policy=policy_json(logpush_bucket_policy, settings.bucket_name, settings.prefix),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_job(self, destination: LogpushDestination) -> cloudflare.LogpushJob:
        name, settings = self._name, self._settings
        label = destination.dataset.replace("_", "-")
        conf = pulumi.Output.all(settings.bucket_name, settings.bucket_region).apply(
            lambda values: destination_conf(
                values[0], settings.prefix, destination.dataset, values[1]
            )
        )
        scope = {destination.scope: destination.scope_id}
        # Cloudflare writes the challenge file only once it may write to the bucket.
        challenge = cloudflare.LogpushOwnershipChallenge(
            f"{name}-{label}-challenge",
            destination_conf=conf,
            **scope,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.bucket_policy]),
        )
        token = OwnershipToken(
            f"{name}-{label}-token",
            bucket=settings.bucket_name,
            key=challenge.filename,
            region=settings.bucket_region,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return cloudflare.LogpushJob(
            f"{name}-{label}",
            **scope,
            name=f"{name}-{label}",
            dataset=destination.dataset,
            destination_conf=conf,
            enabled=True,
            output_options=output_options(destination.fields),
            filter=destination.filter,
            ownership_challenge=token.token,
            opts=pulumi.ResourceOptions(parent=self),
        )
