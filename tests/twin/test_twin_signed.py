"""Signed URLs and cookies on /images/*/private/*, over HTTP against the running twin, and the
response headers policy on every answer."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys

import pytest

from edgekit_iac import cloudfront_signing as signing
from edgekit_iac.twin import local_signing
from edgekit_iac.twin.clock import twin_now

from .client import request
from .conftest import REPO, edgekit

PRIVATE = "/images/400x300/private/landscape.jpg"
PUBLIC = "/images/400x300/samples/landscape.jpg"


@pytest.fixture(scope="module")
def signer(twin):
    """The twin's private key, its CloudFront key id (from graph.json) and state folder."""
    key = local_signing.private_key(twin.state_dir)
    assert key is not None, "edgekit up keeps a key pair in its state directory"
    public = signing.public_pem(key)
    ids = [r["id"] for r in twin.graph()["resources"]
           if r["type"] == "aws:cloudfront/publicKey:PublicKey"
           and signing.same_key(public, r["inputs"]["encodedKey"])]
    assert len(ids) == 1
    return key, ids[0], twin.state_dir


def _sign(signer, url, *, seconds=300, ip=None, resource=None, algorithm="SHA1"):
    key, key_id, state_dir = signer
    # On the twin's clock, which other tests may have moved forward (as the CLI signs).
    now = datetime.datetime.fromtimestamp(twin_now(state_dir), datetime.UTC)
    expires = now + datetime.timedelta(seconds=seconds)
    return signing.sign_url(url, key_id, key, signing.SigningRequest(
        resource or url, expires.replace(microsecond=0), ip, algorithm))


def test_private_originals_need_a_signature_and_the_rest_stays_public(twin):
    unsigned = request(twin.url("images-cdn", PRIVATE))
    assert unsigned.status == 403 and unsigned.header("x-cache") == "Error from cloudfront"
    assert request(twin.url("images-cdn", PUBLIC)).status == 200


def test_a_url_signed_by_the_cli_is_served(twin):
    url = twin.url("images-cdn", PRIVATE)
    signed = edgekit("sign-url", "--stack", "local", "--state-dir", str(twin.state_dir),
                     url, "--expires", "300")
    assert signed.returncode == 0, signed.stderr
    reply = request(signed.stdout.strip())
    assert reply.status == 200 and reply.header("content-type") == "image/jpeg"


@pytest.mark.parametrize("case", ["expired", "path", "expiry", "signature", "key id"])
def test_expired_or_tampered_urls_are_refused(twin, signer, case):
    url = twin.url("images-cdn", PRIVATE)
    signed = _sign(signer, url, seconds=-5 if case == "expired" else 300)
    base, _, query = signed.partition("?")
    params = dict(item.split("=", 1) for item in query.split("&"))
    if case == "path":
        base = base.replace("400x300", "800x600")
    elif case == "expiry":
        params["Expires"] = str(int(params["Expires"]) + 3600)
    elif case == "signature":
        first = params["Signature"][0]
        params["Signature"] = ("A" if first != "A" else "B") + params["Signature"][1:]
    elif case == "key id":
        params["Key-Pair-Id"] = "K" + "2" * 13
    tampered = base + "?" + "&".join(f"{k}={v}" for k, v in params.items())
    assert request(tampered).status == 403


def test_an_ip_policy_admits_only_its_network(twin, signer):
    url = twin.url("images-cdn", PRIVATE)
    signed = _sign(signer, url, ip="203.0.113.0/24")
    assert "Policy=" in signed and "Expires=" not in signed  # a custom policy
    assert request(signed).status == 403  # the viewer is 127.0.0.1
    inside = request(signed, headers={"X-Edgekit-Client-Ip": "203.0.113.9"})
    assert inside.status == 200


def test_a_wildcard_resource_and_sha256_are_accepted(twin, signer):
    url = twin.url("images-cdn", PRIVATE)
    every_size = twin.url("images-cdn", "/images/*/private/landscape.jpg")
    assert request(_sign(signer, url, resource=every_size, algorithm="SHA256")).status == 200


def test_signed_cookies_from_the_cli_are_accepted(twin):
    resource = twin.url("images-cdn", "/images/*/private/*")
    made = edgekit("sign-cookies", "--stack", "local", "--state-dir", str(twin.state_dir),
                   resource, "--expires", "60")
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == [
        "Set-Cookie: CloudFront-Policy", "Set-Cookie: CloudFront-Signature",
        "Set-Cookie: CloudFront-Key-Pair-Id"]
    pairs = [line.removeprefix("Set-Cookie: ").split(";", 1)[0] for line in lines]
    cookie = "; ".join(pairs)
    assert request(twin.url("images-cdn", PRIVATE), headers={"Cookie": cookie}).status == 200
    # Cookies whose policy was altered no longer match their signature.
    policy = json.loads(signing.b64decode(pairs[0].split("=", 1)[1]))
    policy["Statement"][0]["Condition"]["DateLessThan"]["AWS:EpochTime"] += 86_400
    forged = signing.b64encode(json.dumps(policy, separators=(",", ":")).encode())
    altered = "; ".join([f"CloudFront-Policy={forged}", *pairs[1:]])
    assert request(twin.url("images-cdn", PRIVATE), headers={"Cookie": altered}).status == 403


def test_a_percent_encoded_private_key_is_not_served_unsigned(twin):
    reply = request(twin.url("images-cdn", "/images/400x300/%70rivate/landscape.jpg"))
    assert reply.status == 400


@pytest.mark.parametrize("path", [PUBLIC, PRIVATE])
def test_every_answer_carries_the_security_headers(twin, path):
    reply = request(twin.url("images-cdn", path), headers={"Origin": "https://evil.example"})
    assert reply.header("strict-transport-security") == "max-age=31536000"
    assert reply.header("x-content-type-options") == "nosniff"
    assert reply.header("referrer-policy") == "strict-origin-when-cross-origin"
    # No CORS origins are configured for the local stack: no CORS headers for anyone.
    assert reply.header("access-control-allow-origin") is None


def test_the_readme_signed_request_works(twin, tmp_path):
    readme = (REPO / "README.md").read_text()
    block = next(b for b in re.findall(r"```sh\n(.*?)```", readme, re.S) if "sign-url" in b)
    (tmp_path / ".edgekit").mkdir()
    (tmp_path / ".edgekit" / "local").symlink_to(twin.state_dir)
    script = f'EK="{sys.executable} -m edgekit_iac"\n{block}'
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO,
                            capture_output=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "EDGEKIT_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert re.findall(rb"HTTP/1\.[01] (\d{3}) ", result.stdout) == [b"200"]
