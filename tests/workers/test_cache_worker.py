"""The cache wrapper Worker end to end: on Pyodide with the SDK, real HTTP to a local origin."""

from __future__ import annotations

import json
import re

import pytest

API = "https://api.example"
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
JSON = ("content-type", "application/json")


def cacheable(origin, path="/weather", max_age=60, body=b'{"temp": 21}', **extra):
    origin.route(path, headers=[JSON, ("cache-control", f"max-age={max_age}")], body=body,
                 **extra)


def test_miss_then_hit_serves_the_stored_copy(cache_worker, origin, clock):
    cacheable(origin)
    worker = cache_worker()

    first = worker.fetch("GET", f"{API}/weather")
    clock.advance(5)
    second = worker.fetch("GET", f"{API}/weather")

    assert first.header("x-edge-cache") == "MISS"
    assert second.header("x-edge-cache") == "HIT"
    assert second.body == first.body == b'{"temp": 21}'
    assert second.header("cache-control") == "max-age=60"  # what the origin said
    assert second.header("age") == "5"
    assert len(origin.requests_to("/weather")) == 1
    assert not any(name.startswith("x-edgekit-") for name, _ in second.headers)


def test_tracking_params_and_query_order_share_one_entry(cache_worker, origin):
    cacheable(origin)
    worker = cache_worker()

    worker.fetch("GET", f"{API}/weather?city=Oslo&units=c&utm_source=mail")
    again = worker.fetch("GET", f"{API}/weather?units=c&gclid=abc&city=Oslo")
    other = worker.fetch("GET", f"{API}/weather?city=Bergen&units=c")

    assert again.header("x-edge-cache") == "HIT"
    assert other.header("x-edge-cache") == "MISS"
    # the origin sees the query as the client sent it
    assert origin.requests_to("/weather")[0].path == "/weather?city=Oslo&units=c&utm_source=mail"


def test_expired_copy_is_fetched_again(cache_worker, origin, clock):
    cacheable(origin, max_age=10)
    worker = cache_worker(STALE_IF_ERROR="60")

    worker.fetch("GET", f"{API}/weather")
    clock.advance(11)  # stale but within the window: a healthy origin is asked again
    assert worker.fetch("GET", f"{API}/weather").header("x-edge-cache") == "MISS"
    assert worker.fetch("GET", f"{API}/weather").header("x-edge-cache") == "HIT"
    assert len(origin.requests_to("/weather")) == 2


def test_default_ttl_applies_without_cache_control(cache_worker, origin, clock):
    origin.route("/plain", headers=[JSON], body=b"{}")
    worker = cache_worker(DEFAULT_TTL="30")

    worker.fetch("GET", f"{API}/plain")
    clock.advance(29)
    assert worker.fetch("GET", f"{API}/plain").header("x-edge-cache") == "HIT"
    clock.advance(2)
    assert worker.fetch("GET", f"{API}/plain").header("x-edge-cache") == "MISS"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ([("cache-control", "private, max-age=60")], "private"),
        ([("cache-control", "no-store")], "no-store"),
        ([("cache-control", "max-age=60"), ("vary", "*")], "vary-star"),
    ],
)
def test_responses_the_origin_keeps_private_are_not_cached(cache_worker, origin, headers,
                                                           reason):
    origin.route("/me", headers=[JSON, *headers], body=b'{"user": 1}')
    worker = cache_worker()

    results = [worker.fetch("GET", f"{API}/me") for _ in range(2)]

    assert [r.header("x-edge-cache") for r in results] == ["BYPASS", "BYPASS"]
    assert results[1].header("x-edge-cache-reason") == reason
    assert len(origin.requests_to("/me")) == 2


