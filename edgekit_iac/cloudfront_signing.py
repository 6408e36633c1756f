"""CloudFront signed URLs and signed cookies: keys, signing (botocore) and verification.

Signing uses botocore's `CloudFrontSigner` (policy statements, the URL layout) with a
signature made by `cryptography`; verification, which only CloudFront does in production,
is here for the local twin and uses `cryptography` too. Nothing in this module writes RSA
or ECDSA by hand.

What CloudFront documents, and what this module follows (Developer Guide, "Use signed
URLs", "Create a signed URL using a canned policy / a custom policy", "Use signed
cookies"):

- keys: RSA 2048 or ECDSA P-256 public keys in a trusted key group (never root-account
  key pairs); the `Key-Pair-Id` is the CloudFront public key's id;
- canned policy: `Expires` (epoch seconds) + `Signature` + `Key-Pair-Id`; the signed
  statement is `{"Statement":[{"Resource":"<URL>","Condition":{"DateLessThan":
  {"AWS:EpochTime":<Expires>}}}]}` with no white space;
- custom policy: `Policy` (the statement itself, encoded) + `Signature` + `Key-Pair-Id`;
  `Resource` may hold `*` and `?`, conditions `DateLessThan` (required), `DateGreaterThan`
  and `IpAddress.AWS:SourceIp` (a CIDR);
- signatures are SHA-1 by default, SHA-256 with `Hash-Algorithm=SHA256`;
- binary values travel in CloudFront's URL-safe base64: `+` -> `-`, `=` -> `_`, `/` -> `~`;
- signed cookies carry the same values as `CloudFront-Expires` or `CloudFront-Policy`,
  `CloudFront-Signature`, `CloudFront-Key-Pair-Id` (and `CloudFront-Hash-Algorithm`).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.signers import CloudFrontSigner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from edgekit_iac.errors import UserError

# The query parameters and cookies CloudFront reads (and strips from the signed resource).
QUERY_PARAMETERS = ("Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm")
COOKIE_PREFIX = "CloudFront-"
HASHES = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256}
RSA_BITS = 2048
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")
ACCEPTED_KEYS = "a PEM public key (-----BEGIN PUBLIC KEY-----), RSA 2048 or ECDSA P-256"


class SigningError(UserError):
    """A key, a URL or a signing option is unusable; the message says which and why."""


# --- CloudFront's URL-safe base64 -------------------------------------------------------------

_TO_SAFE = bytes.maketrans(b"+=/", b"-_~")
_FROM_SAFE = bytes.maketrans(b"-_~", b"+=/")


def b64encode(data: bytes) -> str:
    """Base64 with `+`, `=` and `/` replaced by `-`, `_` and `~` (CloudFront's variant)."""
    return base64.b64encode(data).translate(_TO_SAFE).decode("ascii")


def b64decode(text: str) -> bytes:
    """The inverse of `b64encode`; raises ValueError on anything else."""
    try:
        return base64.b64decode(text.encode("ascii").translate(_FROM_SAFE), validate=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise ValueError(f"not CloudFront base64: {error}") from None


# --- keys ----------------------------------------------------------------------------------------

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def load_public_key(pem: str) -> PublicKey:
    """A PEM public key CloudFront accepts for signed URLs, or ValueError saying why not."""
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError) as error:
        raise ValueError(f"not a PEM public key ({error})") from None
    _check_key_kind(key)
    return key  # type: ignore[return-value]


def load_private_key(pem: str | bytes) -> PrivateKey:
    """A PEM private key (unencrypted) of a kind CloudFront accepts, or ValueError."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise ValueError(f"not an unencrypted PEM private key ({error})") from None
    _check_key_kind(key.public_key())
    return key  # type: ignore[return-value]


def _check_key_kind(key: Any) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size != RSA_BITS:
            raise ValueError(f"an RSA key of {key.key_size} bits; CloudFront takes RSA 2048")
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"an EC key on {key.curve.name}; CloudFront takes P-256")
        return
    raise ValueError(f"a {type(key).__name__}; CloudFront takes RSA 2048 or ECDSA P-256")


def public_pem(key: PrivateKey | PublicKey) -> str:
    """The SubjectPublicKeyInfo PEM of a key (what a CloudFront public key holds)."""
    public = key.public_key() if hasattr(key, "private_bytes") else key
    return public.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def same_key(first_pem: str, second_pem: str) -> bool:
    """Whether two PEM public keys are the same key (whatever their line layout)."""
    return public_pem(load_public_key(first_pem)) == public_pem(load_public_key(second_pem))


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def private_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _sign(key: PrivateKey, message: bytes, algorithm: str) -> bytes:
    digest = HASHES[algorithm]()
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), digest)
    return key.sign(message, ec.ECDSA(digest))


def verify_signature(key: PublicKey, signature: bytes, message: bytes, algorithm: str) -> bool:
    digest = HASHES[algorithm]()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), digest)
        else:
            key.verify(signature, message, ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return True


# --- signing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningRequest:
    """What to sign: a resource (URL, may hold `*`/`?`), until when, optionally for whom."""

    resource: str
    expires: datetime.datetime
    ip: str | None = None
    hash_algorithm: str = "SHA1"

    @property
    def custom(self) -> bool:
        """A custom policy is needed for an IP condition or a wildcard resource."""
        return self.ip is not None or "*" in self.resource


def check_cidr(text: str) -> str:
    """An IPv4 or IPv6 address or CIDR, as CloudFront's AWS:SourceIp takes it."""
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as error:
        raise SigningError(
            f"--ip {text!r}: {error}; accepted: an address or CIDR such as 203.0.113.7 or "
            "203.0.113.0/24 (host bits zero)"
        ) from None
    return str(network)


def _signer(key_pair_id: str, key: PrivateKey, algorithm: str) -> CloudFrontSigner:
    return CloudFrontSigner(key_pair_id, lambda message: _sign(key, message, algorithm))


def _policy(signer: CloudFrontSigner, request: SigningRequest) -> str:
    if not request.custom:
        return signer.build_policy(request.resource, request.expires)
    return signer.build_policy(request.resource, request.expires, ip_address=request.ip)


def sign_url(url: str, key_pair_id: str, key: PrivateKey, request: SigningRequest) -> str:
    """`url` with the signing parameters appended (canned policy unless `request.custom`).

    `request.resource` is what the policy names: `url` itself for a canned policy, or a
    wildcard pattern covering it for a custom one."""
    signer = _signer(key_pair_id, key, request.hash_algorithm)
    if request.custom:
        signed = signer.generate_presigned_url(url, policy=_policy(signer, request))
    else:
        signed = signer.generate_presigned_url(url, date_less_than=request.expires)
    if request.hash_algorithm != "SHA1":
        signed += f"&Hash-Algorithm={request.hash_algorithm}"
    return signed


def signed_cookies(
    key_pair_id: str,
    key: PrivateKey,
    request: SigningRequest,
    *,
    domain: str | None = None,
    path: str = "/",
) -> list[str]:
    """The `Set-Cookie` values that make a viewer's requests for `request.resource` signed.

    Canned: CloudFront-Expires; custom: CloudFront-Policy; then CloudFront-Signature and
    CloudFront-Key-Pair-Id. No Expires/Max-Age attribute (session cookies), as CloudFront
    recommends; Secure and HttpOnly always."""
    signer = _signer(key_pair_id, key, request.hash_algorithm)
    policy = _policy(signer, request).encode("utf-8")
    signature = _sign(key, policy, request.hash_algorithm)
    if request.custom:
        first = f"CloudFront-Policy={b64encode(policy)}"
    else:
        first = f"CloudFront-Expires={int(request.expires.timestamp())}"
    pairs = [first, f"CloudFront-Signature={b64encode(signature)}",
             f"CloudFront-Key-Pair-Id={key_pair_id}"]
    if request.hash_algorithm != "SHA1":
        pairs.append(f"CloudFront-Hash-Algorithm={request.hash_algorithm}")
    attributes = ([f"Domain={domain}"] if domain else []) + [f"Path={path}", "Secure", "HttpOnly"]
    return ["; ".join([pair, *attributes]) for pair in pairs]


# --- verification (what CloudFront does; the twin uses it) ---------------------------------------


class Refused(Exception):
    """CloudFront answers 403 to this request; the message is the reason."""


@dataclass(frozen=True)
class Credentials:
    """The signing values of one request, from its query string or from its cookies."""

    source: str  # "url" or "cookies"
    expires: str | None
    policy: str | None
    signature: str | None
    key_pair_id: str | None
    hash_algorithm: str | None


def credentials(query: Sequence[tuple[str, str]], cookies: Mapping[str, str]) -> Credentials | None:
    """The request's signing values: a signed URL when its query names any, else cookies."""
    params = {name: value for name, value in query if name in QUERY_PARAMETERS}
    if params:
        return Credentials("url", params.get("Expires"), params.get("Policy"),
                           params.get("Signature"), params.get("Key-Pair-Id"),
                           params.get("Hash-Algorithm"))
    jar = {name[len(COOKIE_PREFIX):]: value for name, value in cookies.items()
           if name.startswith(COOKIE_PREFIX)}
    if not jar:
        return None
    return Credentials("cookies", jar.get("Expires"), jar.get("Policy"), jar.get("Signature"),
                       jar.get("Key-Pair-Id"), jar.get("Hash-Algorithm"))


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


def covers(pattern: str, url: str) -> bool:
    """Whether a policy Resource (`*` any run of characters, `?` one) matches `url`."""
    return _wildcard(pattern).fullmatch(url) is not None


def _epoch(condition: Mapping[str, Any], name: str) -> int | None:
    value = (condition.get(name) or {}).get("AWS:EpochTime")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(f"{name} AWS:EpochTime is not a whole number of seconds")
    return value


def _statement(policy_text: bytes) -> Mapping[str, Any]:
    try:
        policy = json.loads(policy_text)
        statements = policy["Statement"]
    except (ValueError, TypeError, KeyError):
        raise Refused("the policy is not a JSON policy statement") from None
    if not isinstance(statements, list) or len(statements) != 1 or not isinstance(
            statements[0], Mapping):
        raise Refused("the policy must hold exactly one statement")
    return statements[0]


def verify(
    found: Credentials,
    resource_url: str,
    client_ip: str,
    now: float,
    trusted_keys: Mapping[str, PublicKey],
) -> None:
    """Raise `Refused` unless `found` grants `resource_url` to `client_ip` at `now`.

    `resource_url` is the URL the viewer asked for without the signing parameters;
    `trusted_keys` maps each public key id of the behaviour's trusted key groups to its key.
    """
    if found.signature is None or found.key_pair_id is None:
        raise Refused(f"the signed {found.source} lacks Signature or Key-Pair-Id")
    key = trusted_keys.get(found.key_pair_id)
    if key is None:
        raise Refused(f"Key-Pair-Id {found.key_pair_id!r} is in none of the behaviour's "
                      "trusted key groups")
    algorithm = found.hash_algorithm or "SHA1"
    if algorithm not in HASHES:
        raise Refused(f"Hash-Algorithm {algorithm!r} is not SHA1 or SHA256")
    if (found.policy is None) == (found.expires is None):
        raise Refused(f"the signed {found.source} needs exactly one of Expires (canned "
                      "policy) or Policy (custom policy)")
    if found.expires is not None:
        if not found.expires.isdigit():
            raise Refused("Expires is not a whole number of seconds")
        policy_text = json.dumps(
            {"Statement": [{"Resource": resource_url,
                            "Condition": {"DateLessThan": {"AWS:EpochTime": int(found.expires)}}}]},
            separators=(",", ":")).encode("utf-8")
    else:
        try:
            policy_text = b64decode(found.policy or "")
        except ValueError:
            raise Refused("Policy is not CloudFront base64") from None
    try:
        signature = b64decode(found.signature)
    except ValueError:
        raise Refused("Signature is not CloudFront base64") from None
    if not verify_signature(key, signature, policy_text, algorithm):
        raise Refused("the signature does not match the policy and key")
    _check_statement(_statement(policy_text), resource_url, client_ip, now)


def _check_statement(statement: Mapping[str, Any], resource_url: str, client_ip: str,
                     now: float) -> None:
    resource = statement.get("Resource")
    if resource is not None and (not isinstance(resource, str)
                                 or not covers(resource, resource_url)):
        raise Refused(f"the policy's Resource {resource!r} does not cover {resource_url}")
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        raise Refused("the policy has no Condition")
    before = _epoch(condition, "DateLessThan")
    if before is None:
        raise Refused("the policy has no DateLessThan")
    if now >= before:
        raise Refused(f"expired at {before} (now {int(now)})")
    after = _epoch(condition, "DateGreaterThan")
    if after is not None and now < after:
        raise Refused(f"not valid before {after} (now {int(now)})")
    source = (condition.get("IpAddress") or {}).get("AWS:SourceIp")
    if source is not None:
        try:
            allowed = ipaddress.ip_network(str(source), strict=False)
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            raise Refused(f"IpAddress {source!r} is not a CIDR") from None
        if address not in allowed:
            raise Refused(f"the viewer {client_ip} is not in {source}")
