"""A state machine over the cache wrapper's exchange: no client is ever served another's answer.

Random clients (credentials, API keys, cookies, languages, forwarded addresses, ranges,
conditionals, trace context, tracking parameters, repeated query names) ask random URLs
over random time, through ``cache_policy``'s steps driven the way ``cache_worker.py``
drives them, against a model Cache API (entries expire as their Cache-Control says) and a
maximally leaky model origin: its body echoes everything it was sent that could change an
answer (method, path, each query name's values in order, except tracking parameters, every
header except
the ones declared response-neutral, the wrapper's own validators, and runtime-managed
ones), and its caching headers are random per URL and change over time.

The property: an answer served from the cache carries exactly the body the origin gives
*this* request, so the request that stored it had the same forwarded headers, credentials
and key-relevant parameters. Also checked on every origin request: a cacheable request
carries no credentials, cookies or identity headers.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from edgekit_iac.twin.cloudflare.workers_runtime.loader import load_function_module

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "cache_wrapper"
policy = load_function_module(FUNCTION_DIR, "cache_policy.py")

START = 1_700_000_000.0
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
# What the origin may see on a cacheable request, lower-cased.
CACHEABLE_ALLOWED = {"traceparent", "tracestate", "x-forwarded-host", "x-forwarded-proto",
                     "if-none-match", "if-modified-since", "x-request-id",
                     "surrogate-capability"}
# Not part of what the model origin answers from: declared neutral, or the wrapper's own.
NOT_ECHOED = {"traceparent", "tracestate", "x-request-id", "if-none-match",
              "if-modified-since", "host", "content-length"}

HEADER_CHOICES = {
    "Authorization": ["Bearer alice", "Bearer bob", ""],
    "X-Api-Key": ["alice-secret", "bob-secret"],
    "Api-Key": ["k1"],
    "X-Auth-Token": ["t1"],
    "Cookie": ["theme=dark", "theme=light", "sessionid=alice", "PHPSESSID=bob; theme=dark"],
    "Accept-Language": ["en", "fr", "nb-NO"],
    "Accept": ["application/json", "text/html"],
    "Forwarded": ["for=198.51.100.7", "for=203.0.113.9"],
    "X-Forwarded-For": ["198.51.100.7"],
    "X-Forwarded-Host": ["evil.example"],
    "CF-Connecting-IP": ["198.51.100.7"],
    "User-Agent": ["alice-phone", "bob-laptop"],
    "X-Request-Id": ["1", "2"],
    "X-Tenant": ["a", "b"],
    "traceparent": [TRACE, "garbage"],
    "tracestate": ["v=1"],
    "Range": ["bytes=0-3", "bytes=5-"],
    "If-None-Match": ['"stale"', "*"],
    "If-Modified-Since": ["Tue, 14 Nov 2023 22:13:20 GMT"],
    "Cache-Control": ["no-store", "no-cache", "max-age=0"],
    "Pragma": ["no-cache"],
}
CACHE_CONTROLS = ["max-age=60", "max-age=5", "s-maxage=30", "public, max-age=120",
                  "max-age=60, must-revalidate", "no-store", "private, max-age=60", "no-cache",
                  "max-age=-1", "max-age=abc", 'ext="max-age=999", max-age=10', None]
STATUSES = [200, 200, 200, 203, 204, 301, 302, 404, 410, 500, 503, 103, 999]

requests = st.fixed_dictionaries({
    "method": st.sampled_from(["GET", "GET", "GET", "HEAD", "POST"]),
    "host": st.sampled_from(["api.example", "api.example", "API.example", "other.example"]),
    "path": st.sampled_from(["/account", "/account", "/weather"]),
    "query": st.lists(st.tuples(st.sampled_from(["city", "city", "units", "utm_source"]),
                                st.sampled_from(["Paris", "Tokyo"])), max_size=3),
    "headers": st.lists(st.sampled_from(sorted(HEADER_CHOICES)).flatmap(
        lambda name: st.tuples(st.just(name), st.sampled_from(HEADER_CHOICES[name]))),
        max_size=5),
})
answers = st.fixed_dictionaries({
    "status": st.sampled_from(STATUSES),
    "cache_control": st.sampled_from(CACHE_CONTROLS),
    "extra": st.lists(st.sampled_from([
        ("Set-Cookie", "sid=1"), ("Vary", "Accept-Language"), ("Vary", "Accept-Encoding"),
        ("Expires", "Thu, 01 Jan 2099 00:00:00 GMT"), ("Expires", "0"), ("Age", "10"),
        ("Age", "abc"), ("Pragma", "no-cache"), ("Last-Modified", "Mon, 13 Nov 2023 00:00:00 GMT"),
    ]), max_size=3),
})


CREDENTIAL_HEADERS = {"authorization", "x-api-key", "api-key", "x-auth-token",
                      "x-access-token"}


def credentials(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The request's credentials: auth and API-key headers, session cookies."""
    found = sorted((n.lower(), v) for n, v in headers if n.lower() in CREDENTIAL_HEADERS)
    cookies = [crumb.strip() for n, v in headers if n.lower() == "cookie"
               for crumb in v.split(";") if crumb.strip().lower().startswith(("sessionid",
                                                                              "phpsessid"))]
    return found + [("session-cookie", c) for c in sorted(cookies)]


