"""EdgeImageResizer under Pulumi's mock runtime: the edge rules, asserted on recorded inputs.

Two recorded runs serve most tests: one with every argument at its default, one with
custom domains, a web ACL, real-time logs and geo restriction. Both run in a stack whose
default region is eu-west-1, so "the function is in us-east-1" is the component's doing.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from edgekit_iac.components.image_resizer import (
    EdgeImageResizer,
    EdgeImageResizerArgs,
    ImageResizerArgsError,
    check_artifact,
    normalize_sizes,
    validate_args,
)
from edgekit_iac.functions.image_format import render as image_format
from edgekit_iac.functions.image_resizer import contract

from edgekit_iac.bundle.build import Artifact, build_function, wheel_cache_dir
from edgekit_iac.errors import UserError
from edgekit_iac.mock_outputs import ACCOUNT_ID
from edgekit_iac.program import ProgramGraph, RecordedResource, run_program

from .graph_checks import assert_no_wildcard_actions

REPO = Path(__file__).resolve().parents[2]


def _public_pem(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _keys() -> tuple[tuple[str, str], str]:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return (_public_pem(rsa_key), _public_pem(ec_key)), _public_pem(small)


PUBLIC_KEYS, SMALL_RSA_KEY = _keys()
STACK_CONFIG = {"aws:region": "eu-west-1"}
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/images-waf/a1b2c3d4"
REALTIME_LOGS = "arn:aws:cloudfront::123456789012:realtime-log-config/images-logs"

BUCKET = "aws:s3/bucket:Bucket"
FUNCTION = "aws:lambda/function:Function"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CACHE_POLICY = "aws:cloudfront/cachePolicy:CachePolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
CF_FUNCTION = "aws:cloudfront/function:Function"


def make_artifact(folder: Path, **manifest_changes: str) -> Artifact:
    """A real zip with a handler in it, described the way the bundler describes its output."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image_resizer-test.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    data = path.read_bytes()
    manifest = {
        "kind": "lambda-edge",
        "version": "1.2.3",
        "handler": "handler.handler",
        "trigger": "origin-request",
        **manifest_changes,
    }
    return Artifact(
        name="image_resizer",
        kind=manifest["kind"],
        version=manifest["version"],
        path=path,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        manifest=manifest,
    )


def record(args: EdgeImageResizerArgs) -> ProgramGraph:
    return run_program(
        "test", program=lambda: EdgeImageResizer("images", args), config=STACK_CONFIG
    )


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    return make_artifact(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="module")
def graph(artifact: Artifact) -> ProgramGraph:
    """Every argument at its default."""
    return record(EdgeImageResizerArgs(artifact=artifact))


@pytest.fixture(scope="module")
def custom(artifact: Artifact) -> ProgramGraph:
    """Custom domain, attachments, and non-default limits."""
    return record(
        EdgeImageResizerArgs(
            artifact=artifact,
            allowed_sizes=["400x300", "150X150", "400x300"],
            quality=65,
            quality_presets=[90, 40, 90],
            on_error="fallback",
            fallback_key="placeholders/missing.png",
            max_frames=50,
            max_pixels=24_000_000,
            memory_mb=2048,
            timeout_seconds=20,
            min_ttl=1,
            default_ttl=3600,
            max_ttl=86_400,
            price_class="PriceClass_All",
            aliases=["IMG.example.com"],
            certificate_arn=CERT,
            web_acl_arn=WEB_ACL,
            realtime_log_config_arn=REALTIME_LOGS,
            geo_restriction_type="blacklist",
            geo_locations=["kp", "IR"],
            bucket_region="eu-central-1",
            force_destroy_bucket=True,
            resized_expiration_days=None,
            tags={"team": "media"},
        )
    )


def behaviour(graph: ProgramGraph) -> dict:
    return graph.one(DISTRIBUTION).inputs["defaultCacheBehavior"]


def origin(graph: ProgramGraph) -> dict:
    (only,) = graph.one(DISTRIBUTION).inputs["origins"]
    return only


def for_bucket(graph: ProgramGraph, type_token: str) -> RecordedResource:
    resource = graph.one(type_token)
    assert resource.inputs["bucket"] == graph.one(BUCKET).id
    return resource


def depends_on(graph: ProgramGraph, resource: RecordedResource, other: RecordedResource) -> bool:
    """Whether `resource` waits for `other`, directly or through what it waits for."""
    pending, seen = list(resource.dependencies), set()
    while pending:
        urn = pending.pop()
        if urn == other.urn:
            return True
        if urn not in seen:
            seen.add(urn)
            pending.extend(graph.by_urn(urn).dependencies)
    return False


