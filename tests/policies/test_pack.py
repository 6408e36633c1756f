"""The policy pack as the Pulumi CLI runs it: `python -m pulumi.policy <engine> policies`.

There is no Pulumi CLI here, so the test plays the engine's part: it starts the pack the
way the CLI's Python analyzer plugin does (the pack folder as the program, stack config in
PULUMI_CONFIG), reads the port it prints, and calls the analyzer over gRPC with the
properties a preview would send, unknown values included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from edgekit_iac.policies import rules
from edgekit_iac.policies.edge_policies import POLICIES
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
MANDATORY = analyzer_pb2.EnforcementLevel.Value("MANDATORY")
ADVISORY = analyzer_pb2.EnforcementLevel.Value("ADVISORY")
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


def test_pack_files_are_what_the_cli_needs():
    assert (PACK_DIR / "PulumiPolicy.yaml").read_text().count("name: python") == 1
    requirements = (PACK_DIR / "requirements.txt").read_text().split()
    assert "pulumi-policy==1.21.0" in requirements


def test_every_rule_is_one_policy_with_its_level():
    levels = {
        rules.MANDATORY: EnforcementLevel.MANDATORY,
        rules.ADVISORY: EnforcementLevel.ADVISORY,
    }
    by_name = {policy.name: policy for policy in POLICIES}
    assert len(by_name) == len(POLICIES) == len(rules.RESOURCE_RULES) + len(rules.STACK_RULES)
    for rule in rules.RESOURCE_RULES:
        assert isinstance(by_name[rule.name], ResourceValidationPolicy)
        assert by_name[rule.name].enforcement_level is levels[rule.level]
    for rule in rules.STACK_RULES:
        assert isinstance(by_name[rule.name], StackValidationPolicy)
        assert by_name[rule.name].enforcement_level is levels[rule.level]


class Analyzer:
    """The running pack, spoken to the way the engine does."""

    def __init__(self, process: subprocess.Popen, stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
        self.process = process
        self.stub = stub

    def analyze(self, type_: str, name: str, props: dict) -> list:
        request = analyzer_pb2.AnalyzeRequest(
            type=type_, name=name, urn=urn(type_, name), properties=struct(props)
        )
        return list(self.stub.Analyze(request).diagnostics)

    def analyze_stack(self, resources: list[analyzer_pb2.AnalyzerResource]) -> list:
        request = analyzer_pb2.AnalyzeStackRequest(resources=resources)
        return list(self.stub.AnalyzeStack(request).diagnostics)


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::edgekit::{type_}::{name}"


def struct(props: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(props)
    return message


def start_pack(
    tmp_path: Path, environment: str, *, python: str = sys.executable, pack_dir: Path = PACK_DIR
) -> Iterator[Analyzer]:
    """The pack as the CLI's Python analyzer plugin starts it, with `python` (what
    PULUMI_PYTHON_CMD, or python3 on PATH, is for the CLI) and the pack folder `pack_dir`."""
    env = dict(
        os.environ,
        PULUMI_CONFIG=json.dumps({"edgekit:environment": environment}),
        PULUMI_PROJECT="edgekit",
        PULUMI_STACK=environment,
        PULUMI_DRY_RUN="true",
    )
    # The engine address is unused by a policy pack; the pack prints its own port.
    process = subprocess.Popen(
        [python, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(pack_dir)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        port = process.stdout.readline().strip()
        if not port.isdigit():
            process.kill()
            pytest.fail(f"the pack did not start: {process.stderr.read().decode()}")
        channel = grpc.insecure_channel(f"127.0.0.1:{int(port)}")
        yield Analyzer(process, analyzer_pb2_grpc.AnalyzerStub(channel))
        channel.close()
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()


@pytest.fixture(scope="module")
def prod_pack(tmp_path_factory) -> Iterator[Analyzer]:
    yield from start_pack(tmp_path_factory.mktemp("prod"), "prod")


@pytest.fixture(scope="module")
def staging_pack(tmp_path_factory) -> Iterator[Analyzer]:
    yield from start_pack(tmp_path_factory.mktemp("staging"), "staging")


def levels_by_policy(diagnostics: list) -> dict[str, int]:
    return {d.policyName: d.enforcementLevel for d in diagnostics}


def test_the_pack_serves_every_policy_under_its_name(prod_pack):
    info = prod_pack.stub.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "edgekit-edge-policies"
    assert {policy.name: policy.enforcementLevel for policy in info.policies} == {
        policy.name: MANDATORY
        if policy.enforcement_level is EnforcementLevel.MANDATORY
        else ADVISORY
        for policy in POLICIES
    }


HTTP_DISTRIBUTION = {
    "defaultCacheBehavior": {"viewerProtocolPolicy": "allow-all"},
    "viewerCertificate": {"cloudfrontDefaultCertificate": True},
}


def test_prod_makes_web_acl_and_realtime_logs_mandatory(prod_pack):
    found = prod_pack.analyze(DISTRIBUTION, "cdn", HTTP_DISTRIBUTION)
    assert levels_by_policy(found) == {
        "cloudfront-https-only": MANDATORY,
        "cloudfront-prod-protection": MANDATORY,
    }
    protection = [d for d in found if d.policyName == "cloudfront-prod-protection"]
    assert len(protection) == 2  # the web ACL, and real-time logs on the one behaviour


def test_staging_only_advises_web_acl_and_realtime_logs(staging_pack):
    found = staging_pack.analyze(DISTRIBUTION, "cdn", HTTP_DISTRIBUTION)
    assert levels_by_policy(found) == {
        "cloudfront-https-only": MANDATORY,
        "cloudfront-protection-advisory": ADVISORY,
    }


def test_values_unknown_during_preview_are_not_violations(prod_pack):
    props = {
        "defaultCacheBehavior": {
            "viewerProtocolPolicy": "redirect-to-https",
            "realtimeLogConfigArn": UNKNOWN_STRING_VALUE,
        },
        "webAclId": UNKNOWN_STRING_VALUE,
    }
    assert prod_pack.analyze(DISTRIBUTION, "cdn", props) == []


def test_a_wildcard_role_policy_is_refused(staging_pack):
    policy = json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    found = staging_pack.analyze("aws:iam/rolePolicy:RolePolicy", "p", {"policy": policy})
    assert [d.policyName for d in found] == ["iam-no-wildcard-actions"]
    assert "'s3:*'" in found[0].message


def resource(type_: str, name: str, props: dict, **deps: list[str]):
    return analyzer_pb2.AnalyzerResource(
        type=type_,
        name=name,
        urn=urn(type_, name),
        properties=struct(props),
        dependencies=[u for urns in deps.values() for u in urns],
        propertyDependencies={
            key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns) for key, urns in deps.items()
        },
    )


def test_stack_policies_find_edge_functions_and_unblocked_buckets_in_a_preview(staging_pack):
    function_urn = urn("aws:lambda/function:Function", "resizer")
    function = resource(
        "aws:lambda/function:Function",
        "resizer",
        {
            "region": "eu-west-1",
            "publish": True,
            "architectures": ["x86_64"],
            "timeout": 3,
            "memorySize": 128,
            "qualifiedArn": UNKNOWN_STRING_VALUE,
        },
    )
    distribution = resource(
        DISTRIBUTION,
        "cdn",
        {
            "defaultCacheBehavior": {
                "viewerProtocolPolicy": "https-only",
                "lambdaFunctionAssociations": [
                    {"eventType": "viewer-request", "lambdaArn": UNKNOWN_STRING_VALUE}
                ],
            }
        },
        defaultCacheBehavior=[function_urn],
    )
    bucket = resource("aws:s3/bucket:Bucket", "public", {"bucket": UNKNOWN_STRING_VALUE})
    found = staging_pack.analyze_stack([function, distribution, bucket])
    by_policy = {d.policyName: d for d in found}
    assert set(by_policy) == {"lambda-edge-functions", "s3-public-access-blocked", "s3-tls-only"}
    assert by_policy["lambda-edge-functions"].urn == function_urn
    assert "region 'eu-west-1'" in by_policy["lambda-edge-functions"].message
    assert by_policy["s3-public-access-blocked"].urn == urn("aws:s3/bucket:Bucket", "public")
    assert all(d.enforcementLevel == MANDATORY for d in found)
