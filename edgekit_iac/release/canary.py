"""`edgekit canary start|promote|abort --stack NAME`: drive a stack's canary (components/canary.py).

The stack file says what a canary is (`edgekit:images.canary`, `edgekit:cloudflare.
cacheWrapper.canary`) and `pulumi up` declares it (staging distribution, continuous
deployment policy, candidate WorkerVersion and percentage deployment). This command moves
traffic on the deployed stack, through the providers' APIs, with the stack's outputs
(`--outputs FILE`, as `pulumi stack output --json` prints them):

- `start [--weight P]`: the policy's weight (0..15 %, or the header policy enabled) and the
  Worker deployment's split (stable / candidate) to the configured or given share;
- `promote`: only when the candidate has served at least `minRequests` (the canary's stack
  config, or `--min-requests`; default 1000) with an error rate under `maxErrorRate`
  (`--max-error-rate`; default 1 %), read from CloudWatch for the
  staging distribution (AWS/CloudFront Requests and 5xxErrorRate, Region=Global) and from
  the Workers analytics GraphQL API for the candidate version; then CloudFront
  `UpdateDistributionWithStagingConfig` (the staging configuration copied onto the primary,
  IfMatch "<primary ETag>, <staging ETag>") and the Worker deployment at 100 % candidate.
  `--force` skips the guard and is written to the history with the readings;
  After a CloudFront promote the primary runs the candidate, so the stack file's
  `edgekit:images.canary.stableVersion` (which would send the primary back to the old
  version on the next `pulumi up`) is removed from `stacks/Pulumi.<stack>.yaml`, as text:
  comments and every other line stay (release/stack_edit.py);
- `abort`: weight 0 (policy disabled for a header canary) and 100 % stable.

Every action is appended to `stacks/.history/<stack>-canary.json`.

`--stack local` drives the twin's canary instead (edgekit_iac/twin/canary_split.py): the
recorded Worker versions and the image distribution's staging copy running the candidate
resizer bundle (`start` records one: `--candidate ZIP`, else the working tree's resizer built
as `edgekit bundle` builds it). Its promote guard reads the twin's
per-version counts since `start`, with the same thresholds; its history is
`<state dir>/local-canary.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit_iac.errors import UserError

# The guard's defaults; the canary's stack config (components/canary.py, the same numbers,
# checked by tests/test_canary.py) sets them per stack. Not imported from there: the local
# path of this command stays free of the components' (and Pulumi's) import time.
DEFAULT_MIN_REQUESTS = 1000
DEFAULT_MAX_ERROR_RATE = 1.0  # percent
DEFAULT_WINDOW_MINUTES = 30
# The image canary's function (components/image_resizer.FUNCTION_NAME, checked by
# tests/twin/test_local_canary_start.py): `canary start --stack local` builds it.
IMAGE_FUNCTION = "image_resizer"
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


@dataclass(frozen=True)
class Guard:
    """What `promote` requires of a candidate (the canary's stack config, or the flags)."""

    min_requests: int = DEFAULT_MIN_REQUESTS
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE  # percent

    @classmethod
    def of(cls, config: Any) -> Guard:
        return cls(config.min_requests, config.max_error_rate) if config is not None else cls()

    @classmethod
    def of_local(cls, section: dict[str, Any] | None) -> Guard:
        """From the twin's canary-settings.json section (canary_split.write_settings)."""
        return (cls(section["minRequests"], section["maxErrorRate"]) if section is not None
                else cls())

    def with_flags(self, args: argparse.Namespace) -> Guard:
        return Guard(self.min_requests if args.min_requests is None else args.min_requests,
                     self.max_error_rate if args.max_error_rate is None
                     else args.max_error_rate)

    def problem(self, reading: Readings, served_when: str) -> str | None:
        if reading.requests < self.min_requests:
            return (f"{reading.provider}: the candidate served {reading.requests} requests "
                    f"{served_when}, fewer than {self.min_requests}")
        if reading.error_rate > self.max_error_rate:
            return (f"{reading.provider}: error rate {reading.error_rate:.2f}% is over "
                    f"{self.max_error_rate}%")
        return None


def guarded(args: argparse.Namespace, checks: list[tuple[Readings, Guard]],
            served_when: str) -> list[str]:
    """The guard's objections; raises CanaryRefused unless `--force` overrides them."""
    problems = [problem for reading, guard in checks
                if (problem := guard.with_flags(args).problem(reading, served_when))]
    if problems and not args.force:
        raise CanaryRefused("promote refused: " + "; ".join(problems)
                            + " (wait for more traffic, abort, or override with --force)")
    return problems


# --- CloudFront ------------------------------------------------------------------------------


@dataclass
class CloudFrontCanary:
    cloudfront: Any  # boto3 client("cloudfront")
    cloudwatch: Any  # boto3 client("cloudwatch", region_name="us-east-1")
    primary_id: str
    staging_id: str
    policy_id: str
    name: str = "cloudfront"
    guard: Guard = Guard()

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
    guard: Guard = Guard()

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
    stack_file: Path | None = None  # drop images.canary.stableVersion here after a promote


def open_stack(args: argparse.Namespace, clients: Callable[[], dict[str, Any]]) -> StackCanary:
    from edgekit_iac.flags_cli import declared_settings
    from edgekit_iac.paths import project_root
    from edgekit_iac.release import stack_files, stack_outputs

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
                                      *(outputs[key] for key in needed),
                                      guard=Guard.of(images)))
    if worker is not None:
        candidate = outputs.get("cacheWorkerCandidateVersionId")
        if not candidate:
            raise CanaryRefused(f"stack {args.stack!r}: output cacheWorkerCandidateVersionId "
                                "is missing; `pulumi up` with the Worker canary first")
        sides.append(WorkerCanary(made["cloudflare"], settings.cloudflare.account_id,
                                  settings.cloudflare.cache_wrapper.script_name,
                                  worker.stable_version_id, candidate,
                                  guard=Guard.of(worker)))
    percent = images.weight_percent if images is not None else worker.percent
    history = project_root() / "stacks" / ".history" / f"{args.stack}-canary.json"
    stack_file = (stack_files.stack_file(args.stack)
                  if images is not None and images.stable_version is not None else None)
    return StackCanary(args.stack, sides, bool(images and images.by_header), percent, history,
                       stack_file)


