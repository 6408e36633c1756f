"""CPython stand-in for the ``workers`` module of Cloudflare's Python Workers SDK.

Mirrors the shapes of the real SDK (cloudflare/workers-py ``workers``): ``Response``
(``body`` str/bytes/None, ``status``, ``status_text``, ``headers`` as a dict or a list of
pairs; ``Response.json(data, ...)`` / ``from_json``; reading ``text()``/``bytes()``/
``json()`` once), ``Request`` (``method`` as ``http.HTTPMethod``, ``url``, ``headers`` as
``http.client.HTTPMessage``, ``cf``, ``text()``/``bytes()``/``json()``), ``fetch`` and
``WorkerEntrypoint`` (``self.ctx``, ``self.env``). Header semantics follow the JS
``Headers`` object underneath: names lower-cased, iteration sorted by name, repeated
fields combined with ``", "`` except ``Set-Cookie``, a new copy on every ``.headers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import re
import socket
from collections.abc import Awaitable, Iterable, Mapping
from http import HTTPMethod
from typing import Any
from urllib.parse import urljoin, urlsplit

log = logging.getLogger("edgekit.workers_runtime")

NULL_BODY_STATUSES = frozenset({101, 204, 205, 304})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MAX_REDIRECTS = 20
# The real runtime has no per-fetch socket deadline; this only stops a dead peer from
# pinning a thread forever. Workers set their own, shorter deadlines (asyncio.wait_for).
_SOCKET_TIMEOUT_S = 120.0

HeaderPairs = list[tuple[str, str]]


def _header_pairs(headers: object) -> HeaderPairs:
    """Accept what the SDK accepts (None, dict, list of pairs); validate like JS Headers."""
    if headers is None:
        return []
    if isinstance(headers, dict):
        items = list(headers.items())
    elif isinstance(headers, list):
        items = [tuple(item) for item in headers]
    else:  # the SDK's _to_js_headers refuses anything else, HTTPMessage included
        raise TypeError("Received unexpected type for headers argument")
    pairs = []
    for item in items:
        if len(item) != 2:
            raise TypeError(f"headers must be (name, value) pairs, got {item!r}")
        name, value = str(item[0]), str(item[1]).strip()
        if not _TOKEN.fullmatch(name) or any(c in value for c in "\r\n\0"):
            raise TypeError(f"Invalid header: {name!r}: {value!r}")
        pairs.append((name.lower(), value))
    return pairs


def _as_message(pairs: HeaderPairs) -> http.client.HTTPMessage:
    """The HTTPMessage the SDK builds from a JS Headers object (sorted, combined)."""
    combined: dict[str, list[str]] = {}
    for name, value in pairs:
        combined.setdefault(name, []).append(value)
    message = http.client.HTTPMessage()
    for name in sorted(combined):
        values = combined[name]
        for value in values if name == "set-cookie" else [", ".join(values)]:
            message[name] = value
    return message


def _encode_body(body: object) -> tuple[bytes | None, str | None]:
    """(bytes, implied content-type) for a body the SDK accepts."""
    if body is None:
        return None, None
    if isinstance(body, str):
        return body.encode(), "text/plain;charset=UTF-8"
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body), None
    raise TypeError(f"Unsupported type in Response: {type(body).__name__}")


class _Body:
    """A body that can be read once, as the Fetch API's Body mixin."""

    _body: bytes | None
    _used: bool = False

    @property
    def body_used(self) -> bool:
        return self._used

    def _consume(self) -> bytes:
        if self._used:
            raise OSError("Body already used")
        self._used = True
        return self._body or b""

    async def bytes(self) -> bytes:
        return self._consume()

    async def text(self) -> str:
        return self._consume().decode("utf-8", errors="replace")

    async def _read_json(self) -> Any:
        return json.loads(await self.text())


