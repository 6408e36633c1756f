"""The cache wrapper's rules (functions/cache_wrapper/cache_policy.py), one table per rule."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from edgekit_iac.function_modules import load_function_module

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
    assert (settings.default_ttl, settings.max_ttl, settings.stale_if_error) == (0, 86400, 300)
    assert settings.origin_timeout_ms == 5000
    assert settings.cacheable_statuses == {200, 203, 204, 300, 301, 302, 303, 307, 308, 404,
                                           405, 410, 414}
    assert "PHPSESSID" in settings.session_cookies
    assert settings.api_key_headers == ("x-api-key", "api-key", "x-auth-token", "x-access-token")
    assert settings.forward_headers == ()
    assert settings.tracking_params == ("utm_*", "gclid", "fbclid")


def test_settings_read_every_binding():
    settings = policy.parse_settings({
        "ORIGIN_URL": "http://127.0.0.1:8081/api/", "DEFAULT_TTL": "5", "MAX_TTL": "60",
        "STALE_IF_ERROR": "0", "ORIGIN_TIMEOUT_MS": "250", "CACHEABLE_STATUSES": "200, 404",
        "SESSION_COOKIES": "auth,wp_*", "TRACKING_PARAMS": "", "API_KEY_HEADERS": "X-Key,x-tok-*",
        "FORWARD_HEADERS": "X-Request-Id, Accept",
    })
    assert settings == policy.Settings(
        origin_url="http://127.0.0.1:8081/api", default_ttl=5, max_ttl=60, stale_if_error=0,
        origin_timeout_ms=250, cacheable_statuses=frozenset({200, 404}),
        session_cookies=("auth", "wp_*"), api_key_headers=("X-Key", "x-tok-*"),
        forward_headers=("x-request-id", "accept"), tracking_params=(),
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
        ({"FORWARD_HEADERS": "Cookie"}, "FORWARD_HEADERS"),
        ({"FORWARD_HEADERS": "authorization"}, "FORWARD_HEADERS"),
        ({"FORWARD_HEADERS": "X-Api-Key"}, "FORWARD_HEADERS"),
        ({"FORWARD_HEADERS": "X-Forwarded-For"}, "FORWARD_HEADERS"),
        ({"FORWARD_HEADERS": "If-None-Match"}, "FORWARD_HEADERS"),
        ({"FORWARD_HEADERS": "bad name"}, "FORWARD_HEADERS"),
        ({"API_KEY_HEADERS": "x key"}, "API_KEY_HEADERS"),
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
        ("GET", {"authorization": ""}, False, "authorization"),
        ("GET", {"x-api-key": "alice-secret"}, False, "api-key"),
        ("GET", {"api-key": "k"}, False, "api-key"),
        ("GET", {"x-auth-token": "t"}, False, "api-key"),
        ("GET", {"cache-control": "no-store"}, False, "request-no-store"),
        ("GET", {"x-api-keys-docs": "1", "accept-language": "nb"}, True, ""),
    ],
)
def test_request_decision(settings, method, headers, cache, reason):
    assert policy.request_decision(method, headers, settings) == policy.Decision(cache, reason)


def test_api_key_headers_are_configurable_with_prefixes():
    settings = policy.parse_settings({"ORIGIN_URL": "https://o.example",
                                      "API_KEY_HEADERS": "X-Tenant-Token,x-secret-*"})
    assert policy.request_decision("GET", {"x-tenant-token": "t"}, settings).reason == "api-key"
    assert policy.request_decision("GET", {"x-secret-a": "t"}, settings).reason == "api-key"
    assert policy.request_decision("GET", {"x-api-key": "t"}, settings).cache  # replaced list


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
        ("https://api.example/w?a=2&a=1", "https://api.example/w?a=2&a=1"),
        ("https://api.example/w?b=1&a=2&a=1", "https://api.example/w?a=2&a=1&b=1"),
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


@hypothesis_settings(deadline=None)  # speed is measured in bench/, not asserted here
@given(pairs=query_pairs)
def test_cache_key_is_idempotent(pairs):
    key = policy.cache_key_url(_url(pairs))
    assert policy.cache_key_url(key) == key


def _values_by_name(pairs):
    grouped = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


@hypothesis_settings(deadline=None)  # speed is measured in bench/, not asserted here
@given(pairs=query_pairs, data=st.data())
def test_cache_key_is_the_same_exactly_when_each_names_values_come_in_the_same_order(pairs,
                                                                                     data):
    shuffled = data.draw(st.permutations(pairs))
    same_key = policy.cache_key_url(_url(shuffled)) == policy.cache_key_url(_url(pairs))
    assert same_key == (_values_by_name(shuffled) == _values_by_name(pairs))


def test_duplicate_query_params_keep_their_order_in_the_key():
    paris_first = policy.cache_key_url("https://api.example/w?city=Paris&city=Tokyo")
    tokyo_first = policy.cache_key_url("https://api.example/w?city=Tokyo&city=Paris")
    assert paris_first != tokyo_first
    assert policy.cache_key_url("https://api.example/w?units=c&city=Paris&city=Tokyo") == \
        paris_first + "&units=c"


@hypothesis_settings(deadline=None)  # speed is measured in bench/, not asserted here
@given(pairs=query_pairs, tracking=tracking_pairs, data=st.data())
def test_cache_key_drops_tracking_params(pairs, tracking, data):
    pairs = [(k, v) for k, v in pairs if not k.lower().startswith(("utm_", "gclid", "fbclid"))]
    mixed = list(pairs)
    for item in tracking:  # tracking pairs anywhere, the others in their order
        mixed.insert(data.draw(st.integers(0, len(mixed))), item)
    key = policy.cache_key_url(_url(mixed))
    assert key == policy.cache_key_url(_url(pairs))
    names = [k.lower() for k, _ in parse_qsl(urlsplit(key).query, keep_blank_values=True)]
    assert not any(n.startswith("utm_") or n in ("gclid", "fbclid") for n in names)


raw_queries = st.text(alphabet=st.sampled_from("ab_Z9~-.&=+% /é?%2F%FFzutm_gclid"),
                      max_size=40)


@hypothesis_settings(deadline=None)  # speed is measured in bench/, not asserted here
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


IDENTITY = [
    ("Cookie", "theme=dark"), ("X-Api-Key", "alice-secret"), ("Accept-Language", "nb-NO"),
    ("Forwarded", "for=198.51.100.7"), ("X-Forwarded-For", "198.51.100.7"),
    ("CF-Connecting-IP", "198.51.100.7"), ("User-Agent", "alice-phone"),
    ("X-Forwarded-Host", "evil.example"), ("If-None-Match", '"v1"'), ("Range", "bytes=0-1"),
    ("Accept", "application/json"), ("X-Request-Id", "7"), ("tracestate", "v=1"),
    ("traceparent", TRACE),
]


def test_cacheable_requests_forward_only_trace_context_and_the_urls_host_and_scheme():
    headers = policy.origin_request_headers(IDENTITY, cacheable=True, traceparent=TRACE,
                                            request_url="https://API.example:443/w")
    assert sorted(headers) == sorted([
        ("tracestate", "v=1"), ("traceparent", TRACE), ("x-forwarded-host", "api.example"),
        ("x-forwarded-proto", "https"), policy.SURROGATE_CAPABILITY])


def test_a_stack_extends_the_forwarded_headers_with_response_neutral_ones():
    headers = policy.origin_request_headers(IDENTITY, cacheable=True, traceparent=TRACE,
                                            request_url="https://api.example/w",
                                            forward=("x-request-id",))
    assert ("X-Request-Id", "7") in headers
    assert not {"cookie", "accept", "accept-language"} & {n.lower() for n, _ in headers}


def test_bypassed_requests_forward_every_end_to_end_header():
    headers = policy.origin_request_headers(IDENTITY, cacheable=False, traceparent=TRACE,
                                            request_url="https://api.example/w")
    names = {name.lower() for name, _ in headers}
    assert {"cookie", "x-api-key", "accept-language", "forwarded", "range"} <= names
    assert ("x-forwarded-host", "api.example") in headers  # the client's value replaced
    assert ("X-Forwarded-Host", "evil.example") not in headers


# ---------------------------------------------------------------- response side


EXPIRES_1H = "Tue, 14 Nov 2023 23:13:20 GMT"  # NOW + 3600
DATE_NOW = "Tue, 14 Nov 2023 22:13:20 GMT"  # NOW
PAST = "Tue, 14 Nov 2023 21:13:20 GMT"  # NOW - 3600


@pytest.mark.parametrize(
    ("status", "headers", "cache", "reason", "ttl"),
    [
        (200, [], False, "no-freshness", 0),
        (200, [("Cache-Control", "public")], False, "no-freshness", 0),
        (200, [("Cache-Control", "max-age=120")], True, "", 120),
        (200, [("Cache-Control", "max-age=003600")], True, "", 3600),
        (200, [("Cache-Control", "MAX-AGE=120")], True, "", 120),
        (200, [("Cache-Control", "max-age=-1")], False, "stale", 0),
        (200, [("Cache-Control", "max-age=abc")], False, "stale", 0),
        (200, [("Cache-Control", "max-age='3600'")], False, "stale", 0),
        (200, [("Cache-Control", "max-age=3600.0")], False, "stale", 0),
        (200, [("Cache-Control", 'ext="max-age=3600", max-age=1')], True, "", 1),
        (200, [("Cache-Control", 'max-age=1, ext="max-age=3600"')], True, "", 1),
        (200, [("Cache-Control", 'ext="max-age=3600"')], False, "no-freshness", 0),
        (200, [("Cache-Control", "s-maxage=10, max-age=3600")], True, "", 10),
        (200, [("Cache-Control", "max-age=3600, s-maxage=10")], True, "", 10),
        (200, [("Cache-Control", "s-maxage=abc, max-age=3600")], False, "stale", 0),
        (200, [("Expires", EXPIRES_1H), ("Date", DATE_NOW)], True, "", 3600),
        (200, [("Expires", EXPIRES_1H)], True, "", 3600),
        (200, [("Expires", PAST)], False, "stale", 0),
        (200, [("Expires", DATE_NOW)], False, "stale", 0),
        (200, [("Expires", "0")], False, "stale", 0),
        (200, [("Expires", EXPIRES_1H), ("Cache-Control", "max-age=0")], False, "stale", 0),
        (200, [("Expires", EXPIRES_1H), ("Date", PAST)], True, "", 7200),
        (200, [("Expires", EXPIRES_1H), ("Age", "3600")], False, "stale", 0),
        (200, [("Cache-Control", "max-age=60"), ("Date", PAST)], True, "", 60),  # clocks differ
        (200, [("Pragma", "no-cache"), ("Expires", EXPIRES_1H)], False, "pragma-no-cache", 0),
        (200, [("Pragma", "no-cache"), ("Cache-Control", "max-age=60")], True, "", 60),
        (200, [("Cache-Control", "max-age=60"), ("Age", "abc")], False, "age-invalid", 0),
        (200, [("Cache-Control", "max-age=60"), ("Age", "-10")], False, "age-invalid", 0),
        (200, [("Cache-Control", "max-age=60"), ("Age", "1.5")], False, "age-invalid", 0),
        (200, [("Cache-Control", "max-age=60"), ("Age", "0, 0")], False, "age-invalid", 0),
        (200, [("Cache-Control", "max-age=60"), ("Age", "0"), ("Age", "0")], False,
         "age-invalid", 0),
        (200, [("Cache-Control", "max-age=60"), ("Age", "1;a=b")], False, "age-invalid", 0),
        (200, [("Cache-Control", "nO-StOrE, max-age=60")], False, "no-store", 0),
        (599, [("Cache-Control", "max-age=60, must-understand")], False, "must-understand", 0),
        (200, [("Surrogate-Control", "max-age=60")], True, "", 60),
        (200, [("Surrogate-Control", "max-age=60;edgekit"), ("Cache-Control", "no-store")],
         True, "", 60),
        (200, [("Surrogate-Control", "max-age=60;other-cdn")], False, "no-freshness", 0),
        (200, [("Surrogate-Control", "no-store"), ("Cache-Control", "max-age=60")], False,
         "no-store", 0),
        (200, [("Surrogate-Control", "max-age=0"), ("Expires", EXPIRES_1H)], False, "stale", 0),
        (200, [("Surrogate-Control", "max-age=10"), ("Cache-Control", "max-age=3600")],
         True, "", 10),
        (200, [("Surrogate-Control", "max-age=100"), ("Age", "150")], False, "stale", 0),
        (200, [("CDN-Cache-Control", "max-age=30"), ("Surrogate-Control", "max-age=99"),
               ("Cache-Control", "private")], True, "", 30),
        (200, [("Cloudflare-CDN-Cache-Control", "no-store"),
               ("CDN-Cache-Control", "max-age=30")], False, "no-store", 0),
        (200, [("CDN-Cache-Control", "foo"), ("Cache-Control", "max-age=20")], True, "", 20),
        (200, [("Cache-Control", "max-age=120, s-maxage=600")], True, "", 600),
        (200, [("Cache-Control", "public, max-age=999999")], True, "", 86400),
        (200, [("Cache-Control", "max-age=60"), ("Age", "45")], True, "", 15),
        (200, [("Cache-Control", "max-age=0")], False, "stale", 0),
        (200, [("Cache-Control", "private, max-age=60")], False, "private", 0),
        (200, [("Cache-Control", "no-store")], False, "no-store", 0),
        (200, [("Cache-Control", "no-cache")], False, "no-cache", 0),
        (200, [("Set-Cookie", "a=1"), ("Cache-Control", "max-age=60")], False, "set-cookie", 0),
        (200, [("Vary", "*")], False, "vary-star", 0),
        (200, [("Vary", ", *")], False, "vary-star", 0),
        (200, [("Vary", "Accept-Language")], False, "vary-accept-language", 0),
        (200, [("Vary", "Accept-Encoding"), ("Cache-Control", "max-age=30")], True, "", 30),
        (203, [("Cache-Control", "max-age=30")], True, "", 30),
        (204, [("Cache-Control", "max-age=30")], True, "", 30),
        (302, [("Cache-Control", "max-age=30")], True, "", 30),
        (308, [("Cache-Control", "max-age=30")], True, "", 30),
        (410, [("Cache-Control", "max-age=30")], True, "", 30),
        (201, [("Cache-Control", "max-age=30")], False, "status", 0),
        (206, [("Cache-Control", "max-age=30")], False, "status", 0),
        (403, [("Cache-Control", "max-age=30")], False, "status", 0),
        (500, [("Cache-Control", "max-age=60")], False, "status", 0),
    ],
)
def test_store_decision(settings, status, headers, cache, reason, ttl):
    assert policy.store_decision(status, headers, settings, NOW) == \
        policy.Decision(cache, reason, ttl)


def test_cacheable_statuses_are_configurable():
    settings = policy.parse_settings({"ORIGIN_URL": "https://o.example",
                                      "CACHEABLE_STATUSES": "200,403"})
    fresh = [("Cache-Control", "max-age=30")]
    assert policy.store_decision(403, fresh, settings, NOW).cache
    assert not policy.store_decision(404, fresh, settings, NOW).cache


@pytest.mark.parametrize(
    ("status", "headers", "stored"),
    [
        (200, [], True),
        (404, [], True),
        (201, [], False),  # not heuristically cacheable (RFC 9110 15.1) ...
        (201, [("Cache-Control", "public")], False),  # ... and not in CACHEABLE_STATUSES
        (302, [], False),
        (302, [("Cache-Control", "public")], True),
    ],
)
def test_a_default_ttl_stores_only_heuristically_cacheable_answers(status, headers, stored):
    settings = policy.parse_settings({"ORIGIN_URL": "https://o.example", "DEFAULT_TTL": "600",
                                      "MAX_TTL": "60"})
    decision = policy.store_decision(status, headers, settings, NOW)
    assert (decision.cache, decision.ttl) == ((True, 60) if stored else (False, 0))


def test_stored_copy_lives_for_ttl_plus_stale_window_and_knows_its_freshness():
    origin = [("Content-Type", "application/json"), ("Cache-Control", "max-age=60"),
              ("Connection", "close"), ("X-Edgekit-Fresh-Until", "9999999999")]
    stored = policy.storage_headers(origin, ttl=60, stale_if_error=300, now=NOW)
    fields = policy.header_map(stored)
    assert fields["cache-control"] == "public, max-age=360"
    assert float(fields[policy.FRESH_UNTIL_HEADER]) == NOW + 60
    assert float(fields[policy.BORN_AT_HEADER]) == NOW
    assert fields[policy.STALE_OK_HEADER] == "1"
    assert "connection" not in fields

    assert policy.entry_state(fields, NOW + 59, 300) == policy.FRESH
    assert policy.entry_state(fields, NOW + 60, 300) == policy.STALE_USABLE
    assert policy.entry_state(fields, NOW + 359, 300) == policy.STALE_USABLE
    assert policy.entry_state(fields, NOW + 360, 300) == policy.EXPIRED

    served = policy.header_map(policy.served_headers(stored, NOW + 42))
    assert served["cache-control"] == "max-age=60"
    assert served["age"] == "42"
    assert not any(name.startswith("x-edgekit-") for name in served)


@pytest.mark.parametrize("directive", ["must-revalidate", "proxy-revalidate", "s-maxage=60",
                                       "no-cache"])
def test_copies_that_forbid_stale_use_are_only_revalidated(directive):
    origin = [("Cache-Control", f"max-age=60, {directive}"), ("ETag", '"v1"')]
    fields = policy.header_map(policy.storage_headers(origin, ttl=60, stale_if_error=300,
                                                      now=NOW))
    assert fields[policy.STALE_OK_HEADER] == "0"
    assert policy.entry_state(fields, NOW + 59, 300) == policy.FRESH
    assert policy.entry_state(fields, NOW + 61, 300) == policy.REVALIDATE_ONLY


def test_the_age_a_copy_arrived_with_counts_in_its_served_age():
    stored = policy.storage_headers([("Cache-Control", "max-age=600"), ("Age", "100")],
                                    ttl=500, stale_if_error=0, now=NOW)
    assert policy.header_map(policy.served_headers(stored, NOW + 30))["age"] == "130"



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


# ---------------------------------------------------------------- odd origin answers


@pytest.mark.parametrize(
    ("status", "failure"),
    [(100, True), (102, True), (103, True), (199, True), (600, True), (999, True), (0, True),
     (500, True), (599, True), (200, False), (304, False), (404, False), (499, False)],
)
def test_statuses_a_worker_cannot_relay_or_cache_are_failures(status, failure):
    found = policy.status_failure(status)
    assert (found is not None) is failure
    if found is not None:
        assert (found.status, found.error) == (502, "bad_gateway")
        assert str(status) in found.detail


# ---------------------------------------------------------------- conditionals and 304s


@pytest.mark.parametrize(
    ("client", "response", "match"),
    [
        ({"if-none-match": '"v1"'}, [("ETag", '"v1"')], True),
        ({"if-none-match": 'W/"v1"'}, [("ETag", '"v1"')], True),
        ({"if-none-match": '"v1"'}, [("ETag", 'W/"v1"')], True),
        ({"if-none-match": '"a", "v1", "b"'}, [("ETag", '"v1"')], True),
        ({"if-none-match": "*"}, [("ETag", '"v1"')], True),
        ({"if-none-match": '"v2"'}, [("ETag", '"v1"')], False),
        ({"if-none-match": '"v1"'}, [], False),
        ({"if-none-match": '"v2"', "if-modified-since": DATE_NOW},
         [("ETag", '"v1"'), ("Last-Modified", PAST)], False),  # INM wins over IMS
        ({"if-modified-since": DATE_NOW}, [("Last-Modified", PAST)], True),
        ({"if-modified-since": PAST}, [("Last-Modified", DATE_NOW)], False),
        ({"if-modified-since": "garbage"}, [("Last-Modified", PAST)], False),
        ({}, [("ETag", '"v1"')], False),
    ],
)
def test_client_conditionals(client, response, match):
    assert policy.not_modified(client, 200, response) is match
    assert not policy.not_modified(client, 404, response)


def test_a_304_updates_the_stored_headers_except_those_describing_the_content():
    stored = policy.storage_headers(
        [("ETag", '"v1"'), ("Content-Type", "text/plain"), ("Content-MD5", "old"),
         ("Content-Encoding", "gzip"), ("X-Test", "old"), ("Cache-Control", "max-age=1")],
        ttl=1, stale_if_error=300, now=NOW)
    merged = policy.header_map(policy.freshened_headers(stored, [
        ("ETag", '"v2"'), ("Content-Type", "text/html"), ("Content-MD5", "new"),
        ("Content-Encoding", "br"), ("X-Test", "new"), ("Cache-Control", "max-age=60"),
        ("Connection", "close")]))
    assert merged["etag"] == '"v1"'
    assert (merged["content-md5"], merged["content-encoding"]) == ("old", "gzip")
    assert (merged["content-type"], merged["x-test"]) == ("text/html", "new")
    assert merged["cache-control"] == "max-age=60"
    assert "connection" not in merged and not any(n.startswith("x-edgekit-") for n in merged)


def test_validators_come_from_the_stored_copy():
    stored = [("ETag", '"v1"'), ("Last-Modified", PAST)]
    assert policy.validators(stored) == [("if-none-match", '"v1"'),
                                         ("if-modified-since", PAST)]
    assert policy.validators([("Content-Type", "text/plain")]) == []


def test_invalidation_covers_same_host_location_and_content_location():
    urls = policy.invalidated_urls("https://api.example/items", [
        ("Location", "/items/7"), ("Content-Location", "https://api.example/items?page=1")])
    assert urls == ["https://api.example/items", "https://api.example/items/7",
                    "https://api.example/items?page=1"]
    assert policy.invalidated_urls("https://api.example/items", [
        ("Location", "https://other.example/items/7")]) == ["https://api.example/items"]


# ---------------------------------------------------------------- the exchange


def _exchange(settings, cache, method, url, headers, origin, now):
    """Drive plan/lookup/after_* as cache_worker.py does; origin(status, headers) or None."""
    plan = policy.plan_request(method, url, headers, settings, TRACE)
    entry = cache.get(plan.key) if plan.cacheable else None
    step = policy.lookup(plan, entry, now, settings) if plan.cacheable else None
    asked = []
    if step is None or isinstance(step, policy.AskOrigin):
        sent = step.headers if step is not None else plan.origin_headers
        asked.append(sent)
        answer = origin(sent)
        if not plan.cacheable:
            outcome = policy.after_bypass(plan, *answer, settings)
        elif answer is None:
            outcome = policy.after_failure(plan, entry, policy.Failure(502, "bad_gateway", "x"),
                                           now, settings)
        else:
            outcome = policy.after_origin(plan, entry, *answer, now, settings)
    else:
        outcome = step
    if outcome.store is not None:
        cache[plan.key] = policy.Entry(outcome.store_status, outcome.store)
    for key in outcome.delete:
        cache.pop(key, None)
    return outcome, asked


@pytest.mark.parametrize("client", [[("Range", "bytes=0-3")], [("If-None-Match", '"v1"')],
                                    [("If-Modified-Since", DATE_NOW)]])
def test_range_and_conditional_requests_after_freshness_keep_the_stale_copy(settings, client):
    cache = {}
    body_answer = (200, [("Cache-Control", "max-age=10"), ("ETag", '"v1"'),
                         ("Last-Modified", PAST)])
    url = "https://api.example/w"
    _exchange(settings, cache, "GET", url, [], lambda sent: body_answer, NOW)

    def origin(sent):  # only the wrapper's validators, from the stored copy, reach it
        fields = policy.header_map(sent)
        assert "range" not in fields
        assert (fields["if-none-match"], fields["if-modified-since"]) == ('"v1"', PAST)
        return body_answer

    outcome, asked = _exchange(settings, cache, "GET", url, client, origin, NOW + 20)
    assert outcome.status in (200, 304)  # 304 only from the client's own conditional
    assert ("if-none-match", '"v1"') in asked[0]  # the wrapper's validator, not the client's
    assert policy.cache_key_url(url) in cache

    failed, _ = _exchange(settings, cache, "GET", url, [], lambda sent: None, NOW + 40)
    assert (failed.status, failed.cache_status, failed.body) == (200, policy.STALE,
                                                                policy.BODY_STORED)


def test_a_304_to_the_wrappers_validator_refreshes_the_copy(settings):
    cache, url = {}, "https://api.example/w"
    _exchange(settings, cache, "GET", url, [], lambda sent: (200, [
        ("Cache-Control", "max-age=10"), ("ETag", '"v1"'), ("X-Test", "old")]), NOW)
    outcome, asked = _exchange(settings, cache, "GET", url, [], lambda sent: (304, [
        ("Cache-Control", "max-age=60"), ("X-Test", "new"), ("Set-Cookie", "a=1")]), NOW + 20)
    assert (outcome.status, outcome.cache_status, outcome.body) == (200, policy.REVALIDATED,
                                                                   policy.BODY_STORED)
    assert ("if-none-match", '"v1"') in asked[0]
    assert ("Set-Cookie", "a=1") in outcome.headers  # this client's answer keeps its cookie
    stored = policy.header_map(cache[policy.cache_key_url(url)].headers)
    assert "set-cookie" not in stored  # the shared copy does not
    hit, asked = _exchange(settings, cache, "GET", url, [], lambda sent: None, NOW + 70)
    assert (hit.cache_status, asked) == (policy.HIT, [])
    assert policy.header_map(hit.headers)["x-test"] == "new"


@pytest.mark.parametrize("directive", ["must-revalidate", "proxy-revalidate", "s-maxage=10"])
def test_copies_that_must_revalidate_are_never_served_stale(settings, directive):
    cache, url = {}, "https://api.example/w"
    _exchange(settings, cache, "GET", url, [],
              lambda sent: (200, [("Cache-Control", f"max-age=10, {directive}")]), NOW)
    failed, _ = _exchange(settings, cache, "GET", url, [], lambda sent: None, NOW + 20)
    assert (failed.status, failed.body) == (502, policy.BODY_ERROR)


@pytest.mark.parametrize("status", [102, 103, 999, 503])
def test_odd_origin_statuses_serve_the_stale_copy_or_a_502(settings, status):
    cache, url = {}, "https://api.example/w"
    nothing, _ = _exchange(settings, cache, "GET", url, [], lambda sent: (status, []), NOW)
    if status == 503:  # an origin's own error is relayed when nothing stale can stand in
        assert (nothing.status, nothing.body, nothing.reason) == (503, policy.BODY_ORIGIN,
                                                                 "origin-error")
    else:
        assert (nothing.status, nothing.failure.error) == (502, "bad_gateway")
    _exchange(settings, cache, "GET", url, [],
              lambda sent: (200, [("Cache-Control", "max-age=10")]), NOW)
    stale, _ = _exchange(settings, cache, "GET", url, [], lambda sent: (status, []), NOW + 20)
    assert (stale.status, stale.cache_status) == (200, policy.STALE)
    bypass, _ = _exchange(settings, cache, "GET", url, [("Authorization", "x")],
                          lambda sent: (status, []), NOW)
    assert bypass.status == (503 if status == 503 else 502)


def test_the_wrapper_answers_a_matching_client_conditional_itself(settings):
    cache, url = {}, "https://api.example/w"
    answer = (200, [("Cache-Control", "max-age=60"), ("ETag", '"v1"'),
                    ("Content-Type", "text/plain")])
    miss, _ = _exchange(settings, cache, "GET", url, [("If-None-Match", '"v1"')],
                        lambda sent: answer, NOW)
    assert (miss.status, miss.body, miss.store_body) == (304, policy.BODY_NONE,
                                                        policy.BODY_ORIGIN)
    hit, _ = _exchange(settings, cache, "GET", url, [("If-None-Match", '"v1"')],
                       lambda sent: None, NOW + 1)
    assert (hit.status, hit.cache_status) == (304, policy.HIT)
    assert policy.header_map(hit.headers)["etag"] == '"v1"'
    assert "content-type" not in policy.header_map(hit.headers)


def test_unsafe_success_invalidates_url_location_and_content_location(settings):
    cache, fresh = {}, (lambda sent: (200, [("Cache-Control", "max-age=60")]))
    for path in ("/items", "/items/7", "/other"):
        _exchange(settings, cache, "GET", f"https://api.example{path}", [], fresh, NOW)
    _exchange(settings, cache, "POST", "https://api.example/items", [],
              lambda sent: (201, [("Location", "/items/7")]), NOW)
    assert sorted(cache) == ["https://api.example/other"]


def test_the_kill_switch_makes_a_cacheable_request_bypass(settings):
    """The cache_enabled feature flag false (cache_worker.py): no lookup, no store."""
    url = "https://api.example/api/forecast?city=Lima"
    on = policy.plan_request("GET", url, [], settings, TRACE)
    off = policy.plan_request("GET", url, [], settings, TRACE, cache_enabled=False)
    assert on.cacheable and not off.cacheable
    assert off.reason == "cache-disabled" and off.origin_method == "GET"
    outcome = policy.after_bypass(off, 200, [("cache-control", "max-age=60")], settings)
    assert outcome.cache_status == policy.BYPASS and outcome.store is None
    assert outcome.reason == "cache-disabled"
