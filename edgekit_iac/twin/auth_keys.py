"""The local twin's JWT signing keys: one per algorithm the auth Worker accepts.

The twin is the identity provider of the local stack: it keeps an RS256 (RSA 2048), an
ES256 (P-256) and an EdDSA (Ed25519) private key in its state directory (``auth/``, files
readable by their owner only), serves their public halves as a JWKS from the demo origin
(``/.well-known/jwks.json``), and `edgekit token` signs with them. Signing goes through
PyJWT with ``cryptography``; nothing here verifies (the Worker does, with WebCrypto).

Keys are made on first use and kept, so tokens stay valid across `edgekit down` / `up`.
Each key's ``kid`` is derived from its public key, so a new key is a new kid.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit_iac.errors import UserError

ALGORITHMS = ("ES256", "RS256", "EdDSA")
DEFAULT_ALGORITHM = "ES256"
KEYS_DIR = "auth"
JWKS_PATH = "/.well-known/jwks.json"
# How long a client (the auth Worker's Cache API) may keep the twin's JWKS.
JWKS_CACHE_CONTROL = "public, max-age=300"
MAX_TTL = 86_400


def _generate(alg: str):
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(private_key: Any, alg: str) -> dict[str, str]:
    """The public JWK of a private key, with its kid (a hash of the public key), alg, use."""
    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import get_default_algorithms

    public = private_key.public_key()
    jwk = json.loads(get_default_algorithms()[alg].to_jwk(public))
    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = f"twin-{alg.lower()}-{hashlib.sha256(der).hexdigest()[:12]}"
    return {**{k: v for k, v in jwk.items() if k not in ("key_ops", "ext")}, "kid": kid,
            "alg": alg, "use": "sig"}


@dataclass(frozen=True)
class TwinKeys:
    """The private keys of one state directory, by algorithm."""

    keys: Mapping[str, Any]

    def jwk(self, alg: str) -> dict[str, str]:
        return public_jwk(self.keys[alg], alg)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.jwk(alg) for alg in ALGORITHMS]}

    def jwks_bytes(self) -> bytes:
        return json.dumps(self.jwks(), indent=2).encode()

    def sign(self, claims: Mapping[str, Any], alg: str = DEFAULT_ALGORITHM,
             headers: Mapping[str, Any] | None = None) -> str:
        """A compact JWS of ``claims`` with the ``alg`` key, its kid and typ JWT in the header."""
        import jwt

        header = {"kid": self.jwk(alg)["kid"], "typ": "JWT", **(headers or {})}
        return jwt.encode(dict(claims), self.keys[alg], algorithm=alg, headers=header)


def load(state_dir: Path) -> TwinKeys:
    """The state directory's keys, made (and kept) where missing."""
    from cryptography.hazmat.primitives import serialization

    folder = state_dir / KEYS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    keys = {}
    for alg in ALGORITHMS:
        path = folder / f"{alg.lower()}.pem"
        if not path.exists():
            pem = _generate(alg).private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption())
            _write_once(path, pem)
        keys[alg] = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return TwinKeys(keys)


def _write_once(path: Path, data: bytes) -> None:
    """Create ``path`` (mode 0600) unless another process just did: first writer wins."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    try:
        os.link(temporary, path)  # fails if it exists: the other process's key stays
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def claims(*, issuer: str, audience: str, subject: str, ttl: int,
           now: float | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The registered claims of a twin token: iss, aud, sub, iat, nbf, exp (ttl seconds)."""
    if not 1 <= ttl <= MAX_TTL:
        raise UserError(f"--ttl {ttl}: expected seconds 1..{MAX_TTL}")
    issued = int(time.time() if now is None else now)
    return {"iss": issuer, "aud": audience, "sub": subject, "iat": issued, "nbf": issued,
            "exp": issued + ttl, **(extra or {})}
