"""The auth Worker on Pyodide with the workers SDK: WebCrypto signatures and the JWKS cache.

Every failure case over HTTP is in tests/twin/test_twin_auth.py; here the isolate's manual
clock drives the JWKS's lifetime in the Cache API and the once-a-minute refetch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edgekit_iac.twin import auth_keys

URL = "https://auth.example/api/me?x=1"
ISSUER, AUDIENCE = "https://issuer.test", "api"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> auth_keys.TwinKeys:
    return auth_keys.load(tmp_path_factory.mktemp("auth-keys"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> auth_keys.TwinKeys:
    return auth_keys.load(tmp_path_factory.mktemp("other-keys"))


def serve_jwks(origin, document, cache_control="public, max-age=300"):
    origin.route("/jwks.json", headers=[("content-type", "application/json"),
                                        ("cache-control", cache_control)],
                 body=json.dumps(document).encode())
    origin.route("/api/me", headers=[("content-type", "application/json")], body=b'{"ok":1}')


def token(keys, clock, alg="ES256", **extra):
    claims = auth_keys.claims(issuer=ISSUER, audience=AUDIENCE, subject="alice", ttl=60,
                              now=clock.now, extra=extra)
    return keys.sign(claims, alg)


def bearer(value):
    return {"Authorization": f"Bearer {value}"}


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_each_algorithm_verifies_with_webcrypto(auth_worker, origin, clock, keys, alg):
    serve_jwks(origin, keys.jwks())
    worker = auth_worker()

    good = worker.fetch("GET", URL, headers=bearer(token(keys, clock, alg)))
    head, claims, signature = token(keys, clock, alg).split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    tampered = worker.fetch("GET", URL, headers=bearer(f"{head}.{claims}.{flipped}"))

    assert good.status == 200, good.text
    assert origin.requests_to("/api/me")[-1].headers["x-auth-sub"] == "alice"
    assert tampered.status == 401
    assert 'error="invalid_token"' in tampered.header("www-authenticate")
    assert tampered.json()["detail"] == "token signature is invalid"


def test_a_key_from_another_issuer_does_not_verify(auth_worker, origin, clock, keys,
                                                   other_keys):
    serve_jwks(origin, keys.jwks())
    forged = other_keys.sign(auth_keys.claims(issuer=ISSUER, audience=AUDIENCE, subject="eve",
                                              ttl=60, now=clock.now),
                             "ES256", headers={"kid": keys.jwk("ES256")["kid"]})

    assert auth_worker().fetch("GET", URL, headers=bearer(forged)).status == 401


def test_the_jwks_is_kept_as_long_as_its_max_age_says(auth_worker, origin, clock, keys):
    serve_jwks(origin, keys.jwks(), "public, max-age=120")
    worker = auth_worker()

    for _ in range(3):
        assert worker.fetch("GET", URL, headers=bearer(token(keys, clock))).status == 200
    clock.advance(119)
    worker.fetch("GET", URL, headers=bearer(token(keys, clock)))
    assert len(origin.requests_to("/jwks.json")) == 1
    clock.advance(2)
    assert worker.fetch("GET", URL, headers=bearer(token(keys, clock))).status == 200
    assert len(origin.requests_to("/jwks.json")) == 2


def test_a_no_store_jwks_is_fetched_each_time(auth_worker, origin, clock, keys):
    serve_jwks(origin, keys.jwks(), "no-store")
    worker = auth_worker()

    for _ in range(2):
        assert worker.fetch("GET", URL, headers=bearer(token(keys, clock))).status == 200
    assert len(origin.requests_to("/jwks.json")) == 2


def test_an_unknown_kid_refetches_at_most_once_a_minute(auth_worker, origin, clock, keys,
                                                         other_keys):
    serve_jwks(origin, keys.jwks())
    worker = auth_worker()
    assert worker.fetch("GET", URL, headers=bearer(token(keys, clock))).status == 200
    rotated = other_keys.sign(auth_keys.claims(issuer=ISSUER, audience=AUDIENCE,
                                               subject="bob", ttl=600, now=clock.now), "EdDSA")

    refused = [worker.fetch("GET", URL, headers=bearer(rotated)) for _ in range(3)]
    assert [r.status for r in refused] == [401] * 3
    assert refused[0].json()["detail"] == "token key is not known"
    assert len(origin.requests_to("/jwks.json")) == 2  # the first fetch and one refetch

    # The issuer rotates: the new key is published; within the minute nothing refetches.
    serve_jwks(origin, {"keys": keys.jwks()["keys"] + other_keys.jwks()["keys"]})
    clock.advance(30)
    assert worker.fetch("GET", URL, headers=bearer(rotated)).status == 401
    clock.advance(31)
    assert worker.fetch("GET", URL, headers=bearer(rotated)).status == 200
    assert len(origin.requests_to("/jwks.json")) == 3


def test_an_unreachable_jwks_is_503_not_a_pass(auth_worker, origin, clock, keys):
    origin.route("/jwks.json", status=500, body=b"down")
    reply = auth_worker().fetch("GET", URL, headers=bearer(token(keys, clock)))

    assert reply.status == 503
    assert reply.header("retry-after") == "30"
    assert origin.requests_to("/api/me") == []


def test_bad_bindings_are_a_clear_500(auth_worker):
    reply = auth_worker(CLOCK_SKEW_SECONDS="ten").fetch("GET", URL)

    assert reply.status == 500
    assert "CLOCK_SKEW_SECONDS" in reply.json()["detail"]


def test_keys_are_private_files(keys, tmp_path: Path):
    auth_keys.load(tmp_path)
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "auth").iterdir()} == {"0o600"}


def test_a_refusal_logs_the_error_class_and_kid_and_nothing_of_the_token(
        auth_worker, origin, clock, keys, caplog):
    serve_jwks(origin, keys.jwks())
    expired = keys.sign(auth_keys.claims(issuer=ISSUER, audience=AUDIENCE, subject="alice",
                                         ttl=60, now=clock.now - 3600))
    expected = f"edge_auth refused: error=expired kid={keys.jwk('ES256')['kid']}"
    with caplog.at_level("INFO", logger="edgekit.twin.workers"):
        reply = auth_worker().fetch("GET", URL, headers=bearer(expired))
        # The isolate's log comes over stderr on its own reader thread, so it can trail the
        # reply (as Workers logs trail responses); wait for it, boundedly.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
                record.getMessage() == expected for record in caplog.records):
            time.sleep(0.02)

    assert reply.status == 401
    lines = [record.getMessage() for record in caplog.records]
    assert expected in lines
    payload = expired.split(".")[1]
    assert not any(payload in line or "alice" in line for line in lines)


def test_a_post_body_and_query_reach_the_origin_with_the_claim(auth_worker, origin, clock,
                                                                keys):
    serve_jwks(origin, keys.jwks())
    origin.route("/api/orders", status=201, headers=[("location", "/api/orders/7")])

    reply = auth_worker().fetch("POST", "https://auth.example/api/orders?dry=1", body=b'{"n":1}',
                                headers={**bearer(token(keys, clock)), "X-Auth-Sub": "root",
                                         "content-type": "application/json"})

    assert (reply.status, reply.header("location")) == (201, "/api/orders/7")
    seen = origin.requests_to("/api/orders")[-1]
    assert (seen.method, seen.path, seen.body) == ("POST", "/api/orders?dry=1", b'{"n":1}')
    assert seen.headers["x-auth-sub"] == "alice"
    assert "authorization" not in seen.headers
