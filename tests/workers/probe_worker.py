"""A Worker that exercises the runtime's JS shim on request (tests/workers/test_shim.py).

GET /put?key=K&status=S&body=B&h=name:value...   caches.default.put(K, Response(B, ...))
GET /put-get?key=K                                 put with a non-GET Request as the key
GET /match?key=K[&method=M]                        caches.default.match(K or Request(K, M))
GET /delete?key=K                                  caches.default.delete(K)
GET /named                                         caches.open("x") twice: same Cache?
GET /later?key=K                                   ctx.waitUntil(put K), answer at once
GET /cf, /now, /env, /kv?key=K&value=V, /boom      request.cf, Date.now(), bindings, KV, raise
Every answer is JSON; a JS exception from the runtime comes back as {"error": "Type: ..."}.
"""

import json
from urllib.parse import parse_qs, urlsplit

import js
from js import Date, caches
from pyodide.ffi import JsException
from workers import Request, Response, WorkerEntrypoint


def _answer(document):
    return Response(json.dumps(document), headers={"content-type": "application/json"})


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        parts = urlsplit(request.url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        headers = [tuple(h.split(":", 1)) for h in parse_qs(parts.query).get("h", [])]
        key = query.get("key", "https://api.example/thing")
        try:
            return _answer(await self._op(parts.path, query, headers, key, request))
        except (JsException, TypeError, ValueError) as exc:
            return _answer({"error": f"{type(exc).__name__}: {exc}"})

    async def _op(self, path, query, headers, key, request):
        if path == "/put":
            status = int(query.get("status", "200"))
            body = None if status in (204, 304) else query.get("body", "x")
            await caches.default.put(key, Response(body, status=status,
                                                   headers=headers or None).js_object)
            return {"error": None}
        if path == "/put-get":
            await caches.default.put(Request(key, method="POST").js_object,
                                     Response("x").js_object)
            return {"error": None}
        if path == "/match":
            target = Request(key, method=query["method"]).js_object if "method" in query else key
            found = await caches.default.match(target)
            if found is None:
                return {"found": False}
            stored = Response(found)
            return {"found": True, "status": stored.status, "body": await stored.text(),
                    "headers": dict(stored.headers.items())}
        if path == "/delete":
            return {"deleted": bool(await caches.default.delete(key))}
        if path == "/named":
            first, second = await caches.open("x"), await caches.open("x")
            return {"same": first is second or first == second,
                    "default_differs": first != caches.default}
        if path == "/later":
            self.ctx.waitUntil(caches.default.put(
                key, Response("later", headers={"cache-control": "max-age=60"}).js_object))
            return {"error": None}
        if path == "/cf":
            cf = request.cf
            return {"cf": None if cf is None else cf.to_py()}
        if path == "/now":
            return {"now": Date.now(), "date": js.Date.new().getTime()}
        if path == "/env":
            return {"text": self.env.TEXT, "secret": self.env.SECRET,
                    "doc": self.env.DOC.to_py(), "missing": hasattr(self.env, "NOPE")}
        if path == "/kv":
            if "value" in query:
                await self.env.STORE.put(query["key"], query["value"],
                                         expirationTtl=int(query.get("ttl", "60")))
            listed = await self.env.STORE.list()
            return {"value": await self.env.STORE.get(query["key"]),
                    "keys": [entry["name"] for entry in listed["keys"]]}
        if path == "/boom":
            raise RuntimeError("boom")
        return {"error": f"no probe at {path}"}
