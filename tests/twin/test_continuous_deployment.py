"""Which distribution answers in the twin's CloudFront continuous deployment: the policy's
header (header policies only), the twin's X-Edgekit-Canary spelling, the run's state."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from edgekit_iac.program import RecordedResource
from edgekit_iac.twin import canary_split
from edgekit_iac.twin.aws.continuous_deployment import POLICY, ContinuousDeployment
from edgekit_iac.twin.http_io import EdgeRequest, EdgeResponse

STABLE, CANDIDATE = "a" * 64, "b" * 64
CF_HEADER = "aws-cf-cd-x-edgekit-canary"


class Bundles:
    side = "images-fn"

    def versions(self) -> tuple[str, str]:
        return CANDIDATE, STABLE

    def function(self, version: str) -> str:
        return version


def side(name: str):
    def answer(request: EdgeRequest) -> EdgeResponse:
        return EdgeResponse(200, [("X-Side", name)], b"")
    return answer


def deployment(state: Path, traffic: dict) -> ContinuousDeployment:
    policy = RecordedResource("urn:p", POLICY, "images-canary-policy", None, True,
                              {"trafficConfig": traffic}, id="P1")
    return ContinuousDeployment(side("primary"), side("staging"), policy, Bundles(), state,
                                threading.local())


def answered(app: ContinuousDeployment, **headers: str) -> tuple[str, str]:
    reply = app(EdgeRequest("GET", "/images/150x150/a.jpg",
                            [(k.replace("_", "-"), v) for k, v in headers.items()]))
    return reply.header("x-side"), reply.header("x-edgekit-version")


HEADER_POLICY = {"type": "SingleHeader", "singleHeaderConfig": {"header": CF_HEADER,
                                                                "value": "1"}}
WEIGHT_POLICY = {"type": "SingleWeight", "singleWeightConfig": {"weight": 0}}


@pytest.mark.parametrize("traffic", [HEADER_POLICY, WEIGHT_POLICY])
def test_without_a_run_the_primary_runs_the_newest_bundle(tmp_path, traffic):
    app = deployment(tmp_path, traffic)
    assert answered(app, **{"X-Edgekit-Canary": "1"}) == ("primary", CANDIDATE[:12])
    assert not (tmp_path / canary_split.COUNTS_FILE).exists()  # nothing to guard


def test_a_header_policy_routes_its_own_header_and_the_twins(tmp_path):
    app = deployment(tmp_path, HEADER_POLICY)
    canary_split.write_canary(tmp_path, 0, header=True, new_run=True)
    assert answered(app) == ("primary", STABLE[:12])
    assert answered(app, **{CF_HEADER: "1"}) == ("staging", CANDIDATE[:12])
    assert answered(app, **{CF_HEADER: "yes"}) == ("primary", STABLE[:12])
    assert answered(app, **{"X-Edgekit-Canary": "1"}) == ("staging", CANDIDATE[:12])
    counts = json.loads((tmp_path / canary_split.COUNTS_FILE).read_text())["sides"]
    assert counts["images-fn"] == {STABLE: {"requests": 2, "errors": 0},
                                   CANDIDATE: {"requests": 2, "errors": 0}}
    canary_split.write_canary(tmp_path, 0, header=False)  # abort
    assert answered(app, **{CF_HEADER: "1"}) == ("primary", STABLE[:12])


def test_a_weight_policy_ignores_the_cloudfront_header(tmp_path):
    app = deployment(tmp_path, WEIGHT_POLICY)
    canary_split.write_canary(tmp_path, 0, header=True, new_run=True)
    assert answered(app, **{CF_HEADER: "1"}) == ("primary", STABLE[:12])
    assert answered(app, **{"X-Edgekit-Canary": "1"}) == ("staging", CANDIDATE[:12])
