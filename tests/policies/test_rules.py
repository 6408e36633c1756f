"""Each rule of the policy pack on plain properties: a resource that passes, one that fails.

Properties are written as the policy SDK hands them over (camelCase names, type tokens), so
these are the same inputs `pulumi preview --policy-pack policies` gives the rules.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from edgekit_iac.policies import rules
from edgekit_iac.policies.rules import UNKNOWN

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:resizer-1a2b3c4"
QUALIFIED_ARN = f"{FUNCTION_ARN}:7"


def https_distribution(**changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "defaultCacheBehavior": {
            "viewerProtocolPolicy": "redirect-to-https",
            "realtimeLogConfigArn": "arn:aws:cloudfront::123456789012:realtime-log-config/x",
        },
        "orderedCacheBehaviors": [
            {
                "pathPattern": "/api/*",
                "viewerProtocolPolicy": "https-only",
                "realtimeLogConfigArn": "arn:aws:cloudfront::123456789012:realtime-log-config/x",
            }
        ],
        "webAclId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1",
        "viewerCertificate": {
            "acmCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            "sslSupportMethod": "sni-only",
            "minimumProtocolVersion": "TLSv1.2_2021",
        },
    }
    props.update(changes)
    return props


def stack_resource(type_: str, name: str, props: dict[str, Any], **extra: Any) -> dict:
    return {
        "type": type_,
        "name": name,
        "urn": f"urn:pulumi:prod::edgekit::{type_}::{name}",
        "props": props,
        "dependencies": extra.get("dependencies", []),
        "propertyDependencies": extra.get("propertyDependencies", {}),
    }


# --- CloudFront -----------------------------------------------------------------------------


def test_https_only_passes_redirect_and_https_only_behaviours():
    assert rules.cloudfront_https_only(https_distribution()) == []


@pytest.mark.parametrize("policy", ["allow-all", "http-only"])
def test_https_only_names_the_behaviour_that_serves_http(policy):
    ordered = [{"pathPattern": "/api/*", "viewerProtocolPolicy": policy}]
    problems = rules.cloudfront_https_only(https_distribution(orderedCacheBehaviors=ordered))
    assert len(problems) == 1
    assert "'/api/*'" in problems[0] and repr(policy) in problems[0]
    assert "redirect-to-https" in problems[0]


def test_https_only_checks_the_default_behaviour_too():
    props = https_distribution(defaultCacheBehavior={"viewerProtocolPolicy": "allow-all"})
    assert rules.cloudfront_https_only(props) == [
        "the default behaviour has viewerProtocolPolicy 'allow-all', which serves plain HTTP; "
        "accepted: redirect-to-https or https-only"
    ]


@pytest.mark.parametrize("version", ["TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"])
def test_modern_tls_accepts_2021_policies_and_newer(version):
    certificate = {"acmCertificateArn": "arn:x", "minimumProtocolVersion": version}
    assert rules.cloudfront_modern_tls(https_distribution(viewerCertificate=certificate)) == []


@pytest.mark.parametrize(
    "version", ["TLSv1", "TLSv1_2016", "TLSv1.1_2016", "TLSv1.2_2018", "TLSv1.2_2019", "SSLv3"]
)
def test_modern_tls_refuses_older_policies_with_a_custom_certificate(version):
    certificate = {"acmCertificateArn": "arn:x", "minimumProtocolVersion": version}
    problems = rules.cloudfront_modern_tls(https_distribution(viewerCertificate=certificate))
    assert len(problems) == 1 and repr(version) in problems[0]
    assert "TLSv1.2_2021" in problems[0]


def test_modern_tls_refuses_a_custom_certificate_without_a_floor():
    certificate = {"iamCertificateId": "ASCA1234"}
    problems = rules.cloudfront_modern_tls(https_distribution(viewerCertificate=certificate))
    assert problems and "not set" in problems[0]


def test_modern_tls_leaves_the_default_certificate_alone():
    certificate = {"cloudfrontDefaultCertificate": True}
    assert rules.cloudfront_modern_tls(https_distribution(viewerCertificate=certificate)) == []


def test_protection_passes_with_web_acl_and_realtime_logs_everywhere():
    assert rules.cloudfront_protection(https_distribution()) == []


def test_protection_names_the_missing_web_acl_and_each_unlogged_behaviour():
    props = https_distribution(
        webAclId=None,
        orderedCacheBehaviors=[{"pathPattern": "/a/*", "viewerProtocolPolicy": "https-only"}],
    )
    problems = rules.cloudfront_protection(props)
    assert len(problems) == 2
    assert "web ACL" in problems[0]
    assert "'/a/*'" in problems[1] and "realtimeLogConfigArn" in problems[1]


def test_protection_counts_a_web_acl_not_known_during_preview_as_present():
    assert rules.cloudfront_protection(https_distribution(webAclId=UNKNOWN)) == []


def test_protection_is_mandatory_in_prod_and_advisory_elsewhere():
    by_name = {rule.name: rule for rule in rules.RESOURCE_RULES}
    prod = by_name["cloudfront-prod-protection"]
    advisory = by_name["cloudfront-protection-advisory"]
    assert prod.check is advisory.check is rules.cloudfront_protection
    assert (prod.level, advisory.level) == (rules.MANDATORY, rules.ADVISORY)
    assert rules.applies(prod.scope, production=True)
    assert not rules.applies(prod.scope, production=False)
    assert rules.applies(advisory.scope, production=False)
    assert not rules.applies(advisory.scope, production=True)


@pytest.mark.parametrize(
    ("environment", "stack", "expected"),
    [
        ("prod", "prod", True),
        ("prod", "eu-prod", True),  # the config decides when it is there
        ("staging", "prod", False),
        (None, "prod", True),  # no config: the stack name decides
        (None, "staging", False),
        ("local", "local", False),
    ],
)
def test_prod_is_the_environment_config_then_the_stack_name(environment, stack, expected):
    assert rules.is_production(environment, stack) is expected


# --- IAM ------------------------------------------------------------------------------------


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_iam_passes_named_actions_and_partial_wildcards():
    document = policy(
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:Get*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"},
    )
    assert rules.iam_no_wildcard_actions({"policy": document}) == []


@pytest.mark.parametrize("action", ["*", "s3:*", ["s3:GetObject", "iam:*"], " * "])
def test_iam_refuses_star_and_service_star_actions(action):
    document = policy({"Sid": "TooMuch", "Effect": "Allow", "Action": action, "Resource": "*"})
    problems = rules.iam_no_wildcard_actions({"policy": document})
    assert len(problems) == 1 and "TooMuch" in problems[0]


TLS_DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::originals-1a2b3c4", "arn:aws:s3:::originals-1a2b3c4/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def test_iam_allows_a_wildcard_deny_only_as_the_tls_only_deny():
    assert rules.iam_no_wildcard_actions({"policy": policy(TLS_DENY)}) == []
    broad = policy({"Sid": "NoOne", "Effect": "Deny", "Action": "*", "Resource": "*"})
    (problem,) = rules.iam_no_wildcard_actions({"policy": broad})
    assert "NoOne denies '*'" in problem and "aws:SecureTransport" in problem
    # Another condition is not the exception either.
    other = {**TLS_DENY, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert rules.iam_no_wildcard_actions({"policy": policy(other)})
    extra = {**TLS_DENY, "Condition": {**TLS_DENY["Condition"],
                                       "StringEquals": {"aws:PrincipalAccount": "1"}}}
    assert rules.iam_no_wildcard_actions({"policy": policy(extra)})
    # A Deny that names its actions needs no exception.
    named = {**TLS_DENY, "Action": "s3:PutObject", "Condition": {}}
    assert rules.iam_no_wildcard_actions({"policy": policy(named)}) == []


def test_iam_refuses_allow_with_not_action():
    document = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert "NotAction" in rules.iam_no_wildcard_actions({"policy": document})[0]


def test_iam_reads_role_inline_policies_by_name():
    props = {
        "assumeRolePolicy": policy({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        "inlinePolicies": [
            {"name": "fine", "policy": policy({"Effect": "Allow", "Action": "s3:GetObject"})},
            {"name": "admin", "policy": policy({"Effect": "Allow", "Action": "*"})},
        ],
    }
    problems = rules.iam_no_wildcard_actions(props)
    assert len(problems) == 1 and "inline policy 'admin'" in problems[0]


def test_iam_reads_a_policy_given_as_an_object_and_a_single_statement():
    document = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kms:*"}}
    assert rules.iam_no_wildcard_actions({"policy": document})


def test_iam_says_when_a_policy_cannot_be_read():
    assert "not valid JSON" in rules.iam_no_wildcard_actions({"policy": "{nope"})[0]


def test_iam_waits_for_a_policy_not_known_during_preview():
    assert rules.iam_no_wildcard_actions({"policy": UNKNOWN}) == []


def test_iam_rule_covers_bucket_policies_and_every_policy_resource():
    rule = next(r for r in rules.RESOURCE_RULES if r.name == "iam-no-wildcard-actions")
    for type_token in (
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:s3/bucketPolicy:BucketPolicy",
    ):
        assert type_token in rule.types


# --- Workers --------------------------------------------------------------------------------


def python_worker(**changes: Any) -> dict[str, Any]:
    props = {
        "scriptName": "edge-cache",
        "mainModule": "cache_worker.py",
        "contentType": "text/x-python",
        "compatibilityDate": "2026-11-01",
        "compatibilityFlags": ["python_workers"],
    }
    props.update(changes)
    return props


def test_workers_pass_with_a_pinned_date_and_the_python_flag():
    assert rules.workers_compatibility_date(python_worker()) == []
    assert rules.python_workers_flag(python_worker()) == []


@pytest.mark.parametrize("date", [None, ""])
def test_workers_refuse_a_missing_compatibility_date(date):
    assert (
        "no compatibilityDate"
        in rules.workers_compatibility_date(python_worker(compatibilityDate=date))[0]
    )


@pytest.mark.parametrize("date", ["latest", "2026-13-01", "2026-02-30", "26-11-01"])
def test_workers_refuse_a_compatibility_date_that_is_not_a_date(date):
    assert (
        "YYYY-MM-DD" in rules.workers_compatibility_date(python_worker(compatibilityDate=date))[0]
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"compatibilityFlags": []},
        {"compatibilityFlags": None},
        {"contentType": None, "compatibilityFlags": ["nodejs_compat"]},  # *.py main module
        {"mainModule": "main", "compatibilityFlags": None},  # text/x-python content
    ],
)
def test_python_workers_need_the_python_workers_flag(changes):
    problems = rules.python_workers_flag(python_worker(**changes))
    assert len(problems) == 1 and "'python_workers'" in problems[0]


def test_javascript_workers_need_no_python_flag():
    js = {"mainModule": "index.js", "contentType": "application/javascript+module"}
    assert rules.python_workers_flag(js) == []


# --- Lambda@Edge ----------------------------------------------------------------------------


def edge_function(**changes: Any) -> dict[str, Any]:
    props = {
        "region": "us-east-1",
        "publish": True,
        "architectures": ["x86_64"],
        "timeout": 30.0,
        "memorySize": 1536.0,
        "arn": FUNCTION_ARN,
        "qualifiedArn": QUALIFIED_ARN,
    }
    props.update(changes)
    return props


def edge_stack(function_props: dict, event: str = "origin-request", arn: Any = QUALIFIED_ARN):
    function = stack_resource(rules.LAMBDA_FUNCTION, "resizer", function_props)
    distribution = stack_resource(
        rules.DISTRIBUTION,
        "cdn",
        {
            "defaultCacheBehavior": {
                "viewerProtocolPolicy": "redirect-to-https",
                "lambdaFunctionAssociations": [{"eventType": event, "lambdaArn": arn}],
            }
        },
        dependencies=[function["urn"]],
        propertyDependencies={"defaultCacheBehavior": [function["urn"]]},
    )
    return [function, distribution]


def test_edge_function_within_the_origin_limits_passes():
    assert rules.lambda_edge_functions(edge_stack(edge_function())) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"region": "eu-west-1"}, "region 'eu-west-1'"),
        ({"region": None}, "sets no region"),
        ({"publish": False}, "not published"),
        ({"publish": None}, "not published"),
        ({"architectures": ["arm64"]}, "x86_64 only"),
        ({"environment": {"variables": {"BUCKET": "b", "API_KEY": "k"}}}, "API_KEY, BUCKET"),
        ({"layers": ["arn:aws:lambda:us-east-1:1:layer:x:1"]}, "layers"),
        ({"timeout": 31.0}, "timeout 31 s, over the 30 s limit of origin-request"),
        ({"memorySize": 10241.0}, "memorySize 10241 MB"),
    ],
)
def test_edge_function_breaking_one_rule_is_reported_for_that_rule(changes, expected):
    found = rules.lambda_edge_functions(edge_stack(edge_function(**changes)))
    assert len(found) == 1
    urn, message = found[0]
    assert urn.endswith("::resizer") and expected in message
    assert message.startswith("Lambda@Edge function 'resizer' ")


def test_viewer_triggers_have_the_viewer_limits():
    viewer = edge_function(timeout=5.0, memorySize=128.0)
    assert rules.lambda_edge_functions(edge_stack(viewer, event="viewer-request")) == []
    found = rules.lambda_edge_functions(edge_stack(edge_function(), event="viewer-request"))
    messages = [message for _, message in found]
    assert len(messages) == 2
    assert "over the 5 s limit of viewer-request" in messages[0]
    assert "over the 128 MB limit of viewer-request" in messages[1]


def test_defaults_of_an_unset_timeout_and_memory_fit_viewer_triggers():
    props = edge_function(timeout=None, memorySize=None)
    assert rules.lambda_edge_functions(edge_stack(props, event="viewer-response")) == []


def test_functions_no_distribution_runs_are_not_edge_functions():
    function = stack_resource(rules.LAMBDA_FUNCTION, "worker", edge_function(region="eu-west-1"))
    assert rules.lambda_edge_functions([function]) == []


def test_an_association_not_known_yet_is_traced_through_property_dependencies():
    viewer = edge_function(timeout=5.0, memorySize=256.0)
    stack = edge_stack(viewer, event="viewer-request", arn=UNKNOWN)
    found = rules.lambda_edge_functions(stack)
    assert [urn for urn, _ in found] == [stack[0]["urn"]]
    assert "over the 128 MB limit of viewer-request" in found[0][1]


def test_ambiguous_unknown_associations_get_the_loosest_limits():
    viewer = stack_resource(rules.LAMBDA_FUNCTION, "viewer", edge_function(memorySize=128.0))
    origin = stack_resource(rules.LAMBDA_FUNCTION, "origin", edge_function(memorySize=2048.0))
    distribution = stack_resource(
        rules.DISTRIBUTION,
        "cdn",
        {
            "defaultCacheBehavior": {
                "lambdaFunctionAssociations": [
                    {"eventType": "viewer-request", "lambdaArn": UNKNOWN},
                    {"eventType": "origin-request", "lambdaArn": UNKNOWN},
                ]
            }
        },
        propertyDependencies={"defaultCacheBehavior": [viewer["urn"], origin["urn"]]},
    )
    triggers = rules.edge_triggers([viewer, origin, distribution])
    assert triggers == {viewer["urn"]: {None}, origin["urn"]: {None}}
    assert rules.lambda_edge_functions([viewer, origin, distribution]) == []


def test_an_unversioned_association_is_reported_on_the_distribution():
    stack = edge_stack(edge_function(), arn=f"{FUNCTION_ARN}:$LATEST")
    found = rules.lambda_edge_functions(stack)
    assert len(found) == 1
    assert found[0][0] == stack[1]["urn"] and "not a numbered version" in found[0][1]


# --- S3 -------------------------------------------------------------------------------------

ALL_BLOCKED = dict.fromkeys(rules.PUBLIC_ACCESS_FLAGS, True)


def bucket_and_block(**flags: Any) -> list[dict]:
    bucket = stack_resource("aws:s3/bucket:Bucket", "originals", {"bucket": "originals-1a2b3c4"})
    block = stack_resource(
        rules.PUBLIC_ACCESS_BLOCK,
        "originals-public-access",
        {"bucket": "originals-1a2b3c4", **ALL_BLOCKED, **flags},
    )
    return [bucket, block]


def test_a_bucket_with_all_four_flags_blocked_passes():
    assert rules.s3_public_access_blocked(bucket_and_block()) == []


def test_a_bucket_without_an_access_block_is_reported():
    bucket, _ = bucket_and_block()
    found = rules.s3_public_access_blocked([bucket])
    assert found == [
        (
            bucket["urn"],
            "bucket 'originals' has no BucketPublicAccessBlock; add one with blockPublicAcls, "
            "blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets all true",
        )
    ]


def test_an_access_block_of_another_bucket_does_not_count():
    bucket, block = bucket_and_block()
    block["props"]["bucket"] = "some-other-bucket"
    assert [urn for urn, _ in rules.s3_public_access_blocked([bucket, block])] == [bucket["urn"]]


@pytest.mark.parametrize("flag", rules.PUBLIC_ACCESS_FLAGS)
def test_an_access_block_with_a_flag_off_is_reported(flag):
    _, block = stack = bucket_and_block(**{flag: False})
    found = rules.s3_public_access_blocked(stack)
    assert found == [(block["urn"], found[0][1])]
    assert f"leaves {flag} off" in found[0][1]


def test_a_bucket_name_not_known_yet_is_matched_through_dependencies():
    bucket, block = bucket_and_block()
    bucket["props"]["bucket"] = UNKNOWN
    block["props"]["bucket"] = UNKNOWN
    block["propertyDependencies"] = {"bucket": [bucket["urn"]]}
    assert rules.s3_public_access_blocked([bucket, block]) == []


def bucket_with_policy(document: Any) -> list[dict]:
    bucket, _ = bucket_and_block()
    policy_resource = stack_resource(
        "aws:s3/bucketPolicy:BucketPolicy",
        "originals-policy",
        {"bucket": "originals-1a2b3c4", "policy": document},
    )
    return [bucket, policy_resource]


def test_a_bucket_whose_policy_denies_requests_without_tls_passes():
    grant = {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::originals-1a2b3c4/*"}
    assert rules.s3_tls_only(bucket_with_policy(policy(TLS_DENY, grant))) == []
    as_aws_star = {**TLS_DENY, "Principal": {"AWS": "*"}, "Action": ["s3:*"]}
    assert rules.s3_tls_only(bucket_with_policy(policy(as_aws_star))) == []


def test_a_bucket_without_a_policy_is_reported():
    bucket, _ = bucket_and_block()
    ((urn, message),) = rules.s3_tls_only([bucket])
    assert urn == bucket["urn"] and "has no bucket policy" in message


@pytest.mark.parametrize(
    "changes",
    [
        {"Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        {"Effect": "Allow"},
        {"Action": "s3:GetObject"},
        {"Principal": {"AWS": "arn:aws:iam::123456789012:root"}},
        {"Resource": "arn:aws:s3:::originals-1a2b3c4/*"},  # the bucket itself is left open
    ],
)
def test_a_policy_that_lets_plain_http_through_is_reported(changes):
    stack = bucket_with_policy(policy({**TLS_DENY, **changes}))
    ((urn, message),) = rules.s3_tls_only(stack)
    assert urn == stack[1]["urn"] and "lets requests without TLS through" in message


def test_a_policy_not_known_during_preview_is_checked_on_up():
    assert rules.s3_tls_only(bucket_with_policy(UNKNOWN)) == []


def test_signed_behaviours_trust_key_groups_never_root_key_pairs():
    good = https_distribution(orderedCacheBehaviors=[
        {"pathPattern": "/images/*/private/*", "trustedKeyGroups": ["kg-1"]}])
    assert rules.cloudfront_trusted_key_groups(good) == []
    bad = https_distribution(orderedCacheBehaviors=[
        {"pathPattern": "/images/*/private/*", "trustedSigners": ["self"]}])
    (problem,) = rules.cloudfront_trusted_key_groups(bad)
    assert "behaviour '/images/*/private/*'" in problem and "trustedKeyGroups" in problem


# --- CloudFront Functions -------------------------------------------------------------------


def test_the_format_function_as_rendered_meets_cloudfront_function_limits():
    from edgekit_iac.functions.image_format import render

    store = "arn:aws:cloudfront::123456789012:key-value-store/a1b2"
    props = {"runtime": "cloudfront-js-2.0", "code": render.render(),
             "keyValueStoreAssociations": [store]}
    assert rules.cloudfront_function_limits(props) == []
    assert rules.cloudfront_function_limits({**props, "code": UNKNOWN}) == []


def test_cloudfront_function_limits_name_size_store_count_and_runtime():
    code = "import cf from 'cloudfront';\nconst s = cf.kvs();\n" + "//" + "x" * 10_240
    problems = rules.cloudfront_function_limits({
        "runtime": "cloudfront-js-1.0", "code": code,
        "keyValueStoreAssociations": ["arn:a", "arn:b"]})
    assert problems == [
        f"code is {len(code)} bytes; CloudFront Functions accept at most 10240",
        "is associated with 2 KeyValueStores; CloudFront allows one per function",
        "uses a KeyValueStore with runtime 'cloudfront-js-1.0'; accepted: cloudfront-js-2.0",
    ]
    assert rules.cloudfront_function_limits(
        {"runtime": "cloudfront-js-1.0", "code": "function handler(e) { return e.request; }"}
    ) == []
