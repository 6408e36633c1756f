"""CloudFront continuous deployment in the twin: a primary distribution, its staging copy
running the candidate resizer, and the policy that splits viewers between them.

When the stack declares `images.canary`, the graph holds a staging distribution
(`staging: true`) and a `ContinuousDeploymentPolicy` the primary names
(`continuousDeploymentPolicyId`). As in CloudFront (AWS "Learn how continuous deployment
works"), viewers reach only the primary's listener; the staging distribution has no address
of its own and its own cache, and the primary hands it a request when the policy says so.

Which resizer each side runs comes from the recorded bundles of the function the staging
distribution associates (`<state>/lambda/canary/<function>/versions/`, canary_split.py):
each `edgekit up` records the bundle it deploys, and `edgekit canary start --stack local
--candidate ZIP` records another one. The newest is the *candidate*, the one before it the
*stable* version. The local canary's state is the one the Workers share (`canary.json`):

- no canary running (never started, or promoted): the primary runs the candidate for
  everyone, as after `UpdateDistributionWithStagingConfig`;
- a canary running: the primary runs the stable bundle (the stack's `stableVersion` is a
  Lambda version number in the cloud; in the twin it is the bundle recorded before), and the
  staging distribution runs the candidate for
  - requests carrying the policy's header (`aws-cf-cd-x-edgekit-canary: 1`) when the policy
    is header-based, or the twin's own spelling `X-Edgekit-Canary: 1`, which selects the
    candidate Worker versions too (one header tries the whole candidate locally);
  - a sticky `weight` % of viewers (`edgekit canary start --weight P`, 0..15). CloudFront
    keeps a session on one side with a cookie; the twin hashes the client IP
    (`X-Edgekit-Client-Ip`), as for Workers, so a viewer stays on one side for the run.
- `abort` (weight 0, header off): the stable bundle answers everyone.

Answers carry `X-Edgekit-Version: <bundle sha256[:12]>` (twin only): the bundle that
produced the answer, kept with the cached copy, so that a hit served after a promote (or
from the primary's cache filled before a start) names the bundle that made it, not the one
the side runs now. Answers are counted for the local promote guard per version *routed*
(the side's bundle), as CloudWatch counts the staging distribution's requests, hits included.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from edgekit_iac.program import RecordedResource
from edgekit_iac.twin import canary_split
from edgekit_iac.twin.aws import lambda_edge as edge
from edgekit_iac.twin.aws.lambda_runtime import EdgeFunction, LambdaExecutionError
from edgekit_iac.twin.graph_view import GraphView
from edgekit_iac.twin.http_io import EdgeRequest, EdgeResponse

log = logging.getLogger("edgekit.twin.cloudfront")

POLICY = "aws:cloudfront/continuousDeploymentPolicy:ContinuousDeploymentPolicy"
CLIENT_IP_HEADER = "x-edgekit-client-ip"


def is_staging(distribution: RecordedResource) -> bool:
    return distribution.inputs.get("staging") is True


def staging_of(view: GraphView, primary: RecordedResource
               ) -> tuple[RecordedResource, RecordedResource] | None:
    """(policy, staging distribution) of a primary with continuous deployment, else None."""
    policy_id = primary.inputs.get("continuousDeploymentPolicyId")
    policy = next((p for p in view.graph.of_type(POLICY) if policy_id and p.id == policy_id),
                  None)
    if policy is None:
        return None
    names = (policy.inputs.get("stagingDistributionDnsNames") or {}).get("items") or []
    staging = next((d for d in view.distributions()
                    if is_staging(d) and d.outputs.get("domainName") in names), None)
    return None if staging is None else (policy, staging)


def origin_request_arns(distribution: RecordedResource) -> set[str]:
    behaviours = [*(distribution.inputs.get("orderedCacheBehaviors") or []),
                  distribution.inputs.get("defaultCacheBehavior") or {}]
    return {a.get("lambdaArn", "") for b in behaviours
            for a in b.get("lambdaFunctionAssociations") or []
            if a.get("eventType") == edge.ORIGIN_REQUEST}


class RecordedBundles:
    """The canary function's recorded bundles, each runnable on demand."""

    def __init__(self, folder: Path, deployed: EdgeFunction,
                 make: Callable[[RecordedResource, Path], EdgeFunction]) -> None:
        self.folder = folder
        self.side = deployed.resource.name
        self.deployed_id = canary_split.record_file(folder, deployed.zip_path)
        self._index = canary_split.WatchedJson(folder / "versions" / "index.json")
        self._functions = {self.deployed_id: deployed}
        self._make = make
        self._lock = threading.Lock()

    def versions(self) -> tuple[str, str | None]:
        """(candidate, stable): the newest recorded bundle and the one before it. The index
        is read per request but parsed again only when `canary start` or `up` changed it."""
        recorded = self._index.current() or [self.deployed_id]
        return recorded[-1], canary_split.stable_in(recorded, recorded[-1])

    def function(self, version: str) -> EdgeFunction:
        with self._lock:
            if version not in self._functions:
                deployed = self._functions[self.deployed_id].resource
                zip_path = self.folder / "versions" / f"{version}.zip"
                if not zip_path.is_file():
                    raise LambdaExecutionError(f"recorded bundle {version[:12]} of "
                                               f"{self.side} is missing ({zip_path})")
                resource = dataclasses.replace(
                    deployed, inputs={**deployed.inputs, "code": {"path": str(zip_path)}},
                    outputs={**deployed.outputs, "version": version[:12]})
                try:
                    made = self._make(resource, self.folder / version[:12])
                except (OSError, ValueError, zipfile.BadZipFile) as exc:
                    raise LambdaExecutionError(f"recorded bundle {version[:12]} of {self.side} "
                                               f"cannot run: {exc}") from exc
                self._functions[version] = made
            return self._functions[version]