def test_set_cookie_response_is_not_cached_and_its_cookies_reach_the_client(cache_worker,
                                                                            origin):
    origin.route("/login", headers=[JSON, ("cache-control", "max-age=60"),
                                    ("set-cookie", "sid=1; HttpOnly"), ("set-cookie", "b=2")],
                 body=b"{}")
    worker = cache_worker()

    first = worker.fetch("GET", f"{API}/login")
    second = worker.fetch("GET", f"{API}/login")

    assert second.header("x-edge-cache") == "BYPASS"
    assert second.header("x-edge-cache-reason") == "set-cookie"
    assert [v for n, v in first.headers if n == "set-cookie"] == ["sid=1; HttpOnly", "b=2"]
    assert len(origin.requests_to("/login")) == 2


def test_stale_copy_is_served_when_the_origin_answers_500(cache_worker, origin, clock):
    cacheable(origin, max_age=10)
    worker = cache_worker(STALE_IF_ERROR="300")
    worker.fetch("GET", f"{API}/weather")

    clock.advance(60)
    origin.route("/weather", status=500, body=b"boom")
    stale = worker.fetch("GET", f"{API}/weather")

    assert (stale.status, stale.header("x-edge-cache")) == (200, "STALE")
    assert stale.body == b'{"temp": 21}'
    assert stale.header("age") == "60"


def test_stale_copy_is_served_when_the_origin_times_out(cache_worker, origin, clock):
    cacheable(origin, max_age=10)
    worker = cache_worker(ORIGIN_TIMEOUT_MS="100")
    worker.fetch("GET", f"{API}/weather")

    clock.advance(20)
    cacheable(origin, max_age=10, delay=2.0)
    stale = worker.fetch("GET", f"{API}/weather")

    assert (stale.status, stale.header("x-edge-cache")) == (200, "STALE")
    assert stale.body == b'{"temp": 21}'
    origin_ms = float(re.search(r"origin;dur=([\d.]+)", stale.header("server-timing"))[1])
    assert origin_ms < 2000  # the wrapper gave up at its deadline, not when the origin answered


def test_stale_copy_is_served_when_the_origin_is_down(cache_worker, origin, clock):
    cacheable(origin, max_age=10)
    worker = cache_worker()
    worker.fetch("GET", f"{API}/weather")

    clock.advance(20)
    origin.stop()

    assert worker.fetch("GET", f"{API}/weather").header("x-edge-cache") == "STALE"


def test_origin_down_with_nothing_stale_gives_502_json(cache_worker, origin):
    worker = cache_worker()
    origin.stop()

    result = worker.fetch("GET", f"{API}/weather")

    assert result.status == 502
    assert result.header("content-type") == "application/json"
    assert result.header("cache-control") == "no-store"
    assert result.json()["error"] == "bad_gateway"


def test_origin_500_with_nothing_stale_is_relayed_as_the_origin_sent_it(cache_worker, origin):
    origin.route("/weather", status=503, headers=[("retry-after", "30")], body=b"boom")

    result = cache_worker().fetch("GET", f"{API}/weather")

    assert (result.status, result.body, result.header("retry-after")) == (503, b"boom", "30")
    assert (result.header("x-edge-cache"), result.header("x-edge-cache-reason")) == (
        "BYPASS", "origin-error")


def test_timeout_with_nothing_stale_gives_504_json(cache_worker, origin):
    cacheable(origin, delay=2.0)

    result = cache_worker(ORIGIN_TIMEOUT_MS="100").fetch("GET", f"{API}/weather")

    assert result.status == 504
    assert result.json()["error"] == "origin_timeout"
    assert "100 ms" in result.json()["detail"]


def test_copy_past_the_stale_window_is_not_served(cache_worker, origin, clock):
    cacheable(origin, max_age=10)
    worker = cache_worker(STALE_IF_ERROR="30")
    worker.fetch("GET", f"{API}/weather")

    clock.advance(41)
    origin.route("/weather", status=503)

    assert worker.fetch("GET", f"{API}/weather").status == 503


def test_traceparent_is_forwarded_to_the_origin_and_back(cache_worker, origin):
    cacheable(origin)

    result = cache_worker().fetch(
        "GET", f"{API}/weather", headers=[("traceparent", TRACE), ("tracestate", "v=1")])

    seen = origin.requests_to("/weather")[0].headers
    assert seen["traceparent"] == TRACE
    assert seen["tracestate"] == "v=1"
    assert result.header("traceparent") == TRACE