def default_clients() -> dict[str, Any]:
    import boto3
    import cloudflare

    token = os.environ.get("CLOUDFLARE_API_TOKEN")
    return {
        "cloudfront": boto3.client("cloudfront"),
        "cloudwatch": boto3.client("cloudwatch", region_name="us-east-1"),
        "cloudflare": cloudflare.Cloudflare(api_token=token) if token else None,
    }


def _record(history: Path, entry: dict[str, Any]) -> None:
    # state.py's atomic JSON writer: light to import (the local path stays quick).
    from edgekit_iac.twin.state import StateFiles

    entries = json.loads(history.read_text()) if history.is_file() else []
    entries.append({"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "who": os.environ.get("GITHUB_ACTOR") or getpass.getuser(), **entry})
    history.parent.mkdir(parents=True, exist_ok=True)
    StateFiles(history.parent).write_json(history, entries)


def _promoted_entry(checks: list[tuple[Readings, Guard]], problems: list[str],
                    force: bool) -> dict[str, Any]:
    return {"action": "promote", "forced": bool(problems and force),
            "readings": [reading.as_json() for reading, _ in checks],
            **({"overridden": problems} if problems else {})}


def _drop_stable_version(stack_file: Path) -> str:
    """After a CloudFront promote: the stack file stops pinning the primary's old version."""
    from edgekit_iac.release import stack_edit

    removed = stack_edit.remove_key(stack_file, ("edgekit:images", "canary", "stableVersion"))
    return (f"; removed edgekit:images.canary.stableVersion from {stack_file.name} (the primary "
            "now runs the candidate; commit the file)" if removed else "")


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
        _record(canary.history, {"action": "start", "percent": percent,
                         "sides": [s.name for s in canary.sides]})
        out(f"canary started on {args.stack}: candidate gets {percent}% "
            f"({', '.join(s.name for s in canary.sides)})")
        return 0
    if args.action == "abort":
        for side in canary.sides:
            side.set_share(0, canary.by_header)
        _record(canary.history, {"action": "abort", "sides": [s.name for s in canary.sides]})
        out(f"canary aborted on {args.stack}: the candidate gets no traffic")
        return 0
    until = now()
    since = until - dt.timedelta(minutes=args.window)
    checks = [(side.readings(since, until), side.guard) for side in canary.sides]
    problems = guarded(args, checks, f"in {args.window} min")
    for side in canary.sides:
        side.promote()
    _record(canary.history, _promoted_entry(checks, problems, args.force))
    cleaned = _drop_stable_version(canary.stack_file) if canary.stack_file else ""
    for side in canary.sides:
        if isinstance(side, WorkerCanary):
            # Not rewritten: the next `pulumi up` with unchanged code would then declare the
            # promoted version on both sides of the split. The next canary starts from it.
            cleaned += (f"; cacheWrapper.canary.stableVersionId is still {side.stable_id}: set "
                        f"it to {side.candidate_id} for the next canary, or remove the canary")
    out(f"canary promoted on {args.stack}" + (" (FORCED past: " + "; ".join(problems) + ")"
                                                if problems else "") + cleaned)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("start", "promote", "abort"))
    parser.add_argument("--stack", required=True)
    parser.add_argument("--outputs", help="the stack's outputs (`pulumi stack output --json`)")
    parser.add_argument("--state-dir", help="the local twin's state directory (--stack local)")
    parser.add_argument("--weight", type=float, help="start: the candidate's share, percent")
    parser.add_argument("--candidate", help="start --stack local: a resizer bundle (zip) the "
                        "twin's staging distribution runs as the candidate (default: "
                        f"functions/{IMAGE_FUNCTION} built from the working tree)")
    parser.add_argument("--min-requests", type=int, help="promote: requests the candidate "
                        f"must have served (default: the canary's minRequests, else "
                        f"{DEFAULT_MIN_REQUESTS})")
    parser.add_argument("--max-error-rate", type=float, help="promote: highest 5xx rate, "
                        f"percent (default: the canary's maxErrorRate, else "
                        f"{DEFAULT_MAX_ERROR_RATE:g})")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW_MINUTES,
                        help="minutes of metrics the guard reads")
    parser.add_argument("--force", action="store_true",
                        help="promote past the guard (written to the history)")


