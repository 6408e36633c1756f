"""A scriptable origin for end-to-end Worker tests: http.server on 127.0.0.1:0 in a thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before answering (timeouts)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


class Origin:
    """Answers each path as its Route says (404 otherwise) and records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.connections: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # a short poll interval keeps stop() (and so each test's teardown) quick
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def route(self, path: str, status: int = 200, headers: list[tuple[str, str]] | None = None,
              body: bytes = b"", delay: float = 0.0) -> None:
        self.routes[path] = Route(status, headers or [], body, delay)

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path.split("?")[0] == path]

    def stop(self) -> None:
        """Down for good: no new connections, and kept-alive ones are cut too."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._server.server_close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                origin.connections.add(self.connection)

            def finish(self) -> None:
                origin.connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                origin.seen.append(Seen(self.command, self.path, headers, body))
                route = origin.routes.get(self.path.split("?")[0], Route(404, [], b"not found"))
                time.sleep(route.delay)
                try:
                    self.send_response(route.status)
                    for name, value in route.headers:
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(route.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(route.body)
                except OSError:
                    pass  # the client gave up (timeout test): nothing to answer to

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

            def log_message(self, *args: object) -> None:
                pass

        return Handler
