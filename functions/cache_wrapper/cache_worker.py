"""Cache wrapper Worker: serves an origin API through Cloudflare's edge cache.

A thin adapter: every decision (may this use the cache, which key, may this be stored,
for how long, is a stored copy fresh) lives in ``cache_policy``; this module only moves
requests, responses and cache entries between the Workers runtime and those functions.
The bindings it reads, their defaults and the caching rules are in cache_policy's
docstring.

Written against the Python Workers SDK (``workers``) and JS globals (``js``). The request
may arrive as the SDK's Request (headers an ``http.client.HTTPMessage``) or, on older
runtimes, as the JS Request itself, so headers and body go through two small helpers.
Cache API entries cross to JS as ``.js_object`` and come back wrapped in ``Response``.
"""

import asyncio
import secrets
import time

import cache_policy as policy
from js import Date, caches
from workers import Response, WorkerEntrypoint, fetch


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        client_headers = _header_pairs(request.headers)
        fields = policy.header_map(client_headers)
        exchange = _Exchange(
            url=request.url,
            method=str(request.method).upper(),
            client_headers=client_headers,
            traceparent=policy.choose_traceparent(fields.get("traceparent"), secrets.token_hex),
        )
        try:
            settings = policy.parse_settings(
                {name: getattr(self.env, name, None) for name in policy.BINDING_NAMES}
            )
        except policy.SettingsError as exc:
            return exchange.error(_Failure(500, "misconfigured", str(exc)), policy.BYPASS)

        decision = policy.request_decision(exchange.method, fields, settings)
        if decision.cache:
            return await exchange.through_cache(settings, self.ctx)
        body = None if exchange.method in ("GET", "HEAD") else await _body_bytes(request)
        return await exchange.pass_through(settings, decision.reason, body, self.ctx)


class _Failure(Exception):
    """The origin gave no usable answer; what the client gets when nothing stale is left."""

    def __init__(self, status, error, detail):
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


class _Exchange:
    """One client request on its way through the wrapper."""

    def __init__(self, url, method, client_headers, traceparent):
        self.url = url
        self.method = method
        self.client_headers = client_headers
        self.traceparent = traceparent
        self.started = time.perf_counter()
        self.origin_ms = None

    async def through_cache(self, settings, ctx):
        cache = caches.default
        key = policy.cache_key_url(self.url, settings.tracking_params)
        now = Date.now() / 1000
        stored, stored_pairs, state = await cache.match(key), [], policy.EXPIRED
        if stored is not None:
            stored = Response(stored)
            stored_pairs = _header_pairs(stored.headers)
            state = policy.entry_state(policy.header_map(stored_pairs), now,
                                       settings.stale_if_error)
            if state == policy.FRESH:
                return await self._serve_stored(stored, stored_pairs, now, policy.HIT)

        try:  # a HEAD miss is fetched as GET, so that the full representation can be stored
            origin = await self._ask_origin(settings, "GET", cacheable=True, body=None)
            if policy.is_origin_failure(origin.status):
                raise _Failure(502, "bad_gateway", f"origin answered {origin.status}")
        except _Failure as failure:
            if state == policy.STALE_USABLE:
                return await self._serve_stored(stored, stored_pairs, now, policy.STALE)
            return self.error(failure, policy.MISS)

        origin_pairs = _header_pairs(origin.headers)
        body = await origin.bytes()
        store = policy.store_decision(origin.status, origin_pairs, settings)
        if store.cache:
            copy = _response(origin.status, body, policy.storage_headers(
                origin_pairs, ttl=store.ttl, stale_if_error=settings.stale_if_error, now=now))
            ctx.waitUntil(cache.put(key, copy.js_object))
            return self._respond(origin.status, origin_pairs, body, policy.MISS)
        if stored is not None:
            ctx.waitUntil(cache.delete(key))  # the origin no longer lets this be stored
        return self._respond(origin.status, origin_pairs, body, policy.BYPASS, store.reason)

    async def pass_through(self, settings, reason, body, ctx):
        try:
            origin = await self._ask_origin(settings, self.method, cacheable=False, body=body)
        except _Failure as failure:
            return self.error(failure, policy.BYPASS)
        if policy.should_invalidate(self.method, origin.status):
            ctx.waitUntil(caches.default.delete(
                policy.cache_key_url(self.url, settings.tracking_params)))
        payload = None if self.method == "HEAD" else await origin.bytes()
        return self._respond(origin.status, _header_pairs(origin.headers), payload,
                             policy.BYPASS, reason)

    async def _ask_origin(self, settings, method, *, cacheable, body):
        headers = policy.origin_request_headers(self.client_headers, cacheable=cacheable,
                                                traceparent=self.traceparent,
                                                request_url=self.url)
        asked = time.perf_counter()
        try:
            return await asyncio.wait_for(
                fetch(policy.origin_url_for(self.url, settings.origin_url), method=method,
                      headers=headers, body=body, redirect="manual"),
                timeout=settings.origin_timeout_ms / 1000,
            )
        except TimeoutError:
            raise _Failure(504, "origin_timeout",
                           f"origin did not answer within {settings.origin_timeout_ms} ms"
                           ) from None
        except OSError as exc:
            raise _Failure(502, "bad_gateway", f"origin unreachable: {exc}") from None
        finally:
            self.origin_ms = (time.perf_counter() - asked) * 1000

    async def _serve_stored(self, stored, stored_pairs, now, cache_status):
        body = await stored.bytes()  # also for HEAD: the runtime sends its length, not it
        return self._respond(stored.status, policy.served_headers(stored_pairs, now), body,
                             cache_status, from_origin=False)

    def _respond(self, status, pairs, body, cache_status, reason="", *, from_origin=True):
        origin_timing = policy.header_map(pairs).get("server-timing") if from_origin else None
        headers = policy.forwardable(pairs, drop=("traceparent", "server-timing"))
        headers += self._edge_headers(cache_status, origin_timing)
        if reason:
            headers.append(("x-edge-cache-reason", reason))
        # HEAD gets the body too: the runtime never sends a HEAD answer's body, but reports its
        # length, the Content-Length GET would carry (RFC 9110 section 9.3.2).
        return _response(status, body, headers)

    def _edge_headers(self, cache_status, origin_timing=None):
        edge_ms = (time.perf_counter() - self.started) * 1000
        timing = policy.server_timing(edge_ms, self.origin_ms, cache_status, origin_timing)
        return [("x-edge-cache", cache_status), ("traceparent", self.traceparent),
                ("server-timing", timing)]

    def error(self, failure, cache_status):
        headers = [("content-type", "application/json"), ("cache-control", "no-store"),
                   *self._edge_headers(cache_status)]
        body = policy.error_body(failure.status, failure.error, failure.detail)
        return Response(None if self.method == "HEAD" else body, status=failure.status,
                        headers=headers)


def _response(status, body, headers):
    """A Response, without a body where the status forbids one (the constructor throws)."""
    return Response(None if policy.has_null_body(status) else body, status=status,
                    headers=headers)


def _header_pairs(headers):
    """(name, value) pairs from an HTTPMessage or dict (SDK) or a JS Headers object."""
    items = getattr(headers, "items", None)
    return list(items()) if items is not None else [(str(k), str(v)) for k, v in headers]


async def _body_bytes(request):
    """The request body as bytes (SDK Request.bytes(), or JS arrayBuffer()); None if empty."""
    if hasattr(request, "bytes"):
        payload = await request.bytes()
    else:
        payload = (await request.arrayBuffer()).to_bytes()
    return payload or None
