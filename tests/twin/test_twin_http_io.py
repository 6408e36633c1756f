"""The twin's HTTP layer: strict request framing (RFC 9112), timeouts, a real backlog, HEAD.

Each request here is raw bytes on a socket, so what is tested is exactly what a hostile
or broken client can send. A refused request is a 4xx/5xx that closes the connection and
never reaches the app; nothing after it is read as another request (no smuggling).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from edgekit_iac.twin.http_io import EdgeRequest, EdgeResponse, Limits, Listener, PortBusyError

SEEN: list[EdgeRequest] = []


def _echo(request: EdgeRequest) -> EdgeResponse:
    SEEN.append(request)
    if request.path == "/boom":
        raise RuntimeError("app bug")
    if request.path == "/declared":  # a HEAD answered without a body, saying GET's length
        return EdgeResponse(200, [("Content-Type", "text/plain"), ("Content-Length", "1234")])
    if request.path == "/empty":
        return EdgeResponse(200, [("Content-Type", "text/plain")])
    return EdgeResponse(200, [("Content-Type", "text/plain")], b"got " + request.body)


@pytest.fixture
def listener():
    SEEN.clear()
    served = Listener("echo", _echo, limits=Limits(header_timeout=1, body_timeout=1)).start()
    yield served
    served.close()


def _exchange(listener: Listener, raw: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes and read until the server closes the connection (a timeout fails)."""
    with socket.create_connection(("127.0.0.1", listener.port), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _request(headers: str, body: bytes = b"") -> bytes:
    return f"POST /x HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n".encode() + body


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_a_body_with_a_content_length_reaches_the_app(listener):
    answer = _exchange(listener, _request("Content-Length: 5\r\n", b"hello"))

    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"got hello")


@pytest.mark.parametrize("value", ["abc", "-5", "1.5", "\u00b2", "5, 6"])
def test_a_malformed_content_length_is_a_400_that_closes_the_connection(listener, value):
    raw = f"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: {value}\r\n\r\n".encode()

    answer = _exchange(listener, raw)  # returns only once the server has closed

    assert _status(answer) == 400
    assert b"Content-Length" in answer  # the answer says which field was wrong
    assert SEEN == []


@pytest.mark.parametrize("raw", [
    # Was: the first one won, and the 6th byte began the next request (smuggling).
    b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 31\r\n\r\n"
    b"helloGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
    b"\r\n5\r\nhello\r\n0\r\n\r\n",
    # RFC 9112 section 5.1: a server MUST reject it with 400; read as "no body", the chunk
    # bytes would be parsed as the next request.
    b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
], ids=["conflicting-content-lengths", "content-length-and-chunked", "space-before-colon"])
def test_ambiguous_framing_is_refused_and_nothing_is_smuggled(listener, raw):
    answer = _exchange(listener, raw)

    assert _status(answer) == 400
    assert answer.count(b"HTTP/1.") == 1
    assert SEEN == []


@pytest.mark.parametrize("name", ["Transfer-Encoding", "transfer-encoding", "TRANSFER-ENCODING"])
def test_a_chunked_body_is_read_as_one_request(listener, name):
    raw = (f"POST /x HTTP/1.1\r\nHost: t\r\n{name}: chunked\r\nConnection: close\r\n\r\n"
           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").encode()

    answer = _exchange(listener, raw)

    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"got hello world")
    assert answer.count(b"HTTP/1.") == 1
    assert [request.body for request in SEEN] == [b"hello world"]


@pytest.mark.parametrize(("coding", "status"), [
    ("gzip", 400),  # chunked is not the final coding: the length is unknowable (6.3)
    ("chunked, chunked", 400),
    ("gzip, chunked", 501),  # framed, but a coding the twin does not implement (6.1)
])
def test_other_transfer_codings_are_refused(listener, coding, status):
    raw = (f"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: {coding}\r\n\r\n"
           "5\r\nhello\r\n0\r\n\r\n").encode()

    answer = _exchange(listener, raw)

    assert _status(answer) == status and answer.count(b"HTTP/1.") == 1
    assert SEEN == []


