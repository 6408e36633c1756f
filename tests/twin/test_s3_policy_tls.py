"""The twin's S3 policy emulation and edgekit's TLS-only deny (Principal {"AWS": "*"})."""

from __future__ import annotations

from edgekit_iac.components._aws_helpers import deny_insecure_transport, policy_document, statement

from edgekit_iac.twin.aws import s3_policy

BUCKET = "arn:aws:s3:::originals"
DIST = "arn:aws:cloudfront::123456789012:distribution/E1"
GRANT = statement("CloudFrontReads", ["s3:GetObject"], f"{BUCKET}/*",
                  principal={"Service": "cloudfront.amazonaws.com"},
                  condition={"StringEquals": {"AWS:SourceArn": DIST}})
POLICY = policy_document(deny_insecure_transport(BUCKET), GRANT)


def reader(secure: str) -> s3_policy.Principal:
    return s3_policy.Principal(service="cloudfront.amazonaws.com",
                               context={"AWS:SourceArn": DIST, "aws:SecureTransport": secure})


def test_the_deny_refuses_plain_http_and_leaves_tls_to_the_grant():
    key = f"{BUCKET}/private/a.jpg"
    assert s3_policy.evaluate(POLICY, reader("true"), "s3:GetObject", key) == s3_policy.ALLOW
    assert s3_policy.evaluate(POLICY, reader("false"), "s3:GetObject", key) == s3_policy.DENY
    # The deny covers the bucket itself too (listing, configuration).
    assert s3_policy.evaluate(POLICY, reader("false"), "s3:ListBucket",
                              BUCKET) == s3_policy.DENY


def test_over_tls_drops_only_the_statements_that_need_plain_http():
    assert s3_policy.over_tls(POLICY)["Statement"] == [GRANT]
    other = {**GRANT, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert s3_policy.over_tls(policy_document(other))["Statement"] == [other]
