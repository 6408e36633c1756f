"""`edgekit canary start|promote|abort --stack NAME`: drive a stack's canary (components/canary.py).

The stack file says what a canary is (`edgekit:images.canary`, `edgekit:cloudflare.
cacheWrapper.canary`) and `pulumi up` declares it (staging distribution, continuous
deployment policy, candidate WorkerVersion and percentage deployment). This command moves
traffic on the deployed stack, through the providers' APIs, with the stack's outputs
(`--outputs FILE`, as `pulumi stack output --json` prints them):

- `start [--weight P]`: the policy's weight (0..15 %, or the header policy enabled) and the
  Worker deployment's split (stable / candidate) to the configured or given share;
- `promote`: only when the candidate has served at least `--min-requests` (default 1000)
  with an error rate under `--max-error-rate` (default 1 %), read from CloudWatch for the
  staging distribution (AWS/CloudFront Requests and 5xxErrorRate, Region=Global) and from
  the Workers analytics GraphQL API for the candidate version; then CloudFront
  `UpdateDistributionWithStagingConfig` (the staging configuration copied onto the primary,
  IfMatch "<primary ETag>, <staging ETag>") and the Worker deployment at 100 % candidate.
  `--force` skips the guard and is written to the history with the readings;
- `abort`: weight 0 (policy disabled for a header canary) and 100 % stable.

Every action is appended to `stacks/.history/<stack>-canary.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit_iac.errors import UserError

DEFAULT_MIN_REQUESTS = 1000
DEFAULT_MAX_ERROR_RATE = 1.0  # percent
DEFAULT_WINDOW_MINUTES = 30
WORKERS_ANALYTICS_QUERY = """
query CanaryReadings($accountTag: string!, $scriptName: string!, $since: Time!, $until: Time!) {
  viewer { accounts(filter: {accountTag: $accountTag}) {
    workersInvocationsAdaptive(limit: 100, filter: {scriptName: $scriptName,
        datetime_geq: $since, datetime_leq: $until}) {
      sum { requests errors }
      dimensions { scriptVersion }
    }
  } }
}
"""


class CanaryRefused(UserError):
    """A canary action the guards or the stack do not allow."""


@dataclass
class Readings:
    """What one side of the canary served in the window."""

    provider: str
    requests: int
    errors: float

    @property
    def error_rate(self) -> float:
        return 100.0 * self.errors / self.requests if self.requests else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "requests": self.requests,
                "errorRatePercent": round(self.error_rate, 3)}


# --- CloudFront ------------------------------------------------------------------------------


@dataclass
class CloudFrontCanary:
    cloudfront: Any  # boto3 client("cloudfront")
    cloudwatch: Any  # boto3 client("cloudwatch", region_name="us-east-1")
    primary_id: str
    staging_id: str
    policy_id: str
    name: str = "cloudfront"

    def set_share(self, percent: float, by_header: bool) -> None:
        found = self.cloudfront.get_continuous_deployment_policy(Id=self.policy_id)
        config = found["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"]
        traffic = config["TrafficConfig"]
        if by_header:
            config["Enabled"] = percent > 0
        else:
            traffic["SingleWeightConfig"]["Weight"] = round(percent / 100, 4)
            config["Enabled"] = True
        self.cloudfront.update_continuous_deployment_policy(
            ContinuousDeploymentPolicyConfig=config, Id=self.policy_id, IfMatch=found["ETag"])

    def readings(self, since: dt.datetime, until: dt.datetime) -> Readings:
        def statistic(metric: str, stat: str) -> float:
            answer = self.cloudwatch.get_metric_statistics(
                Namespace="AWS/CloudFront", MetricName=metric,
                Dimensions=[{"Name": "DistributionId", "Value": self.staging_id},
                            {"Name": "Region", "Value": "Global"}],
                StartTime=since, EndTime=until,
                Period=max(60, int((until - since).total_seconds()) // 60 * 60),
                Statistics=[stat])
            return sum(point[stat] for point in answer["Datapoints"])

        requests = int(statistic("Requests", "Sum"))
        rate = statistic("5xxErrorRate", "Average")  # percent of requests, over the window
        return Readings(self.name, requests, requests * rate / 100)

    def promote(self) -> None:
        primary = self.cloudfront.get_distribution_config(Id=self.primary_id)["ETag"]
        staging = self.cloudfront.get_distribution_config(Id=self.staging_id)["ETag"]
        self.cloudfront.update_distribution_with_staging_config(
            Id=self.primary_id, StagingDistributionId=self.staging_id,
            IfMatch=f"{primary}, {staging}")


# --- Cloudflare ------------------------------------------------------------------------------


@dataclass
class WorkerCanary:
    client: Any  # cloudflare.Cloudflare
    account_id: str
    script_name: str
    stable_id: str
    candidate_id: str
    name: str = "cloudflare"

    def set_share(self, percent: float, by_header: bool = False) -> None:
        share = int(round(percent))
        self.client.workers.scripts.deployments.create(
            self.script_name, account_id=self.account_id, strategy="percentage",
            versions=[{"version_id": self.stable_id, "percentage": 100 - share},
                      {"version_id": self.candidate_id, "percentage": share}],
            annotations={"workers_message": f"edgekit canary: candidate at {share}%"})

    def readings(self, since: dt.datetime, until: dt.datetime) -> Readings:
        answer = self.client.post("/graphql", cast_to=object, body={
            "query": WORKERS_ANALYTICS_QUERY,
            "variables": {"accountTag": self.account_id, "scriptName": self.script_name,
                          "since": since.isoformat(), "until": until.isoformat()}})
        if answer.get("errors"):
            raise UserError(f"Workers analytics: {answer['errors'][0].get('message')}")
        rows = answer["data"]["viewer"]["accounts"][0]["workersInvocationsAdaptive"]
        mine = [row for row in rows if row["dimensions"]["scriptVersion"] == self.candidate_id]
        return Readings(self.name, sum(int(r["sum"]["requests"]) for r in mine),
                        sum(int(r["sum"]["errors"]) for r in mine))

    def promote(self) -> None:
        self.set_share(100)


# --- the stack -------------------------------------------------------------------------------


@dataclass
class StackCanary:
    stack: str
    sides: list[Any]
    by_header: bool
    configured_percent: float
    history: Path


def open_stack(args: argparse.Namespace, clients: Callable[[], dict[str, Any]]) -> StackCanary:
    from edgekit_iac.flags_cli import declared_settings
    from edgekit_iac.paths import project_root
    from edgekit_iac.release import stack_outputs

    settings = declared_settings(args.stack)
    images = settings.images.canary
    worker = settings.cloudflare.cache_wrapper.canary if settings.cloudflare else None
    if images is None and worker is None:
        raise CanaryRefused(
            f"stack {args.stack!r} has no canary; configure edgekit:images.canary and/or "
            "edgekit:cloudflare.cacheWrapper.canary in its stack file and `pulumi up` first")
    outputs = stack_outputs.read_outputs(args.stack, Path(args.outputs) if args.outputs else None)
    made = clients()
    sides: list[Any] = []
    if images is not None:
        needed = ("imagesDistributionId", "imagesStagingDistributionId", "imagesCanaryPolicyId")
        missing = [key for key in needed if not outputs.get(key)]
        if missing:
            raise CanaryRefused(f"stack {args.stack!r}: outputs {missing} are missing; "
                                "`pulumi up` with edgekit:images.canary first")
        sides.append(CloudFrontCanary(made["cloudfront"], made["cloudwatch"],
                                      *(outputs[key] for key in needed)))
    if worker is not None:
        candidate = outputs.get("cacheWorkerCandidateVersionId")
        if not candidate:
            raise CanaryRefused(f"stack {args.stack!r}: output cacheWorkerCandidateVersionId "
                                "is missing; `pulumi up` with the Worker canary first")
        sides.append(WorkerCanary(made["cloudflare"], settings.cloudflare.account_id,
                                  settings.cloudflare.cache_wrapper.script_name,
                                  worker.stable_version_id, candidate))
    percent = images.weight_percent if images is not None else worker.percent
    history = project_root() / "stacks" / ".history" / f"{args.stack}-canary.json"
    return StackCanary(args.stack, sides, bool(images and images.by_header), percent, history)


def default_clients() -> dict[str, Any]:
    import boto3
    import cloudflare

    token = os.environ.get("CLOUDFLARE_API_TOKEN")
    return {
        "cloudfront": boto3.client("cloudfront"),
        "cloudwatch": boto3.client("cloudwatch", region_name="us-east-1"),
        "cloudflare": cloudflare.Cloudflare(api_token=token) if token else None,
    }


def _record(canary: StackCanary, entry: dict[str, Any]) -> None:
    from edgekit_iac.release.history import now
    from edgekit_iac.release.pins import write_atomically

    entries = json.loads(canary.history.read_text()) if canary.history.is_file() else []
    entries.append({"at": now(), "who": os.environ.get("GITHUB_ACTOR") or getpass.getuser(),
                    **entry})
    write_atomically(canary.history, json.dumps(entries, indent=2) + "\n")


def run_action(args: argparse.Namespace, canary: StackCanary, out: Callable[[str], None],
               now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> int:
    if args.action == "start":
        percent = canary.configured_percent if args.weight is None else args.weight
        limit = 15 if any(isinstance(s, CloudFrontCanary) for s in canary.sides) else 100
        if not 0 <= percent <= limit:
            raise CanaryRefused(f"--weight {percent}: accepted 0..{limit} (percent"
                                f"{'; CloudFront allows at most 15' if limit == 15 else ''})")
        for side in canary.sides:
            side.set_share(percent, canary.by_header)
        _record(canary, {"action": "start", "percent": percent,
                         "sides": [s.name for s in canary.sides]})
        out(f"canary started on {args.stack}: candidate gets {percent}% "
            f"({', '.join(s.name for s in canary.sides)})")
        return 0
    if args.action == "abort":
        for side in canary.sides:
            side.set_share(0, canary.by_header)
        _record(canary, {"action": "abort", "sides": [s.name for s in canary.sides]})
        out(f"canary aborted on {args.stack}: the candidate gets no traffic")
        return 0
    until = now()
    since = until - dt.timedelta(minutes=args.window)
    readings = [side.readings(since, until) for side in canary.sides]
    problems = []
    for reading in readings:
        if reading.requests < args.min_requests:
            problems.append(f"{reading.provider}: the candidate served {reading.requests} "
                            f"requests in {args.window} min, fewer than {args.min_requests}")
        elif reading.error_rate > args.max_error_rate:
            problems.append(f"{reading.provider}: error rate {reading.error_rate:.2f}% is over "
                            f"{args.max_error_rate}%")
    if problems and not args.force:
        raise CanaryRefused("promote refused: " + "; ".join(problems)
                            + " (wait for more traffic, abort, or override with --force)")
    for side in canary.sides:
        side.promote()
    _record(canary, {"action": "promote", "forced": bool(problems and args.force),
                     "readings": [r.as_json() for r in readings],
                     **({"overridden": problems} if problems else {})})
    out(f"canary promoted on {args.stack}" + (" (FORCED past: " + "; ".join(problems) + ")"
                                                if problems else ""))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("start", "promote", "abort"))
    parser.add_argument("--stack", required=True)
    parser.add_argument("--outputs", help="the stack's outputs (`pulumi stack output --json`)")
    parser.add_argument("--state-dir", help="the local twin's state directory (--stack local)")
    parser.add_argument("--weight", type=float, help="start: the candidate's share, percent")
    parser.add_argument("--min-requests", type=int, default=DEFAULT_MIN_REQUESTS)
    parser.add_argument("--max-error-rate", type=float, default=DEFAULT_MAX_ERROR_RATE,
                        help="percent")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW_MINUTES,
                        help="minutes of metrics the guard reads")
    parser.add_argument("--force", action="store_true",
                        help="promote past the guard (written to the history)")


def run_local(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """The twin's canary: between each Worker's stable and current recorded versions."""
    from edgekit_iac import paths
    from edgekit_iac.twin.cloudflare import versions

    root = Path(args.state_dir).resolve() if args.state_dir else paths.state_dir("local")
    scripts = sorted(p.parent.parent.name for p in (root / "workers").glob("*/versions/index.json")
                     if len(versions.history(p.parent.parent)) > 1)
    if args.action == "start":
        if not scripts:
            raise CanaryRefused(f"no Worker in the twin at {root} has two recorded versions; "
                                "run `edgekit up --stack local` with the old code, then with "
                                "the new code, and start the canary")
        weight = 10 if args.weight is None else args.weight
        if not 0 <= weight <= 100:
            raise CanaryRefused(f"--weight {weight}: accepted 0..100 (percent)")
        versions.write_canary(root, weight, header=True)
        out(f"twin canary started: the candidate (current) version of {', '.join(scripts)} "
            f"answers {weight:g}% of clients and every request with X-Edgekit-Canary: 1")
    elif args.action == "abort":
        versions.write_canary(root, 0, header=False)
        out("twin canary aborted: the stable versions answer everything")
    else:
        versions.write_canary(root, None)
        out("twin canary promoted: the current versions answer everything (the twin keeps no "
            "metrics, so the promote guard applies to deployed stacks only)")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.stack == "local":
        return run_local(args, print)
    return run_action(args, open_stack(args, default_clients), print)