def policy_actions(document: dict) -> list[str]:
    actions: list[str] = []
    for statement in document["Statement"]:
        action = statement["Action"]
        actions.extend([action] if isinstance(action, str) else action)
    return actions


# --- the component and its children ------------------------------------------------------


def test_every_child_is_parented_to_the_component_and_named_after_it(graph: ProgramGraph):
    component = graph.one("edgekit:aws:EdgeImageResizer")
    children = graph.children(component)
    assert len(children) == len(graph.resources) - 1
    assert all(child.name.startswith("images-") for child in children)


def test_outputs_name_the_deployed_pieces(graph: ProgramGraph, artifact: Artifact):
    outputs = graph.one("edgekit:aws:EdgeImageResizer").outputs
    distribution, function = graph.one(DISTRIBUTION), graph.one(FUNCTION)
    assert outputs == {
        "distribution_id": distribution.id,
        "distribution_arn": distribution.outputs["arn"],
        "domain_name": distribution.outputs["domainName"],
        "hosted_zone_id": distribution.outputs["hostedZoneId"],
        "bucket_name": graph.one(BUCKET).outputs["bucket"],
        "function_name": function.outputs["name"],
        "function_qualified_arn": function.outputs["qualifiedArn"],
        "function_version": "1",
        "format_function_arn": graph.one(CF_FUNCTION).outputs["arn"],
        "artifact_sha256": artifact.sha256,
        "artifact_version": "1.2.3",
        "signing_key_ids": {},
    }


# --- originals bucket ------------------------------------------------------------------------


def test_bucket_blocks_every_kind_of_public_access(graph: ProgramGraph):
    block = for_bucket(graph, PUBLIC_ACCESS_BLOCK).inputs
    for setting in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block[setting] is True, setting


