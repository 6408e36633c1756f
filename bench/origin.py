"""A small origin API on 127.0.0.1 for the cache wrapper benchmarks: counts what reaches it.

``LocalOrigin`` answers every GET with a short JSON body (``Cache-Control`` only when
given), or with a 503 when ``failing(path)`` says so, which is how the offload benchmark
injects origin errors. It runs in a thread of this process and stops on leaving the
``with`` block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalOrigin:
    def __init__(self, *, cache_control: str | None = None,
                 failing: Callable[[str], bool] = lambda path: False) -> None:
        self.cache_control = cache_control
        self.failing = failing
        self.requests = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> LocalOrigin:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # http.server's naming
                failed = origin.failing(self.path)
                with origin._lock:
                    origin.requests += 1
                    origin.errors += failed
                status = 503 if failed else 200
                body = (b'{"error": "overloaded"}' if failed
                        else b'{"path": "%s", "temp": 21}' % self.path.encode()[:200])
                self.send_response(status)
                self.send_header("content-type", "application/json")
                if origin.cache_control and not failed:
                    self.send_header("cache-control", origin.cache_control)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
