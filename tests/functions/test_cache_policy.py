"""The cache wrapper's rules (functions/cache_wrapper/cache_policy.py), one table per rule."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgekit_iac.twin.cloudflare.workers_runtime.loader import load_function_module

NOW = 1_700_000_000.0
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

# Located from the repository, not through the `functions` package: pytest may import
# tests/functions as a top-level package of that name.
FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "cache_wrapper"
policy = load_function_module(FUNCTION_DIR, "cache_policy.py")


@pytest.fixture(scope="module")
def settings():
    return policy.parse_settings({"ORIGIN_URL": "https://origin.example"})


# ---------------------------------------------------------------- settings


def test_settings_defaults_match_the_documented_ones(settings):
    assert settings.origin_url == "https://origin.example"
    assert (settings.default_ttl, settings.max_ttl, settings.stale_if_error) == (30, 86400, 300)
    assert settings.origin_timeout_ms == 5000
    assert settings.cacheable_statuses == {200, 203, 204, 300, 301, 404, 410}
    assert "PHPSESSID" in settings.session_cookies
    assert settings.tracking_params == ("utm_*", "gclid", "fbclid")


def test_settings_read_every_binding():
    settings = policy.parse_settings({
        "ORIGIN_URL": "http://127.0.0.1:8081/api/", "DEFAULT_TTL": "5", "MAX_TTL": "60",
        "STALE_IF_ERROR": "0", "ORIGIN_TIMEOUT_MS": "250", "CACHEABLE_STATUSES": "200, 404",
        "SESSION_COOKIES": "auth,wp_*", "TRACKING_PARAMS": "",
    })
    assert settings == policy.Settings(
        origin_url="http://127.0.0.1:8081/api", default_ttl=5, max_ttl=60, stale_if_error=0,
        origin_timeout_ms=250, cacheable_statuses=frozenset({200, 404}),
        session_cookies=("auth", "wp_*"), tracking_params=(),
    )


@pytest.mark.parametrize(
    ("bindings", "named"),
    [
        ({"ORIGIN_URL": None}, "ORIGIN_URL"),
        ({"ORIGIN_URL": "ftp://files.example"}, "ORIGIN_URL"),
        ({"ORIGIN_URL": "https://o.example/?x=1"}, "ORIGIN_URL"),
        ({"DEFAULT_TTL": "thirty"}, "DEFAULT_TTL"),
        ({"MAX_TTL": "-1"}, "MAX_TTL"),
        ({"ORIGIN_TIMEOUT_MS": "0"}, "ORIGIN_TIMEOUT_MS"),
        ({"CACHEABLE_STATUSES": "200,abc"}, "CACHEABLE_STATUSES"),
        ({"CACHEABLE_STATUSES": "206"}, "CACHEABLE_STATUSES"),
        ({"CACHEABLE_STATUSES": "700"}, "CACHEABLE_STATUSES"),
    ],
)
def test_bad_settings_name_the_binding(bindings, named):
    with pytest.raises(policy.SettingsError, match=named):
        policy.parse_settings({"ORIGIN_URL": "https://o.example", **bindings})


def test_non_text_binding_is_refused():
    with pytest.raises(policy.SettingsError, match="plain-text"):
        policy.parse_settings({"ORIGIN_URL": "https://o.example", "MAX_TTL": 60})


# ---------------------------------------------------------------- request side


@pytest.mark.parametrize(
    ("method", "headers", "cache", "reason"),
    [
        ("GET", {}, True, ""),
        ("HEAD", {}, True, ""),
        ("POST", {}, False, "method"),
        ("PUT", {}, False, "method"),
        ("DELETE", {}, False, "method"),
        ("GET", {"authorization": "Bearer t"}, False, "authorization"),
        ("GET", {"cookie": "sessionid=abc"}, False, "session-cookie"),
        ("GET", {"cookie": "theme=dark; PHPSESSID=1"}, False, "session-cookie"),
        ("GET", {"cookie": "phpsessid=1"}, False, "session-cookie"),
        ("GET", {"cookie": "theme=dark; _ga=GA1.2"}, True, ""),
        ("GET", {"cookie": "session_hint=1"}, True, ""),
    ],
)
def test_request_decision(settings, method, headers, cache, reason):
    assert policy.request_decision(method, headers, settings) == policy.Decision(cache, reason)


def test_session_cookie_names_are_configurable_with_prefixes():
    settings = policy.parse_settings({"ORIGIN_URL": "https://o.example",
                                      "SESSION_COOKIES": "wordpress_logged_in_*"})
    assert not policy.request_decision(
        "GET", {"cookie": "wordpress_logged_in_abc=1"}, settings).cache
    assert policy.request_decision("GET", {"cookie": "sessionid=1"}, settings).cache


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://API.Example/w?b=2&a=1", "https://api.example/w?a=1&b=2"),
        ("https://api.example/w?utm_source=x&a=1&gclid=1&fbclid=2&UTM_MEDIUM=y",
         "https://api.example/w?a=1"),
        ("https://api.example/w?utm_source=x", "https://api.example/w"),
        ("https://api.example:443/w", "https://api.example/w"),
        ("http://api.example:8080/w", "http://api.example:8080/w"),
        ("http://[::1]:8080/w", "http://[::1]:8080/w"),
        ("https://user:pw@API.example:443/w", "https://api.example/w"),
        ("https://api.example", "https://api.example/"),
        ("https://api.example/w#frag", "https://api.example/w"),
        ("https://api.example/w?q=a+b&r=%2F", "https://api.example/w?q=a%20b&r=%2F"),
        ("https://api.example/w?a=2&a=1", "https://api.example/w?a=1&a=2"),
        ("https://api.example/w?flag", "https://api.example/w?flag="),
    ],
)
def test_cache_key_url(url, key):
    assert policy.cache_key_url(url) == key


query_pairs = st.lists(
    st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8)), max_size=6
)
tracking_pairs = st.lists(
    st.tuples(st.sampled_from(["utm_source", "utm_campaign", "gclid", "fbclid", "UTM_X"]),
              st.text(max_size=6)),
    max_size=4,
)


def _url(pairs):
    return "https://api.example/p?" + urlencode(pairs, quote_via=quote, safe="")


@given(pairs=query_pairs)
def test_cache_key_is_idempotent(pairs):
    key = policy.cache_key_url(_url(pairs))
    assert policy.cache_key_url(key) == key


@given(pairs=query_pairs, data=st.data())
def test_cache_key_ignores_query_order(pairs, data):
    shuffled = data.draw(st.permutations(pairs))
    assert policy.cache_key_url(_url(shuffled)) == policy.cache_key_url(_url(pairs))


@given(pairs=query_pairs, tracking=tracking_pairs, data=st.data())
def test_cache_key_drops_tracking_params(pairs, tracking, data):
    pairs = [(k, v) for k, v in pairs if not k.lower().startswith(("utm_", "gclid", "fbclid"))]
    mixed = data.draw(st.permutations(pairs + tracking))
    key = policy.cache_key_url(_url(mixed))
    assert key == policy.cache_key_url(_url(pairs))
    names = [k.lower() for k, _ in parse_qsl(urlsplit(key).query, keep_blank_values=True)]
    assert not any(n.startswith("utm_") or n in ("gclid", "fbclid") for n in names)


raw_queries = st.text(alphabet=st.sampled_from("ab_Z9~-.&=+% /é?%2F%FFzutm_gclid"),
                      max_size=40)


@given(query=raw_queries)
def test_cache_key_keeps_exactly_the_non_tracking_pairs_of_any_query(query):
    key = policy.cache_key_url(f"https://api.example/p?{query}")

    def meaning(q):
        return sorted((n, v) for n, v in parse_qsl(q, keep_blank_values=True)
                      if not (n.lower().startswith("utm_") or n.lower() in ("gclid", "fbclid")))

    assert meaning(urlsplit(key).query) == meaning(query)
    assert policy.cache_key_url(key) == key


@pytest.mark.parametrize(
    ("request_url", "origin", "expected"),
    [
        ("https://api.example/w?utm_source=x&a=1", "http://127.0.0.1:8081",
         "http://127.0.0.1:8081/w?utm_source=x&a=1"),
        ("https://api.example/", "https://o.example/v1", "https://o.example/v1/"),
        ("https://api.example/users/7", "https://o.example/v1", "https://o.example/v1/users/7"),
    ],
)
def test_origin_url_keeps_path_and_query_as_sent(request_url, origin, expected):
    assert policy.origin_url_for(request_url, origin) == expected


def test_hop_by_hop_and_connection_named_headers_are_not_forwarded():
    pairs = [
        ("Connection", "keep-alive, X-Private-Hop"), ("Keep-Alive", "timeout=5"),
        ("Proxy-Authorization", "Basic x"), ("TE", "trailers"), ("Trailer", "x"),
        ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"), ("X-Private-Hop", "1"),
        ("Proxy-Connection", "keep-alive"), ("Host", "api.example"), ("Content-Length", "3"),
        ("Accept-Encoding", "gzip"), ("Accept", "application/json"), ("X-Request-Id", "7"),
    ]
    assert policy.forwardable(pairs) == [("Accept", "application/json"), ("X-Request-Id", "7")]


def test_origin_headers_for_cacheable_requests_drop_cookies():
    pairs = [("cookie", "theme=dark"), ("accept", "*/*"), ("traceparent", TRACE)]
    cacheable = policy.origin_request_headers(pairs, cacheable=True, traceparent=TRACE,
                                              request_url="https://api.example/w")
    bypass = policy.origin_request_headers(pairs, cacheable=False, traceparent=TRACE,
                                           request_url="https://api.example/w")
    assert ("cookie", "theme=dark") not in cacheable
    assert ("cookie", "theme=dark") in bypass
    assert ("traceparent", TRACE) in cacheable
    assert ("x-forwarded-host", "api.example") in cacheable


# ---------------------------------------------------------------- response side


@pytest.mark.parametrize(
    ("status", "headers", "cache", "reason", "ttl"),
    [
        (200, [], True, "", 30),
        (200, [("Cache-Control", "max-age=120")], True, "", 120),
        (200, [("Cache-Control", "max-age=120, s-maxage=600")], True, "", 600),
        (200, [("Cache-Control", "public, max-age=999999")], True, "", 86400),
        (200, [("Cache-Control", "max-age=60"), ("Age", "45")], True, "", 15),
        (200, [("Cache-Control", "max-age=0")], False, "max-age-0", 0),
        (200, [("Cache-Control", "private, max-age=60")], False, "private", 0),
        (200, [("Cache-Control", "no-store")], False, "no-store", 0),
        (200, [("Cache-Control", "no-cache")], False, "no-cache", 0),
        (200, [("Set-Cookie", "a=1"), ("Cache-Control", "max-age=60")], False, "set-cookie", 0),
        (200, [("Vary", "*")], False, "vary-star", 0),
        (200, [("Vary", "Accept-Language")], False, "vary-accept-language", 0),
        (200, [("Vary", "Accept-Encoding")], True, "", 30),
        (203, [], True, "", 30),
        (204, [], True, "", 30),
        (300, [], True, "", 30),
        (301, [], True, "", 30),
        (404, [], True, "", 30),
        (410, [], True, "", 30),
        (302, [], False, "status", 0),
        (206, [], False, "status", 0),
        (403, [], False, "status", 0),
        (500, [("Cache-Control", "max-age=60")], False, "status", 0),
    ],
)
def test_store_decision(settings, status, headers, cache, reason, ttl):
    assert policy.store_decision(status, headers, settings) == policy.Decision(cache, reason, ttl)


def test_cacheable_statuses_are_configurable():
    settings = policy.parse_settings({"ORIGIN_URL": "https://o.example",
                                      "CACHEABLE_STATUSES": "200,302"})
    assert policy.store_decision(302, [], settings).cache
    assert not policy.store_decision(404, [], settings).cache


def test_default_ttl_is_capped_by_max_ttl():
    settings = policy.parse_settings({"ORIGIN_URL": "https://o.example", "DEFAULT_TTL": "600",
                                      "MAX_TTL": "60"})
    assert policy.store_decision(200, [], settings).ttl == 60


def test_stored_copy_lives_for_ttl_plus_stale_window_and_knows_its_freshness():
    origin = [("Content-Type", "application/json"), ("Cache-Control", "max-age=60"),
              ("Connection", "close"), ("X-Edgekit-Fresh-Until", "9999999999")]
    stored = policy.storage_headers(origin, ttl=60, stale_if_error=300, now=NOW)
    fields = policy.header_map(stored)
    assert fields["cache-control"] == "public, max-age=360"
    assert float(fields[policy.FRESH_UNTIL_HEADER]) == NOW + 60
    assert float(fields[policy.STORED_AT_HEADER]) == NOW
    assert "connection" not in fields

    assert policy.entry_state(fields, NOW + 59, 300) == policy.FRESH
    assert policy.entry_state(fields, NOW + 60, 300) == policy.STALE_USABLE
    assert policy.entry_state(fields, NOW + 359, 300) == policy.STALE_USABLE
    assert policy.entry_state(fields, NOW + 360, 300) == policy.EXPIRED

    served = policy.header_map(policy.served_headers(stored, NOW + 42))
    assert served["cache-control"] == "max-age=60"
    assert served["age"] == "42"
    assert not any(name.startswith("x-edgekit-") for name in served)


def test_entry_without_our_stamp_is_never_trusted():
    assert policy.entry_state({"cache-control": "max-age=60"}, NOW, 300) == policy.EXPIRED


@pytest.mark.parametrize(
    ("status", "failure"), [(500, True), (502, True), (503, True), (504, True), (599, True),
                            (200, False), (404, False), (499, False)],
)
def test_origin_failures_are_5xx(status, failure):
    assert policy.is_origin_failure(status) is failure


@pytest.mark.parametrize(
    ("method", "status", "invalidates"),
    [("POST", 201, True), ("PUT", 200, True), ("DELETE", 204, True), ("PATCH", 302, True),
     ("POST", 500, False), ("POST", 404, False), ("GET", 200, False), ("HEAD", 200, False)],
)
def test_successful_unsafe_requests_invalidate(method, status, invalidates):
    assert policy.should_invalidate(method, status) is invalidates


@pytest.mark.parametrize("status", [101, 204, 205, 304])
def test_null_body_statuses(status):
    assert policy.has_null_body(status)
    assert not policy.has_null_body(200)


# ---------------------------------------------------------------- tracing, timing, errors


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (TRACE, True),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", True),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", True),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", False),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", False),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", False),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", False),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", False),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", False),
        ("", False),
        (None, False),
    ],
)
def test_valid_traceparent(value, valid):
    assert policy.valid_traceparent(value) is valid


def test_choose_traceparent_keeps_a_valid_one_and_replaces_others():
    fake_hex = {16: "a" * 32, 8: "b" * 16}.__getitem__
    assert policy.choose_traceparent(TRACE, fake_hex) == TRACE
    replaced = f"00-{'a' * 32}-{'b' * 16}-00"
    assert policy.choose_traceparent(None, fake_hex) == replaced
    assert policy.choose_traceparent("garbage", fake_hex) == replaced
    assert policy.valid_traceparent(replaced)


def test_tracestate_is_dropped_with_a_replaced_traceparent():
    pairs = [("traceparent", "garbage"), ("tracestate", "vendor=1")]
    new = f"00-{'a' * 32}-{'b' * 16}-00"
    headers = policy.origin_request_headers(pairs, cacheable=True, traceparent=new,
                                            request_url="https://api.example/")
    assert ("tracestate", "vendor=1") not in headers
    kept = policy.origin_request_headers([("traceparent", TRACE), ("tracestate", "vendor=1")],
                                         cacheable=True, traceparent=TRACE,
                                         request_url="https://api.example/")
    assert ("tracestate", "vendor=1") in kept


def test_server_timing_reports_edge_and_origin():
    assert policy.server_timing(1.234, None, "HIT") == 'edge;dur=1.2;desc="HIT"'
    assert (policy.server_timing(12.0, 10.04, "MISS", "db;dur=3")
            == 'edge;dur=12.0;desc="MISS", origin;dur=10.0, db;dur=3')


def test_error_body_is_short_json():
    assert json.loads(policy.error_body(504, "origin_timeout", "no answer in 5000 ms")) == {
        "error": "origin_timeout", "status": 504, "detail": "no answer in 5000 ms"}


def test_header_map_joins_repeats():
    assert policy.header_map([("Cookie", "a=1"), ("cookie", "b=2"), ("Accept", "x"),
                              ("ACCEPT", "y")]) == {"cookie": "a=1; b=2", "accept": "x, y"}