class SideFunctions(Mapping[str, EdgeFunction]):
    """The functions one distribution sees: its origin-request association resolves to the
    bundle this request runs (chosen per thread by ContinuousDeployment), others as deployed.
    A bundle that cannot run raises LambdaExecutionError there: the distribution's 503."""

    def __init__(self, deployed: Mapping[str, EdgeFunction], arns: set[str],
                 bundles: RecordedBundles, chosen: threading.local) -> None:
        self._deployed, self._arns, self._bundles, self._chosen = deployed, arns, bundles, chosen

    def __getitem__(self, arn: str) -> EdgeFunction:
        if arn in self._arns:
            return self._bundles.function(self._chosen.version)
        return self._deployed[arn]

    def __contains__(self, arn: object) -> bool:
        return arn in self._arns or arn in self._deployed

    def __iter__(self) -> Iterator[str]:
        return iter({*self._deployed, *self._arns})

    def __len__(self) -> int:
        return len({*self._deployed, *self._arns})


class ContinuousDeployment:
    """The primary's listener: routes each request to the primary or the staging
    distribution and names the resizer version that served it."""

    def __init__(self, primary, staging, policy: RecordedResource, bundles: RecordedBundles,
                 state_root: Path, chosen: threading.local) -> None:
        self.primary, self.staging, self.bundles = primary, staging, bundles
        traffic = policy.inputs.get("trafficConfig") or {}
        single = traffic.get("singleHeaderConfig") or {}
        self.header = (str(single.get("header", "")).lower(), str(single.get("value", ""))) if (
            traffic.get("type") == "SingleHeader") else None
        self.canary = canary_split.CanaryFile(state_root)
        self.served = canary_split.served_counts(state_root)
        self._chosen = chosen

    # What the supervisor and the status page read of a distribution: the primary's.
    @property
    def notes(self) -> list[str]:
        return self.primary.notes + self.staging.notes

    def __getattr__(self, name: str) -> Any:  # domain, inputs, waf, realtime_logs
        return getattr(self.primary, name)

    def invalidate(self, paths: list[str]) -> int:
        return self.primary.invalidate(paths) + self.staging.invalidate(paths)

    def _to_staging(self, canary: Mapping[str, Any], request: EdgeRequest) -> bool:
        asked = request.header(canary_split.CANARY_HEADER) == "1" or (
            self.header is not None and request.header(self.header[0]) == self.header[1])
        client_ip = request.header(CLIENT_IP_HEADER) or request.peer_ip
        return canary_split.goes_to_candidate(
            canary, {canary_split.CANARY_HEADER: "1" if asked else ""}, client_ip)

    def __call__(self, request: EdgeRequest) -> EdgeResponse:
        canary = self.canary.current()
        candidate, stable = self.bundles.versions()
        stable = stable if canary is not None else None
        to_staging = canary is not None and self._to_staging(canary, request)
        version = candidate if to_staging or stable is None else stable
        self._chosen.version = version
        response = (self.staging if to_staging else self.primary)(request)
        self.served.count(canary, self.bundles.side, version, response.status)
        if response.header(canary_split.VERSION_HEADER) is not None:
            return response  # what produced it (a cached copy: maybe the other bundle)
        return EdgeResponse(response.status,
                            [*response.headers, (canary_split.VERSION_HEADER, version[:12])],
                            response.body)


def build(view: GraphView, primary: RecordedResource, services, state_root: Path,
          make: Callable[[RecordedResource, Path], EdgeFunction],
          distribution: Callable[[RecordedResource, Any], Any]) -> ContinuousDeployment | None:
    """The primary's app with its staging distribution, or None when it has no canary (or
    its staging distribution associates no resizer the twin runs)."""
    found = staging_of(view, primary)
    if found is None:
        return None
    policy, staging = found
    staging_arns = origin_request_arns(staging)
    deployed = next((services.functions[arn] for arn in staging_arns
                     if arn in services.functions), None)
    if deployed is None:
        return None
    chosen = threading.local()
    arns = staging_arns | origin_request_arns(primary)
    bundles = RecordedBundles(canary_split.bundles_root(state_root) / deployed.resource.name,
                              deployed, make)

    def side(resource: RecordedResource):
        return distribution(resource, dataclasses.replace(
            services, functions=SideFunctions(services.functions, arns, bundles, chosen),
            produced_by=lambda: (canary_split.VERSION_HEADER, chosen.version[:12])))

    return ContinuousDeployment(side(primary), side(staging), policy, bundles, state_root,
                                chosen)