def echo(method: str, url: str, headers: list[tuple[str, str]]) -> str:
    """The model origin's body: everything it was sent that could change its answer."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not (k.lower().startswith("utm_") or k.lower() in ("gclid", "fbclid"))]
    # Like most origins, it reads a multi-dict: the order of one name's values matters,
    # the order of different names does not (that is what lets the key sort them).
    query.sort(key=lambda pair: pair[0])
    fields = sorted((n.lower(), v) for n, v in headers if n.lower() not in NOT_ECHOED)
    return json.dumps([method, parts.path, query, fields])


class CacheExchanges(RuleBasedStateMachine):
    @initialize(default_ttl=st.sampled_from(["0", "30"]),
                stale=st.sampled_from(["0", "300"]))
    def configure(self, default_ttl: str, stale: str) -> None:
        self.settings = policy.parse_settings({
            "ORIGIN_URL": "https://origin.example", "DEFAULT_TTL": default_ttl,
            "STALE_IF_ERROR": stale, "FORWARD_HEADERS": "X-Request-Id",
        })
        self.now = START
        # key -> (expiry, entry, body, credentials of the request that stored it)
        self.cache: dict[str, tuple[float, policy.Entry, bytes, list]] = {}
        self.answers: dict[str, dict] = {}  # path -> the origin's current caching headers
        self.served_from_cache = 0

    # -- the model Cache API: entries live as long as their Cache-Control max-age says

    def _match(self, key: str) -> tuple[policy.Entry, bytes, list] | None:
        found = self.cache.get(key)
        if found is None or found[0] <= self.now:
            self.cache.pop(key, None)
            return None
        return found[1:]

    def _put(self, key: str, status: int, headers: list[tuple[str, str]], body: bytes,
             stored_by: list) -> None:
        fields = policy.header_map(headers)
        max_age = int(policy.parse_cache_control(fields["cache-control"])["max-age"])
        self.cache[key] = (self.now + max_age, policy.Entry(status, headers), body, stored_by)

    # -- the model origin

    def _origin(self, method: str, url: str, headers: list[tuple[str, str]]
                ) -> tuple[int, list[tuple[str, str]], bytes]:
        answer = self.answers.get(urlsplit(url).path) or {"status": 200,
                                                          "cache_control": "max-age=60",
                                                          "extra": []}
        body = echo(method, url, headers).encode()
        etag = f'"{abs(hash(body)) % 10_000}"'
        response = [("ETag", etag), ("Content-Type", "application/json"), *answer["extra"]]
        if answer["cache_control"] is not None:
            response.append(("Cache-Control", answer["cache_control"]))
        if policy.header_map(headers).get("if-none-match") == etag:
            return 304, response, b""
        return answer["status"], response, body

    # -- rules

    @rule(path=st.sampled_from(["/account", "/weather", "/items"]), answer=answers)
    def origin_changes_its_caching(self, path: str, answer: dict) -> None:
        self.answers[path] = answer

    @rule(seconds=st.sampled_from([0, 1, 4, 20, 61, 200, 400]))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds

    @rule(request=requests)
    def a_client_asks(self, request: dict) -> None:
        query = "&".join(f"{k}={v}" for k, v in request["query"])
        url = f"https://{request['host']}{request['path']}" + (f"?{query}" if query else "")
        method, headers = request["method"], request["headers"]
        plan = policy.plan_request(method, url, headers, self.settings, TRACE)
        found = self._match(plan.key) if plan.cacheable else None
        entry, stored_body, stored_by = found if found is not None else (None, b"", [])
        step = policy.lookup(plan, entry, self.now, self.settings) if plan.cacheable else None
        origin_body = b""
        if step is None or isinstance(step, policy.AskOrigin):
            sent_method = step.method if step is not None else plan.origin_method
            sent = step.headers if step is not None else plan.origin_headers
            if plan.cacheable:
                names = {name.lower() for name, _ in sent}
                assert names <= CACHEABLE_ALLOWED, names - CACHEABLE_ALLOWED
            status, response, origin_body = self._origin(sent_method, plan.origin_url, sent)
            if not plan.cacheable:
                outcome = policy.after_bypass(plan, status, response, self.settings)
            else:
                outcome = policy.after_origin(plan, entry, status, response, self.now,
                                              self.settings)
        else:
            outcome = step
        if outcome.store is not None:
            if outcome.store_body == policy.BODY_ORIGIN:
                body, stored_by = origin_body, credentials(headers)
            else:
                body = stored_body  # refreshed by a 304: still the first storer's answer
            self._put(plan.key, outcome.store_status, outcome.store, body, stored_by)
        for key in outcome.delete:
            self.cache.pop(key, None)

        if outcome.body == policy.BODY_STORED:
            self.served_from_cache += 1
            # What the origin would answer this very client, had it been asked.
            expected = echo(plan.origin_method, plan.origin_url, plan.origin_headers)
            assert stored_body.decode() == expected, "served another client's answer"
            assert credentials(headers) == stored_by == [], "credentials differ"
            assert plan.cacheable

    @invariant()
    def nothing_stored_is_private(self) -> None:
        for _, entry, _, _ in self.cache.values():
            fields = policy.header_map(entry.headers)
            assert "set-cookie" not in fields
            directives = policy.parse_cache_control(
                fields.get(policy.ORIGIN_CACHE_CONTROL_HEADER))
            assert not {"no-store", "private"} & set(directives)


CacheExchanges.TestCase.settings = hypothesis_settings(
    max_examples=40, stateful_step_count=40, deadline=None)
test_no_client_is_served_another_clients_answer = CacheExchanges.TestCase