def test_a_traceparent_is_made_when_the_client_sent_none(cache_worker, origin):
    cacheable(origin)

    result = cache_worker().fetch("GET", f"{API}/weather")

    made = result.header("traceparent")
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", made)
    assert origin.requests_to("/weather")[0].headers["traceparent"] == made


def test_server_timing_reports_the_edge_time(cache_worker, origin):
    cacheable(origin)
    worker = cache_worker()

    miss = worker.fetch("GET", f"{API}/weather").header("server-timing")
    hit = worker.fetch("GET", f"{API}/weather").header("server-timing")

    assert re.fullmatch(r'edge;dur=[\d.]+;desc="MISS", origin;dur=[\d.]+', miss)
    assert re.fullmatch(r'edge;dur=[\d.]+;desc="HIT"', hit)


def test_authorization_bypasses_the_cache_and_reaches_the_origin(cache_worker, origin):
    cacheable(origin, body=b'{"secret": true}')
    worker = cache_worker()

    private = worker.fetch("GET", f"{API}/weather",
                                   headers=[("authorization", "Bearer t0k3n")])
    anonymous = worker.fetch("GET", f"{API}/weather")

    assert private.header("x-edge-cache") == "BYPASS"
    assert private.header("x-edge-cache-reason") == "authorization"
    assert anonymous.header("x-edge-cache") == "MISS"  # the authorized answer was not stored
    assert origin.requests_to("/weather")[0].headers["authorization"] == "Bearer t0k3n"


def test_session_cookie_bypasses_but_other_cookies_do_not_split_the_cache(cache_worker, origin):
    cacheable(origin)
    worker = cache_worker()

    session = worker.fetch("GET", f"{API}/weather", headers=[("cookie", "sessionid=1")])
    first = worker.fetch("GET", f"{API}/weather", headers=[("cookie", "theme=dark")])
    second = worker.fetch("GET", f"{API}/weather", headers=[("cookie", "theme=light")])

    assert session.header("x-edge-cache-reason") == "session-cookie"
    assert (first.header("x-edge-cache"), second.header("x-edge-cache")) == ("MISS", "HIT")
    seen = origin.requests_to("/weather")
    assert seen[0].headers["cookie"] == "sessionid=1"
    assert "cookie" not in seen[1].headers  # not in the key, so not shown to the origin


def test_post_body_is_forwarded_and_invalidates_the_stored_copy(cache_worker, origin):
    cacheable(origin, path="/items")
    worker = cache_worker()
    worker.fetch("GET", f"{API}/items")

    origin.routes["/items"].status = 201
    posted = worker.fetch("POST", f"{API}/items", body=b'{"name": "x"}',
                                  headers=[JSON])
    origin.routes["/items"].status = 200
    after = worker.fetch("GET", f"{API}/items")

    assert (posted.status, posted.header("x-edge-cache")) == (201, "BYPASS")
    assert posted.header("x-edge-cache-reason") == "method"
    post = [s for s in origin.requests_to("/items") if s.method == "POST"][0]
    assert post.body == b'{"name": "x"}'
    assert post.headers["content-type"] == "application/json"
    assert after.header("x-edge-cache") == "MISS"


def test_an_extension_method_is_passed_to_the_origin_instead_of_crashing(cache_worker, origin):
    # The SDK's Request.method is an http.HTTPMethod lookup, which has no M-SEARCH: reading
    # it threw, and every extension method was a 500 from the Worker itself.
    cacheable(origin, path="/items")
    worker = cache_worker()
    worker.fetch("GET", f"{API}/items")

    searched = worker.fetch("M-SEARCH", f"{API}/items")
    after = worker.fetch("GET", f"{API}/items")

    # The test origin refuses the method (501), and the Worker passes that on, uncached;
    # an error answer does not invalidate the stored copy (RFC 9111 section 4.4).
    assert (searched.status, searched.header("x-edge-cache")) == (501, "BYPASS")
    assert searched.header("x-edge-cache-reason") == "method"
    assert after.header("x-edge-cache") == "HIT"


