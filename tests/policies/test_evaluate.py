"""`evaluate` over programs recorded by the mock runtime: what `edgekit preview` prints.

A deliberately unsafe tiny program must show each of its violations; the real
EdgeImageResizer component must show none in prod once a web ACL and real-time logs are
attached, and only the advisory ones in staging without them.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare
import pytest
from edgekit_iac.policies.evaluate import Violation, evaluate

from edgekit_iac.program import run_program

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/images-waf/a1b2c3d4"
REALTIME_LOGS = "arn:aws:cloudfront::123456789012:realtime-log-config/images-logs"


def unsafe_program() -> None:
    bucket = aws.s3.Bucket("public-bucket")
    role = aws.iam.Role(
        "edge-role",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "edgelambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    aws.iam.RolePolicy(
        "edge-role-policy",
        role=role.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    function = aws.lambda_.Function(
        "edge-fn",
        region="us-east-1",
        publish=True,
        runtime="python3.13",
        handler="handler.handler",
        role=role.arn,
        code=pulumi.AssetArchive({"handler.py": pulumi.StringAsset("def handler(e, c): pass")}),
        architectures=["arm64"],
        environment={"variables": {"ORIGINALS_BUCKET": bucket.bucket}},
        timeout=10,
    )
    aws.cloudfront.Distribution(
        "cdn",
        enabled=True,
        origins=[{"origin_id": "s3", "domain_name": bucket.bucket_regional_domain_name}],
        default_cache_behavior={
            "target_origin_id": "s3",
            "viewer_protocol_policy": "allow-all",
            "allowed_methods": ["GET", "HEAD"],
            "cached_methods": ["GET", "HEAD"],
            "lambda_function_associations": [
                {"event_type": "viewer-request", "lambda_arn": function.qualified_arn}
            ],
        },
        restrictions={"geo_restriction": {"restriction_type": "none"}},
        aliases=["img.example.com"],
        viewer_certificate={
            "acm_certificate_arn": CERT,
            "ssl_support_method": "sni-only",
            "minimum_protocol_version": "TLSv1",
        },
    )
    cloudflare.WorkersScript(
        "geo-worker",
        account_id="0123456789abcdef0123456789abcdef",
        script_name="hello-geo",
        content="from workers import WorkerEntrypoint",
        main_module="geo_worker.py",
    )


@pytest.fixture(scope="module")
def unsafe_graph():
    return run_program("staging", program=unsafe_program, config={})


def messages(violations: list[Violation], policy: str) -> list[str]:
    return [v.message for v in violations if v.policy == policy]


def test_the_unsafe_program_shows_every_violation(unsafe_graph):
    violations = evaluate(unsafe_graph.resources, "staging")
    by_policy = {v.policy for v in violations}
    assert by_policy == {
        "cloudfront-https-only",
        "cloudfront-modern-tls",
        "cloudfront-protection-advisory",
        "iam-no-wildcard-actions",
        "workers-compatibility-date",
        "python-workers-flag",
        "lambda-edge-functions",
        "s3-public-access-blocked",
        "s3-tls-only",
    }
    edge = " | ".join(messages(violations, "lambda-edge-functions"))
    assert "x86_64 only" in edge
    assert "environment variables (ORIGINALS_BUCKET)" in edge
    assert "timeout 10 s, over the 5 s limit of viewer-request" in edge
    assert "'allow-all'" in messages(violations, "cloudfront-https-only")[0]
    assert "'TLSv1'" in messages(violations, "cloudfront-modern-tls")[0]
    assert "bucket 'public-bucket'" in messages(violations, "s3-public-access-blocked")[0]
    assert "has no bucket policy" in messages(violations, "s3-tls-only")[0]


def test_violations_name_the_resource_and_its_urn(unsafe_graph):
    violations = evaluate(unsafe_graph.resources, "staging")
    edge = [v for v in violations if v.policy == "lambda-edge-functions"]
    assert {v.resource for v in edge} == {"edge-fn"}
    assert all(unsafe_graph.by_urn(v.urn).name == v.resource for v in violations)
    levels = {v.policy: v.level for v in violations}
    assert levels["cloudfront-protection-advisory"] == "advisory"
    assert levels["cloudfront-https-only"] == "mandatory"


def test_prod_turns_the_protection_advice_into_a_mandatory_rule(unsafe_graph):
    for environment, stack in (("prod", "any-name"), (None, "prod")):
        violations = evaluate(unsafe_graph.resources, stack, environment=environment)
        levels = {v.policy: v.level for v in violations}
        assert levels["cloudfront-prod-protection"] == "mandatory"
        assert "cloudfront-protection-advisory" not in levels


def test_a_safe_record_passes_and_json_round_trip_keeps_the_verdict(unsafe_graph):
    from edgekit_iac.program import ProgramGraph

    reloaded = ProgramGraph.from_json(json.loads(json.dumps(unsafe_graph.to_json())))
    assert evaluate(reloaded.resources, "staging") == evaluate(unsafe_graph.resources, "staging")
    safe = SimpleNamespace(
        type="cloudflare:index/workersScript:WorkersScript",
        name="w",
        urn="urn:w",
        inputs={
            "mainModule": "w.py",
            "compatibilityDate": "2026-11-01",
            "compatibilityFlags": ["python_workers"],
        },
        outputs={},
    )
    assert evaluate([safe], "prod") == []


# --- the real component against the pack ----------------------------------------------------


def resizer_artifact(folder: Path):
    """A real zip, described the way the bundler describes its output."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image_resizer-test.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    data = path.read_bytes()
    return SimpleNamespace(
        name="image_resizer",
        kind="lambda-edge",
        version="1.0.0",
        path=path,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        manifest={
            "kind": "lambda-edge",
            "version": "1.0.0",
            "handler": "handler.handler",
            "trigger": "origin-request",
        },
    )


def resizer_program(artifact, **extra):
    from edgekit_iac.components.image_resizer import EdgeImageResizer, EdgeImageResizerArgs

    def program() -> None:
        EdgeImageResizer(
            "images",
            EdgeImageResizerArgs(
                artifact=artifact, aliases=["img.example.com"], certificate_arn=CERT, **extra
            ),
        )

    return program


def test_the_image_resizer_component_satisfies_the_pack_in_prod(tmp_path):
    program = resizer_program(
        resizer_artifact(tmp_path),
        web_acl_arn=WEB_ACL,
        realtime_log_config_arn=REALTIME_LOGS,
        protect_data=True,
    )
    graph = run_program("prod", program=program, config={"aws:region": "eu-west-1"})
    assert evaluate(graph.resources, "prod") == []


def test_the_image_resizer_without_waf_and_logs_is_only_advised_in_staging(tmp_path):
    program = resizer_program(resizer_artifact(tmp_path))
    graph = run_program("staging", program=program, config={"aws:region": "eu-west-1"})
    violations = evaluate(graph.resources, "staging")
    assert {(v.policy, v.level) for v in violations} == {
        ("cloudfront-protection-advisory", "advisory")
    }