class Response(_Body):
    """``workers.Response``: a body (str, bytes or None), a status and headers."""

    def __init__(self, body: object = None, status: int | None = None, status_text: str = "",
                 headers: object = None, web_socket: object = None):
        if isinstance(body, Response):  # wrapping a "JS" Response, e.g. from cache.match
            if status is not None or status_text or headers is not None:
                raise ValueError(
                    "Expected no options when constructing Response from a js.Response"
                )
            self._copy_from(body)
            return
        if web_socket is not None:
            raise NotImplementedError("WebSocket responses are not part of the stand-in")
        status = 200 if status is None else int(status)
        if not 200 <= status <= 599:  # JS throws RangeError, the SDK turns it into ValueError
            raise ValueError(f"Response status must be in the range 200 to 599, got {status}")
        payload, implied_type = _encode_body(body)
        if payload is not None and status in NULL_BODY_STATUSES:
            raise TypeError(f"Response with null body status {status} cannot have body")
        self._status = status
        self._status_text = status_text
        self._pairs = _header_pairs(headers)
        if implied_type and not any(name == "content-type" for name, _ in self._pairs):
            self._pairs.append(("content-type", implied_type))
        self._body = payload
        self._used = False
        self._url = ""
        self._redirected = False

    def _copy_from(self, other: Response) -> None:
        if other.body_used:
            raise TypeError("Cannot construct a Response from one whose body was already used")
        self.__dict__.update(other.__dict__)
        self._pairs = list(other._pairs)
        other._used = True  # the body stream moves to the new Response

    @staticmethod
    def from_json(data: Any, status: int = 200, status_text: str = "",
                  headers: object = None) -> Response:
        pairs = _header_pairs(headers)
        if not any(name == "content-type" for name, _ in pairs):
            pairs.append(("content-type", "application/json"))
        return Response(json.dumps(data), status=status, status_text=status_text, headers=pairs)

    def json(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        """``await response.json()`` on an instance; ``Response.json(data, ...)`` builds one."""
        if isinstance(self, Response):
            return self._read_json()
        return Response.from_json(self, *args, **kwargs)

    def clone(self) -> Response:
        if self._used:
            raise OSError("Body already used")
        twin = Response.__new__(Response)
        twin.__dict__.update(self.__dict__)
        twin._pairs = list(self._pairs)
        return twin

    @property
    def js_object(self) -> Response:
        """The object to hand to JS APIs (the Cache API); the stand-in has no separate JS layer."""
        return self

    @property
    def status(self) -> int:
        return self._status

    @property
    def status_text(self) -> str:
        return self._status_text

    @property
    def ok(self) -> bool:
        return 200 <= self._status <= 299

    @property
    def url(self) -> str:
        return self._url

    @property
    def redirected(self) -> bool:
        return self._redirected

    @property
    def headers(self) -> http.client.HTTPMessage:
        return _as_message(self._pairs)

    def __repr__(self) -> str:
        return f"Response(status={self._status})"


class CfProperties:
    """``request.cf`` as Pyodide shows a JS object: fields as attributes, absent ones raise."""

    def __init__(self, fields: Mapping[str, Any]):
        self._fields = dict(fields)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    def to_py(self) -> dict[str, Any]:
        return dict(self._fields)


class Request(_Body):
    """``workers.Request``: method, absolute http(s) URL, headers, optional body and ``cf``."""

    def __init__(self, input: str | Request, *, method: str | None = None, headers: object = None,
                 body: object = None, redirect: str | None = None,
                 cf: Mapping[str, Any] | CfProperties | None = None):
        if isinstance(input, Request):
            base_method, url, pairs = input._method, input._url, list(input._pairs)
            payload, base_redirect, base_cf = input._body, input._redirect, input._cf
        else:
            base_method, url, pairs = "GET", str(input), []
            payload, base_redirect, base_cf = None, "follow", None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TypeError(f"Invalid URL: {url!r} (absolute http or https URL expected)")
        self._method = str(method or base_method).upper()
        self._url = url
        self._pairs = pairs if headers is None else _header_pairs(headers)
        if body is not None:
            payload, _ = _encode_body(body)
        if payload is not None and self._method in ("GET", "HEAD"):
            raise TypeError("Request with a GET or HEAD method cannot have a body")
        self._body = payload
        self._used = False
        self._redirect = redirect or base_redirect
        if self._redirect not in ("follow", "manual", "error"):
            raise TypeError(f"redirect must be 'follow', 'manual' or 'error', got {redirect!r}")
        self._cf = base_cf if cf is None else (cf if isinstance(cf, CfProperties)
                                               else CfProperties(cf))

    @property
    def method(self) -> HTTPMethod | str:
        """An ``http.HTTPMethod`` (a str enum) as in the SDK; a plain str for unknown methods."""
        try:
            return HTTPMethod[self._method]
        except KeyError:
            return self._method

    @property
    def url(self) -> str:
        return self._url

    @property
    def headers(self) -> http.client.HTTPMessage:
        return _as_message(self._pairs)

    @property
    def cf(self) -> CfProperties | None:
        return self._cf

    @property
    def redirect(self) -> str:
        return self._redirect

    @property
    def js_object(self) -> Request:
        return self

    def json(self):
        return self._read_json()

    def clone(self) -> Request:
        if self._used:
            raise OSError("Body already used")
        return Request(self)

    def __repr__(self) -> str:
        return f"Request(method={self._method!r}, url={self._url!r})"


class Context:
    """``self.ctx``: ``waitUntil`` schedules work that the request's end awaits."""

    def __init__(self) -> None:
        self._pending: list[asyncio.Future[Any]] = []

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:  # noqa: N802 - the JS name
        self._pending.append(asyncio.ensure_future(awaitable))

    def passThroughOnException(self) -> None:  # noqa: N802 - the JS name
        """Accepted and ignored: the stand-in has no origin to fall back to on exceptions."""

    async def settle(self) -> list[BaseException]:
        """Await everything passed to waitUntil (including what those schedule); their errors."""
        errors: list[BaseException] = []
        while self._pending:
            batch, self._pending = self._pending, []
            results = await asyncio.gather(*batch, return_exceptions=True)
            errors.extend(r for r in results if isinstance(r, BaseException))
        return errors


class WorkerEntrypoint:
    """Base class of a Worker's ``Default`` entrypoint: ``self.ctx`` and ``self.env``."""

    def __init__(self, ctx: Context, env: Any):
        self.ctx = ctx
        self.env = env


# ---------------------------------------------------------------- fetch


async def fetch(resource: str | Request, **options: Any) -> Response:
    """``workers.fetch``: real HTTP/1.1 to the URL (stdlib http.client in a worker thread).

    Options as the SDK's: ``method``, ``headers``, ``body``, ``redirect`` (follow, manual,
    error); ``cf`` is accepted and ignored. Network failures raise ``OSError`` like
    Pyodide's ``pyfetch``. Cancelling the awaiting task (``asyncio.wait_for``) aborts the
    connection. Origins are asked for identity encoding: the real runtime negotiates
    compression itself and hands the Worker a decoded body either way.
    """
    options.pop("cf", None)
    request = Request(resource, **options)
    method, url, body = request._method, request.url, request._body
    for _ in range(_MAX_REDIRECTS + 1):
        status, reason, pairs, payload = await _exchange(method, url, request._pairs, body)
        location = dict(pairs).get("location")
        if status not in REDIRECT_STATUSES or not location or request.redirect == "manual":
            break
        if request.redirect == "error":
            raise OSError(f"fetch to {url} was redirected and redirect is 'error'")
        url = urljoin(url, location)
        if status == 303 or (status in (301, 302) and method == "POST"):
            method, body = "GET", None
    else:
        raise OSError(f"fetch to {request.url} exceeded {_MAX_REDIRECTS} redirects")
    no_body = method == "HEAD" or status in NULL_BODY_STATUSES
    response = Response(None if no_body else payload, status=status, status_text=reason,
                        headers=pairs)
    response._url, response._redirected = url, url != request.url
    return response


async def _exchange(method: str, url: str, pairs: Iterable[tuple[str, str]], body: bytes | None
                    ) -> tuple[int, str, HeaderPairs, bytes]:
    parts = urlsplit(url)
    connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                        else http.client.HTTPConnection)
    connection = connection_class(parts.hostname or "", parts.port, timeout=_SOCKET_TIMEOUT_S)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {name: value for name, value in pairs
               if name not in ("host", "content-length", "transfer-encoding", "connection")}
    headers["accept-encoding"] = "identity"
    try:
        return await asyncio.to_thread(
            _blocking_exchange, connection, method, target, headers, body
        )
    except asyncio.CancelledError:
        _abort(connection)
        raise
    except OSError as exc:
        raise OSError(f"fetch to {url} failed: {exc}") from exc


def _blocking_exchange(connection: http.client.HTTPConnection, method: str, target: str,
                       headers: dict[str, str], body: bytes | None
                       ) -> tuple[int, str, HeaderPairs, bytes]:
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        pairs = [(name.lower(), value) for name, value in response.getheaders()]
        return response.status, response.reason, pairs, payload
    except http.client.HTTPException as exc:  # malformed answers count as network errors
        raise OSError(str(exc) or type(exc).__name__) from exc
    finally:
        connection.close()


def _abort(connection: http.client.HTTPConnection) -> None:
    """Unblock the thread reading from this connection (its result is no longer wanted)."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
