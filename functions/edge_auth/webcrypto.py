"""JWS signature checks with the runtime's WebCrypto (``crypto.subtle``), reached through ``js``.

The same code runs on Cloudflare (workerd) and in the twin (Node 20): both implement
RSASSA-PKCS1-v1_5, ECDSA P-256 and Ed25519 in ``crypto.subtle``. No signature math in
Python. A JWS ES256 signature is the raw ``r || s`` pair (RFC 7518 3.4), which is the form
WebCrypto's ECDSA verify takes; EdDSA is Ed25519 (RFC 8037 3.1).

Imported keys are kept per isolate, keyed by the public key itself, so a warm isolate
imports each key once.
"""

import json

from js import Object, crypto
from pyodide.ffi import to_js

IMPORT_PARAMS = {
    "RS256": {"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-256"},
    "ES256": {"name": "ECDSA", "namedCurve": "P-256"},
    "EdDSA": {"name": "Ed25519"},
}
VERIFY_PARAMS = {
    "RS256": {"name": "RSASSA-PKCS1-v1_5"},
    "ES256": {"name": "ECDSA", "hash": "SHA-256"},
    "EdDSA": {"name": "Ed25519"},
}
_MAX_KEYS = 64
_imported = {}


class KeyImportError(Exception):
    """WebCrypto refused the key (the message is WebCrypto's, never the token's)."""


def _js(value):
    return to_js(value, dict_converter=Object.fromEntries)


async def import_key(alg, public_jwk):
    """A CryptoKey for verifying ``alg`` signatures with the public JWK (its public members)."""
    cache_key = alg + json.dumps(public_jwk, sort_keys=True)
    key = _imported.get(cache_key)
    if key is None:
        try:
            key = await crypto.subtle.importKey("jwk", _js(public_jwk), _js(IMPORT_PARAMS[alg]),
                                                False, _js(["verify"]))
        except Exception as exc:  # JsException: DataError, NotSupportedError
            raise KeyImportError(str(exc)) from None
        if len(_imported) >= _MAX_KEYS:
            _imported.clear()
        _imported[cache_key] = key
    return key


async def verify(alg, key, signature, signing_input):
    """Whether ``signature`` (bytes) is ``key``'s signature of ``signing_input`` (bytes)."""
    try:
        return bool(await crypto.subtle.verify(_js(VERIFY_PARAMS[alg]), key, to_js(signature),
                                               to_js(signing_input)))
    except Exception:  # a malformed signature is a failed verification, not a crash
        return False
