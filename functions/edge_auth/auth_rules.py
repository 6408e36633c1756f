"""The auth Worker's decisions, as pure functions (stdlib only: CPython 3.11+ and Pyodide).

The Worker (``auth_worker``) sits in front of an origin API and lets a request through only
with a valid JWT. Everything it decides is here; the signature check itself is WebCrypto's
(``webcrypto``), and only the runtime adapter talks to the network and the Cache API.

Where the token comes from (RFC 6750 section 2): ``Authorization: Bearer <token>``, or the
cookie named by ``COOKIE_NAME``. A request that carries both, two Authorization headers or
the cookie twice is ``400 invalid_request`` (section 2: clients "MUST NOT use more than one
method to transmit the token in each request"). No token at all is ``401`` with a bare
``WWW-Authenticate: Bearer realm=...`` (section 3.1: no error code when the request lacks
authentication information). Every other failure is ``401 invalid_token`` with an
``error_description`` that says which check failed.

What a token must be (RFC 7515, RFC 7519, RFC 8725):

* three base64url parts (no padding) of at most 8 KiB; a JWE (five parts) is refused;
* a JSON header whose ``alg`` is one of ``ALGORITHMS`` (RS256, ES256, EdDSA) and allowed
  by the ``ALGORITHMS`` binding. ``none`` and every HMAC algorithm (HS256/384/512) are
  refused whatever the binding says: with public keys in a JWKS, accepting HS256 would let
  anyone sign with the public key as the HMAC secret (algorithm confusion, RFC 8725 2.1).
  The key is chosen by ``kid`` and must match the algorithm (RSA >= 2048 bits for RS256,
  EC P-256 for ES256, OKP Ed25519 for EdDSA; its ``alg``, ``use`` and ``key_ops`` must agree
  when present). ``jku``, ``jwk``, ``x5u`` and ``x5c`` header parameters are never used to
  find a key; an unknown ``crit`` parameter is refused;
* claims: ``iss`` equal to ``ISSUER``; ``aud`` (a string or a list) naming one of
  ``AUDIENCES``; ``exp`` required; ``nbf`` and ``iat`` when present; times with
  ``CLOCK_SKEW_SECONDS`` of leeway (default 60, at most 300). JSON with a repeated member
  name is refused (RFC 7515 5.2, RFC 8259 4).

What the origin gets: the request without the token (Authorization and the token cookie
are removed unless ``FORWARD_TOKEN`` is "true"), without hop-by-hop headers, and with the
claims named by ``FORWARD_CLAIMS`` ("sub=X-Auth-Sub" by default) as headers. Headers of
those names sent by the client are always removed first, so a client cannot forge them.
A claim value that is not printable ASCII is percent-encoded (UTF-8); a list or object is
sent as compact JSON, percent-encoded likewise.

Keys come from the JWKS at ``JWKS_URL``, kept in the Cache API for as long as its
Cache-Control allows (``jwks_ttl``); a ``kid`` the cached set does not know triggers one
refetch, at most once a minute per data centre (``REFETCH_INTERVAL``).

Bindings (plain text): ORIGIN_URL, JWKS_URL, ISSUER, AUDIENCES (comma-separated) are
required; COOKIE_NAME [none], CLOCK_SKEW_SECONDS [60], FORWARD_CLAIMS [sub=X-Auth-Sub],
ALGORITHMS [RS256,ES256,EdDSA], FORWARD_TOKEN [false], REALM [api] are optional.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

ALGORITHMS = ("RS256", "ES256", "EdDSA")
# What each accepted algorithm needs of its key (RFC 7518 3.3/3.4, RFC 8037 3.1).
KEY_TYPES = {"RS256": ("RSA", None), "ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}
MIN_RSA_BITS = 2048
DEFAULT_SKEW = 60
MAX_SKEW = 300
DEFAULT_FORWARD_CLAIMS = (("sub", "X-Auth-Sub"),)
DEFAULT_REALM = "api"
MAX_TOKEN_BYTES = 8192
MAX_KID_LENGTH = 256
# Typ values a JWT access token carries (RFC 7519 5.1, RFC 9068 2.1).
ACCEPTED_TYPES = frozenset({"jwt", "application/jwt", "at+jwt", "application/at+jwt"})
# A JWKS without freshness information is kept this long; none is kept longer than a day.
JWKS_DEFAULT_TTL = 300
JWKS_MAX_TTL = 86_400
REFETCH_INTERVAL = 60
BINDING_NAMES = ("ORIGIN_URL", "JWKS_URL", "ISSUER", "AUDIENCES", "COOKIE_NAME",
                 "CLOCK_SKEW_SECONDS", "FORWARD_CLAIMS", "ALGORITHMS", "FORWARD_TOKEN",
                 "REALM")
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
                        "host", "content-length"})
PRIVATE_KEY_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CLAIM_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")
# RFC 6750 3: error_description and realm use %x20-21 / %x23-5B / %x5D-7E.
_NOT_DESCRIPTION = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')
_SAFE_IN_HEADER = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


class SettingsError(ValueError):
    """A binding is missing or malformed; the message names it and what is accepted."""

    @property
    def binding(self) -> str:
        """The binding the message is about: its first word."""
        return str(self).split(" ", 1)[0]


@dataclass(frozen=True)
class Settings:
    origin_url: str
    jwks_url: str
    issuer: str
    audiences: tuple[str, ...]
    cookie_name: str | None = None
    skew: int = DEFAULT_SKEW
    forward_claims: tuple[tuple[str, str], ...] = DEFAULT_FORWARD_CLAIMS
    algorithms: tuple[str, ...] = ALGORITHMS
    forward_token: bool = False
    realm: str = DEFAULT_REALM


@dataclass(frozen=True)
class Refusal:
    """Why a request does not reach the origin. ``error`` is the RFC 6750 code (None when
    the request had no token), ``reason`` the error class that is logged."""

    status: int
    error: str | None
    reason: str
    description: str
    kid: str | None = None

    def headers(self, realm: str) -> list[tuple[str, str]]:
        challenge = f'Bearer realm="{_description(realm)}"'
        if self.error:
            challenge += (f', error="{self.error}", '
                          f'error_description="{_description(self.description)}"')
        headers = [("content-type", "application/json"), ("cache-control", "no-store")]
        if self.status == 401:
            headers.append(("www-authenticate", challenge))
        return headers

    def body(self) -> str:
        return json.dumps({"error": self.error or "unauthorized", "detail": self.description})

    def log_line(self) -> str:
        """All that is logged of a refused token: its error class and kid."""
        kid = _printable(self.kid)[:64] if self.kid is not None else "-"
        return f"edge_auth refused: error={self.reason} kid={kid}"


@dataclass(frozen=True)
class Token:
    """A token that parsed and passed the header rules; its signature is not checked yet."""

    alg: str
    kid: str | None
    claims: dict[str, object]
    signing_input: bytes
    signature: bytes


def _refuse_token(reason: str, description: str, kid: str | None = None) -> Refusal:
    return Refusal(401, "invalid_token", reason, description, kid)


def _bad_request(reason: str, description: str) -> Refusal:
    return Refusal(400, "invalid_request", reason, description)


MISSING = Refusal(401, None, "missing_token", "a bearer token is required")


# --- settings -------------------------------------------------------------------------------


def parse_settings(raw: Mapping[str, object]) -> Settings:
    """Settings from the Worker's bindings (name -> text, or None when unbound)."""
    for name in BINDING_NAMES:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise SettingsError(f"{name} must be a plain-text binding, got {type(value).__name__}")
    text = {name: (raw.get(name) or "").strip() for name in BINDING_NAMES}
    for name in ("ORIGIN_URL", "JWKS_URL", "ISSUER", "AUDIENCES"):
        if not text[name]:
            raise SettingsError(f"{name} is required")
    audiences = tuple(dict.fromkeys(a.strip() for a in text["AUDIENCES"].split(",") if a.strip()))
    if not audiences:
        raise SettingsError("AUDIENCES must name at least one audience, comma-separated")
    cookie = text["COOKIE_NAME"] or None
    if cookie is not None and not _COOKIE_NAME.fullmatch(cookie):
        raise SettingsError(f"COOKIE_NAME {cookie!r} is not a cookie name (RFC 6265 token)")
    return Settings(
        origin_url=_http_url("ORIGIN_URL", text["ORIGIN_URL"]).rstrip("/"),
        jwks_url=_http_url("JWKS_URL", text["JWKS_URL"]),
        issuer=text["ISSUER"],
        audiences=audiences,
        cookie_name=cookie,
        skew=_skew(text["CLOCK_SKEW_SECONDS"]),
        forward_claims=parse_forward_claims(text["FORWARD_CLAIMS"]) if text["FORWARD_CLAIMS"]
        else DEFAULT_FORWARD_CLAIMS,
        algorithms=_algorithms(text["ALGORITHMS"]),
        forward_token=_flag("FORWARD_TOKEN", text["FORWARD_TOKEN"]),
        realm=_realm(text["REALM"]),
    )


