"""The Workers end to end: the cache wrapper in front of the demo origin, and the geo API."""

from __future__ import annotations

from .client import request
from .conftest import CF, RunningTwin

CACHE = "api-cache-worker-script"
GEO = "hello-geo-script"


def control(twin: RunningTwin, action: str) -> dict:
    reply = request(twin.url("status", f"/control/{action}"), method="POST")
    assert reply.status == 200, reply.body
    return reply.json()


def test_cache_wrapper_misses_then_hits_without_asking_the_origin_again(twin: RunningTwin):
    url = twin.url(CACHE, "/api/forecast?city=Berlin")
    first, second = request(url), request(url)
    assert first.status == second.status == 200
    assert first.header("x-edge-cache") == "MISS"
    assert second.header("x-edge-cache") == "HIT"
    assert second.json() == first.json()
    assert second.header("x-origin-requests") == first.header("x-origin-requests")


def test_a_response_setting_a_cookie_is_never_cached(twin: RunningTwin):
    url = twin.url(CACHE, "/api/session")
    first, second = request(url), request(url)
    for reply in (first, second):
        assert reply.status == 200
        assert reply.header("x-edge-cache") != "HIT"
        assert reply.header("set-cookie") is not None
    assert first.header("set-cookie") != second.header("set-cookie")
    assert int(second.header("x-origin-requests")) > int(first.header("x-origin-requests"))


def test_stale_is_served_while_the_demo_origin_is_down(twin: RunningTwin):
    url = twin.url(CACHE, "/api/weather?city=Cairo")
    fresh = request(url)
    assert fresh.header("x-edge-cache") == "MISS"
    try:
        assert control(twin, "demo-origin/stop") == {"demo_origin": "stopped"}
        control(twin, "clock/advance?seconds=90")  # past max-age=60, within stale-if-error
        stale = request(url)
        assert stale.status == 200
        assert stale.header("x-edge-cache") == "STALE"
        assert stale.json() == fresh.json()

        never_cached = request(twin.url(CACHE, "/api/weather?city=Lima"))
        assert never_cached.status == 502
    finally:
        control(twin, "demo-origin/start")
    assert request(url).header("x-edge-cache") == "MISS"  # fetched again once it is back


def test_geo_api_answers_with_the_configured_cf_object(twin: RunningTwin):
    default = request(twin.url(GEO, "/"))
    assert default.status == 200
    assert default.json() == {"message": "Hello from the edge", "country": CF["country"],
                              "colo": CF["colo"], "city": CF["city"]}
    assert default.header("cache-control") == "no-store"

    elsewhere = request(twin.url(GEO, "/"), headers={"X-Edgekit-Cf-Country": "jp",
                                                     "X-Edgekit-Cf-City": "Osaka"})
    assert elsewhere.json()["country"] == "JP"
    assert elsewhere.json()["city"] == "Osaka"


def test_head_on_a_worker_reports_the_length_of_get(twin: RunningTwin):
    # Was: Content-Length 0, the runtime having dropped the body before anyone measured it.
    for url in (twin.url(CACHE, "/api/forecast?city=Madrid"), twin.url(GEO, "/")):
        get = request(url)
        head = request(url, method="HEAD")
        assert (head.status, head.body) == (200, b"")
        assert head.header("content-length") == get.header("content-length") == str(
            len(get.body)), url
