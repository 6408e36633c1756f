"""The cache wrapper's decisions, as pure functions (stdlib only: CPython 3.11+ and Pyodide).

Nothing here does I/O; ``cache_worker.py`` translates the Worker's request, the
origin's response and the Cache API entry into the plain values these functions take.

Settings (plain-text Worker bindings, all strings; a missing or empty number means
"use the default", an empty list means "none"):

==================== =============================== ==========================================
binding              default                         meaning
==================== =============================== ==========================================
ORIGIN_URL           (required)                      http(s) URL of the origin; a path prefix
                                                     is kept (``https://api.example/v1``)
DEFAULT_TTL          ``30``                          seconds fresh when the origin sends no
                                                     ``s-maxage``/``max-age``
MAX_TTL              ``86400``                       upper bound on any TTL, seconds
STALE_IF_ERROR       ``300``                         seconds past freshness a copy may still be
                                                     served when the origin fails
ORIGIN_TIMEOUT_MS    ``5000``                        origin answer deadline, milliseconds
CACHEABLE_STATUSES   ``200,203,204,300,301,404,410`` statuses that may be stored
SESSION_COOKIES      ``session,sessionid,session_id, cookie names that make a request bypass
                     sid,connect.sid,PHPSESSID,      the cache (``name*`` = prefix)
                     JSESSIONID``
TRACKING_PARAMS      ``utm_*,gclid,fbclid``          query parameters left out of the cache
                                                     key (``name*`` = prefix)
==================== =============================== ==========================================

Decisions worth knowing:

* **Key.** Method + lower-cased scheme and host (default port dropped) + path + query
  pairs sorted, tracking parameters removed, re-encoded one canonical way. The method is
  always GET, so the key is just that URL: the Cache API only stores GET requests (``put``
  throws for others), and HEAD shares the GET key: like Cloudflare's CDN, a HEAD miss is
  fetched from the origin as GET so the full representation is stored and later HEADs
  and GETs both hit it. Cookies other than session cookies never enter the key, and are
  not sent to the origin on cacheable requests, so the origin cannot vary on what the key
  ignores. The origin itself gets the path and query as the client sent them.
* **Vary: Accept-Encoding** neither splits the key nor prevents caching. In Workers the
  runtime negotiates compression on each hop (a subrequest's body arrives decoded and a
  response is encoded for each client), so the stored representation does not depend on
  the client's encoding; the client's ``Accept-Encoding`` is therefore not forwarded.
  Any other ``Vary`` field (or ``*``) prevents storing, because the key does not vary on it.
* **Stale copies outlive freshness.** The Cache API's ``put`` honours ``Cache-Control``
  and drops an entry when it expires, which would make stale-if-error impossible. So the
  stored copy gets ``Cache-Control: public, max-age=<ttl + stale window>`` and carries its
  own clock in headers: ``X-Edgekit-Stored-At`` (epoch seconds) and
  ``X-Edgekit-Fresh-Until`` (epoch seconds), plus the origin's own ``Cache-Control`` in
  ``X-Edgekit-Origin-Cache-Control``. On a lookup the entry is *fresh* before
  Fresh-Until (served as HIT), *stale* within the window after it (served only when the
  origin fails, as STALE), and gone after that (the Cache API has evicted it). Before
  serving, the internal headers are removed, the origin's Cache-Control is restored and
  ``Age`` is set, so clients see what the origin said.
* **TTL** is ``s-maxage``, else ``max-age``, else DEFAULT_TTL, minus the origin's ``Age``,
  capped by MAX_TTL; a TTL of 0 means "do not store".
* **X-Edge-Cache.** HIT: fresh stored copy. MISS: fetched from the origin and stored
  (or the origin failed with nothing stale to serve). STALE: origin failed (5xx, timeout,
  connection error), stale copy served. BYPASS: the request may not use the cache
  (method, Authorization, session cookie) or the origin's answer may not be stored
  (status, Set-Cookie, private/no-store/no-cache, Vary, TTL 0); ``X-Edge-Cache-Reason``
  says which. With nothing stale, a cacheable request whose origin fails gets a short
  JSON 504 (timeout) or 502 (connection error, origin 5xx); bypassed requests get the
  origin's own answer, or the same JSON 502/504 when there was none. A successful unsafe
  request (POST, PUT, ...) deletes the stored copy of its URL (RFC 9111 4.4).
* **traceparent** (W3C Trace Context, version 00): a valid incoming value is forwarded
  unchanged (the edge records no span of its own); a missing or malformed one is replaced
  by a fresh one (random trace-id and parent-id, flags ``00``: not sampled) so that the
  origin's logs and the client's response can still be matched. Either way the value sent
  to the origin is returned to the client.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus, urlsplit

HeaderPairs = list[tuple[str, str]]

BINDING_NAMES = (
    "ORIGIN_URL",
    "DEFAULT_TTL",
    "MAX_TTL",
    "STALE_IF_ERROR",
    "ORIGIN_TIMEOUT_MS",
    "CACHEABLE_STATUSES",
    "SESSION_COOKIES",
    "TRACKING_PARAMS",
)
DEFAULT_TTL = 30
DEFAULT_MAX_TTL = 86_400
DEFAULT_STALE_IF_ERROR = 300
DEFAULT_ORIGIN_TIMEOUT_MS = 5_000
DEFAULT_CACHEABLE_STATUSES = frozenset({200, 203, 204, 300, 301, 404, 410})
DEFAULT_SESSION_COOKIES = (
    "session", "sessionid", "session_id", "sid", "connect.sid", "PHPSESSID", "JSESSIONID",
)
DEFAULT_TRACKING_PARAMS = ("utm_*", "gclid", "fbclid")

# X-Edge-Cache values.
HIT, MISS, STALE, BYPASS = "HIT", "MISS", "STALE", "BYPASS"
# Cache entry states.
FRESH, STALE_USABLE, EXPIRED = "fresh", "stale", "expired"

STORED_AT_HEADER = "x-edgekit-stored-at"
FRESH_UNTIL_HEADER = "x-edgekit-fresh-until"
ORIGIN_CACHE_CONTROL_HEADER = "x-edgekit-origin-cache-control"
_INTERNAL_PREFIX = "x-edgekit-"

# RFC 9110 7.6.1 plus the de-facto Proxy-Connection; those named in Connection join them.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
})
# Set by the runtime for each hop, never copied from one hop to the next.
_RUNTIME_MANAGED = frozenset({"host", "content-length", "accept-encoding"})

_NULL_BODY_STATUSES = frozenset({101, 204, 205, 304})
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Unreserved characters (what quote(safe="") leaves alone) plus the pair separators.
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9_.~=&-]*").fullmatch
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


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
    tracking_params: tuple[str, ...] = DEFAULT_TRACKING_PARAMS


@dataclass(frozen=True)
class Decision:
    """Whether to use the cache (request side) or store (response side), and why not."""

    cache: bool
    reason: str = ""
    ttl: int = 0


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
    """``max-age=60, private="Set-Cookie"`` -> ``{"max-age": "60", "private": "Set-Cookie"}``."""
    directives: dict[str, str | None] = {}
    for part in (value or "").split(","):
        name, _, argument = part.strip().partition("=")
        if name:
            directives.setdefault(name.strip().lower(), argument.strip().strip('"') or None)
    return directives


def has_null_body(status: int) -> bool:
    """Statuses whose responses must have no body (the Response constructor rejects one)."""
    return status in _NULL_BODY_STATUSES


# ---------------------------------------------------------------- request side


def request_decision(method: str, headers: Mapping[str, str], settings: Settings) -> Decision:
    """May this request be answered from (and fill) the shared cache? headers: from header_map."""
    if method not in ("GET", "HEAD"):
        return Decision(False, "method")
    if headers.get("authorization"):
        return Decision(False, "authorization")
    cookie = headers.get("cookie")
    if cookie and settings.session_cookies:
        is_session = _name_matcher(settings.session_cookies)
        for crumb in re.split(r"[;,]", cookie):
            if is_session(crumb.partition("=")[0].strip()):
                return Decision(False, "session-cookie")
    return Decision(True)


@functools.lru_cache(maxsize=2048)  # hot URLs repeat: that is why they are worth caching
def cache_key_url(url: str, tracking_params: tuple[str, ...] = DEFAULT_TRACKING_PARAMS) -> str:
    """The normalized URL the Cache API stores a GET/HEAD under (idempotent, query-order free)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.netloc.lower()
    if ":" in host or "@" in host:  # port, userinfo or IPv6: let urlsplit take it apart
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
        if parts.port is not None and str(parts.port) != _DEFAULT_PORTS.get(scheme):
            host = f"{host}:{parts.port}"
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
    pairs.sort()
    query = "&".join([f"{name}={value}" for name, value in pairs])
    return f"{scheme}://{host}{parts.path or '/'}" + (f"?{query}" if query else "")


