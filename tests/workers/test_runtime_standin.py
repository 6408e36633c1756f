"""The Workers stand-in keeps Cloudflare's documented contracts.

(edgekit_iac.twin.cloudflare.workers_runtime)
"""

from __future__ import annotations

import asyncio
import sys
from email.utils import formatdate

import pytest

from edgekit_iac.twin.cloudflare.workers_runtime import ManualClock, WorkerLoadError, WorkersRuntime
from edgekit_iac.twin.cloudflare.workers_runtime.sdk import Request, Response, fetch

from .conftest import FUNCTIONS

KEY = "https://api.example/thing"


def run(coroutine):
    return asyncio.run(coroutine)


def stored(cache, key=KEY):
    return run(cache.match(key))


def put(cache, status=200, headers=None, body=b"x", key=KEY):
    run(cache.put(key, Response(None if status == 204 else body, status=status, headers=headers)))


# ---------------------------------------------------------------- Cache API


@pytest.mark.parametrize(
    ("headers", "lives"),
    [
        ([("cache-control", "max-age=60")], 60),
        ([("cache-control", "max-age=60, s-maxage=10")], 10),
        ([("expires", formatdate(ManualClock()() + 3600, usegmt=True))], 3600),
        ([], 7200),  # Cloudflare's default edge TTL for 200
    ],
)
def test_put_honours_cache_control_and_expiry(runtime, clock, headers, lives):
    put(runtime.caches.default, headers=headers)

    clock.advance(lives - 1)
    assert stored(runtime.caches.default) is not None
    clock.advance(1)
    assert stored(runtime.caches.default) is None


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, [("cache-control", "no-store")]),
        (200, [("cache-control", "private, max-age=60")]),
        (200, [("cache-control", "no-cache")]),
        (200, [("cache-control", "max-age=0")]),
        (200, [("set-cookie", "a=1"), ("cache-control", "max-age=60")]),
        (500, []),  # not in the default edge TTL table
    ],
)
def test_put_does_not_store_what_cloudflare_does_not(runtime, status, headers):
    put(runtime.caches.default, status=status, headers=headers)
    assert stored(runtime.caches.default) is None


def test_private_set_cookie_stores_the_response_without_the_cookie(runtime):
    put(runtime.caches.default, headers=[("set-cookie", "a=1"),
                                         ("cache-control", 'max-age=60, private="Set-Cookie"')])
    hit = stored(runtime.caches.default)
    assert hit is not None
    assert hit.headers.get("set-cookie") is None


@pytest.mark.parametrize(
    ("key", "response"),
    [
        (Request(KEY, method="POST"), Response("x")),
        (KEY, Response("x", status=206)),
        (KEY, Response("x", headers={"vary": "*"})),
    ],
)
def test_put_throws_for_non_get_partial_and_vary_star(runtime, key, response):
    with pytest.raises(TypeError):
        run(runtime.caches.default.put(key, response))


def test_match_and_delete_only_for_get(runtime):
    cache = runtime.caches.default
    put(cache, headers=[("cache-control", "max-age=60")], body=b"hello")

    assert run(cache.match(Request(KEY, method="HEAD"))) is None
    assert run(run(cache.match(Request(KEY))).bytes()) == b"hello"
    assert run(cache.match(KEY + "#fragment")) is not None
    assert run(cache.delete(KEY)) is True
    assert run(cache.delete(KEY)) is False
    assert stored(cache) is None


def test_put_consumes_the_response_body(runtime):
    response = Response("x", headers={"cache-control": "max-age=60"})
    run(runtime.caches.default.put(KEY, response))
    assert response.body_used


def test_each_runtime_has_its_own_store(clock):
    first, second = WorkersRuntime(clock=clock), WorkersRuntime(clock=clock)
    put(first.caches.default, headers=[("cache-control", "max-age=60")])
    assert stored(second.caches.default) is None
    assert run(first.caches.open("named")) is run(first.caches.open("named"))


# ---------------------------------------------------------------- SDK objects