@pytest.mark.parametrize("raw", [
    b"GET /x HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n",  # obs-fold
    b"GET /x HTTP/1.1\r\nHost: t\r\nX-A: o\x01ne\r\n\r\n",  # control character in a value
    b"GET /x HTTP/1.1\r\nHost: t\r\nX-A: o\x00ne\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: t\r\nX\x7fA: one\r\n\r\n",  # ... in a name
    "GET /caf\u00e9 HTTP/1.1\r\nHost: t\r\n\r\n".encode(),  # non-ASCII path, UTF-8
    b"GET /caf\xe9 HTTP/1.1\r\nHost: t\r\n\r\n",  # ... Latin-1
    b"GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n",  # control character in the path
    b"GET /x HTTP/1.1\nHost: t\n\n",  # bare LF line ends
], ids=["obs-fold", "ctl-value", "nul-value", "del-name", "utf8-path", "latin1-path",
        "ctl-path", "bare-lf"])
def test_malformed_heads_are_400_not_500(listener, raw):
    answer = _exchange(listener, raw)

    assert _status(answer) == 400
    assert SEEN == []


def test_an_app_bug_is_a_500_and_the_connection_goes_on(listener):
    raw = (b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n"
           b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")

    answer = _exchange(listener, raw)

    assert answer.startswith(b"HTTP/1.1 500 ") and b"twin internal error" in answer
    assert answer.count(b"HTTP/1.1 200 ") == 1


def test_head_carries_the_get_length_and_no_body(listener):
    def head(path: str) -> bytes:
        return _exchange(listener, f"HEAD {path} HTTP/1.1\r\nHost: t\r\nConnection: close"
                                   "\r\n\r\n".encode())

    from_body, declared, empty = head("/x"), head("/declared"), head("/empty")

    assert b"\r\nContent-Length: 4\r\n" in from_body and from_body.endswith(b"\r\n\r\n")
    assert b"\r\nContent-Length: 1234\r\n" in declared and declared.endswith(b"\r\n\r\n")
    assert b"Content-Length" not in empty  # unknown: none rather than a wrong 0


def test_a_slow_body_is_a_408_within_the_body_timeout(listener):
    started = time.monotonic()
    answer = _exchange(listener, b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")

    assert _status(answer) == 408
    assert time.monotonic() - started < 4
    assert SEEN == []


def test_partial_requests_hold_no_threads_and_are_closed_after_the_header_timeout(listener):
    # Was: a thread per connection, each blocked forever on the missing end of the head.
    threads_before = threading.active_count()
    sockets = [socket.create_connection(("127.0.0.1", listener.port), timeout=5)
               for _ in range(200)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        time.sleep(0.3)
        assert threading.active_count() - threads_before < 10
        started = time.monotonic()
        for sock in sockets:  # header_timeout is 1 s here: the server hangs up on each
            assert sock.recv(65536) == b""
        assert time.monotonic() - started < 4
    finally:
        for sock in sockets:
            sock.close()
    assert SEEN == []


def test_two_hundred_simultaneous_connects_are_all_accepted_at_once():
    # Was: a listen backlog of 5; the kernel dropped the other SYNs and those clients
    # retried after a second.
    gate = threading.Event()

    def slow(request: EdgeRequest) -> EdgeResponse:
        gate.wait(5)
        return EdgeResponse(200, [], b"ok")

    served = Listener("slow", slow).start()

    def connect(_: int) -> float:
        started = time.monotonic()
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        elapsed = time.monotonic() - started
        gate.wait(10)
        sock.recv(65536)
        sock.close()
        return elapsed

    try:
        with ThreadPoolExecutor(200) as pool:
            futures = [pool.submit(connect, n) for n in range(200)]
            time.sleep(1.5)
            gate.set()
            connect_times = sorted(future.result() for future in futures)
    finally:
        gate.set()
        served.close()
    assert connect_times[-1] < 0.9, f"slowest connect {connect_times[-1]:.2f} s"


def test_an_async_app_is_awaited_on_the_listeners_loop():
    class AsyncApp:
        async def __call__(self, request: EdgeRequest) -> EdgeResponse:
            await asyncio.sleep(0)
            return EdgeResponse(200, [], threading.current_thread().name.encode())

    served = Listener("async", AsyncApp()).start()
    try:
        answer = _exchange(served, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    finally:
        served.close()
    assert answer.endswith(b"\r\n\r\ntwin-async")


def test_a_port_in_use_is_a_clear_error_and_a_closed_listener_frees_it():
    first = Listener("first", _echo).start()
    try:
        with pytest.raises(PortBusyError, match=f"second: cannot listen on 127.0.0.1:{first.port}"):
            Listener("second", _echo, first.port)
    finally:
        first.close()
    again = Listener("again", _echo, first.port).start()
    again.close()