def test_bucket_ownership_is_enforced(graph: ProgramGraph):
    controls = for_bucket(graph, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert controls.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_bucket_is_encrypted_at_rest(graph: ProgramGraph):
    encryption = for_bucket(
        graph,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    (rule,) = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in ("AES256", "aws:kms")


def test_originals_stay_in_the_region_asked_for(graph, custom):
    assert "region" not in graph.one(BUCKET).inputs  # the stack's aws:region
    for type_token in (BUCKET, PUBLIC_ACCESS_BLOCK, LIFECYCLE, BUCKET_POLICY):
        assert custom.one(type_token).inputs["region"] == "eu-central-1", type_token
    assert origin(custom)["domainName"].endswith(".s3.eu-central-1.amazonaws.com")


def test_bucket_keeps_originals_on_destroy_unless_asked(graph, custom):
    assert graph.one(BUCKET).inputs["forceDestroy"] is False
    assert custom.one(BUCKET).inputs["forceDestroy"] is True


def test_stored_variants_expire_and_originals_do_not(graph, custom):
    def expiring(recorded: ProgramGraph) -> list[dict]:
        rules = for_bucket(recorded, LIFECYCLE).inputs["rules"]
        return [rule for rule in rules if "expiration" in rule]

    (rule,) = expiring(graph)
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": "resized/"}
    assert rule["expiration"] == {"days": 30}
    assert expiring(custom) == []


def test_only_this_distribution_reads_the_bucket(graph: ProgramGraph):
    bucket_arn = graph.one(BUCKET).outputs["arn"]
    document = json.loads(for_bucket(graph, BUCKET_POLICY).inputs["policy"])
    tls_only, statement = document["Statement"]
    assert tls_only == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": ["s3:*"],
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == ["s3:GetObject"]
    assert statement["Resource"] == [f"{bucket_arn}/*"]
    assert statement["Condition"] == {
        "StringEquals": {"AWS:SourceArn": graph.one(DISTRIBUTION).outputs["arn"]}
    }


def test_bucket_policy_lands_after_public_access_is_blocked(graph: ProgramGraph):
    assert depends_on(graph, graph.one(BUCKET_POLICY), graph.one(PUBLIC_ACCESS_BLOCK))


def test_origin_access_control_signs_every_s3_request(graph: ProgramGraph):
    oac = graph.one("aws:cloudfront/originAccessControl:OriginAccessControl")
    assert oac.inputs["originAccessControlOriginType"] == "s3"
    assert oac.inputs["signingBehavior"] == "always"
    assert oac.inputs["signingProtocol"] == "sigv4"
    assert origin(graph)["originAccessControlId"] == oac.id


# --- execution role --------------------------------------------------------------------------


def test_role_trusts_lambda_and_lambda_at_edge(graph: ProgramGraph):
    document = json.loads(graph.one(ROLE).inputs["assumeRolePolicy"])
    (statement,) = document["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert sorted(statement["Principal"]["Service"]) == [
        "edgelambda.amazonaws.com",
        "lambda.amazonaws.com",
    ]


def test_role_reads_originals_writes_only_resized_and_its_logs(graph: ProgramGraph):
    bucket_arn = graph.one(BUCKET).outputs["arn"]
    function_name = graph.one(FUNCTION).outputs["name"]
    policy = graph.one(ROLE_POLICY)
    assert policy.inputs["role"] == graph.one(ROLE).id
    grants = {
        tuple(statement["Action"]): statement["Resource"]
        for statement in json.loads(policy.inputs["policy"])["Statement"]
        if statement["Effect"] == "Allow"
    }
    assert grants == {
        ("s3:GetObject",): [f"{bucket_arn}/*"],
        ("s3:ListBucket",): [bucket_arn],
        ("s3:PutObject",): [f"{bucket_arn}/resized/*"],
        ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"): [
            f"arn:aws:logs:*:{ACCOUNT_ID}:log-group:/aws/lambda/us-east-1.{function_name}*"
        ],
    }


def test_no_policy_grants_a_wildcard_action(graph: ProgramGraph):
    assert assert_no_wildcard_actions(graph) == 3


# --- Lambda@Edge function --------------------------------------------------------------------


def test_function_follows_the_lambda_at_edge_rules(graph: ProgramGraph):
    function = graph.one(FUNCTION).inputs
    assert function["region"] == "us-east-1"  # the stack's region is eu-west-1
    assert function["publish"] is True
    assert function["architectures"] == ["x86_64"]
    assert function["runtime"] == "python3.13"
    assert "environment" not in function
    assert function["role"] == graph.one(ROLE).outputs["arn"]


def test_function_is_sized_for_images_within_the_origin_timeout(graph, custom):
    assert graph.one(FUNCTION).inputs["timeout"] == 30
    assert graph.one(FUNCTION).inputs["memorySize"] == 1024  # bench/cost.py's recommendation
    assert custom.one(FUNCTION).inputs["timeout"] == 20
    assert custom.one(FUNCTION).inputs["memorySize"] == 2048


def test_function_is_forgotten_not_deleted_on_destroy(graph: ProgramGraph):
    assert graph.one(FUNCTION).inputs["skipDestroy"] is True


def test_function_code_is_the_artifact_zip(graph: ProgramGraph, artifact: Artifact):
    function = graph.one(FUNCTION).inputs
    assert function["code"] == {"path": str(artifact.path)}
    assert function["handler"] == artifact.manifest["handler"]
    digest = base64.b64decode(function["sourceCodeHash"])
    assert digest == hashlib.sha256(artifact.path.read_bytes()).digest()


def test_by_default_the_function_is_bundled_from_the_project():
    built = build_function("image_resizer")
    graph = record(EdgeImageResizerArgs())
    function = graph.one(FUNCTION).inputs
    assert function["code"] == {"path": str(built.path)}
    assert function["handler"] == "handler.handler"
    assert base64.b64decode(function["sourceCodeHash"]).hex() == built.sha256
    assert function["description"] == (
        f"image_resizer {built.version} (sha256 {built.sha256[:12]})"
    )


def test_function_version_says_which_release_and_zip(graph: ProgramGraph, artifact: Artifact):
    assert graph.one(FUNCTION).inputs["description"] == (
        f"image_resizer 1.2.3 (sha256 {artifact.sha256[:12]})"
    )


# --- cache policy ------------------------------------------------------------------------------


def test_cache_key_is_the_path_and_the_contracts_query_parameters_only(graph: ProgramGraph):
    key = graph.one(CACHE_POLICY).inputs["parametersInCacheKeyAndForwardedToOrigin"]
    assert key["queryStringsConfig"] == {
        "queryStringBehavior": "whitelist",
        "queryStrings": {"items": list(contract.QUERY_PARAMETERS)},
    }
    assert contract.NEGOTIATED_FORMAT_PARAMETER in contract.QUERY_PARAMETERS
    assert key["cookiesConfig"] == {"cookieBehavior": "none"}
    # Accept is not in the key: the format function reduced it to ?accept= already.
    assert key["headersConfig"] == {"headerBehavior": "none"}
    assert key["enableAcceptEncodingGzip"] is True
    assert key["enableAcceptEncodingBrotli"] is True


def test_cache_ttls_come_from_the_args(graph, custom):
    ttls = ("minTtl", "defaultTtl", "maxTtl")
    assert [graph.one(CACHE_POLICY).inputs[t] for t in ttls] == [0, 86_400, 31_536_000]
    assert [custom.one(CACHE_POLICY).inputs[t] for t in ttls] == [1, 3600, 86_400]


# --- distribution ------------------------------------------------------------------------------


def test_distribution_serves_modern_http_everywhere(graph: ProgramGraph):
    distribution = graph.one(DISTRIBUTION).inputs
    assert distribution["enabled"] is True
    assert distribution["isIpv6Enabled"] is True
    assert distribution["httpVersion"] == "http2and3"
    assert distribution["priceClass"] == "PriceClass_100"
    assert distribution["restrictions"] == {"geoRestriction": {"restrictionType": "none"}}


def test_every_path_goes_through_the_resizer_over_https(graph: ProgramGraph):
    rules = behaviour(graph)
    (private,) = graph.one(DISTRIBUTION).inputs["orderedCacheBehaviors"]
    assert private["pathPattern"] == "/images/*/private/*"
    # Without signing keys, private/ originals are never served: no resizer on that path.
    assert "lambdaFunctionAssociations" not in private and "trustedKeyGroups" not in private
    assert rules["targetOriginId"] == origin(graph)["originId"]
    assert rules["viewerProtocolPolicy"] == "redirect-to-https"
    assert rules["compress"] is True
    assert rules["allowedMethods"] == ["GET", "HEAD"]
    assert rules["cachedMethods"] == ["GET", "HEAD"]
    assert rules["cachePolicyId"] == graph.one(CACHE_POLICY).id


def test_origin_request_runs_the_published_version(graph: ProgramGraph):
    (association,) = behaviour(graph)["lambdaFunctionAssociations"]
    qualified = graph.one(FUNCTION).outputs["qualifiedArn"]
    assert qualified.endswith(":1")
    assert association == {
        "eventType": "origin-request",
        "lambdaArn": qualified,
        "includeBody": False,
    }


def test_format_function_is_a_published_cloudfront_js_2_function(graph: ProgramGraph):
    function = graph.one(CF_FUNCTION)
    assert function.parent == graph.one("edgekit:aws:EdgeImageResizer").urn
    assert function.inputs["runtime"] == "cloudfront-js-2.0"
    assert function.inputs["publish"] is True
    assert function.inputs["code"] == image_format.render(auto_format=True, avif=True)
    assert "keyValueStoreAssociations" not in function.inputs


def test_format_function_runs_on_viewer_request_before_the_cache(graph: ProgramGraph):
    assert behaviour(graph)["functionAssociations"] == [
        {"eventType": "viewer-request", "functionArn": graph.one(CF_FUNCTION).outputs["arn"]}
    ]


@pytest.mark.parametrize(("auto_format", "avif"), [(False, True), (True, False)])
def test_stack_settings_are_rendered_into_the_function_code(artifact, auto_format, avif):
    graph = record(EdgeImageResizerArgs(artifact=artifact, auto_format=auto_format, avif=avif))
    code = graph.one(CF_FUNCTION).inputs["code"]
    assert (f'{{"autoFormat": {str(auto_format).lower()}, "avif": {str(avif).lower()}, '
            '"autoFormatFlagDefault": true}') in code


def test_the_auto_format_flags_default_is_rendered_into_the_function_code(artifact):
    graph = record(EdgeImageResizerArgs(artifact=artifact, auto_format_flag_default=False))
    assert graph.one(CF_FUNCTION).inputs["code"] == image_format.render(flag_default=False)


def test_a_key_value_store_is_associated_when_given(artifact):
    store = "arn:aws:cloudfront::123456789012:key-value-store/a1b2c3d4-flags"
    graph = record(EdgeImageResizerArgs(artifact=artifact, format_key_value_store_arn=store))
    assert graph.one(CF_FUNCTION).inputs["keyValueStoreAssociations"] == [store]


def test_images_auto_format_and_avif_come_from_stack_config():
    from edgekit_iac.config import parse_settings
    from edgekit_iac.stack_args import resizer_args

    settings = parse_settings(
        {"environment": "staging", "images": {"autoFormat": False, "avif": False}}, "Pulumi.t.yaml"
    )
    args = resizer_args(settings)
    assert (args.auto_format, args.avif) == (False, False)
    assert (EdgeImageResizerArgs().auto_format, EdgeImageResizerArgs().avif) == (True, True)


def test_origin_is_the_private_bucket_through_oac(graph: ProgramGraph):
    bucket = graph.one(BUCKET).outputs
    assert origin(graph)["domainName"] == bucket["bucketRegionalDomainName"]
    assert origin(graph)["originAccessControlId"]
    # No legacy identity block: the provider drops an empty one from state (perpetual diff).
    assert "s3OriginConfig" not in origin(graph)
    assert "customOriginConfig" not in origin(graph)


def test_resizer_settings_travel_as_origin_headers(graph, custom):
    def headers(recorded: ProgramGraph) -> dict[str, str]:
        return {h["name"]: h["value"] for h in origin(recorded)["customHeaders"]}

    assert headers(graph) == {
        "x-edgekit-allowed-sizes": "150x150,300x200,400x300,800x600,1200x800,1920x1080",
        "x-edgekit-quality": "80",
        "x-edgekit-max-pixels": "50000000",
        "x-edgekit-quality-presets": "60,75,90",
        "x-edgekit-on-error": "status",
        "x-edgekit-max-frames": "200",
    }  # no fallback key at all: an empty header value would be a perpetual diff
    assert headers(custom) == {
        "x-edgekit-allowed-sizes": "400x300,150x150",
        "x-edgekit-quality": "65",
        "x-edgekit-max-pixels": "24000000",
        "x-edgekit-quality-presets": "40,90",
        "x-edgekit-on-error": "fallback",
        "x-edgekit-fallback-key": "placeholders/missing.png",
        "x-edgekit-max-frames": "50",
    }


def test_the_function_reads_the_settings_headers_as_set(custom, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "functions" / "image_resizer"))
    resize_request = importlib.import_module("resize_request")
    headers = {h["name"].lower(): h["value"] for h in origin(custom)["customHeaders"]}
    settings = resize_request.parse_settings(headers)
    assert settings.allowed_sizes == ((400, 300), (150, 150))
    assert settings.quality == 65
    assert settings.max_pixels == 24_000_000
    assert settings.quality_presets == (40, 90)
    assert (settings.on_error, settings.fallback_key) == ("fallback", "placeholders/missing.png")
    assert settings.max_frames == 50