def test_response_follows_the_fetch_api_rules():
    with pytest.raises(TypeError):
        Response("body", status=204)
    with pytest.raises(ValueError):
        Response("x", status=99)
    with pytest.raises(TypeError):  # the SDK accepts dicts and lists of pairs only
        Response("x", headers=Response("y").headers)
    response = Response("hé", headers=[("X-A", "1"), ("x-a", "2"), ("Set-Cookie", "a=1"),
                                       ("set-cookie", "b=2")])
    assert response.headers.get("x-a") == "1, 2"
    assert response.headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert response.headers.get("content-type") == "text/plain;charset=UTF-8"
    assert run(response.text()) == "hé"
    with pytest.raises(OSError):
        run(response.text())


def test_response_json_builds_and_reads():
    built = Response.json({"a": 1}, status=201)
    assert (built.status, built.headers.get("content-type")) == (201, "application/json")
    assert run(built.json()) == {"a": 1}


def test_request_shapes_match_the_sdk():
    request = Request("https://x.example/p?q=1", method="post", body=b"{}",
                      headers={"Content-Type": "application/json"}, cf={"country": "SE"})
    assert request.method == "POST"
    assert request.headers.get("content-type") == "application/json"
    assert request.cf.country == "SE"
    with pytest.raises(AttributeError):
        request.cf.city  # noqa: B018 - absent cf fields raise, as on a JsProxy
    with pytest.raises(TypeError):
        Request("https://x.example/", method="GET", body=b"x")
    with pytest.raises(TypeError):
        Request("/relative")


def test_fetch_follows_redirects_unless_manual(origin):
    origin.route("/old", status=302, headers=[("location", "/new")])
    origin.route("/new", body=b"here")

    followed = run(fetch(f"{origin.url}/old"))
    manual = run(fetch(f"{origin.url}/old", redirect="manual"))

    assert (followed.status, run(followed.bytes()), followed.redirected) == (200, b"here", True)
    assert (manual.status, manual.headers.get("location")) == (302, "/new")


def test_fetch_to_a_closed_port_raises_oserror(origin):
    url = origin.url
    origin.stop()
    with pytest.raises(OSError):
        run(fetch(url))


# ---------------------------------------------------------------- loading and dispatch


WORKER = '''
from js import Date, caches
from workers import Response, WorkerEntrypoint

import helper


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/boom"):
            raise RuntimeError("boom")
        self.ctx.waitUntil(caches.default.put(
            request.url, Response("later", headers={"cache-control": "max-age=60"})))
        return Response(helper.greet(self.env.NAME), headers={"x-now": str(Date.now())})
'''


def test_worker_modules_load_in_isolation_and_dispatch(clock):
    runtime = WorkersRuntime(clock=clock)
    before = set(sys.modules)
    worker = runtime.load_worker(
        {"main.py": WORKER, "helper.py": "def greet(name):\n    return f'hi {name}'\n"},
        main_module="main.py", env={"NAME": "edge"})

    result = worker.dispatch_sync("GET", "https://w.example/x")

    assert (result.status, result.text) == (200, "hi edge")
    assert result.header("x-now") == str(int(clock() * 1000))
    assert stored(runtime.caches.default, "https://w.example/x") is not None  # waitUntil ran
    assert not {"workers", "js", "helper", "main"} & (set(sys.modules) - before)


def test_a_throwing_worker_answers_500(clock):
    worker = WorkersRuntime(clock=clock).load_worker(
        {"main.py": WORKER, "helper.py": ""}, main_module="main.py", env={"NAME": "x"})

    result = worker.dispatch_sync("GET", "https://w.example/boom")

    assert (result.status, result.text) == (500, "Worker threw exception")
    assert isinstance(result.error, RuntimeError)


@pytest.mark.parametrize(
    ("sources", "main_module", "message"),
    [
        ({"main.py": "x = 1\n"}, "main.py", "Default"),
        ({"main.py": "x = 1\n"}, "other.py", "other.py"),
    ],
)
def test_load_errors_say_what_is_missing(sources, main_module, message):
    with pytest.raises(WorkerLoadError, match=message):
        WorkersRuntime(clock=ManualClock()).load_worker(sources, main_module=main_module)


def test_a_function_folder_loads_from_disk(runtime):
    worker = runtime.load_worker(FUNCTIONS / "hello_geo", main_module="geo_worker.py")
    assert worker.dispatch_sync("GET", "https://geo.example/").status == 200
