"""The resizer's small S3 client (functions/image_resizer/s3.py): signing, retries, timeouts,
error mapping, addressing. Its round trips against S3 itself (moto) are in the handler tests.

Signatures are checked against AWS's published S3 SigV4 example and against botocore's own
S3 signer on the requests the resizer makes (keys with spaces, unicode and reserved
characters, a session token, PUT headers).
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from datetime import UTC, datetime

import pytest
from botocore import auth as botocore_auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from . import images

NOW = datetime(2026, 12, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def s3():
    with images.resizer_modules("s3") as (module,):
        yield module


def test_aws_published_example_get_object(s3):
    # "Example: GET Object" in the S3 API reference, Signature Calculations for the
    # Authorization Header (AWS Signature Version 4).
    credentials = s3.Credentials(
        "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    )
    signed = s3.sign(
        "GET", "examplebucket.s3.amazonaws.com", "/test.txt", {"Range": "bytes=0-9"},
        s3.EMPTY_SHA256, credentials, "us-east-1", datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert signed["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzEJr//////////session+token="])
@pytest.mark.parametrize(
    ("method", "key", "body", "headers"),
    [
        ("HEAD", "resized/400x300/original/photos/cat.jpg", b"", {}),
        ("GET", "photos/naïve café/写真 (1)+[2]~!$&'*,;=@.jpg", b"", {}),
        ("PUT", "resized/150x150/webp/a b/c%20d.jpg", b"\x89PNG...bytes",
         {"Content-Type": "image/webp", "Cache-Control": "public, max-age=31536000, immutable"}),
    ],
)
def test_signature_matches_botocore(s3, monkeypatch, method, key, body, headers, token):
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    client = s3.S3Client("eu-west-1", endpoint_url=None)
    scheme, host, port, path = client._address("my-photos", key)
    payload = s3.hashlib.sha256(body).hexdigest()
    ours = s3.sign(method, host, path, headers, payload,
                   s3.Credentials("AKIDEXAMPLE", "secret/key+example", token), "eu-west-1", NOW)

    request = AWSRequest(method=method, url=f"{scheme}://{host}{path}", data=body,
                         headers={"Host": host, **headers})
    request.context["payload_signing_enabled"] = True
    botocore_auth.S3SigV4Auth(
        BotocoreCredentials("AKIDEXAMPLE", "secret/key+example", token), "s3", "eu-west-1"
    ).add_auth(request)

    assert ours["authorization"] == request.headers["authorization"]
    assert ours["x-amz-content-sha256"] == request.headers["X-Amz-Content-SHA256"]


def test_addressing(s3):
    client = s3.S3Client("eu-west-1", endpoint_url=None)
    assert client._address("photos", "a b.jpg") == (
        "https", "photos.s3.eu-west-1.amazonaws.com", 443, "/a%20b.jpg")
    # Dots: the virtual host would not match the TLS certificate, so path style.
    assert client._address("my.photos", "a.jpg") == (
        "https", "s3.eu-west-1.amazonaws.com", 443, "/my.photos/a.jpg")
    assert s3.S3Client("cn-north-1", endpoint_url=None)._address("p", "k")[1] == (
        "s3.cn-north-1.amazonaws.com.cn")
    local = s3.S3Client("us-east-1", endpoint_url="http://127.0.0.1:9000")
    assert local._address("photos", "k") == ("http", "127.0.0.1", 9000, "/photos/k")
    with pytest.raises(ValueError, match="not an http:// or https:// URL"):
        s3.S3Client("us-east-1", endpoint_url="ftp://example.com")


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each request with the next (status, body) of the server's script."""

    protocol_version = "HTTP/1.1"

    def _answer(self):
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.seen.append((self.command, self.path, headers))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = self.server.script.pop(0) if self.server.script else (200, b"")
        if status == "hang":
            time.sleep(2)
            return
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/xml" if body else "image/jpeg")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted(s3, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.script, server.seen = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(s3, "BACKOFF_BASE_S", 0.001)
    client = s3.S3Client(
        "us-east-1", endpoint_url=f"http://127.0.0.1:{server.server_port}",
        credentials=s3.Credentials("AKID", "secret"), read_timeout=0.5, max_attempts=3,
    )
    yield server, client
    server.shutdown()
    server.server_close()


def _error(code: str) -> bytes:
    return f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>m</Message></Error>".encode()