@dataclass(frozen=True)
class LocalSide:
    """One candidate in the twin: a Worker script's or the image function's newest recorded
    version, and the thresholds its promote must meet."""

    name: str
    candidate: str
    guard: Guard
    cloudfront: bool = False


def _local_sides(root: Path, settings: dict[str, Any]) -> list[LocalSide]:
    """The twin's candidates, with the thresholds of the stack it serves."""
    from edgekit_iac.twin import canary_split

    images, workers = settings.get("images"), settings.get("workers") or {}
    configured = images or next(iter(workers.values()), None)
    sides = []
    for folder in sorted(canary_split.bundles_root(root).glob("*")):
        recorded = canary_split.history(folder)
        if len(recorded) > 1:
            sides.append(LocalSide(folder.name, recorded[-1], Guard.of_local(images), True))
    for index in sorted((root / "workers").glob("*/versions/index.json")):
        script = index.parent.parent
        recorded = canary_split.history(script)
        if len(recorded) > 1:
            own = workers.get(script.name) or configured
            sides.append(LocalSide(script.name, recorded[-1], Guard.of_local(own)))
    return sides


@dataclass(frozen=True)
class _ImageCandidate:
    """A resizer bundle `start` records as the image function's newest version."""

    folder: Path  # the function's recorded bundles in the twin
    bundle: Path
    label: str  # what `start` prints: where the bundle came from

    def is_new(self) -> bool:
        """Not the newest recorded version already (recording it would change nothing)."""
        from edgekit_iac.twin import canary_split

        recorded = canary_split.history(self.folder)
        return not recorded or recorded[-1] != hashlib.sha256(self.bundle.read_bytes()).hexdigest()


def _built_candidate(folder: Path) -> _ImageCandidate:
    """The resizer built from the working tree by `edgekit bundle`'s own build (a
    reproducible zip under .edgekit/bundles/); a build error is refused, nothing recorded."""
    from edgekit_iac.bundle.cli import build_with_progress
    from edgekit_iac.bundle.manifest import display_path

    try:
        [artifact] = build_with_progress([IMAGE_FUNCTION])
    except (UserError, OSError) as exc:
        raise CanaryRefused(f"canary start: the candidate {IMAGE_FUNCTION} bundle did not build "
                            f"from the working tree: {exc}. Nothing was recorded; fix it and "
                            "start again, or pass --candidate ZIP") from exc
    return _ImageCandidate(folder, artifact.path,
                           f"{artifact.name} {artifact.version} from the working tree, "
                           f"{display_path(artifact.path)}")


