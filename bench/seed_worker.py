# BASELINE FOR THE BENCHMARKS, NOT EDGEKIT CODE: a "seed-style" cache wrapper Worker, the way
# the classic edge-caching example writes it, kept only as the comparison point for the
# origin-offload benchmark (bench/offload.py), run in a Pyodide isolate like the real one.
#   - the cache key is the request URL exactly as sent: tracking parameters and parameter
#     order make different keys for the same resource;
#   - each answer except an origin error (5xx) is stored for 30 s (public, max-age=30);
#   - nothing is stored on an error and nothing stale is kept: an origin failure goes
#     straight to the client.
# (The example's own code stores every answer, errors included; the baseline, which
# this follows, caches nothing on error.)

from js import caches
from workers import Response, WorkerEntrypoint, fetch

TTL_SECONDS = 30


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        key = request.url
        cached = await caches.default.match(key)
        if cached is not None:
            return Response(cached)
        path = key.split("/", 3)[3] if key.count("/") >= 3 else ""
        origin = await fetch(f"{self.env.ORIGIN_URL}/{path}")
        body = await origin.bytes()
        headers = [(name, value) for name, value in origin.headers.items()
                   if name.lower() not in ("cache-control", "content-length")]
        headers.append(("cache-control", f"public, max-age={TTL_SECONDS}"))
        response = Response(body, status=origin.status, headers=headers)
        if origin.status < 500:
            # The SDK's Response.clone() is Pyodide's FetchResponse.clone(), which has no
            # js_object: clone the JS Response itself.
            self.ctx.waitUntil(caches.default.put(key, response.js_object.clone()))
        return response
