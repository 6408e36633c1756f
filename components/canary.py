"""Canary releases: what a candidate version gets on each provider, checked before declaring.

CloudFront (EdgeImageResizer `canary=CloudFrontCanaryArgs(...)`): continuous deployment. The
stack declares a *staging* distribution (`staging=True`, the primary's configuration, running
the candidate Lambda@Edge version) and a `ContinuousDeploymentPolicy` the primary points at
(`continuous_deployment_policy_id`). The policy routes either a weight of the primary's
traffic, 0..15 % (CloudFront's limit; with session stickiness, idle and maximum TTL 300..3600
s, so a viewer stays on one side), or the requests carrying a header. CloudFront requires the
header name to start with `aws-cf-cd-`: the canary header is `aws-cf-cd-x-edgekit-canary: 1`
(AWS CloudFront API reference, ContinuousDeploymentSingleHeaderConfig; pulumi-aws 7.51.1
`ContinuousDeploymentPolicyTrafficConfigSingleHeaderConfigArgs`). While a canary runs, the
primary keeps `stable_version` (the Lambda version number it served before) and the staging
distribution runs the function's newest published version.

Cloudflare (EdgeWorker/CachedWorker `canary=WorkerCanaryArgs(...)`): gradual deployments.
The candidate is uploaded as a `cloudflare.WorkerVersion` (not deployed by the upload) and a
`cloudflare.WorkersDeployment` (strategy "percentage") splits traffic between the stable
version id and the candidate (pulumi-cloudflare 6.23.1: WorkerVersion, WorkersDeployment;
percentages must total 100). The script's own upload keeps its code (`ignore_changes`), so
only the deployment decides what runs.

`edgekit canary start|promote|abort` (edgekit_iac/release/canary.py) drives both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from edgekit_iac.components._args import ArgsError, documented

CANARY_HEADER = "aws-cf-cd-x-edgekit-canary"
CANARY_HEADER_VALUE = "1"
MAX_WEIGHT_PERCENT = 15  # CloudFront continuous deployment's limit
STICKINESS_TTL_RANGE = (300, 3600)
_LAMBDA_VERSION = re.compile(r"^[1-9][0-9]{0,9}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class CanaryArgsError(ArgsError):
    owner = "CloudFrontCanaryArgs"


DEFAULT_MIN_REQUESTS = 1000
DEFAULT_MAX_ERROR_RATE = 1.0  # percent


def _guard_problem(args: CloudFrontCanaryArgs | WorkerCanaryArgs) -> tuple[str, str, str] | None:
    """(field, problem, accepted) when the promote guard's thresholds are not usable."""
    count = args.min_requests
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        return "min_requests", f"got {count!r}", "a whole number of requests, at least 1"
    rate = args.max_error_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 100:
        return "max_error_rate", f"got {rate!r}", "a percentage 0..100"
    return None


@documented
@dataclass(kw_only=True, frozen=True)
class CloudFrontCanaryArgs:
    """Continuous deployment for the image distribution."""

    weight_percent: float = 0
    """Share of the primary's viewers sent to the staging distribution, 0..15 (CloudFront's
    limit). Default: 0 (only the header reaches it)."""

    by_header: bool = False
    """Route by the header `aws-cf-cd-x-edgekit-canary: 1` instead of by weight. Default:
    False."""

    idle_ttl: int = 300
    """Session stickiness: seconds without requests after which a viewer's session ends,
    300..3600. Default: 300."""

    maximum_ttl: int = 600
    """Session stickiness: longest session, seconds, idle_ttl..3600. Default: 600."""

    stable_version: str | None = None
    """The Lambda@Edge version number the primary distribution keeps serving while the
    candidate (the newest published version) runs on the staging distribution, e.g. "7".
    Default: None (both run the newest version: the canary is set up, nothing is tested)."""

    min_requests: int = DEFAULT_MIN_REQUESTS
    """The promote guard: `edgekit canary promote` refuses until the candidate has served
    at least this many requests (CloudWatch, Workers analytics, or the twin's counts).
    Default: 1000."""

    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    """The promote guard: the candidate's highest accepted rate of 5xx answers, percent.
    Default: 1."""


