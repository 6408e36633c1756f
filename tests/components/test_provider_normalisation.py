"""No component declares an input the provider drops from state (a perpetual diff).

The checker and its list with evidence live in `provider_normalisation.py`; here it runs over
every stack's real program and over components in their non-default shapes, and it is shown
to catch the distribution origin that made every `pulumi up` an UpdateDistribution.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from edgekit_iac.components.image_resizer import EdgeImageResizer, EdgeImageResizerArgs

from edgekit_iac.program import RecordedResource, run_program
from tests.components.provider_normalisation import (
    DISTRIBUTION,
    DROPPED,
    KEPT,
    LIFECYCLE,
    evidence_names_a_source,
    findings,
    resource_findings,
)
from tests.components.test_image_resizer_component import make_artifact


@pytest.mark.parametrize("stack", ["local", "staging", "prod"])
def test_no_stack_declares_an_input_its_provider_drops(stack):
    graph = run_program(stack)
    problems = findings(graph)
    assert not problems, "\n".join(str(p) for p in problems)


def test_the_resizer_in_its_other_shapes_declares_nothing_dropped(tmp_path: Path):
    artifact = make_artifact(tmp_path / "bundle")

    def program() -> None:
        EdgeImageResizer(
            "images",
            EdgeImageResizerArgs(
                artifact=artifact,
                aliases=["img.example.com"],
                certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/abc",
                geo_restriction_type="blacklist",
                geo_locations=["KP"],
                resized_expiration_days=None,
                tags={"team": "edge"},
            ),
        )

    graph = run_program("test", program=program, config={"aws:region": "eu-west-1"})
    problems = findings(graph)
    assert not problems, "\n".join(str(p) for p in problems)


def _distribution_with(origin: dict) -> RecordedResource:
    return RecordedResource(
        urn="urn:pulumi:test::edgekit::aws:cloudfront/distribution:Distribution::images-cdn",
        type=DISTRIBUTION,
        name="images-cdn",
        parent=None,
        custom=True,
        inputs={"comment": "images", "origins": [origin]},
    )


def test_the_old_origin_with_an_empty_identity_is_caught():
    # What EdgeImageResizer declared before: OAC plus an empty legacy identity block.
    old = {
        "originId": "originals",
        "originAccessControlId": "oac-1",
        "s3OriginConfig": {"originAccessIdentity": ""},
    }
    (problem,) = [
        p for p in resource_findings(_distribution_with(old)) if p.path.endswith("Config")
    ]
    assert problem.path == "origins[].s3OriginConfig"
    assert "FlattenOrigin" in problem.reason
    # A real identity is written back, so it is not a finding.
    legacy = {
        **old,
        "s3OriginConfig": {"originAccessIdentity": "origin-access-identity/cloudfront/E1"},
    }
    assert not resource_findings(_distribution_with(legacy))


@pytest.mark.parametrize(
    ("type_token", "inputs"),
    [
        (DISTRIBUTION, {"comment": ""}),
        (
            DISTRIBUTION,
            {"origins": [{"originShield": {"enabled": False, "originShieldRegion": "x"}}]},
        ),
        (LIFECYCLE, {"rules": [{"expiration": {"days": 0}}]}),
        # Any empty value no entry vouches for.
        (DISTRIBUTION, {"aliases": []}),
        (DISTRIBUTION, {"webAclId": ""}),
        ("aws:lambda/function:Function", {"environment": {}}),
    ],
)
def test_each_dropped_or_unvouched_value_is_a_finding(type_token, inputs):
    assert resource_findings(declared(type_token, inputs))


def test_every_entry_of_the_list_carries_its_evidence():
    for entry in (*DROPPED, *KEPT):
        assert evidence_names_a_source(entry.evidence), entry


def test_a_kept_value_is_not_a_finding_but_the_same_path_with_another_type_is():
    inputs = {"rules": [{"filter": {"prefix": ""}}]}
    assert not resource_findings(declared(LIFECYCLE, inputs))
    assert resource_findings(declared(DISTRIBUTION, inputs))


def declared(type_token: str, inputs: dict) -> RecordedResource:
    return RecordedResource(
        urn=f"urn:pulumi:test::edgekit::{type_token}::r",
        type=type_token,
        name="r",
        parent=None,
        custom=True,
        inputs=inputs,
    )