def _realm(value: str) -> str:
    if _NOT_DESCRIPTION.search(value):
        raise SettingsError(f"REALM must be printable ASCII without '\"' or '\\', "
                                     f"got {value!r}")
    return value or DEFAULT_REALM


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise SettingsError(f"{name} must be an http(s) URL without fragment, got {value!r}")
    return value


def _skew(value: str) -> int:
    if not value:
        return DEFAULT_SKEW
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_SKEW:
        raise SettingsError(f"CLOCK_SKEW_SECONDS must be a whole number 0..{MAX_SKEW}, "
                            f"got {value!r}")
    return int(value)


def _flag(name: str, value: str) -> bool:
    if value.lower() in ("", "false"):
        return False
    if value.lower() == "true":
        return True
    raise SettingsError(f"{name} must be 'true' or 'false', got {value!r}")


def _algorithms(value: str) -> tuple[str, ...]:
    if not value:
        return ALGORITHMS
    names = tuple(dict.fromkeys(a.strip() for a in value.split(",") if a.strip()))
    unknown = [name for name in names if name not in ALGORITHMS]
    if unknown or not names:
        raise SettingsError(f"ALGORITHMS may list {', '.join(ALGORITHMS)}, got {value!r}")
    return names


def parse_forward_claims(value: str) -> tuple[tuple[str, str], ...]:
    """``"sub=X-Auth-Sub,email=X-Auth-Email"`` -> (("sub", "X-Auth-Sub"), ...)."""
    pairs = []
    for item in value.split(","):
        claim, sep, header = (part.strip() for part in item.partition("="))
        if not sep or not _CLAIM_NAME.fullmatch(claim) or not _HEADER_NAME.fullmatch(header):
            raise SettingsError(f"FORWARD_CLAIMS must be 'claim=Header-Name' pairs separated by "
                                f"commas, e.g. 'sub=X-Auth-Sub'; got {item.strip()!r}")
        if header.lower() in HOP_BY_HOP | {"authorization", "cookie"}:
            raise SettingsError(f"FORWARD_CLAIMS cannot write the {header} header")
        pairs.append((claim, header))
    headers = [header.lower() for _, header in pairs]
    if len(set(headers)) != len(headers):
        raise SettingsError("FORWARD_CLAIMS names a header twice")
    return tuple(pairs)


