"""The twin's HTTP adapter answers malformed request framing with a 4xx, never a dropped socket."""

from __future__ import annotations

import socket

import pytest

from edgekit_iac.twin.http_io import EdgeRequest, EdgeResponse, Listener


def _echo(request: EdgeRequest) -> EdgeResponse:
    return EdgeResponse(200, [("Content-Type", "text/plain")], b"got " + request.body)


@pytest.fixture
def listener():
    served = Listener("echo", _echo).start()
    yield served
    served.close()


def _exchange(listener: Listener, raw: bytes) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _request(headers: str, body: bytes = b"") -> bytes:
    return f"POST /x HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n".encode() + body


def test_a_body_with_a_content_length_reaches_the_app(listener):
    answer = _exchange(listener, _request("Content-Length: 5\r\n", b"hello"))

    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"got hello")


@pytest.mark.parametrize("value", ["abc", "-5", "1.5", "\u00b2"])
def test_a_malformed_content_length_is_a_400_that_closes_the_connection(listener, value):
    raw = f"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: {value}\r\n\r\n".encode()

    answer = _exchange(listener, raw)

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in answer


def test_a_chunked_body_is_refused_rather_than_read_as_the_next_request(listener):
    smuggled = b"5\r\nhello\r\n0\r\n\r\n"
    raw = (b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggled)

    answer = _exchange(listener, raw)

    assert answer.startswith(b"HTTP/1.1 411 ")
    assert answer.count(b"HTTP/1.1 ") == 1
