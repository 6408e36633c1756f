"""Signing (botocore's CloudFrontSigner + cryptography) and the verification the twin does,
against each other and against CloudFront's documented formats."""

from __future__ import annotations

import datetime
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from edgekit_iac import cloudfront_signing as signing

URL = "https://d111111abcdef8.cloudfront.net/images/400x300/private/cat.jpg"
KEY_ID = "K2JCJMDEHXQW5F"
NOW = 1_800_000_000.0
RSA_KEY = signing.new_private_key()
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def at(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(NOW + seconds, datetime.UTC)


def found_in(url: str) -> signing.Credentials:
    query = url.partition("?")[2]
    pairs = [tuple(item.split("=", 1)) for item in query.split("&")]
    found = signing.credentials(pairs, {})
    assert found is not None
    return found


def check(url: str, *, resource: str = URL, ip: str = "198.51.100.7", now: float = NOW,
          key=RSA_KEY) -> None:
    signing.verify(found_in(url), resource, ip, now, {KEY_ID: key.public_key()})


def test_cloudfront_base64_uses_its_own_three_characters():
    data = bytes(range(256)) * 3
    text = signing.b64encode(data)
    assert not set("+=/") & set(text) and set("-_~") & set(text)
    assert signing.b64decode(text) == data
    with pytest.raises(ValueError):
        signing.b64decode("abc+/=")


def test_a_canned_url_has_cloudfronts_parameters_and_verifies():
    signed = signing.sign_url(URL, KEY_ID, RSA_KEY, signing.SigningRequest(URL, at(300)))
    assert signed.startswith(f"{URL}?Expires={int(NOW) + 300}&Signature=")
    assert signed.endswith(f"&Key-Pair-Id={KEY_ID}")
    check(signed)


@pytest.mark.parametrize("key", [RSA_KEY, EC_KEY], ids=["rsa-2048", "ecdsa-p256"])
@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256"])
def test_both_key_kinds_and_digests_verify(key, algorithm):
    signed = signing.sign_url(URL, KEY_ID, key, signing.SigningRequest(URL, at(60), None,
                                                                       algorithm))
    assert ("Hash-Algorithm=SHA256" in signed) == (algorithm == "SHA256")
    check(signed, key=key)


@pytest.mark.parametrize(
    ("problem", "kwargs"),
    [
        ("expired", {"now": NOW + 300}),
        ("does not match", {"resource": URL.replace("400x300", "800x600")}),
        ("none of the behaviour", {"key": EC_KEY}),
    ],
)
def test_canned_urls_are_refused_when_expired_for_another_path_or_key(problem, kwargs):
    signed = signing.sign_url(URL, KEY_ID, RSA_KEY, signing.SigningRequest(URL, at(300)))
    key = kwargs.pop("key", None)
    with pytest.raises(signing.Refused, match=problem):
        if key is not None:
            signing.verify(found_in(signed), URL, "198.51.100.7", NOW, {"OTHER": key})
        else:
            check(signed, **kwargs)


def test_a_custom_policy_covers_a_wildcard_and_an_ip_network():
    pattern = "https://d111111abcdef8.cloudfront.net/images/*/private/cat.jpg"
    request = signing.SigningRequest(pattern, at(300), "198.51.100.0/24")
    assert request.custom
    signed = signing.sign_url(URL, KEY_ID, RSA_KEY, request)
    assert "Policy=" in signed and "Expires=" not in signed
    policy = json.loads(signing.b64decode(found_in(signed).policy))
    assert policy == {"Statement": [{"Resource": pattern, "Condition": {
        "DateLessThan": {"AWS:EpochTime": int(NOW) + 300},
        "IpAddress": {"AWS:SourceIp": "198.51.100.0/24"}}}]}
    check(signed, resource=URL.replace("400x300", "1920x1080"))
    with pytest.raises(signing.Refused, match="not in 198.51.100.0/24"):
        check(signed, ip="203.0.113.1")
    with pytest.raises(signing.Refused, match="does not cover"):
        check(signed, resource=URL.replace("cat.jpg", "dog.jpg"))


def test_an_ipv6_network_is_a_cidr_too():
    signed = signing.sign_url(URL, KEY_ID, RSA_KEY, signing.SigningRequest(
        URL, at(300), signing.check_cidr("2001:db8::/32")))
    check(signed, ip="2001:db8::1")
    with pytest.raises(signing.Refused):
        check(signed, ip="198.51.100.7")


@pytest.mark.parametrize("bad", ["10.0.0.1/33", "10.0.0.1/24", "example.com"])
def test_a_bad_cidr_is_refused_with_what_is_accepted(bad):
    with pytest.raises(signing.SigningError, match="accepted: an address or CIDR"):
        signing.check_cidr(bad)


def test_an_altered_policy_or_a_mixed_signature_is_refused():
    request = signing.SigningRequest(URL, at(300), "198.51.100.0/24")
    found = found_in(signing.sign_url(URL, KEY_ID, RSA_KEY, request))
    policy = json.loads(signing.b64decode(found.policy))
    policy["Statement"][0]["Condition"]["IpAddress"]["AWS:SourceIp"] = "0.0.0.0/0"
    forged = signing.b64encode(json.dumps(policy, separators=(",", ":")).encode())
    keys = {KEY_ID: RSA_KEY.public_key()}
    with pytest.raises(signing.Refused, match="signature does not match"):
        signing.verify(found.__class__("url", None, forged, found.signature, KEY_ID, None),
                       URL, "203.0.113.1", NOW, keys)
    with pytest.raises(signing.Refused, match="exactly one of Expires"):
        signing.verify(found.__class__("url", "1", found.policy, found.signature, KEY_ID, None),
                       URL, "198.51.100.7", NOW, keys)
    with pytest.raises(signing.Refused, match="Hash-Algorithm 'MD5'"):
        signing.verify(found.__class__("url", None, found.policy, found.signature, KEY_ID,
                                       "MD5"), URL, "198.51.100.7", NOW, keys)


def test_signed_cookies_are_three_session_cookies_and_verify():
    resource = "https://d111111abcdef8.cloudfront.net/images/*/private/*"
    values = signing.signed_cookies(KEY_ID, RSA_KEY, signing.SigningRequest(resource, at(60)),
                                    domain="d111111abcdef8.cloudfront.net")
    assert [v.split("=", 1)[0] for v in values] == [
        "CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id"]
    assert all(v.endswith("; Domain=d111111abcdef8.cloudfront.net; Path=/; Secure; HttpOnly")
               for v in values)
    assert not any("Expires=" in v or "Max-Age" in v for v in values)
    jar = dict(v.split(";", 1)[0].split("=", 1) for v in values)
    found = signing.credentials([("format", "webp")], jar)
    assert found is not None and found.source == "cookies"
    signing.verify(found, URL, "198.51.100.7", NOW, {KEY_ID: RSA_KEY.public_key()})


def test_a_canned_cookie_carries_its_expiry():
    values = signing.signed_cookies(KEY_ID, RSA_KEY, signing.SigningRequest(URL, at(60)))
    assert values[0].startswith(f"CloudFront-Expires={int(NOW) + 60};")
    jar = dict(v.split(";", 1)[0].split("=", 1) for v in values)
    signing.verify(signing.credentials([], jar), URL, "198.51.100.7", NOW,
                   {KEY_ID: RSA_KEY.public_key()})


def test_url_parameters_win_over_cookies():
    found = signing.credentials([("Expires", "1"), ("Signature", "x")],
                                {"CloudFront-Expires": "2"})
    assert found is not None and found.source == "url" and found.expires == "1"
    assert signing.credentials([("format", "webp")], {"session": "x"}) is None


def test_only_keys_cloudfront_accepts_are_loaded():
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="1024 bits"):
        signing.load_public_key(signing.public_pem(small))
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match="P-256"):
        signing.load_public_key(signing.public_pem(p384))
    with pytest.raises(ValueError, match="not a PEM public key"):
        signing.load_public_key("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
