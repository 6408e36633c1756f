"""The auth Worker over HTTP against the twin: every way a token is refused, and the way in.

One twin session for all of it (the shared `twin` fixture). Tokens are signed with the
twin's own keys (its state directory), as `edgekit token` signs them; the forged ones are
built by hand, since no JWT library will make them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import serialization

from edgekit_iac.twin import auth_keys
from edgekit_iac.twin.clock import twin_now

from .client import request
from .conftest import RunningTwin, edgekit

ISSUER = "https://auth.edgekit.localhost"
AUDIENCE = "api.edgekit.localhost"
COOKIE = "edge_token"


@pytest.fixture(scope="module")
def auth(twin: RunningTwin) -> str:
    names = [name for name in twin.endpoints if "auth" in name]
    assert len(names) == 1, f"one auth listener expected in {sorted(twin.endpoints)}"
    return twin.endpoints[names[0]]


@pytest.fixture(scope="module")
def keys(twin: RunningTwin) -> auth_keys.TwinKeys:
    return auth_keys.load(twin.state_dir)


def b64(data: bytes | dict) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# The shared twin's clock may have been moved forward by other tests (cache expiry): tokens
# are made for the twin's time, as `edgekit token` makes them.
_twin_state: list = []


@pytest.fixture(autouse=True)
def _on_the_twins_clock(twin: RunningTwin):
    _twin_state[:] = [twin.state_dir]
    yield
    _twin_state.clear()


def twin_time() -> int:
    return int(twin_now(_twin_state[0]))


def claims(**changes) -> dict:
    base = auth_keys.claims(issuer=ISSUER, audience=AUDIENCE, subject="alice", ttl=60,
                            now=twin_time())
    return {**base, **changes}


def whoami(auth: str, token: str | None = None, *, cookie: str | None = None,
           headers: dict[str, str] | None = None):
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if cookie is not None:
        sent["Cookie"] = cookie
    return request(f"{auth}/api/whoami", headers=sent)


def assert_refused(reply, detail: str, status: int = 401, error: str = "invalid_token"):
    assert reply.status == status, reply.body
    assert reply.json() == {"error": error, "detail": detail}
    assert reply.header("cache-control") == "no-store"
    if status == 401:
        challenge = reply.header("www-authenticate")
        assert challenge.startswith('Bearer realm="api", error="invalid_token"'), challenge
        assert f'error_description="{detail}"' in challenge


# --- the way in ------------------------------------------------------------------------------


def test_edgekit_token_gets_through_and_the_origin_sees_only_the_claim(twin, auth):
    printed = edgekit("token", "--stack", "local", "--sub", "alice", "--ttl", "60",
                      "--state-dir", str(twin.state_dir))
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip()

    reply = whoami(auth, token, headers={"X-Auth-Sub": "mallory", "x-auth-sub": "root"})

    assert reply.status == 200, reply.body
    # The client's X-Auth-Sub is gone, the token is not forwarded: only the claim arrives.
    assert reply.json() == {"auth_headers": {"x-auth-sub": "alice"}, "authorization": False,
                            "cookies": []}


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_each_algorithm_and_the_cookie_get_through(auth, keys, alg):
    reply = whoami(auth, cookie=f"theme=dark; {COOKIE}={keys.sign(claims(), alg)}")

    assert reply.status == 200, reply.body
    assert reply.json() == {"auth_headers": {"x-auth-sub": "alice"}, "authorization": False,
                            "cookies": ["theme"]}


def test_the_api_answers_through_the_worker(auth, keys):
    reply = request(f"{auth}/api/weather?city=Oslo",
                    headers={"Authorization": f"Bearer {keys.sign(claims())}"})

    assert reply.status == 200
    assert reply.json()["city"] == "Oslo"


# --- refused ---------------------------------------------------------------------------------


def test_no_token_is_a_bare_challenge(auth):
    reply = whoami(auth, headers={"X-Auth-Sub": "mallory"})

    assert reply.status == 401
    # RFC 6750 3.1: no error code when the request carried no authentication at all.
    assert reply.header("www-authenticate") == 'Bearer realm="api"'


def test_expired(auth, keys):
    now = twin_time()
    stale = keys.sign(claims(iat=now - 600, nbf=now - 600, exp=now - 61))  # skew is 60 s
    assert_refused(whoami(auth, stale), "token expired")


def test_not_yet_valid(auth, keys):
    later = keys.sign(claims(nbf=twin_time() + 120))
    assert_refused(whoami(auth, later), "token is not valid yet")


def test_wrong_audience(auth, keys):
    assert_refused(whoami(auth, keys.sign(claims(aud="another-api"))),
                   "token audience is not accepted")


def test_wrong_issuer(auth, keys):
    assert_refused(whoami(auth, keys.sign(claims(iss="https://evil.example"))),
                   "token issuer is not accepted")


def test_alg_none(auth, keys):
    kid = keys.jwk("ES256")["kid"]
    unsigned = f"{b64({'alg': 'none', 'kid': kid, 'typ': 'JWT'})}.{b64(claims())}."
    assert_refused(whoami(auth, unsigned), "unsigned tokens (alg none) are refused")


def test_hs256_with_the_public_key_as_secret(auth, keys):
    """Algorithm confusion: an HMAC keyed with the (public) RSA key the JWKS publishes."""
    public_pem = keys.keys["RS256"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    head = f"{b64({'alg': 'HS256', 'kid': keys.jwk('RS256')['kid'], 'typ': 'JWT'})}." \
           f"{b64(claims())}"
    mac = hmac.new(public_pem, head.encode(), hashlib.sha256).digest()
    assert_refused(whoami(auth, f"{head}.{b64(mac)}"),
                   "HS256 is refused: keys here are public keys")


def test_unknown_kid(auth, keys):
    token = keys.sign(claims(), headers={"kid": "twin-es256-not-a-key"})
    assert_refused(whoami(auth, token), "token key is not known")


@pytest.mark.parametrize("token, detail", [
    ("not-a-jwt", "token must be three base64url parts"),
    ("a.b.c.d.e", "encrypted tokens (JWE) are not accepted"),
    (f"{b64(b'[1]')}.e30.c2ln", "token header is not base64url JSON"),
    ("eyJhbGciOiJFUzI1NiJ9.%%%.c2ln", None),  # not even a token68: a malformed request
])
def test_malformed(auth, token, detail):
    reply = whoami(auth, token)
    if detail is None:
        assert_refused(reply, "Authorization must be 'Bearer <token>'", 400, "invalid_request")
    else:
        assert_refused(reply, detail)


def test_token_in_both_header_and_cookie_is_a_bad_request(auth, keys):
    token = keys.sign(claims())
    reply = whoami(auth, token, cookie=f"{COOKIE}={token}")

    assert_refused(reply, f"the token came in both the Authorization header and the {COOKIE} "
                          "cookie; use one method (RFC 6750 section 2)", 400, "invalid_request")
    assert reply.header("www-authenticate") is None


def test_the_twin_serves_its_jwks_with_cache_control(twin, keys):
    reply = request(twin.endpoints["demo-origin"] + auth_keys.JWKS_PATH)

    assert reply.status == 200
    assert reply.header("cache-control") == auth_keys.JWKS_CACHE_CONTROL
    assert [key["kid"] for key in reply.json()["keys"]] == [
        keys.jwk(alg)["kid"] for alg in auth_keys.ALGORITHMS]
    assert not any("d" in key for key in reply.json()["keys"])
