"""The auth Worker's pure decisions (functions/edge_auth/auth_rules.py) on CPython.

Signatures are not checked here (WebCrypto does that on Pyodide: tests/workers and
tests/twin); tokens are unsigned JSON parts with a placeholder signature.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from edgekit_iac.function_modules import load_function_module

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "edge_auth"
rules = load_function_module(FUNCTION_DIR, "auth_rules.py")

NOW = 1_800_000_000
SETTINGS = rules.parse_settings({
    "ORIGIN_URL": "https://origin.example.com/", "JWKS_URL": "https://idp.example/jwks",
    "ISSUER": "https://idp.example", "AUDIENCES": "api, other", "COOKIE_NAME": "tok",
})


def b64(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(header=None, claims=None, signature=b"s" * 64) -> str:
    header = {"alg": "ES256", "kid": "k1", "typ": "JWT"} if header is None else header
    claims = {"iss": "https://idp.example", "aud": "api", "exp": NOW + 60} if claims is None \
        else claims
    return f"{b64(header)}.{b64(claims)}.{b64(signature)}"


# --- settings --------------------------------------------------------------------------------


def test_settings_defaults_and_normalisation():
    assert SETTINGS.origin_url == "https://origin.example.com"
    assert SETTINGS.audiences == ("api", "other")
    assert SETTINGS.skew == 60
    assert SETTINGS.forward_claims == (("sub", "X-Auth-Sub"),)
    assert SETTINGS.algorithms == ("RS256", "ES256", "EdDSA")
    assert SETTINGS.forward_token is False


@pytest.mark.parametrize("bindings, binding", [
    ({"ISSUER": ""}, "ISSUER"),
    ({"JWKS_URL": "ftp://x/jwks"}, "JWKS_URL"),
    ({"CLOCK_SKEW_SECONDS": "301"}, "CLOCK_SKEW_SECONDS"),
    ({"ALGORITHMS": "ES256,HS256"}, "ALGORITHMS"),
    ({"ALGORITHMS": "none"}, "ALGORITHMS"),
    ({"FORWARD_CLAIMS": "sub=Authorization"}, "FORWARD_CLAIMS"),
    ({"FORWARD_CLAIMS": "sub=X-A,email=x-a"}, "FORWARD_CLAIMS"),
    ({"FORWARD_CLAIMS": "sub"}, "FORWARD_CLAIMS"),
    ({"COOKIE_NAME": "a b"}, "COOKIE_NAME"),
    ({"FORWARD_TOKEN": "yes"}, "FORWARD_TOKEN"),
    ({"REALM": 'a"b'}, "REALM"),
])
def test_bad_bindings_name_the_binding(bindings, binding):
    base = {"ORIGIN_URL": "https://o.example", "JWKS_URL": "https://i.example/jwks",
            "ISSUER": "i", "AUDIENCES": "a"}
    with pytest.raises(rules.SettingsError) as error:
        rules.parse_settings({**base, **bindings})
    assert error.value.binding == binding


# --- where the token is ----------------------------------------------------------------------


def test_token_from_header_or_cookie():
    assert rules.find_token([("Authorization", "Bearer abc.def.ghi")], "tok") == "abc.def.ghi"
    assert rules.find_token([("authorization", "bearer  abc ")], None) == "abc"
    assert rules.find_token([("Cookie", "a=1; tok=abc.def.ghi")], "tok") == "abc.def.ghi"
    assert rules.find_token([("Cookie", "tok=abc")], None) is rules.MISSING
    assert rules.find_token([("Authorization", "Basic dXNlcjpw")], "tok") is rules.MISSING
    assert rules.find_token([], "tok") is rules.MISSING


@pytest.mark.parametrize("headers, reason", [
    ([("Authorization", "Bearer a"), ("Cookie", "tok=a")], "token_in_header_and_cookie"),
    ([("Authorization", "Bearer a"), ("Authorization", "Bearer b")], "repeated_authorization"),
    ([("Cookie", "tok=a; tok=b")], "repeated_cookie"),
    ([("Authorization", "Bearer a b")], "malformed_authorization"),
    ([("Authorization", "Bearer")], "malformed_authorization"),
])
def test_ambiguous_or_malformed_requests_are_400(headers, reason):
    refusal = rules.find_token(headers, "tok")
    assert (refusal.status, refusal.error, refusal.reason) == (400, "invalid_request", reason)


# --- the token -------------------------------------------------------------------------------


def test_a_well_formed_token_parses():
    token = rules.parse_token(jwt(), SETTINGS)
    assert (token.alg, token.kid, token.claims["aud"]) == ("ES256", "k1", "api")
    assert token.signing_input == jwt().rsplit(".", 1)[0].encode()


@pytest.mark.parametrize("header, reason", [
    ({"alg": "none"}, "alg_none"),
    ({"alg": "NONE"}, "alg_none"),
    ({"alg": "HS256", "kid": "k1"}, "alg_symmetric"),
    ({"alg": "hs512"}, "alg_symmetric"),
    ({"alg": "PS256"}, "alg_not_accepted"),
    ({"kid": "k1"}, "malformed_token"),
    ({"alg": "ES256", "crit": ["exp"]}, "crit_not_understood"),
    ({"alg": "ES256", "typ": "JOSE+JSON"}, "wrong_type"),
    ({"alg": "ES256", "kid": 7}, "malformed_token"),
])
def test_algorithm_policy(header, reason):
    refusal = rules.parse_token(jwt(header=header), SETTINGS)
    assert (refusal.status, refusal.error, refusal.reason) == (401, "invalid_token", reason)


def test_an_algorithm_can_be_switched_off():
    only_rsa = rules.parse_settings({**_raw(), "ALGORITHMS": "RS256"})
    assert rules.parse_token(jwt(), only_rsa).reason == "alg_not_accepted"


def _raw():
    return {"ORIGIN_URL": "https://o.example", "JWKS_URL": "https://i.example/jwks",
            "ISSUER": "https://idp.example", "AUDIENCES": "api"}


@pytest.mark.parametrize("token, reason", [
    ("abc", "malformed_token"),
    ("a.b.c.d.e", "encrypted_token"),
    ("x" * 9000, "token_too_large"),
    (f"{b64(b'[]')}.e30.c2ln", "malformed_token"),
    (b64(b'{"alg":"ES256","alg":"none"}') + ".e30.c2ln", "malformed_token"),
    (f"{b64({'alg': 'ES256'})}=.e30.c2ln", "malformed_token"),
    (f"{b64({'alg': 'ES256'})}.e30.c2l+", "malformed_token"),
    (f"{b64({'alg': 'ES256'})}.{b64(b'not json')}.c2ln", "malformed_token"),
])
def test_malformed_tokens(token, reason):
    assert rules.parse_token(token, SETTINGS).reason == reason


# --- claims ----------------------------------------------------------------------------------


def claims(**changes):
    base = {"iss": "https://idp.example", "aud": "api", "exp": NOW + 60}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


@pytest.mark.parametrize("changes, reason", [
    ({"iss": "https://evil.example"}, "wrong_issuer"),
    ({"iss": None}, "wrong_issuer"),
    ({"aud": "nope"}, "wrong_audience"),
    ({"aud": ["x", 3]}, "wrong_audience"),
    ({"aud": None}, "wrong_audience"),
    ({"exp": None}, "missing_exp"),
    ({"exp": "1800000060"}, "missing_exp"),
    ({"exp": True}, "missing_exp"),
    ({"exp": NOW - 60}, "expired"),
    ({"nbf": NOW + 61}, "not_yet_valid"),
    ({"iat": NOW + 61}, "issued_in_future"),
    ({"nbf": "soon"}, "malformed_claims"),
])
def test_claims_refused(changes, reason):
    assert rules.check_claims(claims(**changes), SETTINGS, NOW).reason == reason


@pytest.mark.parametrize("changes", [
    {}, {"aud": ["x", "other"]}, {"exp": NOW - 59}, {"nbf": NOW + 60}, {"iat": NOW},
    {"exp": NOW + 0.5 - 60 + 1},
])
def test_claims_accepted_within_the_skew(changes):
    assert rules.check_claims(claims(**changes), SETTINGS, NOW) is None


# --- keys ------------------------------------------------------------------------------------

RSA_N = b64(b"\xc1" + b"\0" * 255)  # a 2048-bit modulus
EC = {"kty": "EC", "crv": "P-256", "x": b64(b"x" * 32), "y": b64(b"y" * 32), "kid": "k1"}
OKP = {"kty": "OKP", "crv": "Ed25519", "x": b64(b"x" * 32), "kid": "k2"}
RSA = {"kty": "RSA", "n": RSA_N, "e": "AQAB", "kid": "k3"}


@pytest.mark.parametrize("jwk, alg, problem", [
    (EC, "ES256", None), (OKP, "EdDSA", None), (RSA, "RS256", None),
    (EC, "RS256", "key type"), (RSA, "ES256", "key type"),
    ({**EC, "crv": "P-384"}, "ES256", "curve"), ({**OKP, "crv": "X25519"}, "EdDSA", "curve"),
    ({**EC, "alg": "ES384"}, "ES256", "key is for"), ({**EC, "use": "enc"}, "ES256", "not for"),
    ({**EC, "key_ops": ["sign"]}, "ES256", "key_ops"),
    ({**EC, "d": "secret"}, "ES256", "private"),
    ({**RSA, "n": b64(b"\xff" * 128)}, "RS256", "under 2048"),
    ({**OKP, "x": ""}, "EdDSA", "missing"),
])
def test_a_key_must_fit_the_algorithm(jwk, alg, problem):
    found = rules.key_problem(jwk, alg)
    assert (found is None) if problem is None else (problem in found)


def test_key_selection_by_kid():
    token = rules.parse_token(jwt(), SETTINGS)
    assert rules.select_key([OKP, EC], token) is EC
    assert rules.select_key([OKP], token) is None  # unknown kid: the caller may refetch
    assert rules.select_key([{**OKP, "kid": "k1"}], token).reason == "key_mismatch"
    no_kid = rules.parse_token(jwt(header={"alg": "ES256"}), SETTINGS)
    assert rules.select_key([OKP, EC], no_kid) is EC
    assert rules.select_key([EC, {**EC, "kid": "k9"}], no_kid).reason == "no_kid"


def test_public_jwk_keeps_only_public_members():
    assert rules.public_jwk({**EC, "alg": "ES256", "use": "sig"}) == {
        "kty": "EC", "crv": "P-256", "x": EC["x"], "y": EC["y"]}


def test_signature_lengths():
    es = rules.parse_token(jwt(signature=b"s" * 64), SETTINGS)
    assert rules.signature_length_ok(es, EC)
    assert not rules.signature_length_ok(rules.parse_token(jwt(signature=b"s" * 70), SETTINGS),
                                         EC)
    rs = rules.parse_token(jwt(header={"alg": "RS256"}, signature=b"s" * 256), SETTINGS)
    assert rules.signature_length_ok(rs, RSA)


@pytest.mark.parametrize("cache_control, ttl", [
    ("public, max-age=600", 600), ("max-age=600, s-maxage=60", 60), (None, 300),
    ("no-store", 0), ("private, max-age=60", 0), ("no-cache", 0), ("max-age=9999999", 86400),
    ("max-age=abc", 300),
])
def test_jwks_ttl(cache_control, ttl):
    assert rules.jwks_ttl(cache_control) == ttl


def test_jwks_parsing():
    assert rules.parse_jwks(b'{"keys": [{"kid": "a"}, 3]}') == [{"kid": "a"}]
    for bad in (b"[]", b'{"keys": {}}', b"nope"):
        with pytest.raises(rules.JwksError):
            rules.parse_jwks(bad)


def test_refetch_guard_key_is_another_url():
    assert rules.refetch_guard_key("https://i/jwks") == "https://i/jwks?edgekit-auth-refetch=1"
    assert rules.refetch_guard_key("https://i/jwks?v=2").endswith("&edgekit-auth-refetch=1")


# --- what the origin gets --------------------------------------------------------------------


def test_origin_headers_strip_forged_claims_the_token_and_hop_by_hop():
    settings = rules.parse_settings({**_raw(), "COOKIE_NAME": "tok",
                                     "FORWARD_CLAIMS": "sub=X-Auth-Sub,email=X-Auth-Email"})
    client = [("Authorization", "Bearer t"), ("X-AUTH-SUB", "root"), ("x-auth-email", "e"),
              ("Cookie", "a=1; tok=t; b=2"), ("Connection", "x-drop"), ("X-Drop", "1"),
              ("Host", "api"), ("Accept", "application/json")]
    sent = rules.origin_headers(client, settings, {"sub": "alice", "email": "ä@x"})

    assert sent == [("Cookie", "a=1; b=2"), ("Accept", "application/json"),
                    ("X-Auth-Sub", "alice"), ("X-Auth-Email", "%C3%A4@x")]


def test_forward_token_keeps_it_and_claim_values_are_header_safe():
    settings = rules.parse_settings({**_raw(), "FORWARD_TOKEN": "true",
                                     "FORWARD_CLAIMS": "sub=X-Auth-Sub,roles=X-Auth-Roles"})
    sent = rules.origin_headers([("Authorization", "Bearer t")], settings,
                                {"sub": "a\r\nInjected: 1", "roles": ["a", "b"]})

    assert sent == [("Authorization", "Bearer t"), ("X-Auth-Sub", "a%0D%0AInjected: 1"),
                    ("X-Auth-Roles", '["a","b"]')]


def test_origin_url_keeps_path_and_query():
    assert rules.origin_url(SETTINGS, "https://auth.example/api/me?x=1") == (
        "https://origin.example.com/api/me?x=1")


def test_refusals_answer_rfc_6750_challenges_and_log_only_kid_and_class():
    refusal = rules.parse_token(jwt(header={"alg": "HS256", "kid": "k\n1"}), SETTINGS)
    headers = dict(refusal.headers("api"))

    assert headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="HS256 is refused: keys here are public keys"')
    assert refusal.log_line() == "edge_auth refused: error=alg_symmetric kid=k?1"
    assert "www-authenticate" not in dict(rules.find_token(
        [("Authorization", "Bearer a"), ("Cookie", "tok=a")], "tok").headers("api"))