def test_without_aliases_the_default_certificate_is_used(graph: ProgramGraph):
    distribution = graph.one(DISTRIBUTION).inputs
    assert "aliases" not in distribution
    assert distribution["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}


def test_aliases_get_their_certificate_sni_and_modern_tls(custom: ProgramGraph):
    distribution = custom.one(DISTRIBUTION).inputs
    assert distribution["aliases"] == ["img.example.com"]
    assert distribution["viewerCertificate"] == {
        "acmCertificateArn": CERT,
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2021",
    }


def test_web_acl_and_realtime_logs_attach_when_given(graph, custom):
    assert "webAclId" not in graph.one(DISTRIBUTION).inputs
    assert "realtimeLogConfigArn" not in behaviour(graph)
    assert custom.one(DISTRIBUTION).inputs["webAclId"] == WEB_ACL
    assert behaviour(custom)["realtimeLogConfigArn"] == REALTIME_LOGS


def test_price_class_geo_restriction_and_tags_come_from_the_args(custom: ProgramGraph):
    distribution = custom.one(DISTRIBUTION).inputs
    assert distribution["priceClass"] == "PriceClass_All"
    assert distribution["restrictions"] == {
        "geoRestriction": {"restrictionType": "blacklist", "locations": ["IR", "KP"]}
    }
    for type_token in (BUCKET, ROLE, FUNCTION, DISTRIBUTION):
        assert custom.one(type_token).inputs["tags"] == {"team": "media"}, type_token


def test_traffic_reaches_the_function_only_after_its_permissions(graph: ProgramGraph):
    assert graph.one(ROLE_POLICY).urn in graph.one(DISTRIBUTION).dependencies


# --- argument validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"allowed_sizes": []}, "allowed_sizes"),
        ({"allowed_sizes": "400x300,150x150"}, "allowed_sizes"),
        ({"allowed_sizes": ["400x300", "400"]}, "allowed_sizes"),
        ({"allowed_sizes": ["0x300"]}, "allowed_sizes"),
        ({"allowed_sizes": ["5000x300"]}, "allowed_sizes"),
        ({"allowed_sizes": [f"{w}x{w}" for w in range(1, 400)]}, "allowed_sizes"),
        ({"quality": 0}, "quality"),
        ({"quality": 101}, "quality"),
        ({"quality": True}, "quality"),
        ({"max_pixels": 10}, "max_pixels"),
        ({"quality_presets": []}, "quality_presets"),
        ({"quality_presets": "60,75"}, "quality_presets"),
        ({"quality_presets": [60, 101]}, "quality_presets"),
        ({"quality_presets": list(range(10, 100, 10))}, "quality_presets"),
        ({"on_error": "ignore"}, "on_error"),
        ({"on_error": "fallback"}, "fallback_key"),
        ({"fallback_key": "placeholder.png"}, "fallback_key"),
        ({"on_error": "fallback", "fallback_key": "/placeholder.png"}, "fallback_key"),
        ({"on_error": "fallback", "fallback_key": "resized/a.png"}, "fallback_key"),
        ({"on_error": "fallback", "fallback_key": "plätzhalter.png"}, "fallback_key"),
        ({"max_frames": 0}, "max_frames"),
        ({"max_frames": 1001}, "max_frames"),
        ({"memory_mb": 64}, "memory_mb"),
        ({"memory_mb": 10_241}, "memory_mb"),
        ({"timeout_seconds": 31}, "timeout_seconds"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"min_ttl": -1}, "min_ttl"),
        ({"default_ttl": 10, "max_ttl": 5}, "default_ttl"),
        ({"min_ttl": 100, "default_ttl": 10}, "default_ttl"),
        ({"price_class": "PriceClass_50"}, "price_class"),
        ({"aliases": ["img.example.com"]}, "certificate_arn"),
        ({"certificate_arn": CERT}, "certificate_arn"),
        ({"aliases": ["https://img.example.com"], "certificate_arn": CERT}, "aliases"),
        ({"aliases": ["a.example.com", "A.example.com"], "certificate_arn": CERT}, "aliases"),
        (
            {
                "aliases": ["img.example.com"],
                "certificate_arn": CERT.replace("us-east-1", "eu-west-1"),
            },
            "certificate_arn",
        ),
        ({"web_acl_arn": "a1b2c3d4"}, "web_acl_arn"),
        ({"web_acl_arn": WEB_ACL.replace("global", "regional")}, "web_acl_arn"),
        ({"realtime_log_config_arn": "images-logs"}, "realtime_log_config_arn"),
        ({"geo_restriction_type": "allow"}, "geo_restriction_type"),
        ({"geo_restriction_type": "whitelist"}, "geo_locations"),
        ({"geo_locations": ["DE"]}, "geo_locations"),
        ({"geo_restriction_type": "whitelist", "geo_locations": ["DEU"]}, "geo_locations"),
        ({"bucket_region": "Frankfurt"}, "bucket_region"),
        ({"force_destroy_bucket": "yes"}, "force_destroy_bucket"),
        ({"resized_expiration_days": 0}, "resized_expiration_days"),
        ({"tags": {"team": 7}}, "tags"),
        ({"auto_format": "yes"}, "auto_format"),
        ({"avif": 1}, "avif"),
        ({"auto_format_flag_default": "true"}, "auto_format_flag_default"),
        ({"format_key_value_store_arn": "flags"}, "format_key_value_store_arn"),

        ({"signing_public_keys": {"a": "not a key"}}, "signing_public_keys"),
        ({"signing_public_keys": {"a b": PUBLIC_KEYS[0]}}, "signing_public_keys"),
        ({"signing_public_keys": dict(zip("abc", PUBLIC_KEYS * 2, strict=False))},
         "signing_public_keys"),
        ({"signing_public_keys": {"a": PUBLIC_KEYS[0], "b": PUBLIC_KEYS[0]}},
         "signing_public_keys"),
        ({"signing_public_keys": {"small": SMALL_RSA_KEY}}, "signing_public_keys"),
        ({"hsts_max_age": -1}, "hsts_max_age"),
        ({"hsts_preload": True, "hsts_max_age": 86_400}, "hsts_preload"),
        ({"referrer_policy": "never"}, "referrer_policy"),
        ({"cors_allowed_origins": "https://app.example.com"}, "cors_allowed_origins"),
        ({"cors_allowed_origins": ["https://app.example.com/path"]}, "cors_allowed_origins"),
        ({"cors_allowed_origins": ["*"]}, "cors_allowed_origins"),
    ],
)
def test_bad_args_are_refused_naming_the_field(changes: dict, field: str):
    with pytest.raises(ImageResizerArgsError, match=rf"EdgeImageResizerArgs\.{field}: .*accepted"):
        validate_args(EdgeImageResizerArgs(**changes))


