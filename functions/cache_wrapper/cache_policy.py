"""The cache wrapper's decisions, as pure functions (stdlib only: CPython 3.11+ and Pyodide).

Nothing here does I/O. ``cache_worker.py`` asks ``plan_request`` what to do with a client
request, looks the plan's key up in the Cache API, asks ``lookup`` whether the stored copy
answers it or which request goes to the origin, and hands the origin's answer (or its
failure) to ``after_origin`` / ``after_failure`` / ``after_bypass``; each returns an
``Outcome``: what the client gets, what to put in the cache, which keys to delete. The
tests drive the same functions with an in-memory cache and a model origin.

Settings (plain-text Worker bindings, all strings; a missing or empty number means
"use the default", an empty list means "none"):

==================== =============================== ==========================================
binding              default                         meaning
==================== =============================== ==========================================
ORIGIN_URL           (required)                      http(s) URL of the origin; a path prefix
                                                     is kept (``https://api.example/v1``)
DEFAULT_TTL          ``0``                           seconds fresh for a response without
                                                     explicit freshness (heuristic); 0 = such
                                                     responses are not stored
MAX_TTL              ``86400``                       upper bound on any TTL, seconds
STALE_IF_ERROR       ``300``                         seconds past freshness a copy may still be
                                                     served when the origin fails (and
                                                     revalidated with its validators)
ORIGIN_TIMEOUT_MS    ``5000``                        origin answer deadline, milliseconds
CACHEABLE_STATUSES   ``200,203,204,300,301,302,303,  statuses that may be stored
                     307,308,404,405,410,414``
SESSION_COOKIES      ``session,sessionid,session_id, cookie names that make a request bypass
                     sid,connect.sid,PHPSESSID,      the cache (``name*`` = prefix)
                     JSESSIONID``
API_KEY_HEADERS      ``x-api-key,api-key,            request headers that carry credentials:
                     x-auth-token,x-access-token``   present, the request bypasses the cache
                                                     (``name*`` = prefix)
FORWARD_HEADERS      (none)                          response-neutral request headers forwarded
                                                     on cacheable requests besides
                                                     ``traceparent``/``tracestate``
TRACKING_PARAMS      ``utm_*,gclid,fbclid``          query parameters left out of the cache
                                                     key (``name*`` = prefix)
==================== =============================== ==========================================

Decisions worth knowing:

* **Who may use the cache.** GET and HEAD only. A request carrying credentials bypasses
  it: ``Authorization``, any API_KEY_HEADERS header, or a session cookie. So does a
  request with ``Cache-Control: no-store``. Bypassed requests reach the origin with every
  end-to-end header the client sent, and their answers are never stored.
* **What the origin sees on a cacheable request.** Only what the key covers or what cannot
  change the response: the path and query as the client sent them, ``X-Forwarded-Host``
  and ``X-Forwarded-Proto`` (the URL's host and scheme, both in the key),
  ``Surrogate-Capability: edgekit="Surrogate/1.0"`` (the same for everyone), ``traceparent``
  and ``tracestate`` (W3C trace context), the FORWARD_HEADERS a stack declares
  response-neutral, and the wrapper's own validators (``If-None-Match`` /
  ``If-Modified-Since`` from the stored copy). Nothing else: no cookies, no
  ``Accept-Language``, no ``Forwarded``/``X-Forwarded-For``/``CF-Connecting-IP``, no
  ``User-Agent``, no client ``Range`` or conditionals. The origin therefore cannot tell
  two clients of one URL apart, and must not try: the answer it gives one is served to
  all. (A header listed in FORWARD_HEADERS is the stack's promise that it does not change
  the response.)
* **Key.** Lower-cased scheme and host (default port dropped) + path + query pairs,
  tracking parameters removed, re-encoded one canonical way, and ordered by name with
  repeated names kept in the order sent (``?a=1&b=2`` and ``?b=2&a=1`` share a copy;
  ``?city=Paris&city=Tokyo`` and ``?city=Tokyo&city=Paris`` do not: the origin may read
  the first). The Cache API only stores GET requests, so the method is not in the key:
  HEAD shares the GET key and a HEAD miss is fetched from the origin as GET.
* **What is stored** (RFC 9111 section 3, as a shared cache): a 200-599 answer whose status
  is in CACHEABLE_STATUSES, without ``Set-Cookie``, ``no-store``, ``private``,
  ``no-cache``, ``Pragma: no-cache`` (with no Cache-Control), ``Vary`` other than
  ``Accept-Encoding``, an unparseable ``Age``, or ``must-understand`` on a status outside
  CACHEABLE_STATUSES, and with a positive freshness lifetime: ``s-maxage``, else
  ``max-age``, else ``Expires`` minus ``Date``, each minus the answer's ``Age``, capped by
  MAX_TTL. (``Date`` is not used to age an answer, RFC 9111 4.2.3's apparent age: the
  origin's clock and the edge's disagree, and a slow origin clock would make every answer
  stale on arrival.) An invalid ``max-age``/``s-maxage`` (``-1``, ``abc``,
  ``'60'``) or ``Expires`` (``0``, a past date) counts as already stale: not stored.
  **A response without explicit freshness is not stored** unless DEFAULT_TTL is set, and
  then only with a status RFC 9110 15.1 calls heuristically cacheable (200, 203, 204,
  300, 301, 308, 404, 405, 410, 414) or ``public``: a shared cache guessing lifetimes
  serves one client's momentary answer to everyone, so the origin has to say so.
  ``Vary: Accept-Encoding`` neither splits the key nor prevents caching: Workers negotiate
  compression on each hop, so the stored body does not depend on the client's encoding.
* **Targeted fields.** ``Cloudflare-CDN-Cache-Control`` or ``CDN-Cache-Control`` (RFC 9213),
  else ``Surrogate-Control`` directives without a target or targeted ``;edgekit``, replace
  ``Cache-Control`` (and ``Expires``) for what this cache stores and for how long, when
  present with a directive it understands; clients still get every field as sent.
* **Stale copies.** The Cache API's ``put`` honours ``Cache-Control`` and drops an entry
  when it expires, so the stored copy gets ``Cache-Control: public, max-age=<ttl + window>``
  (window: STALE_IF_ERROR) and carries its own clock: ``X-Edgekit-Born-At`` (epoch seconds
  the answer would have had Age 0), ``X-Edgekit-Fresh-Until``, ``X-Edgekit-Stale-Ok``
  (``0`` for ``must-revalidate``, ``proxy-revalidate`` and ``s-maxage``, which RFC 9111
  5.2.2.10 makes proxy-revalidate for shared caches), the origin's ``Cache-Control`` in
  ``X-Edgekit-Origin-Cache-Control``. Fresh copies are served (HIT). Past freshness the
  origin is asked, conditionally when the copy has an ``ETag`` or ``Last-Modified``; a
  304 refreshes the copy (REVALIDATED); a failure serves the copy (STALE) only when
  Stale-Ok is 1 and the window has not passed. A client's ``Range`` or conditional
  request never reaches the origin on a cacheable request, so it cannot replace or delete
  the stored copy: the wrapper answers ``If-None-Match`` / ``If-Modified-Since`` itself
  (304) and ignores ``Range`` (RFC 9110 14.2 allows it: the client gets the whole 200).
* **Any origin answer.** Workers' ``fetch`` hands a Worker whatever status the origin sent
  (workerd builds the Response without the constructor's 200-599 check, and relays a
  1xx the HTTP client read as final), but a Worker can only answer 200-599. An origin
  status outside 200-599, a 5xx, a timeout or a connection error is a failure: the
  stored copy when allowed (STALE); else the origin's own 5xx as it sent it (BYPASS,
  reason ``origin-error``), or a short JSON 502 (504 for a timeout) when there is none.
* **X-Edge-Cache.** HIT, MISS (fetched; stored when allowed), REVALIDATED, STALE, BYPASS
  (the request may not use the cache, or the answer may not be stored;
  ``X-Edge-Cache-Reason`` says which). A successful unsafe request (POST, PUT, ...)
  deletes the stored copies of its URL and of its answer's same-host ``Location`` and
  ``Content-Location`` (RFC 9111 4.4).
* **traceparent** (W3C Trace Context, version 00): a valid incoming value is forwarded
  unchanged; a missing or malformed one is replaced by a fresh one (random ids, flags
  ``00``) and ``tracestate`` is then dropped. Either way it is returned to the client.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import SplitResult, quote, unquote_plus, urljoin, urlsplit

HeaderPairs = list[tuple[str, str]]

BINDING_NAMES = (
    "ORIGIN_URL",
    "DEFAULT_TTL",
    "MAX_TTL",
    "STALE_IF_ERROR",
    "ORIGIN_TIMEOUT_MS",
    "CACHEABLE_STATUSES",
    "SESSION_COOKIES",
    "API_KEY_HEADERS",
    "FORWARD_HEADERS",
    "TRACKING_PARAMS",
)
DEFAULT_TTL = 0
DEFAULT_MAX_TTL = 86_400
DEFAULT_STALE_IF_ERROR = 300
DEFAULT_ORIGIN_TIMEOUT_MS = 5_000
DEFAULT_CACHEABLE_STATUSES = frozenset(
    {200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414}
)
# RFC 9110 15.1: statuses a cache may give a heuristic lifetime (206 and 501 left out: the
# Cache API cannot store 206, and a 5xx is an origin failure here).
HEURISTIC_STATUSES = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414})
DEFAULT_SESSION_COOKIES = (
    "session", "sessionid", "session_id", "sid", "connect.sid", "PHPSESSID", "JSESSIONID",
)
DEFAULT_API_KEY_HEADERS = ("x-api-key", "api-key", "x-auth-token", "x-access-token")
DEFAULT_TRACKING_PARAMS = ("utm_*", "gclid", "fbclid")
# Forwarded on every cacheable request: trace context cannot change a response.
NEUTRAL_HEADERS = ("traceparent", "tracestate")
# Targeted cache-control fields, first found wins (RFC 9213; W3C Edge Architecture).
TARGETED_FIELDS = ("cloudflare-cdn-cache-control", "cdn-cache-control", "surrogate-control")
_TARGETED_UNDERSTOOD = frozenset({"max-age", "s-maxage", "no-store", "no-cache", "private",
                                  "must-revalidate", "proxy-revalidate"})
# This cache's name in Surrogate-Capability / targeted Surrogate-Control directives.
SURROGATE_TARGET = "edgekit"
SURROGATE_CAPABILITY = ("surrogate-capability", 'edgekit="Surrogate/1.0"')

# X-Edge-Cache values.
HIT, MISS, STALE, BYPASS, REVALIDATED = "HIT", "MISS", "STALE", "BYPASS", "REVALIDATED"
# Cache entry states.
FRESH, STALE_USABLE, REVALIDATE_ONLY, EXPIRED = "fresh", "stale", "revalidate-only", "expired"
# Where an Outcome's body comes from.
BODY_ORIGIN, BODY_STORED, BODY_NONE, BODY_ERROR = "origin", "stored", "none", "error"

BORN_AT_HEADER = "x-edgekit-born-at"
FRESH_UNTIL_HEADER = "x-edgekit-fresh-until"
STALE_OK_HEADER = "x-edgekit-stale-ok"
ORIGIN_CACHE_CONTROL_HEADER = "x-edgekit-origin-cache-control"
_INTERNAL_PREFIX = "x-edgekit-"

# RFC 9110 7.6.1 plus the de-facto Proxy-Connection; those named in Connection join them.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authentication-info",
    "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade",
})
# Set by the runtime for each hop, never copied from one hop to the next.
_RUNTIME_MANAGED = frozenset({"host", "content-length", "accept-encoding"})
# Names FORWARD_HEADERS may not list: credentials, cookies, and what the wrapper sets itself.
_NEVER_FORWARDED_ON_CACHEABLE = frozenset({
    "authorization", "cookie", "range", "if-range", "if-match", "if-none-match",
    "if-modified-since", "if-unmodified-since", "x-forwarded-host", "x-forwarded-proto",
    "forwarded", "x-forwarded-for", "cf-connecting-ip", "x-real-ip", "true-client-ip",
    "surrogate-capability",
}) | HOP_BY_HOP | _RUNTIME_MANAGED
# RFC 9111 3.2 / 4.3.4: a 304 does not replace what describes the stored content itself.
_KEPT_ON_304 = frozenset({
    "content-length", "content-encoding", "content-md5", "content-range", "etag",
    "transfer-encoding",
})
# RFC 9110 15.4.5: what a 304 carries.
_IN_304 = frozenset({
    "cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified",
    "age",
})

_NULL_BODY_STATUSES = frozenset({101, 204, 205, 304})
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Unreserved characters (what quote(safe="") leaves alone) plus the pair separators.
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9_.~=&-]*").fullmatch
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(r"[0-9]+")


class SettingsError(ValueError):
    """A binding has a value the wrapper cannot use; the message names it and what is accepted."""


@dataclass(frozen=True)
class Settings:
    origin_url: str
    default_ttl: int = DEFAULT_TTL
    max_ttl: int = DEFAULT_MAX_TTL
    stale_if_error: int = DEFAULT_STALE_IF_ERROR
    origin_timeout_ms: int = DEFAULT_ORIGIN_TIMEOUT_MS
    cacheable_statuses: frozenset[int] = DEFAULT_CACHEABLE_STATUSES
    session_cookies: tuple[str, ...] = DEFAULT_SESSION_COOKIES
    api_key_headers: tuple[str, ...] = DEFAULT_API_KEY_HEADERS
    forward_headers: tuple[str, ...] = ()
    tracking_params: tuple[str, ...] = DEFAULT_TRACKING_PARAMS


@dataclass(frozen=True)
class Decision:
    """Whether to use the cache (request side) or store (response side), and why not."""

    cache: bool
    reason: str = ""
    ttl: int = 0


@dataclass(frozen=True)
class Failure:
    """The origin gave no usable answer: what the client gets when nothing stale is left."""

    status: int
    error: str
    detail: str


# ---------------------------------------------------------------- settings


def parse_settings(raw: Mapping[str, object]) -> Settings:
    """Build Settings from the Worker's bindings (name -> string or None when unbound)."""
    return _parse_settings_cached(tuple((name, raw.get(name)) for name in BINDING_NAMES))