# --- where the token is ---------------------------------------------------------------------


def find_token(headers: Iterable[tuple[str, str]], cookie_name: str | None) -> str | Refusal:
    """The bearer token of a request, or why there is none usable (see the module doc)."""
    headers = list(headers)
    authorizations = [v for k, v in headers if k.lower() == "authorization"]
    from_header = None
    if len(authorizations) > 1:
        return _bad_request("repeated_authorization", "send one Authorization header")
    if authorizations:
        scheme, _, credentials = authorizations[0].strip().partition(" ")
        if scheme.lower() == "bearer":
            credentials = credentials.strip()
            if not _TOKEN68.fullmatch(credentials):
                return _bad_request("malformed_authorization",
                                    "Authorization must be 'Bearer <token>'")
            from_header = credentials
    from_cookie = None
    if cookie_name is not None:
        values = cookie_values(headers, cookie_name)
        if len(values) > 1:
            return _bad_request("repeated_cookie", f"send the {cookie_name} cookie once")
        from_cookie = values[0] if values else None
    if from_header is not None and from_cookie is not None:
        return _bad_request("token_in_header_and_cookie",
                            f"the token came in both the Authorization header and the "
                            f"{cookie_name} cookie; use one method (RFC 6750 section 2)")
    token = from_header if from_header is not None else from_cookie
    return token or MISSING