def test_on_error_redirect_is_refused_since_the_distribution_serves_no_originals():
    # The function's 302 goes to /{key}; this distribution answers only /images/WxH/key
    # there (the originals bucket is private), so every redirect would end in a 400.
    with pytest.raises(ImageResizerArgsError) as refused:
        validate_args(EdgeImageResizerArgs(on_error="redirect"))
    message = str(refused.value)
    assert message.startswith("EdgeImageResizerArgs.on_error: ")
    assert "serves no originals" in message and "accepted: status, fallback" in message


def test_args_errors_are_user_errors_and_value_errors():
    assert issubclass(ImageResizerArgsError, UserError)
    assert issubclass(ImageResizerArgsError, ValueError)


def test_a_bad_arg_stops_the_program_before_anything_is_declared(artifact: Artifact):
    declared: list[str] = []

    def program() -> None:
        declared.append("started")
        EdgeImageResizer("images", EdgeImageResizerArgs(artifact=artifact, timeout_seconds=60))
        declared.append("component")

    with pytest.raises(ImageResizerArgsError, match="timeout_seconds: got 60; accepted.*30"):
        run_program("test", program=program, config=STACK_CONFIG)
    assert declared == ["started"]


def test_sizes_are_normalized_to_canonical_unique_form():
    assert normalize_sizes([" 0400X300", "400x300", "150x150"]) == ("400x300", "150x150")