def test_hop_by_hop_headers_are_not_forwarded(cache_worker, origin):
    origin.route("/weather", headers=[JSON, ("cache-control", "max-age=60"),
                                      ("connection", "x-hop"), ("x-hop", "1"),
                                      ("keep-alive", "timeout=5")], body=b"{}")

    result = cache_worker().fetch("GET", f"{API}/weather", headers=[
        ("connection", "x-client-hop"), ("x-client-hop", "1"), ("keep-alive", "timeout=5"),
        ("te", "trailers"), ("upgrade", "h2c"), ("proxy-authorization", "Basic eA=="),
        ("x-request-id", "42"),
    ])

    seen = origin.requests_to("/weather")[0].headers
    for name in ("x-client-hop", "keep-alive", "te", "upgrade", "proxy-authorization",
                 "x-request-id"):  # not response-neutral by declaration: not forwarded
        assert name not in seen
    assert result.header("x-hop") is None
    assert result.header("keep-alive") is None


def test_head_is_served_from_the_get_representation(cache_worker, origin):
    cacheable(origin)
    worker = cache_worker()

    head = worker.fetch("HEAD", f"{API}/weather")
    get = worker.fetch("GET", f"{API}/weather")

    assert (head.status, head.body, head.header("x-edge-cache")) == (200, b"", "MISS")
    assert [s.method for s in origin.requests_to("/weather")] == ["GET"]
    assert (get.header("x-edge-cache"), get.body) == ("HIT", b'{"temp": 21}')


def test_redirects_are_passed_on_and_cached_not_followed(cache_worker, origin):
    origin.route("/old", status=301, headers=[("location", "/new"),
                                             ("cache-control", "max-age=600")])
    worker = cache_worker()

    first = worker.fetch("GET", f"{API}/old")
    second = worker.fetch("GET", f"{API}/old")

    assert (first.status, first.header("location")) == (301, "/new")
    assert second.header("x-edge-cache") == "HIT"
    assert origin.requests_to("/new") == []


def test_no_content_responses_are_cached_without_a_body(cache_worker, origin):
    origin.route("/ping", status=204, headers=[("cache-control", "max-age=60")])
    worker = cache_worker()

    worker.fetch("GET", f"{API}/ping")
    again = worker.fetch("GET", f"{API}/ping")

    assert (again.status, again.body, again.header("x-edge-cache")) == (204, b"", "HIT")


def test_vary_accept_encoding_is_cached_and_the_client_encoding_not_forwarded(cache_worker,
                                                                              origin):
    origin.route("/weather", body=b"{}",
                 headers=[JSON, ("cache-control", "max-age=60"), ("vary", "Accept-Encoding")])
    worker = cache_worker()

    worker.fetch("GET", f"{API}/weather", headers=[("accept-encoding", "br")])
    again = worker.fetch("GET", f"{API}/weather", headers=[("accept-encoding", "gzip")])

    assert again.header("x-edge-cache") == "HIT"
    assert origin.requests_to("/weather")[0].headers.get("accept-encoding") != "br"


def test_misconfigured_origin_url_answers_500_naming_the_binding(cache_worker):
    result = cache_worker(ORIGIN_URL="not a url").fetch("GET", f"{API}/weather")

    assert result.status == 500
    assert result.json()["error"] == "misconfigured"
    assert "ORIGIN_URL" in result.json()["detail"]


def test_json_error_body_is_valid_json(cache_worker, origin):
    origin.stop()
    body = cache_worker().fetch("POST", f"{API}/items", body=b"{}").body
    assert json.loads(body)["status"] == 502


# ------------------------------------------------ one client's answer, never another's


