"""A small CPython stand-in for the Cloudflare Python Workers runtime.

workerd cannot run Python Workers offline (it downloads Pyodide), so tests and the local
twin run edgekit's Workers here, unchanged: their ``from workers import ...`` and
``from js import ...`` resolve to the stand-ins below while they are loaded, without any
``workers``/``js`` package being installed.

Use::

    from edgekit_iac.twin.cloudflare.workers_runtime import ManualClock, WorkersRuntime

    runtime = WorkersRuntime(clock=ManualClock())        # one Cache API store per runtime
    worker = runtime.load_function("cache_wrapper", env={"ORIGIN_URL": "http://127.0.0.1:8081"})
    # or from a bundle: runtime.load_worker(worker_modules(artifact),
    #                                       main_module="cache_worker.py", env=bindings)
    result = await worker.dispatch("GET", "https://api.example/weather?city=Oslo",
                                   headers=[("accept", "application/json")],
                                   cf={"country": "NO", "colo": "OSL"})
    result.status, result.header("x-edge-cache"), result.body     # also worker.dispatch_sync(...)

``dispatch`` builds a ``workers.Request``, instantiates ``Default(ctx, env)``, awaits its
``fetch``, then awaits every ``ctx.waitUntil`` task before returning a ``WorkerResult``
(status, headers, body, and the exception if the Worker threw: it then answers 500, as
Cloudflare does). ``env`` values are the bindings as the Worker sees them (plain-text
bindings are str). The runtime's clock (``time.time`` unless injected) drives both the
Cache API's expiry and ``js.Date.now()``.

Documented behaviours covered:

* ``workers.Response(body, status=, status_text=, headers=)`` with str/bytes/None bodies
  (a str body implies ``text/plain;charset=UTF-8``), status range check (ValueError),
  no body for 101/204/205/304 (TypeError), headers only as dict or list of pairs
  (TypeError otherwise, as the SDK), ``Response.json(data, ...)``/``from_json``,
  ``await r.text()/bytes()/json()`` reading the body once, ``clone()``,
  ``Response(js_response)`` wrapping, ``js_object``.
* ``workers.Request``: ``method`` (``http.HTTPMethod``), ``url``, ``headers``
  (``http.client.HTTPMessage``), ``cf`` (attributes, absent fields raise AttributeError,
  ``to_py()``), body readers; GET/HEAD with a body rejected.
* Headers as JS ``Headers``: lower-case names, sorted, duplicates combined with ``", "``
  except ``Set-Cookie``; every ``.headers`` access is a fresh copy.
* ``workers.fetch(url, method=, headers=, body=, redirect=)``: real HTTP/1.1 via the
  stdlib in a thread; redirects followed (max 20) unless ``redirect="manual"`` /
  ``"error"``; network failures raise OSError (as Pyodide's pyfetch); cancelling the
  awaiting task (``asyncio.wait_for``) aborts the connection.
* ``WorkerEntrypoint`` with ``self.env`` and ``self.ctx.waitUntil`` (awaited at request
  end; failures logged, not sent to the client); ``passThroughOnException`` accepted.
* ``js.caches.default`` / ``await js.caches.open(name)``: the Cache API as documented by
  Cloudflare (see ``edgekit_iac.twin.cloudflare.workers_runtime.cache``): keyed by URL,
  ``put`` honours Cache-Control/Expires and the default edge TTLs, refuses Set-Cookie
  responses unless ``private=Set-Cookie``, throws for non-GET keys, 206 and ``Vary: *``;
  ``match`` only for GET; ``delete`` returns whether something was removed.
* ``js.Date.now()`` (ms, from the runtime clock) and ``js.console.log/warn/error``.

Not covered: streaming bodies (ReadableStream), FormData/Blob, WebSockets, RPC and
other bindings (KV, D1, ...), the ``cf`` request-init options on fetch (ignored),
conditional/Range Cache API matches, CPU/memory/subrequest limits, and compression (the
stand-in asks origins for identity encoding; the real runtime negotiates it and the
Worker sees a decoded body either way).
"""

from edgekit_iac.twin.cloudflare.workers_runtime.cache import Cache, CacheStorage
from edgekit_iac.twin.cloudflare.workers_runtime.runtime import (
    Env,
    LoadedWorker,
    ManualClock,
    WorkerLoadError,
    WorkerResult,
    WorkersRuntime,
)

__all__ = [
    "Cache",
    "CacheStorage",
    "Env",
    "LoadedWorker",
    "ManualClock",
    "WorkerLoadError",
    "WorkerResult",
    "WorkersRuntime",
]