def test_attachments_given_as_outputs_are_not_second_guessed():
    import pulumi

    settings = validate_args(
        EdgeImageResizerArgs(
            web_acl_arn=pulumi.Output.from_input("from-another-component"),
            realtime_log_config_arn=pulumi.Output.from_input("from-another-component"),
        )
    )
    assert isinstance(settings.web_acl_arn, pulumi.Output)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "python-worker"}, "lambda-edge bundle with trigger 'origin-request'"),
        ({"trigger": "viewer-request"}, "lambda-edge bundle with trigger 'origin-request'"),
        ({"handler": ""}, "names no handler"),
    ],
)
def test_artifact_for_another_trigger_or_kind_is_refused(tmp_path, change, message):
    artifact = make_artifact(tmp_path, **change)
    with pytest.raises(ImageResizerArgsError, match=rf"artifact: .*{message}"):
        check_artifact(artifact)


def test_artifact_whose_zip_changed_is_refused(tmp_path):
    artifact = make_artifact(tmp_path)
    with zipfile.ZipFile(artifact.path, "a") as archive:
        archive.writestr("extra.py", "")
    with pytest.raises(ImageResizerArgsError, match="has sha256 .* not the recorded"):
        check_artifact(artifact)


def test_artifact_without_its_zip_is_refused(tmp_path):
    artifact = replace(make_artifact(tmp_path), path=tmp_path / "gone.zip")
    with pytest.raises(ImageResizerArgsError, match="gone.zip does not exist"):
        check_artifact(artifact)


