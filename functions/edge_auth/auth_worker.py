"""Auth Worker: lets a request reach the origin API only with a valid JWT.

A thin adapter: the rules (where the token is, the algorithm policy, claims, which headers
the origin gets, how long a JWKS is kept) are in ``auth_rules``; the signature check is
WebCrypto's (``webcrypto``). This module moves requests to the origin, keys between the
JWKS URL, the Cache API and WebCrypto, and answers refusals. Of a refused token it logs
only the error class and the kid.
"""

import auth_rules as rules
import webcrypto
from js import Date, caches
from workers import Response, WorkerEntrypoint, fetch

JSON_HEADERS = [("content-type", "application/json"), ("cache-control", "no-store")]


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        try:
            settings = rules.parse_settings(
                {name: getattr(self.env, name, None) for name in rules.BINDING_NAMES})
        except rules.SettingsError as exc:
            return _error(500, "misconfigured", str(exc))
        headers = _header_pairs(request.headers)
        # The JS request's own method: the SDK's Request.method is an HTTPMethod lookup that
        # raises KeyError for extension methods.
        method = str(request.js_object.method).upper()
        try:
            outcome = await authenticate(headers, settings, Date.now() / 1000)
        except _JwksUnavailable as exc:
            print(f"edge_auth: JWKS unavailable: {exc}")
            return _error(503, "jwks_unavailable", "the key set could not be fetched",
                          [("retry-after", "30")])
        if isinstance(outcome, rules.Refusal):
            print(outcome.log_line())
            return Response(outcome.body(), status=outcome.status,
                            headers=outcome.headers(settings.realm))
        body = None if method in ("GET", "HEAD") else await request.bytes() or None
        try:
            return await fetch(rules.origin_url(settings, request.url), method=method,
                               headers=rules.origin_headers(headers, settings, outcome),
                               body=body, redirect="manual")
        except Exception as exc:  # OSError here, JsException (TypeError) in Pyodide
            print(f"edge_auth: origin unreachable: {type(exc).__name__}")
            return _error(502, "bad_gateway", "the origin could not be reached")


async def authenticate(headers, settings, now):
    """The token's claims when the request may pass, else a Refusal."""
    token = rules.find_token(headers, settings.cookie_name)
    if isinstance(token, rules.Refusal):
        return token
    parsed = rules.parse_token(token, settings)
    if isinstance(parsed, rules.Refusal):
        return parsed
    keys, fresh = await _jwks(settings, refetch=False)
    jwk = rules.select_key(keys, parsed)
    if jwk is None and not fresh and await _may_refetch(settings):
        keys, fresh = await _jwks(settings, refetch=True)
        jwk = rules.select_key(keys, parsed)
    if jwk is None:
        return rules.Refusal(401, "invalid_token", "unknown_kid", "token key is not known",
                             parsed.kid)
    if isinstance(jwk, rules.Refusal):
        return jwk
    if not rules.signature_length_ok(parsed, jwk):
        return rules.Refusal(401, "invalid_token", "bad_signature", "token signature is invalid",
                             parsed.kid)
    try:
        key = await webcrypto.import_key(parsed.alg, rules.public_jwk(jwk))
    except webcrypto.KeyImportError:
        return rules.Refusal(401, "invalid_token", "unusable_key", "token key is not usable",
                             parsed.kid)
    if not await webcrypto.verify(parsed.alg, key, parsed.signature, parsed.signing_input):
        return rules.Refusal(401, "invalid_token", "bad_signature", "token signature is invalid",
                             parsed.kid)
    # Claims are checked only once the signature holds: nothing unsigned decides anything.
    return rules.check_claims(parsed.claims, settings, now, parsed.kid) or parsed.claims


class _JwksUnavailable(Exception):
    pass


async def _jwks(settings, refetch):
    """The JWKS's keys, from the Cache API unless ``refetch``; and whether it was fetched now."""
    cache = caches.default
    if not refetch:
        stored = await cache.match(settings.jwks_url)
        if stored is not None:
            try:
                return rules.parse_jwks(await Response(stored).bytes()), False
            except rules.JwksError:
                await cache.delete(settings.jwks_url)
    try:
        answer = await fetch(settings.jwks_url, headers=[("accept", "application/json")])
    except Exception as exc:
        raise _JwksUnavailable(f"fetch failed ({type(exc).__name__})") from None
    if answer.status != 200:
        raise _JwksUnavailable(f"status {answer.status}")
    raw = await answer.bytes()
    try:
        keys = rules.parse_jwks(raw)
    except rules.JwksError as exc:
        raise _JwksUnavailable(str(exc)) from None
    ttl = rules.jwks_ttl(answer.headers.get("cache-control"))
    if ttl > 0:
        copy = Response(raw, headers=[("content-type", "application/json"),
                                      ("cache-control", f"max-age={ttl}")])
        await cache.put(settings.jwks_url, copy.js_object)
    return keys, True


async def _may_refetch(settings):
    """At most one refetch for unknown kids per REFETCH_INTERVAL (per data centre's cache)."""
    guard = rules.refetch_guard_key(settings.jwks_url)
    cache = caches.default
    if await cache.match(guard) is not None:
        return False
    marker = Response("", headers=[("cache-control", f"max-age={rules.REFETCH_INTERVAL}")])
    await cache.put(guard, marker.js_object)
    return True


def _error(status, error, detail, extra=()):
    return Response(f'{{"error": "{error}", "detail": "{detail}"}}', status=status,
                    headers=JSON_HEADERS + list(extra))


def _header_pairs(headers):
    """(name, value) pairs from an HTTPMessage or dict (SDK) or a JS Headers object."""
    items = getattr(headers, "items", None)
    return list(items()) if items is not None else [(str(k), str(v)) for k, v in headers]