@functools.lru_cache(maxsize=16)
def _parse_settings_cached(items: tuple[tuple[str, object], ...]) -> Settings:
    raw = dict(items)
    for name, value in raw.items():
        if value is not None and not isinstance(value, str):
            raise SettingsError(f"{name} must be a plain-text binding, got {type(value).__name__}")
    api_key_headers = _names(raw.get("API_KEY_HEADERS"), DEFAULT_API_KEY_HEADERS)
    for name in api_key_headers:
        if not _TOKEN.fullmatch(name.rstrip("*")):
            raise SettingsError(f"API_KEY_HEADERS must list header names, got {name!r}")
    return Settings(
        origin_url=_origin_url(raw.get("ORIGIN_URL")),
        default_ttl=_whole_number(raw, "DEFAULT_TTL", DEFAULT_TTL, minimum=0),
        max_ttl=_whole_number(raw, "MAX_TTL", DEFAULT_MAX_TTL, minimum=0),
        stale_if_error=_whole_number(raw, "STALE_IF_ERROR", DEFAULT_STALE_IF_ERROR, minimum=0),
        origin_timeout_ms=_whole_number(
            raw, "ORIGIN_TIMEOUT_MS", DEFAULT_ORIGIN_TIMEOUT_MS, minimum=1
        ),
        cacheable_statuses=_statuses(raw.get("CACHEABLE_STATUSES")),
        session_cookies=_names(raw.get("SESSION_COOKIES"), DEFAULT_SESSION_COOKIES),
        api_key_headers=api_key_headers,
        forward_headers=_forward_headers(raw.get("FORWARD_HEADERS"), api_key_headers),
        tracking_params=_names(raw.get("TRACKING_PARAMS"), DEFAULT_TRACKING_PARAMS),
    )