# --- installed, not from a checkout ---------------------------------------------------------

PROJECT_SOURCES = (
    "pyproject.toml", "README.md", "edgekit_iac", "components", "functions", "policies"
)
RESIZER_SOURCES = ("function.toml", "handler.py", "resize.py", "resize_request.py")

# Runs in a fresh interpreter, from a directory with no checkout in it: the public import,
# the component with its default bundling, under the mock runtime.
RUN_INSTALLED_COMPONENT = """
import json
import edgekit_iac.components as components
from edgekit_iac.components import EdgeImageResizer, EdgeImageResizerArgs
from edgekit_iac import paths
from edgekit_iac.program import run_program

graph = run_program(
    "installed", program=lambda: EdgeImageResizer("images", EdgeImageResizerArgs()), config={}
)
function = graph.one("aws:lambda/function:Function").inputs
print(json.dumps({
    "components": components.__file__,
    "function_dir": str(paths.function_dir("image_resizer")),
    "code": function["code"]["path"],
    "handler": function["handler"],
}))
"""


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy of the sources (setuptools writes build/ there)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in PROJECT_SOURCES:
        origin_path = REPO / name
        if origin_path.is_dir():
            shutil.copytree(origin_path, source / name, ignore=ignore)
        elif origin_path.is_file():
            shutil.copy2(origin_path, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", "--quiet", "--no-deps", "-w", str(work), str(source)])
    (built,) = work.glob("edgekit_iac-*.whl")
    return built


def test_wheel_ships_the_resizer_sources(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "edgekit_iac/components/image_resizer.py" in names
    for source in RESIZER_SOURCES:
        assert f"edgekit_iac/functions/image_resizer/{source}" in names, source


def test_installed_component_bundles_the_same_function_outside_the_checkout(wheel, tmp_path):
    from_checkout = build_function("image_resizer")  # also fills the shared wheel cache
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)])
    env = {
        **os.environ,
        # Ahead of site-packages, so the installed copy wins over this checkout's editable one.
        "PYTHONPATH": str(site),
        "EDGEKIT_HOME": str(elsewhere),
        # Pillow's wheels come from the cache the checkout build used: no network needed.
        "EDGEKIT_WHEEL_CACHE": str(wheel_cache_dir()),
    }
    found = json.loads(
        run([sys.executable, "-c", RUN_INSTALLED_COMPONENT], cwd=elsewhere, env=env).stdout
    )
    assert Path(found["components"]).is_relative_to(site)
    assert Path(found["function_dir"]) == site / "edgekit_iac" / "functions" / "image_resizer"
    code = Path(found["code"])
    assert code.parent == elsewhere / ".edgekit" / "bundles"
    assert found["handler"] == "handler.handler"
    # Same sources, same zip: what an installed edgekit deploys is what the checkout built.
    assert hashlib.sha256(code.read_bytes()).hexdigest() == from_checkout.sha256