def validate_cloudfront(args: CloudFrontCanaryArgs) -> CloudFrontCanaryArgs:
    weight = args.weight_percent
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not (
            0 <= weight <= MAX_WEIGHT_PERCENT):
        raise CanaryArgsError("weight_percent", f"got {weight!r}",
                              f"0..{MAX_WEIGHT_PERCENT} (CloudFront's continuous deployment limit)")
    low, high = STICKINESS_TTL_RANGE
    for name in ("idle_ttl", "maximum_ttl"):
        value = getattr(args, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise CanaryArgsError(name, f"got {value!r}", f"whole seconds {low}..{high}")
    if args.idle_ttl > args.maximum_ttl:
        raise CanaryArgsError("idle_ttl", f"{args.idle_ttl} is over maximum_ttl "
                              f"{args.maximum_ttl}", "idle_ttl <= maximum_ttl")
    if args.stable_version is not None and not _LAMBDA_VERSION.match(str(args.stable_version)):
        raise CanaryArgsError("stable_version", f"got {args.stable_version!r}",
                              'a published Lambda version number such as "7" (not $LATEST)')
    problem = _guard_problem(args)
    if problem is not None:
        raise CanaryArgsError(*problem)
    return args


def traffic_config(args: CloudFrontCanaryArgs) -> dict[str, Any]:
    """The policy's traffic_config (pulumi-aws 7 input shape)."""
    if args.by_header:
        return {"type": "SingleHeader",
                "single_header_config": {"header": CANARY_HEADER, "value": CANARY_HEADER_VALUE}}
    return {
        "type": "SingleWeight",
        "single_weight_config": {
            "weight": round(args.weight_percent / 100, 4),
            "session_stickiness_config": {"idle_ttl": args.idle_ttl,
                                          "maximum_ttl": args.maximum_ttl},
        },
    }


@documented
@dataclass(kw_only=True, frozen=True)
class WorkerCanaryArgs:
    """A gradual deployment of a Worker's candidate version."""

    stable_version_id: str
    """The Worker version (uuid) serving the rest of the traffic: the one deployed now
    (`edgekit canary start` reads it from Cloudflare). Required."""

    percent: int = 10
    """Share of requests, 0..100, the candidate serves. Default: 10."""

    min_requests: int = DEFAULT_MIN_REQUESTS
    """The promote guard: `edgekit canary promote` refuses until the candidate has served
    at least this many requests (CloudWatch, Workers analytics, or the twin's counts).
    Default: 1000."""

    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    """The promote guard: the candidate's highest accepted rate of 5xx answers, percent.
    Default: 1."""


def validate_worker(owner: str, args: WorkerCanaryArgs) -> WorkerCanaryArgs:
    if not isinstance(args.stable_version_id, str) or not _UUID.match(args.stable_version_id):
        raise ArgsError("canary.stable_version_id", f"got {args.stable_version_id!r}",
                        "a Worker version id (uuid, lowercase)", owner=owner)
    if isinstance(args.percent, bool) or not isinstance(args.percent, int) or not (
            0 <= args.percent <= 100):
        raise ArgsError("canary.percent", f"got {args.percent!r}", "a whole number 0..100",
                        owner=owner)
    problem = _guard_problem(args)
    if problem is not None:
        field, got, accepted = problem
        raise ArgsError(f"canary.{field}", got, accepted, owner=owner)
    return args


def deployment_versions(stable: str, candidate: Any, percent: int) -> list[dict[str, Any]]:
    """The WorkersDeployment's versions: stable and candidate shares, totalling 100."""
    return [{"version_id": stable, "percentage": 100 - percent},
            {"version_id": candidate, "percentage": percent}]
