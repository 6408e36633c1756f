"""The twin's one HTTP server adapter: bytes on a loopback socket <-> `EdgeRequest`/`EdgeResponse`.

Every listener (distributions, Workers, the demo origin, the status page, S3) is an app,
`app(EdgeRequest) -> EdgeResponse`, served by `Listener` on 127.0.0.1 only. The apps never
see sockets, so their decisions are testable without a network.

HTTP/1.1 itself (parsing, framing, keep-alive, pipelining, chunked request bodies,
`Expect: 100-continue`) is aiohttp's server on its strict llhttp request parser, which
answers 400 and closes the connection for what RFC 9112 says a server must refuse:
conflicting or malformed Content-Length, Content-Length together with Transfer-Encoding,
a Transfer-Encoding whose last coding is not chunked, whitespace between a field name
and its colon, obs-fold, control characters. What this module adds around it:

* the socket is bound (and listening, with a real backlog) when `Listener` is built, so a
  busy port is a `PortBusyError` before anything starts;
* timeouts (`Limits`): a request's head must arrive within `header_timeout` after the
  connection opens or the previous answer went out (an idle keep-alive connection is
  closed then too), its body within `body_timeout`. A slow or silent client holds a
  socket, never a thread;
* a request target that is not printable ASCII is a 400 (percent-encode, RFC 3986), a
  transfer coding other than chunked a 501 (RFC 9112 section 6.1), a body over
  `MAX_REQUEST_BODY` a 413; each says what was wrong and closes the connection;
* a listener runs `Limits.loops` event loops (threads) on its one socket; each accepts
  connections and serves them, a synchronous app right on that thread (no hand-off to a
  pool and back: on a machine where system calls are dear that doubled the cost of a
  request). An app that blocks (a Lambda call, a Worker dispatch) holds its loop, and
  the others go on accepting and serving; an app whose `__call__` is a coroutine function
  is awaited instead;
* Content-Length is the body's length. A HEAD answer never carries its body: its
  Content-Length is the body's length when the app gave one, else the Content-Length the
  app set, the length GET would send (RFC 9110 section 9.3.2), else none.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import inspect
import logging
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from edgekit_iac.errors import UserError

LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# Bodies the twin accepts from a client; edge requests here are small API calls.
MAX_REQUEST_BODY = 8 * 1024 * 1024
# Hop-by-hop headers are the HTTP layer's business, never an app's.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
SERVER_NAME = "edgekit-twin"
# After refusing a request whose body is unread, read (and drop) it this long before
# closing, so the client gets the answer rather than a reset; then close regardless.
LINGER_SECONDS = 1.0
# RFC 9112 request-target: visible ASCII only; anything else must be percent-encoded.
_TARGET = re.compile(r"[!-~]+")
# A Host field: a name or a bracketed IPv6 address, then an optional port.
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[^:\[\]]+)(?::[0-9]*)?")

log = logging.getLogger("edgekit.twin.http")


class _ClientFaultFilter(logging.Filter):
    """aiohttp logs every malformed request with a traceback; a client's bad bytes are a
    400 it has already been told about, not a server error. Other records pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HttpProcessingError | ConnectionError)


_protocol_log = logging.getLogger("edgekit.twin.http.protocol")
_protocol_log.addFilter(_ClientFaultFilter())


class PortBusyError(UserError):
    """A listener could not bind its port."""


@dataclass(frozen=True)
class Limits:
    """How long and how much a listener waits for a client."""

    header_timeout: float = 10.0  # seconds for a request's head; also the keep-alive idle time
    body_timeout: float = 30.0  # seconds for a request's body once its head is in
    backlog: int = 1024  # connections the kernel queues before the loop accepts them
    loops: int = 8  # event loops (threads) per listener, each serving its share of connections


@dataclass
class EdgeRequest:
    """One HTTP request as a listener received it."""

    method: str
    target: str  # path and query exactly as sent, e.g. "/images/400x300/a.jpg?format=webp"
    headers: list[tuple[str, str]]  # in order, names as sent
    body: bytes = b""
    peer_ip: str = LOOPBACK
    peer_port: int = 0

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.target).query

    def header(self, name: str) -> str | None:
        """The first value of a header, case-insensitively."""
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