# --- signed paths and the response headers policy -----------------------------------------------


@pytest.fixture(scope="module")
def signed(artifact: Artifact) -> ProgramGraph:
    """Two signing keys (a rotation under way), CORS for one app, HSTS preload."""
    return record(
        EdgeImageResizerArgs(
            artifact=artifact,
            signing_public_keys={"2026-11": PUBLIC_KEYS[0], "2026-12": PUBLIC_KEYS[1]},
            cors_allowed_origins=["https://App.example.com"],
            hsts_preload=True,
            referrer_policy="no-referrer",
        )
    )


def test_private_originals_require_the_trusted_key_group(signed: ProgramGraph):
    distribution = signed.one(DISTRIBUTION).inputs
    (private,) = distribution["orderedCacheBehaviors"]
    group = signed.one("aws:cloudfront/keyGroup:KeyGroup")
    assert private["pathPattern"] == "/images/*/private/*"
    assert private["trustedKeyGroups"] == [group.id]
    assert "trustedSigners" not in private  # never root-account key pairs
    assert "trustedKeyGroups" not in distribution["defaultCacheBehavior"]
    # Otherwise the same behaviour as every other path: resizer, cache policy, HTTPS.
    unchanged = {k: v for k, v in private.items() if k not in ("pathPattern", "trustedKeyGroups")}
    assert unchanged == distribution["defaultCacheBehavior"]


def test_each_key_is_its_own_resource_named_after_it(signed: ProgramGraph):
    keys = {r.name: r for r in signed.of_type("aws:cloudfront/publicKey:PublicKey")}
    assert sorted(keys) == ["images-signing-key-2026-11", "images-signing-key-2026-12"]
    assert keys["images-signing-key-2026-11"].inputs["encodedKey"] == PUBLIC_KEYS[0]
    group = signed.one("aws:cloudfront/keyGroup:KeyGroup")
    assert sorted(group.inputs["items"]) == sorted(key.id for key in keys.values())
    outputs = signed.one("edgekit:aws:EdgeImageResizer").outputs["signing_key_ids"]
    assert outputs == {name.removeprefix("images-signing-key-"): key.id
                       for name, key in keys.items()}


def test_every_behaviour_carries_the_response_headers_policy(signed: ProgramGraph):
    policy = signed.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
    distribution = signed.one(DISTRIBUTION).inputs
    for rules in [distribution["defaultCacheBehavior"], *distribution["orderedCacheBehaviors"]]:
        assert rules["responseHeadersPolicyId"] == policy.id
    security = policy.inputs["securityHeadersConfig"]
    assert security["strictTransportSecurity"] == {
        "accessControlMaxAgeSec": 31_536_000, "override": True,
        "includeSubdomains": True, "preload": True,
    }
    assert security["contentTypeOptions"] == {"override": True}
    assert security["referrerPolicy"] == {"referrerPolicy": "no-referrer", "override": True}
    cors = policy.inputs["corsConfig"]
    assert cors["accessControlAllowOrigins"] == {"items": ["https://app.example.com"]}
    assert cors["accessControlAllowMethods"] == {"items": ["GET", "HEAD"]}
    assert cors["accessControlAllowCredentials"] is False


def test_by_default_hsts_has_no_preload_and_there_is_no_cors(graph: ProgramGraph):
    policy = graph.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy").inputs
    assert policy["securityHeadersConfig"]["strictTransportSecurity"] == {
        "accessControlMaxAgeSec": 31_536_000, "override": True}
    assert "corsConfig" not in policy