def test_an_api_key_bypasses_the_cache_and_identity_headers_never_reach_the_origin(
        cache_worker, origin):
    cacheable(origin, path="/account", body=b'{"account": "?"}')
    worker = cache_worker()

    alice = worker.fetch("GET", f"{API}/account", headers=[
        ("X-Api-Key", "alice-secret"), ("Accept-Language", "nb-NO")])
    anonymous = worker.fetch("GET", f"{API}/account", headers=[
        ("Accept-Language", "fr"), ("Forwarded", "for=198.51.100.7"),
        ("X-Forwarded-For", "198.51.100.7"), ("User-Agent", "anon"), ("X-Request-Id", "9")])
    bob = worker.fetch("GET", f"{API}/account", headers=[("X-Api-Key", "bob-secret")])

    assert (alice.header("x-edge-cache"), alice.header("x-edge-cache-reason")) == (
        "BYPASS", "api-key")
    assert anonymous.header("x-edge-cache") == "MISS"  # Alice's answer was not stored
    assert bob.header("x-edge-cache") == "BYPASS"
    seen = origin.requests_to("/account")
    assert seen[0].headers["x-api-key"] == "alice-secret"
    assert seen[2].headers["x-api-key"] == "bob-secret"
    for name in ("accept-language", "forwarded", "x-forwarded-for", "user-agent",
                 "x-request-id", "x-api-key", "cf-connecting-ip"):
        assert name not in seen[1].headers
    assert seen[1].headers["x-forwarded-host"] == "api.example"


def test_a_stack_forwards_the_headers_it_declares_response_neutral(cache_worker, origin):
    cacheable(origin)
    worker = cache_worker(FORWARD_HEADERS="X-Request-Id")

    worker.fetch("GET", f"{API}/weather", headers=[("X-Request-Id", "1"),
                                                           ("Accept-Language", "fr")])

    seen = origin.requests_to("/weather")[0].headers
    assert seen["x-request-id"] == "1"
    assert "accept-language" not in seen


@pytest.mark.parametrize("cache_control", ["max-age=-1", "max-age=abc", "no-cache",
                                           "max-age=60, private"])
def test_answers_rfc_9111_forbids_storing_are_not_stored(cache_worker, origin, cache_control):
    origin.route("/w", headers=[JSON, ("cache-control", cache_control)], body=b"{}")
    worker = cache_worker()

    results = [worker.fetch("GET", f"{API}/w").header("x-edge-cache") for _ in range(2)]

    assert results == ["BYPASS", "BYPASS"]
    assert len(origin.requests_to("/w")) == 2


@pytest.mark.parametrize("headers", [
    [("expires", "Thu, 01 Jan 1970 00:00:00 GMT")],
    [("pragma", "no-cache"), ("expires", "Thu, 01 Jan 2099 00:00:00 GMT")],
    [],  # no freshness information: a shared cache does not guess
])
def test_past_expires_pragma_and_no_freshness_are_not_stored(cache_worker, origin, headers):
    origin.route("/w", headers=[JSON, *headers], body=b"{}")
    worker = cache_worker()

    results = [worker.fetch("GET", f"{API}/w").header("x-edge-cache") for _ in range(2)]

    assert results == ["BYPASS", "BYPASS"]


@pytest.mark.parametrize(("client", "answer"), [
    ([("range", "bytes=0-3")], 206),  # the origin answers ranges with 206 ...
    ([("if-none-match", '"v1"')], 304),  # ... and a matching If-None-Match with 304
])
def test_a_stale_copy_survives_range_and_conditional_requests(cache_worker, origin, clock,
                                                             client, answer):
    origin.route("/weather", headers=[JSON, ("cache-control", "max-age=10"), ("etag", '"v1"')],
                 body=b'{"temp": 21}')
    worker = cache_worker(STALE_IF_ERROR="300")
    worker.fetch("GET", f"{API}/weather")

    clock.advance(20)
    origin.route("/weather", status=answer, headers=[("cache-control", "max-age=10"),
                                                     ("etag", '"v1"')])
    worker.fetch("GET", f"{API}/weather", headers=client)
    clock.advance(20)
    origin.route("/weather", status=503, body=b"down")
    later = worker.fetch("GET", f"{API}/weather")

    assert "range" not in origin.requests_to("/weather")[1].headers
    assert (later.status, later.header("x-edge-cache"), later.body) == (
        200, "STALE", b'{"temp": 21}')