def origin_url_for(request_url: str, origin_url: str) -> str:
    """The origin URL for a request: origin base + the request's path and query, as sent."""
    parts = urlsplit(request_url)
    return origin_url.rstrip("/") + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def origin_request_headers(pairs: Iterable[tuple[str, str]], *, cacheable: bool, traceparent: str,
                           request_url: str) -> HeaderPairs:
    """Headers for the origin hop. Cacheable requests lose cookies (they are not in the key)."""
    pairs = list(pairs)
    drop = {"traceparent", "x-forwarded-host"}
    if cacheable:
        drop.add("cookie")
    if traceparent_was_replaced(pairs, traceparent):
        drop.add("tracestate")  # W3C: vendor state belongs to the trace that was dropped
    added = [("traceparent", traceparent), ("x-forwarded-host", urlsplit(request_url).netloc)]
    return forwardable(pairs, drop=drop) + added


# ---------------------------------------------------------------- response side


def store_decision(status: int, headers: Iterable[tuple[str, str]], settings: Settings
                   ) -> Decision:
    """May this origin response be stored, and for how many seconds fresh?"""
    pairs = list(headers)
    if status not in settings.cacheable_statuses:
        return Decision(False, "status")
    if any(name.lower() == "set-cookie" for name, _ in pairs):
        return Decision(False, "set-cookie")
    fields = header_map(pairs)
    directives = parse_cache_control(fields.get("cache-control"))
    for directive in ("no-store", "private", "no-cache"):
        if directive in directives:
            return Decision(False, directive)
    for field in (f.strip().lower() for f in fields.get("vary", "").split(",")):
        if field == "*":
            return Decision(False, "vary-star")
        if field and field != "accept-encoding":
            return Decision(False, f"vary-{field}")
    ttl = min(_freshness_lifetime(directives, fields, settings.default_ttl), settings.max_ttl)
    if ttl <= 0:
        return Decision(False, "max-age-0")
    return Decision(True, ttl=ttl)


