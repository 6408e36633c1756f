"""The twin's own URL-signing key pair, kept in its state directory (`signing/`).

`edgekit up` creates it on first start (RSA 2048, the private key readable by its owner
only) and trusts its public key as the stack's signing key "local" when the stack names
none, so that `edgekit sign-url --stack local` and `edgekit sign-cookies --stack local`
make URLs and cookies the twin accepts. It survives `down`/`up`: URLs signed yesterday
stay valid until they expire. Nothing here is ever used outside the twin.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgekit_iac import cloudfront_signing as signing

KEY_NAME = "local"
PRIVATE_FILE = "private.pem"
PUBLIC_FILE = "public.pem"


def signing_dir(state_root: Path) -> Path:
    return state_root / "signing"


def ensure_key_pair(state_root: Path) -> str:
    """The twin's public key (PEM), creating the pair on first use."""
    folder = signing_dir(state_root)
    private, public = folder / PRIVATE_FILE, folder / PUBLIC_FILE
    if not private.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        key = signing.new_private_key()
        temporary = folder / f".{PRIVATE_FILE}.{os.getpid()}.tmp"
        descriptor = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(signing.private_pem(key))
        temporary.replace(private)
        public.write_text(signing.public_pem(key), encoding="ascii")
    return signing.public_pem(signing.load_private_key(private.read_bytes()))


def private_key(state_root: Path) -> signing.PrivateKey | None:
    """The twin's private key, or None when no twin has created one there."""
    path = signing_dir(state_root) / PRIVATE_FILE
    if not path.is_file():
        return None
    return signing.load_private_key(path.read_bytes())
