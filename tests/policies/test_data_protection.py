"""Prod refuses a data-holding resource without `protect`: the rule, the pack as the CLI runs
it, and `edgekit preview` over the real program."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from edgekit_iac.policies import rules
from edgekit_iac.policies.evaluate import evaluate
from pulumi.runtime.proto import analyzer_pb2

from edgekit_iac.program import ProgramGraph, run_program
from tests.policies.test_pack import MANDATORY, Analyzer, start_pack, struct, urn

BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"


def stack_resource(type_: str, name: str, protect: bool | None) -> rules.StackResource:
    resource: rules.StackResource = {
        "type": type_,
        "name": name,
        "urn": urn(type_, name),
        "props": {},
        "dependencies": [],
        "propertyDependencies": {},
    }
    if protect is not None:
        resource["protect"] = protect
    return resource


def test_the_rule_names_each_unprotected_bucket_and_key_and_the_fix():
    found = rules.data_resources_protected(
        [
            stack_resource(BUCKET, "originals", None),
            stack_resource(KEY, "alarm-key", False),
            stack_resource(BUCKET, "logs", True),
            stack_resource("aws:sns/topic:Topic", "alarms", None),
        ]
    )
    assert [found_urn for found_urn, _ in found] == [
        urn(BUCKET, "originals"),
        urn(KEY, "alarm-key"),
    ]
    assert all("edgekit:protectData" in message for _, message in found)


def test_the_rule_is_mandatory_in_prod_only():
    (rule,) = [r for r in rules.STACK_RULES if r.name == "prod-data-protected"]
    assert (rule.level, rule.scope) == (rules.MANDATORY, rules.PRODUCTION)


def pack_resource(type_: str, name: str, protect: bool) -> analyzer_pb2.AnalyzerResource:
    return analyzer_pb2.AnalyzerResource(
        type=type_,
        name=name,
        urn=urn(type_, name),
        properties=struct({}),
        options=analyzer_pb2.AnalyzerResourceOptions(protect=protect),
    )


@pytest.fixture(scope="module")
def prod_pack(tmp_path_factory) -> Iterator[Analyzer]:
    yield from start_pack(tmp_path_factory.mktemp("prod"), "prod")


def test_the_pack_reads_protect_from_the_engines_resource_options(prod_pack):
    found = prod_pack.analyze_stack(
        [pack_resource(BUCKET, "originals", False), pack_resource(KEY, "key", True)]
    )
    mine = [d for d in found if d.policyName == "prod-data-protected"]
    assert [(d.urn, d.enforcementLevel) for d in mine] == [(urn(BUCKET, "originals"), MANDATORY)]


@pytest.fixture(scope="module")
def prod() -> ProgramGraph:
    return run_program("prod")


def test_prod_protects_and_retains_every_bucket_and_key(prod: ProgramGraph):
    stateful = [r for r in prod.resources if r.type in rules.DATA_HOLDING_TYPES]
    assert {r.type for r in stateful} == {BUCKET, KEY}
    assert len([r for r in stateful if r.type == BUCKET]) == 2  # originals and logs
    for resource in stateful:
        assert resource.options == {"protect": True, "retainOnDelete": True}, resource.name


def test_staging_stays_destroyable(prod: ProgramGraph):
    staging = run_program("staging")
    assert not any(r.options for r in staging.resources if r.type in rules.DATA_HOLDING_TYPES)


def test_prod_with_protection_switched_off_is_refused_by_the_preview():
    graph = run_program("prod", config_overrides={"edgekit:protectData": False})
    refused = [
        v
        for v in evaluate(graph.resources, "prod", environment="prod")
        if v.policy == "prod-data-protected"
    ]
    assert {v.resource for v in refused} >= {"images-originals", "edge-logs-bucket"}
    assert all(v.level == "mandatory" for v in refused)