def test_throttling_and_5xx_are_retried_then_succeed(s3, scripted):
    server, client = scripted
    server.script = [(503, _error("SlowDown")), (500, _error("InternalError")), (200, b"jpeg")]
    obj = client.get_object(Bucket="b", Key="k.jpg")
    assert obj["Body"].read() == b"jpeg"
    assert len(server.seen) == 3
    assert all(headers["authorization"].startswith("AWS4-HMAC-SHA256 ")
               for _, _, headers in server.seen)


def test_retries_stop_after_max_attempts_with_the_last_error(s3, scripted):
    server, client = scripted
    server.script = [(503, _error("SlowDown"))] * 5
    with pytest.raises(s3.ClientError) as raised:
        client.head_object(Bucket="b", Key="k")
    assert raised.value.response == {
        "Error": {"Code": "503", "Message": ""},  # HEAD: no body, the status is the code
        "ResponseMetadata": {"HTTPStatusCode": 503},
    }
    assert len(server.seen) == 3


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (404, _error("NoSuchKey"), "NoSuchKey"),
        (403, _error("AccessDenied"), "AccessDenied"),
        (301, _error("PermanentRedirect"), "PermanentRedirect"),
        (400, b"<html>not S3</html>", "400"),
    ],
)
def test_client_errors_are_not_retried_and_carry_s3s_code(s3, scripted, status, body, code):
    server, client = scripted
    server.script = [(status, body)]
    with pytest.raises(s3.ClientError) as raised:
        client.get_object(Bucket="b", Key="k")
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert len(server.seen) == 1


def test_a_body_read_in_pieces_comes_whole_and_keeps_the_connection(s3, scripted):
    """The handler streams an original to a file in pieces (botocore's read(amt))."""
    server, client = scripted
    server.script = [(200, b"0123456789"), (200, b"")]
    body = client.get_object(Bucket="b", Key="k.png")["Body"]
    connection = client._connection
    assert list(iter(lambda: body.read(4), b"")) == [b"0123", b"4567", b"89"]
    client.head_object(Bucket="b", Key="k.png")
    assert client._connection is connection  # fully read: kept alive for the next call
    assert len(server.seen) == 2


def test_put_sends_the_body_and_headers(s3, scripted):
    server, client = scripted
    client.put_object(Bucket="b", Key="resized/a b.webp", Body=b"data",
                      ContentType="image/webp", CacheControl="max-age=1")
    method, path, headers = server.seen[0]
    assert (method, path) == ("PUT", "/b/resized/a%20b.webp")
    assert headers["content-type"] == "image/webp" and headers["cache-control"] == "max-age=1"
    assert headers["x-amz-content-sha256"] == s3.hashlib.sha256(b"data").hexdigest()
    assert "content-type;host" in headers["authorization"]


def test_a_silent_server_is_a_transport_error_after_the_retries(s3, scripted):
    server, client = scripted
    server.script = [("hang", b"")] * 3
    client.max_attempts = 2
    started = time.monotonic()
    with pytest.raises(s3.TransportError, match="HeadObject .* after 2 attempts"):
        client.head_object(Bucket="b", Key="k")
    assert time.monotonic() - started < 1.9  # the read timeout (0.5 s) cut both attempts


def test_an_unreachable_endpoint_is_a_transport_error(s3):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    client = s3.S3Client("us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                         credentials=s3.Credentials("AKID", "secret"), max_attempts=2)
    with pytest.raises(s3.TransportError, match="refused|Errno"):
        client.get_object(Bucket="b", Key="k")


def test_missing_credentials_say_what_is_needed(s3, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(s3.TransportError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        s3.S3Client("us-east-1", endpoint_url="http://127.0.0.1:1").head_object(
            Bucket="b", Key="k")


def test_extra_headers_are_asked_for_on_each_call_and_signed(s3, scripted):
    """The resizer's traceparent reaches S3 this way: one value per call, under the signature."""
    server, _ = scripted
    values = iter([f"00-{'a' * 32}-{'b' * 16}-01", f"00-{'c' * 32}-{'d' * 16}-00"])
    client = s3.S3Client(
        "us-east-1", endpoint_url=f"http://127.0.0.1:{server.server_port}",
        credentials=s3.Credentials("AKID", "secret"),
        extra_headers=lambda: {"traceparent": next(values)},
    )
    client.head_object(Bucket="b", Key="k")
    client.put_object(Bucket="b", Key="k", Body=b"x", ContentType="image/png")
    (_, _, first), (_, _, second) = server.seen
    assert first["traceparent"].startswith("00-aaaa")
    assert second["traceparent"].startswith("00-cccc")
    assert all("traceparent" in headers["authorization"] for headers in (first, second))
    assert second["content-type"] == "image/png"