def _image_candidate(root: Path, settings: dict[str, Any], zip_path: str | None
                     ) -> _ImageCandidate | None:
    """What `start` records for the image function: `--candidate ZIP`, else (when the twin
    runs a CloudFront canary) the working tree's build; None without an image canary."""
    from edgekit_iac.twin import canary_split

    folders = sorted(canary_split.bundles_root(root).glob("*"))
    if zip_path is None:
        return (_built_candidate(folders[0]) if folders and settings.get("images") is not None
                else None)
    bundle = Path(zip_path)
    if not folders:
        raise CanaryRefused(f"--candidate: the twin at {root} runs no CloudFront canary; "
                            "configure edgekit:images.canary in stacks/Pulumi.local.yaml and "
                            "`edgekit up --stack local` first")
    if not bundle.is_file() or bundle.suffix != ".zip":
        raise CanaryRefused(f"--candidate {zip_path}: no such zip; accepted: a resizer bundle "
                            "such as .edgekit/bundles/image_resizer-<sha256>.zip")
    return _ImageCandidate(folders[0], bundle, zip_path)


def run_local(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """The twin's canary: between each side's stable and candidate recorded versions (Worker
    versions, the image distribution's resizer bundles), guarded by the twin's counts."""
    from edgekit_iac import paths
    from edgekit_iac.twin import canary_split

    root = Path(args.state_dir).resolve() if args.state_dir else paths.state_dir("local")
    history = root / "local-canary.json"
    settings = canary_split.read_settings(root)  # what the twin serves, checked when it started
    if args.action == "start":
        candidate = _image_candidate(root, settings, args.candidate)
        new = candidate is not None and candidate.is_new()
        sides = _local_sides(root, settings)
        if not sides and not new:
            same = (f"; the working tree's {IMAGE_FUNCTION} bundle is the one the twin already "
                    f"runs ({candidate.label})" if candidate is not None else "")
            raise CanaryRefused(f"nothing in the twin at {root} has two recorded versions"
                                f"{same}; run `edgekit up --stack local` with the old code, "
                                "then with the new code (the image resizer: change "
                                f"functions/{IMAGE_FUNCTION}, or pass `--candidate ZIP`), and "
                                "start the canary")
        images = settings.get("images")
        # One weight drives every side; CloudFront's limit holds when the images are in it.
        cloudfront = images is not None and (new or any(side.cloudfront for side in sides))
        configured = images["weightPercent"] if cloudfront else 10
        weight = configured if args.weight is None else args.weight
        limit = 15 if cloudfront else 100
        if not 0 <= weight <= limit:
            raise CanaryRefused(f"--weight {weight:g}: accepted 0..{limit} (percent"
                                f"{'; CloudFront allows at most 15' if limit == 15 else ''})")
        recorded = None
        if candidate is not None:  # only now: a refused start records nothing
            version = canary_split.record_file(candidate.folder, candidate.bundle)
            recorded = f"{candidate.folder.name} {version[:12]} ({candidate.label})"
            sides = _local_sides(root, settings)
        canary_split.write_canary(root, weight, header=True, new_run=True)
        _record(history, {"action": "start", "percent": weight,
                          "sides": {side.name: side.candidate for side in sides},
                          **({"recorded": recorded} if recorded else {})})
        out(f"twin canary started: the candidate versions of "
            f"{', '.join(side.name for side in sides)} answer {weight:g}% of clients and every "
            "request with X-Edgekit-Canary: 1" + (f" (recorded {recorded})" if recorded else ""))
    elif args.action == "abort":
        canary_split.write_canary(root, 0, header=False)
        _record(history, {"action": "abort"})
        out("twin canary aborted: the stable versions answer everything")
    else:
        if canary_split.read_canary(root) is None:
            raise CanaryRefused(f"no local canary is running in the twin at {root}; "
                                "`edgekit canary start --stack local` first")
        counts = canary_split.read_counts(root)
        checks = []
        for side in _local_sides(root, settings):
            served = counts.get(side.name, {}).get(side.candidate, {})
            checks.append((Readings(f"twin {side.name}", int(served.get("requests", 0)),
                                    int(served.get("errors", 0))), side.guard))
        problems = guarded(args, checks, "since `canary start`")
        canary_split.write_canary(root, None)
        _record(history, _promoted_entry(checks, problems, args.force))
        out("twin canary promoted: the candidate versions answer everything"
            + (" (FORCED past: " + "; ".join(problems) + ")" if problems else ""))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.stack == "local":
        return run_local(args, print)
    return run_action(args, open_stack(args, default_clients), print)