def _freshness_lifetime(directives: Mapping[str, str | None], fields: Mapping[str, str],
                        default_ttl: int) -> int:
    for directive in ("s-maxage", "max-age"):
        value = (directives.get(directive) or "").strip()
        if value.isdigit():
            age = fields.get("age", "").strip()
            return int(value) - (int(age) if age.isdigit() else 0)
    return default_ttl


def storage_headers(origin_headers: Iterable[tuple[str, str]], *, ttl: int, stale_if_error: int,
                    now: float) -> HeaderPairs:
    """Headers of the copy handed to the Cache API: lives ttl + window, knows when it goes stale."""
    origin_headers = list(origin_headers)
    kept = [
        (name, value)
        for name, value in forwardable(origin_headers)
        if name.lower() not in ("cache-control", "age")
        and not name.lower().startswith(_INTERNAL_PREFIX)
    ]
    origin_cc = header_map(origin_headers).get("cache-control")
    stamp = [
        ("cache-control", f"public, max-age={ttl + stale_if_error}"),
        (STORED_AT_HEADER, f"{now:.3f}"),
        (FRESH_UNTIL_HEADER, f"{now + ttl:.3f}"),
    ]
    if origin_cc is not None:
        stamp.append((ORIGIN_CACHE_CONTROL_HEADER, origin_cc))
    return kept + stamp


def entry_state(headers: Mapping[str, str], now: float, stale_if_error: int) -> str:
    """FRESH, STALE_USABLE or EXPIRED for a stored copy (``headers`` from header_map)."""
    try:
        fresh_until = float(headers[FRESH_UNTIL_HEADER])
    except (KeyError, ValueError):
        return EXPIRED  # not written by this wrapper: never trust it
    if now < fresh_until:
        return FRESH
    return STALE_USABLE if now < fresh_until + stale_if_error else EXPIRED


def served_headers(stored: Iterable[tuple[str, str]], now: float) -> HeaderPairs:
    """Headers for a client served from a stored copy: origin's Cache-Control back, Age set."""
    fields = header_map(stored)
    try:
        age = max(0, int(now - float(fields.get(STORED_AT_HEADER, now))))
    except ValueError:
        age = 0
    result = [
        (name, value)
        for name, value in stored
        if name.lower() != "cache-control" and not name.lower().startswith(_INTERNAL_PREFIX)
    ]
    if ORIGIN_CACHE_CONTROL_HEADER in fields:
        result.append(("cache-control", fields[ORIGIN_CACHE_CONTROL_HEADER]))
    result.append(("age", str(age)))
    return result


def is_origin_failure(status: int) -> bool:
    """Origin answers that stale-if-error covers (RFC 5861: 500, 502, 503, 504, and other 5xx)."""
    return 500 <= status <= 599


def should_invalidate(method: str, status: int) -> bool:
    """RFC 9111 4.4: a successful unsafe request invalidates the stored copy of its URL."""
    return method not in ("GET", "HEAD", "OPTIONS", "TRACE") and 200 <= status < 400


def error_body(status: int, error: str, detail: str) -> str:
    """The short JSON body of a 5xx the wrapper generates itself."""
    return json.dumps({"error": error, "status": status, "detail": detail})


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


def server_timing(edge_ms: float, origin_ms: float | None, cache_status: str,
                  origin_value: str | None = None) -> str:
    """``Server-Timing`` with the edge time (and the origin's, when it was asked)."""
    metrics = [f'edge;dur={edge_ms:.1f};desc="{cache_status}"']
    if origin_ms is not None:
        metrics.append(f"origin;dur={origin_ms:.1f}")
    if origin_value:
        metrics.append(origin_value)
    return ", ".join(metrics)