def cookie_values(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    """Every value of cookie ``name`` in the request's Cookie header(s) (RFC 6265 5.4)."""
    return [value for cookie_name, value in _cookies(headers) if cookie_name == name]


def _cookies(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    found = []
    for key, value in headers:
        if key.lower() != "cookie":
            continue
        for pair in value.split(";"):
            name, sep, content = pair.strip().partition("=")
            if sep:
                found.append((name.strip(), content.strip().removeprefix('"').removesuffix('"')))
    return found


# --- the token ------------------------------------------------------------------------------


def b64url_decode(part: str) -> bytes:
    """Unpadded base64url (RFC 7515 2), strictly: no padding, no other alphabet."""
    if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"member {key!r} appears twice")
        result[key] = value
    return result


def _json_object(raw: bytes) -> dict[str, object]:
    value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def parse_token(token: str, settings: Settings) -> Token | Refusal:
    """The token's header checked against the algorithm policy, and its claims decoded."""
    if len(token) > MAX_TOKEN_BYTES:
        return _refuse_token("token_too_large", f"token is over {MAX_TOKEN_BYTES} bytes")
    parts = token.split(".")
    if len(parts) == 5:
        return _refuse_token("encrypted_token", "encrypted tokens (JWE) are not accepted")
    if len(parts) != 3:
        return _refuse_token("malformed_token", "token must be three base64url parts")
    try:
        header = _json_object(b64url_decode(parts[0]))
    except (ValueError, UnicodeDecodeError):
        return _refuse_token("malformed_token", "token header is not base64url JSON")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
        return _refuse_token("malformed_token", "kid must be a string")
    refusal = check_header(header, settings.algorithms)
    if refusal is not None:
        return Refusal(refusal.status, refusal.error, refusal.reason, refusal.description, kid)
    try:
        claims = _json_object(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        return _refuse_token("malformed_token", "token claims are not base64url JSON", kid)
    return Token(str(header["alg"]), kid, claims,
                 f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def check_header(header: Mapping[str, object], allowed: Sequence[str]) -> Refusal | None:
    """The algorithm policy: never none or HMAC, only ``allowed``; no unknown crit; JWT typ."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        return _refuse_token("malformed_token", "token header has no alg")
    if alg.lower() == "none":
        return _refuse_token("alg_none", "unsigned tokens (alg none) are refused")
    if alg.upper().startswith("HS"):
        return _refuse_token("alg_symmetric", f"{alg} is refused: keys here are public keys")
    if alg not in allowed:
        return _refuse_token("alg_not_accepted",
                             f"alg {alg} is not accepted; accepted: {', '.join(allowed)}")
    if "crit" in header:
        return _refuse_token("crit_not_understood", "critical header parameters not understood")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES):
        return _refuse_token("wrong_type", "token typ must be JWT or at+jwt")
    return None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_claims(claims: Mapping[str, object], settings: Settings, now: float,
                 kid: str | None = None) -> Refusal | None:
    """iss, aud, exp (required), nbf and iat (when present), with the configured skew."""
    if claims.get("iss") != settings.issuer:
        return _refuse_token("wrong_issuer", "token issuer is not accepted", kid)
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or not any(
            isinstance(a, str) and a in settings.audiences for a in audiences):
        return _refuse_token("wrong_audience", "token audience is not accepted", kid)
    expires = claims.get("exp")
    if not _number(expires):
        return _refuse_token("missing_exp", "token has no numeric exp", kid)
    if now >= expires + settings.skew:  # type: ignore[operator]
        return _refuse_token("expired", "token expired", kid)
    for name, reason, description in (("nbf", "not_yet_valid", "token is not valid yet"),
                                      ("iat", "issued_in_future", "token issued in the future")):
        if name not in claims:
            continue
        value = claims[name]
        if not _number(value):
            return _refuse_token("malformed_claims", f"token {name} is not a number", kid)
        if value > now + settings.skew:  # type: ignore[operator]
            return _refuse_token(reason, description, kid)
    return None


# --- keys -----------------------------------------------------------------------------------


class JwksError(ValueError):
    """The JWKS document is not a JSON object with a "keys" list."""


def parse_jwks(raw: bytes) -> list[dict[str, object]]:
    """The key objects of a JWKS document (RFC 7517 5)."""
    try:
        document = _json_object(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwksError(f"JWKS is not a JSON object: {exc}") from None
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise JwksError('JWKS has no "keys" list')
    return [key for key in keys if isinstance(key, dict)]


def key_problem(jwk: Mapping[str, object], alg: str) -> str | None:
    """Why ``jwk`` cannot verify ``alg`` signatures, or None when it can."""
    kty, curve = KEY_TYPES[alg]
    if jwk.get("kty") != kty:
        return f"key type {jwk.get('kty')!r} does not fit {alg}"
    if curve is not None and jwk.get("crv") != curve:
        return f"curve {jwk.get('crv')!r} does not fit {alg}"
    if jwk.get("alg") is not None and jwk.get("alg") != alg:
        return f"key is for {jwk.get('alg')}, not {alg}"
    if jwk.get("use") is not None and jwk.get("use") != "sig":
        return "key is not for signatures"
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return "key_ops does not allow verify"
    if PRIVATE_KEY_MEMBERS & set(jwk):
        return "the JWKS publishes private key material; refusing the key"
    members = ("n", "e") if kty == "RSA" else ("x", "y") if kty == "EC" else ("x",)
    try:
        decoded = {name: b64url_decode(str(jwk.get(name, ""))) for name in members}
    except ValueError:
        return "key members are not base64url"
    if any(not value for value in decoded.values()):
        return "key members are missing"
    if kty == "RSA" and int.from_bytes(decoded["n"], "big").bit_length() < MIN_RSA_BITS:
        return f"RSA key is under {MIN_RSA_BITS} bits"
    return None


def public_jwk(jwk: Mapping[str, object]) -> dict[str, str]:
    """Only the public members WebCrypto's importKey needs (no alg/use/key_ops surprises)."""
    members = {"RSA": ("kty", "n", "e"), "EC": ("kty", "crv", "x", "y"),
               "OKP": ("kty", "crv", "x")}[str(jwk["kty"])]
    return {name: str(jwk[name]) for name in members}


def select_key(keys: Sequence[Mapping[str, object]], token: Token
               ) -> Mapping[str, object] | Refusal | None:
    """The key for ``token``: by kid (None when the set has no such kid), or the set's only
    key fit for the algorithm when the token names no kid."""
    if token.kid is None:
        fit = [key for key in keys if key_problem(key, token.alg) is None]
        if len(fit) == 1:
            return fit[0]
        return _refuse_token("no_kid", "token names no kid and the key set has "
                                       f"{len(fit)} keys for {token.alg}")
    named = [key for key in keys if key.get("kid") == token.kid]
    if not named:
        return None
    for key in named:
        if key_problem(key, token.alg) is None:
            return key
    return _refuse_token("key_mismatch", f"key {token.kid} cannot verify {token.alg}", token.kid)


def signature_length_ok(token: Token, jwk: Mapping[str, object]) -> bool:
    """ES256 and EdDSA signatures are 64 bytes (JWS uses raw r||s); RS256 the modulus's."""
    if token.alg == "RS256":
        return len(token.signature) == len(b64url_decode(str(jwk["n"])).lstrip(b"\0"))
    return len(token.signature) == 64


def jwks_ttl(cache_control: str | None) -> int:
    """Seconds to keep a JWKS: its s-maxage or max-age (at most a day), 0 for no-store,
    no-cache or private, JWKS_DEFAULT_TTL when it says nothing."""
    directives = {}
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        directives.setdefault(name.strip().lower(), value.strip().strip('"'))
    if {"no-store", "no-cache", "private"} & set(directives):
        return 0
    for name in ("s-maxage", "max-age"):
        value = directives.get(name)
        if value is not None and value.isascii() and value.isdigit():
            return min(int(value), JWKS_MAX_TTL)
    return JWKS_DEFAULT_TTL


def refetch_guard_key(jwks_url: str) -> str:
    """The Cache API key whose presence means "the JWKS was refetched for an unknown kid
    less than REFETCH_INTERVAL seconds ago"."""
    return jwks_url + ("&" if "?" in jwks_url else "?") + "edgekit-auth-refetch=1"


# --- what the origin gets -------------------------------------------------------------------


def claim_headers(claims: Mapping[str, object], settings: Settings) -> list[tuple[str, str]]:
    """The configured claims as headers; absent or null claims send no header."""
    headers = []
    for claim, header in settings.forward_claims:
        value = claims.get(claim)
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        headers.append((header, quote(text, safe=_SAFE_IN_HEADER)))
    return headers


def origin_headers(client: Iterable[tuple[str, str]], settings: Settings,
                   claims: Mapping[str, object]) -> list[tuple[str, str]]:
    """The client's headers minus hop-by-hop ones, minus any header a claim is forwarded
    as, minus the token (unless FORWARD_TOKEN), plus the claim headers."""
    client = list(client)
    connection_named = {token.strip().lower() for k, v in client if k.lower() == "connection"
                        for token in v.split(",")}
    claimed = {header.lower() for _, header in settings.forward_claims}
    dropped = HOP_BY_HOP | connection_named | claimed
    if not settings.forward_token:
        dropped = dropped | {"authorization"}
    result = []
    for name, value in client:
        lower = name.lower()
        if lower in dropped:
            continue
        if lower == "cookie" and settings.cookie_name and not settings.forward_token:
            value = _without_cookie(value, settings.cookie_name)
            if not value:
                continue
        result.append((name, value))
    return result + claim_headers(claims, settings)


def _without_cookie(value: str, name: str) -> str:
    kept = [pair.strip() for pair in value.split(";")
            if pair.strip() and pair.strip().partition("=")[0].strip() != name]
    return "; ".join(kept)


def origin_url(settings: Settings, request_url: str) -> str:
    """Where the request goes: the origin URL (its path a prefix) + the request's path?query."""
    parts = urlsplit(request_url)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return settings.origin_url + target


# --- small helpers --------------------------------------------------------------------------


def _description(text: str) -> str:
    return _NOT_DESCRIPTION.sub("?", text)


def _printable(text: str) -> str:
    return "".join(c if 0x21 <= ord(c) < 0x7F else "?" for c in text)