def test_duplicate_query_parameters_keep_their_order_in_the_key(cache_worker, origin):
    cacheable(origin)
    worker = cache_worker()

    paris = worker.fetch("GET", f"{API}/weather?city=Paris&city=Tokyo")
    tokyo = worker.fetch("GET", f"{API}/weather?city=Tokyo&city=Paris")

    assert (paris.header("x-edge-cache"), tokyo.header("x-edge-cache")) == ("MISS", "MISS")
    assert [s.path for s in origin.requests_to("/weather")] == [
        "/weather?city=Paris&city=Tokyo", "/weather?city=Tokyo&city=Paris"]


@pytest.mark.parametrize(("status", "answer", "error"), [
    # A 1xx is informational: a real HTTP client (Node's fetch here) keeps waiting for the
    # final answer, which never comes, so the origin deadline decides.
    (102, 504, "origin_timeout"),
    (103, 504, "origin_timeout"),
    (999, 502, "bad_gateway"),
])
def test_an_odd_origin_status_is_a_5xx_never_a_crash(cache_worker, origin, status, answer,
                                                     error):
    origin.route("/weather", status=status)

    result = cache_worker(ORIGIN_TIMEOUT_MS="300").fetch("GET", f"{API}/weather")

    assert result.status == answer
    assert result.json()["error"] == error


@pytest.mark.parametrize("status", [103, 999])
def test_an_odd_origin_status_serves_the_stale_copy(cache_worker, origin, clock, status):
    cacheable(origin, max_age=10)
    worker = cache_worker()
    worker.fetch("GET", f"{API}/weather")

    clock.advance(20)
    origin.route("/weather", status=status)
    stale = worker.fetch("GET", f"{API}/weather")

    assert (stale.status, stale.header("x-edge-cache")) == (200, "STALE")


def test_an_odd_status_on_a_bypassed_request_is_a_502(cache_worker, origin):
    origin.route("/weather", status=999)

    result = cache_worker().fetch("POST", f"{API}/weather", body=b"{}")

    assert (result.status, result.json()["error"]) == (502, "bad_gateway")


@pytest.mark.parametrize("directive", ["must-revalidate", "proxy-revalidate"])
def test_must_revalidate_copies_are_never_served_stale(cache_worker, origin, clock, directive):
    cacheable(origin, max_age=f"10, {directive}")
    worker = cache_worker()
    worker.fetch("GET", f"{API}/weather")

    clock.advance(20)
    origin.route("/weather", status=503, body=b"down")

    late = worker.fetch("GET", f"{API}/weather")
    assert (late.status, late.body, late.header("x-edge-cache")) == (503, b"down", "BYPASS")


def test_a_stale_copy_is_revalidated_with_its_etag(cache_worker, origin, clock):
    origin.route("/weather", headers=[JSON, ("cache-control", "max-age=10"), ("etag", '"v1"')],
                 body=b'{"temp": 21}')
    worker = cache_worker()
    worker.fetch("GET", f"{API}/weather")

    clock.advance(20)
    origin.route("/weather", status=304, headers=[("cache-control", "max-age=60"),
                                                  ("etag", '"v1"')])
    again = worker.fetch("GET", f"{API}/weather")
    clock.advance(30)
    hit = worker.fetch("GET", f"{API}/weather")

    assert origin.requests_to("/weather")[1].headers["if-none-match"] == '"v1"'
    assert (again.status, again.header("x-edge-cache"), again.body) == (
        200, "REVALIDATED", b'{"temp": 21}')
    assert (hit.header("x-edge-cache"), hit.body) == ("HIT", b'{"temp": 21}')