@dataclass
class EdgeResponse:
    """What a listener answers. Content-Length is set by the HTTP layer (see the module doc
    for HEAD)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


App = Callable[[EdgeRequest], EdgeResponse | Awaitable[EdgeResponse]]


def text_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8",
                  headers: Iterable[tuple[str, str]] = ()) -> EdgeResponse:
    return EdgeResponse(status, [("Content-Type", content_type), *headers], text.encode())


def cross_site_refusal(host: str | None, origin: str | None) -> str | None:
    """Why a request must not drive a loopback listener (None when it may).

    Only requests addressed to the loopback listener itself (its Host is 127.0.0.1,
    localhost or [::1], any port: a DNS-rebound name is refused) and, when a browser sends
    an Origin, from that same origin: another site open in the developer's browser cannot
    drive the twin. Browsers send Origin on every cross-origin POST and CORS read, so a
    cross-site form upload or fetch is refused here before the listener acts on it."""
    host = (host or "").strip().lower()
    authority = _HOST.fullmatch(host)
    if authority is None or authority.group(1) not in LOOPBACK_NAMES:
        return (f"Host {host or '(none)'!r} is not this loopback listener; address it as "
                "127.0.0.1, localhost or [::1]")
    if origin is not None and origin.strip().lower() != f"http://{host}":
        return f"cross-site request from Origin {origin!r} refused; only http://{host} may"
    return None


def _refusal(status: int, message: str) -> web.Response:
    """An answer to a request the layer will not pass on; the connection closes after it."""
    response = web.Response(status=status, text=message + "\n",
                            headers={"Server": SERVER_NAME})
    response.force_close()
    return response


def _precheck(request: web.BaseRequest) -> web.Response | None:
    """What the parser lets through but the twin refuses, before the body is read."""
    if not _TARGET.fullmatch(request.raw_path):
        return _refusal(400, "the request target must be printable ASCII; percent-encode "
                             "other characters (RFC 3986)")
    codings = request.headers.getall("Transfer-Encoding", [])
    if codings and [c.strip().lower() for c in ",".join(codings).split(",")] != ["chunked"]:
        return _refusal(501, f"Transfer-Encoding {', '.join(codings)!r} is not implemented; "
                             "send chunked alone or a Content-Length")
    if (request.content_length or 0) > MAX_REQUEST_BODY:
        return _refusal(413, f"the request body is over {MAX_REQUEST_BODY} bytes")
    return None


def _to_web(response: EdgeResponse, method: str) -> web.Response:
    headers = [(name, value) for name, value in response.headers
               if name.lower() not in HOP_BY_HOP and name.lower() != "content-length"]
    if response.header("server") is None:
        headers.append(("Server", SERVER_NAME))
    if method == "HEAD" and not response.body:
        declared = (response.header("content-length") or "").strip()
        if declared.isascii() and declared.isdigit():
            headers.append(("Content-Length", declared))
    return web.Response(status=response.status, headers=headers, body=response.body or None)


def _is_async(app: App) -> bool:
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__)


class Listener:
    """An app served on 127.0.0.1:port (0 = any free port), bound on construction."""

    def __init__(self, name: str, app: App, port: int = 0, limits: Limits = Limits()) -> None:
        self.name = name
        self.limits = limits
        self._app = app
        self._app_is_async = _is_async(app)
        self._socket = _bind(name, port, limits.backlog)
        self._port: int = self._socket.getsockname()[1]
        self._loops: list[tuple[asyncio.AbstractEventLoop, threading.Thread]] = []

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Listener:
        for _ in range(max(1, self.limits.loops)):
            loop = asyncio.new_event_loop()
            ready: concurrent.futures.Future[None] = concurrent.futures.Future()
            thread = threading.Thread(target=self._serve, args=(loop, self._socket.dup(), ready),
                                      name=f"twin-{self.name}", daemon=True)
            thread.start()
            self._loops.append((loop, thread))
            ready.result(timeout=30)
        # Each loop's server re-listened with a backlog of 1 (see `_serve`); the socket's
        # real backlog is restored here, once for all.
        self._socket.listen(self.limits.backlog)
        return self

    def close(self) -> None:
        for loop, _ in self._loops:
            loop.call_soon_threadsafe(loop.stop)
        for _, thread in self._loops:
            thread.join(timeout=5)
        self._loops = []
        self._socket.close()

    # --- the listener's own threads --------------------------------------------------------

    def _serve(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
               ready: concurrent.futures.Future) -> None:
        """One of the listener's loops: it accepts from the shared socket (a loop that is
        inside a synchronous app accepts nothing meanwhile, the others do) and serves the
        connections it accepted, a synchronous app right on this thread: no hand-off to
        another thread and back per request."""
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(
            self._web_app(), handle_signals=False, access_log=None, logger=_protocol_log,
            keepalive_timeout=self.limits.header_timeout, lingering_time=LINGER_SECONDS,
            shutdown_timeout=0.1,
        )
        try:
            loop.run_until_complete(runner.setup())
            # asyncio accepts up to `backlog` connections per wake-up, so the first loop to
            # wake would take a whole burst and leave the others idle; one at a time spreads
            # the connections over the loops. (This also re-listens the shared socket with
            # a backlog of 1: `start` restores the real one after the last loop.)
            site = web.SockSite(runner, sock, backlog=1)
            loop.run_until_complete(site.start())
        except BaseException as exc:  # reported to start()'s caller
            ready.set_exception(exc)
            loop.close()
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            # Connections still lingering (a refused request's unread body) end here.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def _web_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        refused = _precheck(request)
        if refused is not None:
            return refused
        try:
            body = b""
            if request.body_exists:
                async with asyncio.timeout(self.limits.body_timeout):
                    body = await request.read()
        except TimeoutError:
            return _refusal(408, f"the request body did not arrive within "
                                 f"{self.limits.body_timeout:g} s")
        except web.HTTPRequestEntityTooLarge:
            return _refusal(413, f"the request body is over {MAX_REQUEST_BODY} bytes")
        except RequestPayloadError as exc:
            return _refusal(400, f"malformed request body: {exc}")
        peer = request.transport.get_extra_info("peername") if request.transport else None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        edge = EdgeRequest(
            method=request.method,
            target=request.raw_path,
            headers=[(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP],
            body=body,
            peer_ip=peer[0] if peer else LOOPBACK,
            peer_port=peer[1] if peer else 0,
        )
        try:
            response = await self._app(edge) if self._app_is_async else self._app(edge)
        except Exception:  # an app bug must not kill the connection silently
            log.exception("%s: %s %s failed", self.name, edge.method, edge.target)
            response = EdgeResponse(500, [("Content-Type", "text/plain")], b"twin internal error")
        return _to_web(response, edge.method)


def _bind(name: str, port: int, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A restarted twin may rebind while old sockets sit in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
        sock.listen(backlog)  # connects queue from now on, even before start()
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortBusyError(
                f"{name}: cannot listen on {LOOPBACK}:{port} ({exc.strerror}); choose "
                f"another port with --port {name}=PORT or --port-base N (0 picks free "
                "ports), or stop whatever holds it (an earlier twin: "
                "`python -m edgekit_iac down --stack <stack>`)"
            ) from exc
        raise
    sock.setblocking(False)
    return sock
