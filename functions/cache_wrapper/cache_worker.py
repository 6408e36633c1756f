"""Cache wrapper Worker: serves an origin API through Cloudflare's edge cache.

A thin adapter: every decision (may this use the cache, which key, which headers reach the
origin, may the answer be stored, for how long, is a stored copy fresh, what the client
gets) lives in ``cache_policy``; this module only moves requests, responses and cache
entries between the Workers runtime and those functions. The bindings it reads, their
defaults and the caching rules are in cache_policy's docstring.

Written against the Python Workers SDK (``workers``) and JS globals (``js``). The request
may arrive as the SDK's Request (headers an ``http.client.HTTPMessage``) or, on older
runtimes, as the JS Request itself, so headers and body go through two small helpers.
Cache API entries cross to JS as ``.js_object`` and come back wrapped in ``Response``.
"""

import asyncio
import secrets
import time

import cache_policy as policy
import edge_flags
from js import Date, caches
from workers import Response, WorkerEntrypoint, fetch


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        client_headers = _header_pairs(request.headers)
        traceparent = policy.choose_traceparent(
            policy.header_map(client_headers).get("traceparent"), secrets.token_hex)
        # The JS request's own method: the SDK's Request.method is an http.HTTPMethod lookup,
        # which raises KeyError for an extension method such as M-SEARCH.
        method = str(request.js_object.method).upper()
        exchange = _Exchange(method, traceparent, request.url)
        try:
            settings = policy.parse_settings(
                {name: getattr(self.env, name, None) for name in policy.BINDING_NAMES}
            )
        except policy.SettingsError as exc:
            failure = policy.Failure(500, "misconfigured", str(exc))
            return exchange.respond(policy.error_outcome(failure, policy.BYPASS))

        # The kill switch (feature flag cache_enabled, edge_flags' bound: 5 s per isolate).
        enabled = await edge_flags.READER.get(self.env, "cache_enabled", True)
        plan = policy.plan_request(method, request.url, client_headers, settings, traceparent,
                                   cache_enabled=enabled)
        if plan.cacheable:
            return await exchange.through_cache(plan, settings, self.ctx)
        body = None if method in ("GET", "HEAD") else await _body_bytes(request)
        return await exchange.pass_through(plan, settings, body, self.ctx)


class _Exchange:
    """One client request on its way through the wrapper."""

    def __init__(self, method, traceparent, url=""):
        self.method = method
        self.traceparent = traceparent
        self.url = url
        self.started = time.perf_counter()
        self.origin_ms = None

    async def through_cache(self, plan, settings, ctx):
        cache = caches.default
        now = Date.now() / 1000
        raw = await cache.match(plan.key)
        stored = entry = None
        if raw is not None:
            stored = Response(raw)
            entry = policy.Entry(stored.status, _header_pairs(stored.headers))
        step = policy.lookup(plan, entry, now, settings)
        origin = None
        if isinstance(step, policy.AskOrigin):
            try:
                origin = await self._ask_origin(settings, step.method, step.url, step.headers)
            except _OriginFailed as failed:
                outcome = policy.after_failure(plan, entry, failed.failure, now, settings)
            else:
                outcome = policy.after_origin(plan, entry, origin.status,
                                              _header_pairs(origin.headers), now, settings)
        else:
            outcome = step
        bodies = {
            policy.BODY_ORIGIN: await origin.bytes() if origin is not None else None,
            policy.BODY_STORED: await stored.bytes() if stored is not None else None,
        }
        if outcome.store is not None:
            copy = _response(outcome.store_status, bodies[outcome.store_body], outcome.store)
            ctx.waitUntil(cache.put(plan.key, copy.js_object))
        for key in outcome.delete:
            ctx.waitUntil(cache.delete(key))
        return self.respond(outcome, bodies.get(outcome.body))

    async def pass_through(self, plan, settings, body, ctx):
        try:
            origin = await self._ask_origin(settings, plan.origin_method, plan.origin_url,
                                            plan.origin_headers, body)
        except _OriginFailed as failed:
            return self.respond(policy.error_outcome(failed.failure, policy.BYPASS))
        outcome = policy.after_bypass(plan, origin.status, _header_pairs(origin.headers),
                                      settings)
        for key in outcome.delete:
            ctx.waitUntil(caches.default.delete(key))
        payload = await origin.bytes() if outcome.body == policy.BODY_ORIGIN else None
        return self.respond(outcome, payload)

    async def _ask_origin(self, settings, method, url, headers, body=None):
        asked = time.perf_counter()
        try:
            return await asyncio.wait_for(
                fetch(url, method=method, headers=headers, body=body, redirect="manual"),
                timeout=settings.origin_timeout_ms / 1000,
            )
        except TimeoutError:
            raise _OriginFailed(504, "origin_timeout",
                                f"origin did not answer within {settings.origin_timeout_ms} ms"
                                ) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # OSError here, JsException (TypeError, RangeError) in Pyodide
            raise _OriginFailed(502, "bad_gateway",
                                f"origin unreachable or its answer unusable: {exc}") from None
        finally:
            self.origin_ms = (time.perf_counter() - asked) * 1000

    def respond(self, outcome, body=None):
        pairs = outcome.headers
        origin_timing = policy.header_map(pairs).get("server-timing") if outcome.from_origin \
            else None
        headers = policy.forwardable(pairs, drop=("traceparent", "server-timing"))
        headers += self._edge_headers(outcome.cache_status, origin_timing)
        if outcome.reason:
            headers.append(("x-edge-cache-reason", outcome.reason))
        if outcome.body == policy.BODY_ERROR:
            failure = outcome.failure
            body = policy.error_body(failure.status, failure.error, failure.detail)
        elif outcome.body == policy.BODY_NONE:
            body = None
        # One JSON line per request (Workers Logs / Logpush `Logs[]`), the edges' shared schema.
        print(policy.log_line(now=Date.now() / 1000, traceparent=self.traceparent,
                              method=self.method, url=self.url, status=outcome.status,
                              cache_status=outcome.cache_status,
                              duration_ms=(time.perf_counter() - self.started) * 1000))
        # HEAD gets the body too: the runtime never sends a HEAD answer's body, but reports its
        # length, the Content-Length GET would carry (RFC 9110 section 9.3.2).
        return _response(outcome.status, body, headers)

    def _edge_headers(self, cache_status, origin_timing=None):
        edge_ms = (time.perf_counter() - self.started) * 1000
        timing = policy.server_timing(edge_ms, self.origin_ms, cache_status, origin_timing)
        return [("x-edge-cache", cache_status), ("traceparent", self.traceparent),
                ("server-timing", timing)]


class _OriginFailed(Exception):
    def __init__(self, status, error, detail):
        super().__init__(detail)
        self.failure = policy.Failure(status, error, detail)


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
