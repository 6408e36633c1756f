"""Stand-in for ``caches.default`` / ``caches.open(name)``: Cloudflare's Workers Cache API.

Follows Cloudflare's documented semantics (developers.cloudflare.com/workers/runtime-apis/cache):

* keyed by URL (fragment dropped); a key may be a URL string or a Request;
* ``put`` throws ``TypeError`` for a non-GET request, a ``206`` response or ``Vary: *``,
  and consumes the response body;
* ``put`` honours the response's ``Cache-Control``: ``s-maxage`` over ``max-age``
  over ``Expires``; ``no-store``, ``no-cache``, ``private`` or a zero lifetime are
  not stored; without any of them Cloudflare's default edge TTL by status applies
  (200/206/301: 120 min, 302/303: 20 min, 404/410: 3 min, others not stored);
* responses with ``Set-Cookie`` are never stored, unless ``Cache-Control:
  private=Set-Cookie`` says to store them without that header;
* ``match`` returns None unless the request is a GET (or ``ignoreMethod`` is set), and
  None once the stored lifetime has passed on the injected clock; ``delete`` says
  whether an entry was removed.

Not covered: conditional matches (If-None-Match/If-Modified-Since -> 304), Range
requests, Cache-Tag purges, size limits, and the per-data-centre scope (one store here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from edgekit_iac.twin.cloudflare.workers_runtime.sdk import NULL_BODY_STATUSES, Request, Response

Clock = Callable[[], float]

# Cloudflare's default Edge TTL when neither Cache-Control nor Expires is present.
DEFAULT_EDGE_TTL = {200: 7200, 206: 7200, 301: 7200, 302: 1200, 303: 1200, 404: 180, 410: 180}


@dataclass(frozen=True)
class _Entry:
    status: int
    status_text: str
    headers: list[tuple[str, str]]
    body: bytes
    expires_at: float


class Cache:
    """One cache namespace; entries expire on the injected clock (epoch seconds)."""

    def __init__(self, clock: Clock):
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    async def match(self, request: str | Request, options: Mapping[str, Any] | None = None
                    ) -> Response | None:
        method, url = _key(request)
        if method != "GET" and not (options or {}).get("ignoreMethod"):
            return None
        entry = self._live_entry(url)
        if entry is None:
            return None
        body = None if entry.status in NULL_BODY_STATUSES else entry.body
        return Response(body, status=entry.status, status_text=entry.status_text,
                        headers=list(entry.headers))

    async def put(self, request: str | Request, response: Response) -> None:
        method, url = _key(request)
        if method != "GET":
            raise TypeError("Cannot cache response to non-GET request.")
        if response.status == 206:
            raise TypeError("Cannot cache response to a range request (206 Partial Content).")
        headers = list(response._pairs)
        vary = {v.strip() for n, v in headers if n == "vary" for v in v.split(",")}
        if "*" in vary:
            raise TypeError("Cannot cache response with 'Vary: *' header.")
        body = response._consume()  # put reads the body, as the real one does
        now = self._clock()
        stored_headers = _storable_headers(headers)
        lifetime = None if stored_headers is None else edge_ttl(response.status, headers, now)
        if lifetime is None or lifetime <= 0:
            return  # documented as "not cached", silently
        self._entries[url] = _Entry(response.status, response.status_text, stored_headers, body,
                                    now + lifetime)

    async def delete(self, request: str | Request, options: Mapping[str, Any] | None = None
                     ) -> bool:
        method, url = _key(request)
        if method != "GET" and not (options or {}).get("ignoreMethod"):
            return False
        return self._live_entry(url) is not None and self._entries.pop(url, None) is not None

    def _live_entry(self, url: str) -> _Entry | None:
        entry = self._entries.get(url)
        if entry is not None and entry.expires_at <= self._clock():
            del self._entries[url]
            return None
        return entry

    def __len__(self) -> int:
        """Live entries (for tests and the twin's status page)."""
        return sum(1 for url in list(self._entries) if self._live_entry(url) is not None)


class CacheStorage:
    """``js.caches``: ``caches.default`` plus named caches from ``await caches.open(name)``."""

    def __init__(self, clock: Clock):
        self._clock = clock
        self.default = Cache(clock)
        self._named: dict[str, Cache] = {}

    async def open(self, name: str) -> Cache:
        return self._named.setdefault(str(name), Cache(self._clock))


def _key(request: str | Request) -> tuple[str, str]:
    if isinstance(request, Request):
        method, url = request._method, request.url
    elif isinstance(request, str):
        method, url = "GET", Request(request).url  # validates: absolute http(s) URL
    else:
        kind = type(request).__name__
        raise TypeError(f"Cache key must be a URL string or a Request, got {kind}")
    return method, url.partition("#")[0]


def _directives(value: str | None) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for part in (value or "").split(","):
        name, _, argument = part.strip().partition("=")
        if name:
            result[name.strip().lower()] = argument.strip().strip('"') or None
    return result


def _storable_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """Headers to keep, or None when a Set-Cookie forbids storing the response."""
    if not any(name == "set-cookie" for name, _ in headers):
        return headers
    private_fields = (_directives(dict(headers).get("cache-control")).get("private") or "")
    if "set-cookie" in {f.strip().lower() for f in private_fields.split(",")}:
        return [(name, value) for name, value in headers if name != "set-cookie"]
    return None


def edge_ttl(status: int, headers: list[tuple[str, str]], now: float) -> float | None:
    """Seconds Cloudflare keeps this response, or None when it does not store it."""
    fields = dict(headers)
    directives = _directives(", ".join(v for n, v in headers if n == "cache-control"))
    if "no-store" in directives or "no-cache" in directives:
        return None
    if "private" in directives and directives["private"] is None:
        return None
    for name in ("s-maxage", "max-age"):
        value = (directives.get(name) or "").strip()
        if value.isdigit():
            return float(value)
    if "expires" in fields:
        try:
            return parsedate_to_datetime(fields["expires"]).timestamp() - now
        except (TypeError, ValueError):
            return None  # an invalid Expires means "already expired"
    ttl = DEFAULT_EDGE_TTL.get(status)
    return float(ttl) if ttl is not None else None
