"""The twin's one HTTP server adapter: bytes on a loopback socket <-> `EdgeRequest`/`EdgeResponse`.

Every listener (distributions, Workers, the demo origin, the status page) is a plain
function `app(EdgeRequest) -> EdgeResponse` served by `Listener`, a stdlib
ThreadingHTTPServer bound to 127.0.0.1 only, speaking HTTP/1.1 with keep-alive. The apps
never see sockets, so their decisions are testable without a network.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from edgekit_iac.errors import UserError

LOOPBACK = "127.0.0.1"
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

log = logging.getLogger("edgekit.twin.http")


class PortBusyError(UserError):
    """A listener could not bind its port."""


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
    """What a listener answers. Content-Length is set by the HTTP layer."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


App = Callable[[EdgeRequest], EdgeResponse]


def text_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8",
                  headers: Iterable[tuple[str, str]] = ()) -> EdgeResponse:
    return EdgeResponse(status, [("Content-Type", content_type), *headers], text.encode())


def _body_refusal(content_length: str | None, transfer_encoding: str | None
                  ) -> tuple[int, bytes] | None:
    """Why a request body cannot be read (status, message), or None when it can."""
    if transfer_encoding:
        return 411, b"chunked request bodies are not supported; send a Content-Length"
    if content_length is None:
        return None
    if not re.fullmatch(r"\s*[0-9]+\s*", content_length):
        return 400, b"Content-Length must be a non-negative integer"
    if int(content_length) > MAX_REQUEST_BODY:
        return 413, b"body too large"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm the body would
    # wait for the client's delayed ACK (~40 ms) on every keep-alive response.
    disable_nagle_algorithm = True
    server_version = "edgekit-twin"
    sys_version = ""
    app: App  # set per listener by Listener

    def _serve(self) -> None:
        refusal = _body_refusal(self.headers.get("Content-Length"),
                                self.headers.get("Transfer-Encoding"))
        if refusal is not None:
            # The body stays unread, so the connection cannot carry another request.
            self.close_connection = True
            self._write(EdgeResponse(refusal[0], [("Content-Type", "text/plain")], refusal[1]))
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = EdgeRequest(
            method=self.command,
            target=self.path,
            headers=[(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP],
            body=body,
            peer_ip=self.client_address[0],
            peer_port=self.client_address[1],
        )
        try:
            response = self.app(request)
        except Exception:  # an app bug must not kill the connection silently
            log.exception("%s %s failed", self.command, self.path)
            response = EdgeResponse(500, [("Content-Type", "text/plain")], b"twin internal error")
        self._write(response)

    def _write(self, response: EdgeResponse) -> None:
        self.send_response_only(response.status)
        for name, value in response.headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    def log_message(self, format, *args):  # the stdlib's signature
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a restarted twin may rebind while old sockets sit in TIME_WAIT

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.open_connections: set = set()

    def process_request(self, request, client_address) -> None:
        self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        self.open_connections.discard(request)
        super().shutdown_request(request)


class Listener:
    """An app served on 127.0.0.1:port (0 = any free port), bound on construction."""

    def __init__(self, name: str, app: App, port: int = 0) -> None:
        self.name = name
        handler = type(f"Handler_{name}", (_Handler,), {"app": staticmethod(app)})
        try:
            self._server = _Server((LOOPBACK, port), handler)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortBusyError(
                    f"{name}: cannot listen on {LOOPBACK}:{port} ({exc.strerror}); choose "
                    f"another port with --port {name}=PORT or --port-base N (0 picks free "
                    "ports), or stop whatever holds it (an earlier twin: "
                    "`python -m edgekit_iac down --stack <stack>`)"
                ) from exc
            raise
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Listener:
        # A short poll keeps `down` quick: shutdown() waits for the loop to look up.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"twin-{self.name}", daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        # A stopped server drops its kept-alive connections too (clients pool them: undici).
        for connection in list(self._server.open_connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