def _origin_url(value: object) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            f"ORIGIN_URL must be an http(s) URL without query or fragment, got {text!r}"
        )
    return text.rstrip("/")


def _whole_number(raw: Mapping[str, object], name: str, default: int, *, minimum: int) -> int:
    text = str(raw.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < minimum:
        raise SettingsError(f"{name} must be a whole number >= {minimum}, got {text!r}")
    return int(text)


def _statuses(value: object) -> frozenset[int]:
    if value is None or not str(value).strip():
        return DEFAULT_CACHEABLE_STATUSES
    statuses = set()
    for item in str(value).split(","):
        item = item.strip()
        if not item.isdigit() or not 200 <= int(item) <= 599 or int(item) == 206:
            raise SettingsError(
                "CACHEABLE_STATUSES must be comma-separated HTTP statuses 200-599 "
                f"(206 cannot be stored by the Cache API), got {item!r}"
            )
        statuses.add(int(item))
    return frozenset(statuses)


def _names(value: object, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    return tuple(name.strip() for name in str(value).split(",") if name.strip())


def _forward_headers(value: object, api_key_headers: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(name.lower() for name in _names(value, ()))
    is_api_key = _name_matcher(api_key_headers)
    for name in names:
        if not _TOKEN.fullmatch(name):
            raise SettingsError(f"FORWARD_HEADERS must list header names, got {name!r}")
        if name in _NEVER_FORWARDED_ON_CACHEABLE or is_api_key(name):
            raise SettingsError(
                f"FORWARD_HEADERS may not list {name!r}: credentials, cookies, client "
                "conditionals and hop-by-hop headers never reach the origin on a cacheable "
                "request; list only headers that cannot change the response"
            )
    return names


@functools.lru_cache(maxsize=64)
def _name_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """Case-insensitive matcher; a trailing ``*`` makes a pattern a prefix."""
    exact = frozenset(p.lower() for p in patterns if not p.endswith("*"))
    prefixes = tuple(p[:-1].lower() for p in patterns if p.endswith("*"))

    def matches(name: str) -> bool:
        lowered = name.lower()
        return lowered in exact or (bool(prefixes) and lowered.startswith(prefixes))

    return matches


# ---------------------------------------------------------------- headers


def header_map(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-cased names -> value; repeated fields joined (``; `` for Cookie, else ``, ``)."""
    result: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key in result:
            result[key] += ("; " if key == "cookie" else ", ") + value
        else:
            result[key] = value
    return result


def forwardable(pairs: Iterable[tuple[str, str]], *, drop: Iterable[str] = ()) -> HeaderPairs:
    """Headers minus hop-by-hop ones (and those Connection names), runtime-managed ones, drop."""
    pairs = list(pairs)
    connection_named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
    }
    removed = HOP_BY_HOP | _RUNTIME_MANAGED | connection_named | {d.lower() for d in drop}
    return [(name, value) for name, value in pairs if name.lower() not in removed]


def parse_cache_control(value: str | None) -> dict[str, str | None]:
    """``max-age=60, private="A, B"`` -> ``{"max-age": "60", "private": "A, B"}``.

    RFC 9110 5.6: comma-separated ``token [= (token / quoted-string)]``; commas inside a
    quoted string do not split, so ``x="max-age=1, y"`` is one extension directive. Names
    are case-insensitive; the first occurrence of a directive wins (RFC 9111 4.2.1).
    """
    directives: dict[str, str | None] = {}
    text = value or ""
    index, length = 0, len(text)
    while index < length:
        while index < length and text[index] in " \t,":
            index += 1
        start = index
        while index < length and text[index] not in "=,":
            index += 1
        name = text[start:index].strip().lower()
        argument: str | None = None
        if index < length and text[index] == "=":
            index += 1
            while index < length and text[index] in " \t":
                index += 1
            if index < length and text[index] == '"':
                index += 1
                chars = []
                while index < length and text[index] != '"':
                    if text[index] == "\\" and index + 1 < length:
                        index += 1
                    chars.append(text[index])
                    index += 1
                index += 1  # the closing quote
                argument = "".join(chars)
                while index < length and text[index] != ",":
                    index += 1  # junk after a quoted string belongs to this directive
            else:
                start = index
                while index < length and text[index] != ",":
                    index += 1
                argument = text[start:index].strip()
        if name:
            directives.setdefault(name, argument)
    return directives


def has_null_body(status: int) -> bool:
    """Statuses whose responses must have no body (the Response constructor rejects one)."""
    return status in _NULL_BODY_STATUSES


def _http_date(value: str | None) -> float | None:
    """Epoch seconds of an HTTP-date, or None when absent or invalid."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


# ---------------------------------------------------------------- request side


def request_decision(method: str, headers: Mapping[str, str], settings: Settings) -> Decision:
    """May this request be answered from (and fill) the shared cache? headers: from header_map."""
    if method not in ("GET", "HEAD"):
        return Decision(False, "method")
    if headers.get("authorization") is not None:
        return Decision(False, "authorization")
    if settings.api_key_headers:
        is_api_key = _name_matcher(settings.api_key_headers)
        if any(is_api_key(name) for name in headers):
            return Decision(False, "api-key")
    cookie = headers.get("cookie")
    if cookie and settings.session_cookies:
        is_session = _name_matcher(settings.session_cookies)
        for crumb in re.split(r"[;,]", cookie):
            if is_session(crumb.partition("=")[0].strip()):
                return Decision(False, "session-cookie")
    if "no-store" in parse_cache_control(headers.get("cache-control")):
        return Decision(False, "request-no-store")
    return Decision(True)


@functools.lru_cache(maxsize=2048)  # hot URLs repeat: that is why they are worth caching
def cache_key_url(url: str, tracking_params: tuple[str, ...] = DEFAULT_TRACKING_PARAMS) -> str:
    """The normalized URL the Cache API stores a GET/HEAD under (idempotent).

    Pairs are ordered by name; pairs of one name keep the order they were sent in.
    """
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), key_host(parts)
    is_tracking = _name_matcher(tracking_params)
    # Most queries are already canonical text (unreserved characters only): skip decoding.
    plain = _PLAIN_QUERY(parts.query) is not None
    pairs = []
    for piece in parts.query.split("&"):
        name, _, value = piece.partition("=")
        if not piece or is_tracking(name if plain else unquote_plus(name)):
            continue
        if plain and "=" not in value:
            pairs.append((name, value))
        else:  # one spelling per value: form-decoded, then percent-encoded again
            pairs.append((quote(unquote_plus(name), safe=""), quote(unquote_plus(value), safe="")))
    pairs.sort(key=lambda pair: pair[0])  # stable: repeated names keep their order
    query = "&".join([f"{name}={value}" for name, value in pairs])
    return f"{scheme}://{host}{parts.path or '/'}" + (f"?{query}" if query else "")


def key_host(parts: SplitResult) -> str:
    """The URL's host as the key has it: lower case, no userinfo, no default port."""
    host = parts.netloc.lower()
    if ":" in host or "@" in host:  # port, userinfo or IPv6: let urlsplit take it apart
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
        if parts.port is not None and str(parts.port) != _DEFAULT_PORTS.get(parts.scheme.lower()):
            host = f"{host}:{parts.port}"
    return host


def origin_url_for(request_url: str, origin_url: str) -> str:
    """The origin URL for a request: origin base + the request's path and query, as sent."""
    parts = urlsplit(request_url)
    return origin_url.rstrip("/") + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def origin_request_headers(pairs: Iterable[tuple[str, str]], *, cacheable: bool, traceparent: str,
                           request_url: str, forward: Iterable[str] = ()) -> HeaderPairs:
    """Headers for the origin hop.

    Cacheable: only trace context, the ``forward`` names (response-neutral, per stack) and
    X-Forwarded-Host/-Proto from the URL. Bypassed: every end-to-end header the client sent.
    """
    pairs = list(pairs)
    url = urlsplit(request_url)
    replaced = traceparent_was_replaced(pairs, traceparent)
    if cacheable:
        allowed = set(NEUTRAL_HEADERS) | {name.lower() for name in forward}
        kept = [(name, value) for name, value in forwardable(pairs)
                if name.lower() in allowed and name.lower() != "traceparent"
                and not (replaced and name.lower() == "tracestate")]
    else:
        drop = {"traceparent", "x-forwarded-host", "x-forwarded-proto", "surrogate-capability"}
        if replaced:
            drop.add("tracestate")  # W3C: vendor state belongs to the trace that was dropped
        kept = forwardable(pairs, drop=drop)
    added = [("traceparent", traceparent), ("x-forwarded-host", key_host(url)),
             ("x-forwarded-proto", url.scheme.lower()), SURROGATE_CAPABILITY]
    return kept + added


# ---------------------------------------------------------------- response side


def _vary_reason(fields: Mapping[str, str]) -> str:
    for name in (f.strip().lower() for f in fields.get("vary", "").split(",")):
        if name == "*":
            return "vary-star"
        if name and name != "accept-encoding":
            return f"vary-{name}"
    return ""


def _age(fields: Mapping[str, str]) -> int | None:
    """The Age field's seconds (0 when absent), None when it is not one whole number."""
    value = fields.get("age")
    if value is None:
        return 0
    value = value.strip()
    return int(value) if _DIGITS.fullmatch(value) else None


def _explicit_lifetime(directives: Mapping[str, str | None], fields: Mapping[str, str],
                       now: float, targeted: bool = False) -> float | None:
    """RFC 9111 4.2.1: s-maxage, max-age, Expires - Date; None without any; <= 0 if invalid.

    Under a targeted field (RFC 9213) only its own max-age counts, not Expires.
    """
    for name in ("s-maxage", "max-age"):
        if name in directives:
            value = (directives[name] or "").strip()
            return float(int(value)) if _DIGITS.fullmatch(value) else 0.0
    if "expires" in fields and not targeted:
        expires = _http_date(fields["expires"])
        if expires is None:
            return 0.0  # RFC 9111 5.3: an invalid Expires means "already expired"
        date = _http_date(fields.get("date"))
        return expires - (date if date is not None else now)
    return None


def targeted_directives(fields: Mapping[str, str]) -> dict[str, str | None] | None:
    """The directives of the first targeted cache-control field meant for this cache, or None.

    RFC 9213: ``Cloudflare-CDN-Cache-Control``, then ``CDN-Cache-Control``; then the older
    ``Surrogate-Control`` (W3C Edge Architecture), whose directives may name a target after
    ``;`` (``max-age=60;edgekit``): those without a target or targeted at ``edgekit`` count.
    A field with no directive this cache understands is ignored (RFC 9213 2.1).
    """
    for name in TARGETED_FIELDS:
        if name not in fields:
            continue
        directives = {}
        for directive, argument in parse_cache_control(fields[name]).items():
            if name == "surrogate-control":
                argument, _, target = (argument or "").partition(";")
                if target and target.strip().lower() != SURROGATE_TARGET:
                    continue
                argument = argument or None
            directives[directive] = argument
        if set(directives) & _TARGETED_UNDERSTOOD:
            return directives
    return None


def cache_directives(fields: Mapping[str, str]) -> dict[str, str | None]:
    """What governs storing: a targeted field for this cache when present, else Cache-Control."""
    targeted = targeted_directives(fields)
    return targeted if targeted is not None else parse_cache_control(fields.get("cache-control"))


def store_decision(status: int, headers: Iterable[tuple[str, str]], settings: Settings,
                   now: float = 0.0) -> Decision:
    """May this origin response to a GET be stored, and for how many seconds fresh?"""
    pairs = list(headers)
    fields = header_map(pairs)
    directives = cache_directives(fields)
    if "must-understand" in directives and status not in settings.cacheable_statuses:
        return Decision(False, "must-understand")
    if status not in settings.cacheable_statuses:
        return Decision(False, "status")
    if "set-cookie" in fields:
        return Decision(False, "set-cookie")
    for directive in ("no-store", "private", "no-cache"):
        if directive in directives:
            return Decision(False, directive)
    if "cache-control" not in fields and targeted_directives(fields) is None \
            and "no-cache" in parse_cache_control(fields.get("pragma")):
        return Decision(False, "pragma-no-cache")
    vary = _vary_reason(fields)
    if vary:
        return Decision(False, vary)
    age = _age(fields)
    if age is None:
        return Decision(False, "age-invalid")
    lifetime = _explicit_lifetime(directives, fields, now,
                                  targeted=targeted_directives(fields) is not None)
    if lifetime is None:
        heuristic = status in HEURISTIC_STATUSES or "public" in directives
        if settings.default_ttl <= 0 or not heuristic:
            return Decision(False, "no-freshness")
        lifetime = float(settings.default_ttl)
    ttl = math.floor(min(lifetime - age, settings.max_ttl))
    if ttl <= 0:
        return Decision(False, "stale")
    return Decision(True, ttl=ttl)


def stale_allowed(directives: Mapping[str, str | None]) -> bool:
    """May a stale copy be served at all (RFC 9111 5.2.2.2, 5.2.2.8, 5.2.2.10)?"""
    return not any(name in directives
                   for name in ("must-revalidate", "proxy-revalidate", "s-maxage", "no-cache"))


def storage_headers(origin_headers: Iterable[tuple[str, str]], *, ttl: int, stale_if_error: int,
                    now: float) -> HeaderPairs:
    """Headers of the copy handed to the Cache API: lives ttl + window, knows when it goes stale."""
    origin_headers = list(origin_headers)
    fields = header_map(origin_headers)
    kept = [
        (name, value)
        for name, value in forwardable(origin_headers)
        if name.lower() not in ("cache-control", "age", "set-cookie")
        and not name.lower().startswith(_INTERNAL_PREFIX)
    ]
    origin_cc = fields.get("cache-control")
    initial_age = _age(fields) or 0
    stale_ok = stale_allowed(cache_directives(fields))
    stamp = [
        ("cache-control", f"public, max-age={ttl + stale_if_error}"),
        (BORN_AT_HEADER, f"{now - initial_age:.3f}"),
        (FRESH_UNTIL_HEADER, f"{now + ttl:.3f}"),
        (STALE_OK_HEADER, "1" if stale_ok else "0"),
    ]
    if origin_cc is not None:
        stamp.append((ORIGIN_CACHE_CONTROL_HEADER, origin_cc))
    return kept + stamp


def entry_state(headers: Mapping[str, str], now: float, stale_if_error: int) -> str:
    """FRESH, STALE_USABLE, REVALIDATE_ONLY or EXPIRED (``headers`` from header_map)."""
    try:
        fresh_until = float(headers[FRESH_UNTIL_HEADER])
    except (KeyError, ValueError):
        return EXPIRED  # not written by this wrapper: never trust it
    if now < fresh_until:
        return FRESH
    if now >= fresh_until + stale_if_error:
        return EXPIRED
    return STALE_USABLE if headers.get(STALE_OK_HEADER) == "1" else REVALIDATE_ONLY


def origin_headers_of(stored: Iterable[tuple[str, str]]) -> HeaderPairs:
    """A stored copy's headers as the origin sent them: internal ones out, Cache-Control back."""
    stored = list(stored)
    fields = header_map(stored)
    result = [
        (name, value)
        for name, value in stored
        if name.lower() != "cache-control" and not name.lower().startswith(_INTERNAL_PREFIX)
    ]
    if ORIGIN_CACHE_CONTROL_HEADER in fields:
        result.append(("cache-control", fields[ORIGIN_CACHE_CONTROL_HEADER]))
    return result


def served_headers(stored: Iterable[tuple[str, str]], now: float) -> HeaderPairs:
    """Headers for a client served from a stored copy: origin's Cache-Control back, Age set."""
    stored = list(stored)
    try:
        age = max(0, int(now - float(header_map(stored).get(BORN_AT_HEADER, now))))
    except ValueError:
        age = 0
    return [*origin_headers_of(stored), ("age", str(age))]


def freshened_headers(stored: Iterable[tuple[str, str]], not_modified: Iterable[tuple[str, str]]
                      ) -> HeaderPairs:
    """RFC 9111 4.3.4: the stored copy's origin headers, updated from a 304's."""
    update = [(name, value) for name, value in forwardable(not_modified)
              if name.lower() not in _KEPT_ON_304
              and not name.lower().startswith(_INTERNAL_PREFIX)]
    replaced = {name.lower() for name, _ in update}
    kept = [(name, value) for name, value in origin_headers_of(stored)
            if name.lower() not in replaced and name.lower() != "age"]
    return kept + update


def validators(stored: Iterable[tuple[str, str]]) -> HeaderPairs:
    """Conditional request headers that revalidate a stored copy (RFC 9111 4.3.1)."""
    fields = header_map(stored)
    result = []
    if "etag" in fields:
        result.append(("if-none-match", fields["etag"]))
    if "last-modified" in fields:
        result.append(("if-modified-since", fields["last-modified"]))
    return result


def _etags(value: str) -> list[str]:
    """Entity tags of an If-None-Match list, weak prefixes removed (weak comparison)."""
    tags, index = [], 0
    while index < len(value):
        while index < len(value) and value[index] in " \t,":
            index += 1
        start = index
        if value.startswith("W/", index):
            index += 2
            start = index
        if index < len(value) and value[index] == '"':
            end = value.find('"', index + 1)
            end = len(value) - 1 if end < 0 else end
            tags.append(value[start:end + 1])
            index = end + 1
        else:
            end = value.find(",", index)
            end = len(value) if end < 0 else end
            tags.append(value[start:end].strip())
            index = end
    return [tag for tag in tags if tag]


def not_modified(client: Mapping[str, str], status: int, response: Iterable[tuple[str, str]]
                 ) -> bool:
    """RFC 9110 13.1.2-3, 13.2.2: does the client's GET/HEAD conditional match this 200?"""
    if status != 200:
        return False
    fields = header_map(response)
    if "if-none-match" in client:
        wanted = _etags(client["if-none-match"])
        if "*" in wanted:
            return True
        etag = fields.get("etag", "").strip()
        etag = etag[2:] if etag.startswith("W/") else etag
        return bool(etag) and etag in wanted
    since = _http_date(client.get("if-modified-since"))
    modified = _http_date(fields.get("last-modified"))
    return since is not None and modified is not None and modified <= since


def not_modified_headers(pairs: Iterable[tuple[str, str]]) -> HeaderPairs:
    """What a 304 to the client carries of the response it stands for."""
    return [(name, value) for name, value in pairs if name.lower() in _IN_304]


def status_failure(status: int) -> Failure | None:
    """An origin status the wrapper cannot relay or cache as an answer, as a Failure."""
    if 200 <= status <= 599 and status < 500:
        return None
    if 500 <= status <= 599:
        return Failure(502, "bad_gateway", f"origin answered {status}")
    return Failure(502, "bad_gateway",
                   f"origin answered status {status}, which is not a final HTTP status "
                   "(200-599) a Worker can relay")


def is_origin_failure(status: int) -> bool:
    """Origin answers that stale-if-error covers: 5xx, and statuses outside 200-599."""
    return status_failure(status) is not None


def should_invalidate(method: str, status: int) -> bool:
    """RFC 9111 4.4: a successful unsafe request invalidates the stored copy of its URL."""
    return method not in ("GET", "HEAD", "OPTIONS", "TRACE") and 200 <= status < 400


def invalidated_urls(request_url: str, response: Iterable[tuple[str, str]]) -> list[str]:
    """The request URL, and its answer's Location / Content-Location on the same host."""
    fields = header_map(response)
    host = urlsplit(request_url).netloc.lower()
    urls = [request_url]
    for name in ("location", "content-location"):
        target = fields.get(name, "").strip()
        if not target:
            continue
        absolute = urljoin(request_url, target)
        if urlsplit(absolute).scheme in ("http", "https") and \
                urlsplit(absolute).netloc.lower() == host:
            urls.append(absolute)
    return urls


def error_body(status: int, error: str, detail: str) -> str:
    """The short JSON body of a 5xx the wrapper generates itself."""
    return json.dumps({"error": error, "status": status, "detail": detail})


# ---------------------------------------------------------------- the exchange, step by step


@dataclass(frozen=True)
class Plan:
    """What to do with one client request, decided before any I/O."""

    method: str
    url: str
    cacheable: bool
    reason: str
    key: str
    origin_url: str
    origin_method: str
    origin_headers: HeaderPairs
    client: dict[str, str]  # the client's headers, from header_map (conditionals)


@dataclass(frozen=True)
class Entry:
    """A stored copy as the Cache API returned it."""

    status: int
    headers: HeaderPairs


@dataclass(frozen=True)
class AskOrigin:
    """Send this request to the origin, then call after_origin / after_failure."""

    method: str
    url: str
    headers: HeaderPairs


@dataclass(frozen=True)
class Outcome:
    """What the client gets, and what changes in the cache.

    ``body`` names the source (BODY_ORIGIN, BODY_STORED, BODY_NONE, BODY_ERROR: the JSON of
    ``failure``). ``store`` are the headers of a copy to put under the plan's key, with the
    body of ``store_body`` (BODY_ORIGIN or BODY_STORED). ``delete``: keys to delete.
    """

    status: int
    headers: HeaderPairs
    body: str
    cache_status: str
    reason: str = ""
    store: HeaderPairs | None = None
    store_status: int = 0
    store_body: str = BODY_NONE
    delete: tuple[str, ...] = ()
    failure: Failure | None = None
    from_origin: bool = True


def plan_request(method: str, url: str, client_headers: Iterable[tuple[str, str]],
                 settings: Settings, traceparent: str, cache_enabled: bool = True) -> Plan:
    """``cache_enabled`` False (the ``cache_enabled`` feature flag, the kill switch): every
    request bypasses the cache, reason ``cache-disabled``, as an uncacheable one would."""
    client_headers = list(client_headers)
    fields = header_map(client_headers)
    decision = (request_decision(method, fields, settings) if cache_enabled
                else Decision(False, "cache-disabled"))
    origin_headers = origin_request_headers(
        client_headers, cacheable=decision.cache, traceparent=traceparent, request_url=url,
        forward=settings.forward_headers)
    return Plan(
        method=method, url=url, cacheable=decision.cache, reason=decision.reason,
        key=cache_key_url(url, settings.tracking_params),
        origin_url=origin_url_for(url, settings.origin_url),
        # a HEAD miss is fetched as GET, so that the full representation can be stored
        origin_method="GET" if decision.cache else method,
        origin_headers=origin_headers, client=fields,
    )


def lookup(plan: Plan, entry: Entry | None, now: float, settings: Settings
           ) -> Outcome | AskOrigin:
    """A cacheable request: the fresh stored copy answers, or the origin is asked."""
    state = _state(entry, now, settings)
    if entry is not None and state == FRESH:
        return _from_stored(plan, entry.status, served_headers(entry.headers, now), HIT)
    headers = list(plan.origin_headers)
    if entry is not None and state in (STALE_USABLE, REVALIDATE_ONLY):
        headers += validators(entry.headers)
    return AskOrigin(plan.origin_method, plan.origin_url, headers)


def after_origin(plan: Plan, entry: Entry | None, status: int,
                 headers: Iterable[tuple[str, str]], now: float, settings: Settings) -> Outcome:
    """A cacheable request's origin answer: relay, store, refresh or fall back."""
    headers = list(headers)
    state = _state(entry, now, settings)
    if status == 304 and entry is not None and state != EXPIRED and validators(entry.headers):
        return _revalidated(plan, entry, headers, now, settings)
    failure = status_failure(status)
    if failure is None and status == 304:
        failure = Failure(502, "bad_gateway", "origin answered 304 to an unconditional request")
    if failure is not None:
        if 500 <= status <= 599 and state != STALE_USABLE:
            # Nothing stale to serve: the origin's own error (its body, its Retry-After).
            return _relay(plan, status, headers, BYPASS, "origin-error")
        return after_failure(plan, entry, failure, now, settings)
    store = store_decision(status, headers, settings, now)
    if store.cache:
        stored = storage_headers(headers, ttl=store.ttl, stale_if_error=settings.stale_if_error,
                                 now=now)
        outcome = _relay(plan, status, headers, MISS)
        return _replace(outcome, store=stored, store_status=status, store_body=BODY_ORIGIN)
    # A final answer that may not be stored supersedes the stored copy; a 206 does not.
    delete = (plan.key,) if entry is not None and status != 206 else ()
    return _replace(_relay(plan, status, headers, BYPASS, store.reason), delete=delete)


def after_failure(plan: Plan, entry: Entry | None, failure: Failure, now: float,
                  settings: Settings) -> Outcome:
    """No usable origin answer: the stale copy when allowed, else the JSON error."""
    if plan.cacheable and entry is not None and _state(entry, now, settings) == STALE_USABLE:
        return _from_stored(plan, entry.status, served_headers(entry.headers, now), STALE)
    return error_outcome(failure, MISS if plan.cacheable else BYPASS)


def after_bypass(plan: Plan, status: int, headers: Iterable[tuple[str, str]],
                 settings: Settings) -> Outcome:
    """A bypassed request's origin answer: relayed as it is; unsafe successes invalidate."""
    headers = list(headers)
    failure = status_failure(status)
    if failure is not None and not 500 <= status <= 599:
        return error_outcome(failure, BYPASS)  # a status a Worker cannot send on
    delete: tuple[str, ...] = ()
    if should_invalidate(plan.method, status):
        delete = tuple(dict.fromkeys(cache_key_url(url, settings.tracking_params)
                                     for url in invalidated_urls(plan.url, headers)))
    body = BODY_NONE if plan.method == "HEAD" or has_null_body(status) else BODY_ORIGIN
    return Outcome(status, forwardable(headers), body, BYPASS, plan.reason, delete=delete)


def error_outcome(failure: Failure, cache_status: str) -> Outcome:
    headers = [("content-type", "application/json"), ("cache-control", "no-store")]
    return Outcome(failure.status, headers, BODY_ERROR, cache_status, failure=failure,
                   from_origin=False)


def _state(entry: Entry | None, now: float, settings: Settings) -> str:
    if entry is None:
        return EXPIRED
    return entry_state(header_map(entry.headers), now, settings.stale_if_error)


def _replace(outcome: Outcome, **changes: object) -> Outcome:
    return Outcome(**{**outcome.__dict__, **changes})


def _relay(plan: Plan, status: int, headers: HeaderPairs, cache_status: str,
           reason: str = "") -> Outcome:
    """The origin's answer to the client (a 304 when the client's conditional matches)."""
    relayed = forwardable(headers)
    if not_modified(plan.client, status, relayed):
        return Outcome(304, not_modified_headers(relayed), BODY_NONE, cache_status, reason)
    # HEAD too: the runtime sends no body for HEAD, but its length (RFC 9110 9.3.2).
    body = BODY_NONE if has_null_body(status) else BODY_ORIGIN
    return Outcome(status, relayed, body, cache_status, reason)


def _from_stored(plan: Plan, status: int, headers: HeaderPairs, cache_status: str,
                 **changes: object) -> Outcome:
    if not_modified(plan.client, status, headers):
        return Outcome(304, not_modified_headers(headers), BODY_NONE, cache_status,
                       from_origin=False, **changes)
    body = BODY_NONE if has_null_body(status) else BODY_STORED  # HEAD too, as in _relay
    return Outcome(status, headers, body, cache_status, from_origin=False, **changes)


def _revalidated(plan: Plan, entry: Entry, not_modified_pairs: HeaderPairs, now: float,
                 settings: Settings) -> Outcome:
    """RFC 9111 4.3.4: a 304 to the wrapper's conditional request freshens the stored copy."""
    merged = freshened_headers(entry.headers, not_modified_pairs)
    to_client = merged if "age" in header_map(merged) else [*merged, ("age", "0")]
    storable = [(name, value) for name, value in merged if name.lower() != "set-cookie"]
    store = store_decision(entry.status, storable, settings, now)
    if not store.cache:
        return _from_stored(plan, entry.status, to_client, REVALIDATED, delete=(plan.key,))
    stored = storage_headers(storable, ttl=store.ttl, stale_if_error=settings.stale_if_error,
                             now=now)
    return _from_stored(plan, entry.status, to_client, REVALIDATED, store=stored,
                        store_status=entry.status, store_body=BODY_STORED)


# ---------------------------------------------------------------- tracing and timing


def valid_traceparent(value: str | None) -> bool:
    """W3C Trace Context ``traceparent``: known version, non-zero ids, version-00 length."""
    match = _TRACEPARENT.fullmatch(value or "")
    if not match:
        return False
    version, trace_id, parent_id, _flags, rest = match.groups()
    if version == "ff" or trace_id == "0" * 32 or parent_id == "0" * 16:
        return False
    return version != "00" or rest is None


def choose_traceparent(incoming: str | None, random_hex: Callable[[int], str]) -> str:
    """The incoming traceparent when valid, else a new one; random_hex(n) gives 2n hex digits."""
    value = (incoming or "").strip()
    if valid_traceparent(value):
        return value
    trace_id, parent_id = random_hex(16), random_hex(8)
    return f"00-{trace_id}-{parent_id}-00"


def traceparent_was_replaced(pairs: Iterable[tuple[str, str]], traceparent: str) -> bool:
    return header_map(pairs).get("traceparent", "").strip() != traceparent


# The log schema both edges write (functions/image_resizer/edge_trace.py LOG_FIELDS): one
# query on trace_id follows a request through the Worker or CloudFront to the origin.
LOG_FIELDS = ("time", "level", "edge", "function", "trace_id", "span_id", "parent_span_id",
              "traceparent", "method", "path", "status", "cache", "duration_ms", "message")


def log_line(*, now: float, traceparent: str, method: str, url: str, status: int,
             cache_status: str, duration_ms: float) -> str:
    """One JSON log line per answered request. The wrapper adds no span of its own: it
    forwards the traceparent it logs, so the origin's parent span is ``span_id``."""
    _version, trace_id, span_id, _flags = (traceparent.split("-") + ["", "", "", ""])[:4]
    line = {
        "time": round(now, 3), "level": "info", "edge": "worker", "function": "cache_wrapper",
        "trace_id": trace_id, "span_id": span_id, "parent_span_id": None,
        "traceparent": traceparent, "method": method, "path": urlsplit(url).path,
        "status": status, "cache": cache_status, "duration_ms": round(duration_ms, 1),
        "message": "answered",
    }
    return json.dumps({name: line[name] for name in LOG_FIELDS}, separators=(",", ":"))


def server_timing(edge_ms: float, origin_ms: float | None, cache_status: str,
                  origin_value: str | None = None) -> str:
    """``Server-Timing`` with the edge time (and the origin's, when it was asked)."""
    metrics = [f'edge;dur={edge_ms:.1f};desc="{cache_status}"']
    if origin_ms is not None:
        metrics.append(f"origin;dur={origin_ms:.1f}")
    if origin_value:
        metrics.append(origin_value)
    return ", ".join(metrics)

