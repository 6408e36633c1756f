"""A small S3 client for the three calls the resizer makes: HEAD, GET and PUT of one object.

Why not botocore: on a cold start, importing botocore and creating its S3 client (which parses
the 1.25 MB endpoints.json, scans every service's data folder and loads the S3 endpoint rule
set) cost more than everything else the resizer does on its first request put together; even
with the S3 model trimmed to these three operations and bundled, importing botocore alone is
most of that (bench/cold_start.py measures all three side by side). This module is the
standard library only: http.client, ssl, hmac, hashlib.

What it does, and how it matches botocore's S3 client as the resizer used it:
- Signature Version 4 (the S3 flavour: the path URI-encoded once, the payload's SHA-256 in
  x-amz-content-sha256, every sent header signed), checked against botocore's signer and
  AWS's published S3 example in tests/functions/test_s3_client.py;
- credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, which is
  how Lambda (Lambda@Edge included) hands a function its role's credentials;
- the endpoint from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL when set (tests, the local twin;
  path-style there), else https://{bucket}.s3.{region}.amazonaws.com (virtual-hosted; path
  style for bucket names with dots, whose virtual host the TLS certificate does not cover);
- timeouts: connect and read, per attempt;
- retries as botocore's "standard" mode: up to `max_attempts` attempts on connection errors,
  timeouts, HTTP 500/502/503/504 and the throttling and transient error codes, with
  exponential backoff and full jitter (capped, to stay inside the 30 s origin-trigger
  budget). A kept-alive connection that the server closed while idle is reopened at once
  without spending an attempt;
- errors: an S3 answer that is not 2xx raises ``ClientError`` with botocore's ``response``
  shape (``{"Error": {"Code", "Message"}, "ResponseMetadata": {"HTTPStatusCode"}}``), the
  code taken from S3's XML error body, or the status as text for HEAD, which has no body
  ("404", "403"), as botocore does; a transport failure after the last attempt raises
  ``TransportError``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import os
import random
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

LOG = logging.getLogger("edgekit.image_resizer.s3")
SERVICE = "s3"
ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# botocore standard mode: transient and throttling error codes, and retried statuses.
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
RETRYABLE_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
    }
)
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0
# A bucket name that can be a DNS label (and so a virtual host): no dots, no upper case.
_VIRTUAL_HOSTABLE = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


class ClientError(Exception):
    """S3 answered with an error status; ``response`` is shaped as botocore's."""

    def __init__(self, status: int, code: str, message: str, operation: str) -> None:
        super().__init__(f"An error occurred ({code}) when calling the {operation} operation: "
                         f"{message or http.client.responses.get(status, 'Unknown')}")
        self.response = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }


class TransportError(Exception):
    """S3 could not be reached or did not answer in time, on every attempt."""


class Credentials:
    def __init__(self, access_key: str, secret_key: str, token: str | None = None) -> None:
        self.access_key, self.secret_key, self.token = access_key, secret_key, token

    @classmethod
    def from_environment(cls) -> Credentials:
        access_key = os.environ.get("AWS_ACCESS_KEY_ID")
        secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY")
        if not access_key or not secret_key:
            raise TransportError(
                "no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set "
                "(Lambda sets them from the function's role)"
            )
        LOG.info("Found credentials in environment variables")  # once per instance, as botocore
        return cls(access_key, secret_key, os.environ.get("AWS_SESSION_TOKEN") or None)

# User-defined object metadata, as S3 sends and receives it.
METADATA_PREFIX = "x-amz-meta-"


def sign(
    method: str,
    host: str,
    path: str,
    headers: dict[str, str],
    payload_sha256: str,
    credentials: Credentials,
    region: str,
    now: datetime,
) -> dict[str, str]:
    """`headers` plus x-amz-date, x-amz-content-sha256, the session token and Authorization.

    `path` is the request path as sent (already URI-encoded); S3 signs it as it is, without
    normalising or encoding it a second time. There is no query string in these requests.
    """
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {name.lower(): " ".join(str(value).split()) for name, value in headers.items()}
    signed["host"] = host
    signed["x-amz-date"] = amz_date
    signed["x-amz-content-sha256"] = payload_sha256
    if credentials.token:
        signed["x-amz-security-token"] = credentials.token
    names = sorted(signed)
    canonical_request = "\n".join(
        [
            method,
            path,
            "",
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{SERVICE}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (day, region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed


class StreamingBody:
    """The body of a GET: read it whole or piece by piece (``read(amt)``, as botocore's
    StreamingBody), or close it unread (the connection is then dropped)."""

    def __init__(self, response: http.client.HTTPResponse, client: S3Client) -> None:
        self._response, self._client = response, client

    def read(self, amt: int | None = None) -> bytes:
        """The rest of the body, or at most `amt` bytes of it (``b""`` once it is all read)."""
        try:
            return self._response.read(amt)
        except (OSError, http.client.HTTPException) as exc:
            self._client._drop()
            raise TransportError(f"reading the object body failed: {exc!r}") from exc

    def close(self) -> None:
        if not self._response.isclosed():
            self._response.close()
            self._client._drop()


class S3Client:
    """HEAD, GET and PUT of single objects in one region, over one kept-alive connection."""

    def __init__(
        self,
        region: str,
        *,
        credentials: Credentials | None = None,
        endpoint_url: str | None = None,
        connect_timeout: float = 3,
        read_timeout: float = 10,
        max_attempts: int = 3,
        extra_headers: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        """`extra_headers`: called before each request; the headers it returns are sent
        (and signed) with it, e.g. the current trace's traceparent."""
        self.region = region
        self._extra_headers = extra_headers
        self._credentials = credentials
        endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get(
            "AWS_ENDPOINT_URL"
        )
        self._endpoint = urlsplit(endpoint) if endpoint else None
        if self._endpoint is not None and self._endpoint.scheme not in ("http", "https"):
            raise ValueError(f"S3 endpoint {endpoint!r} is not an http:// or https:// URL")
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.max_attempts = max_attempts
        self._connection: http.client.HTTPConnection | None = None
        self._connection_key: tuple[str, str, int] | None = None

    # --- the three calls (botocore's names and shapes) ------------------------------------

    def head_object(self, *, Bucket: str, Key: str) -> dict:  # noqa: N803 (botocore's names)
        response, _ = self._call("HEAD", Bucket, Key, "HeadObject")
        return _metadata(response)

    def get_object(self, *, Bucket: str, Key: str) -> dict:  # noqa: N803
        response, _ = self._call("GET", Bucket, Key, "GetObject", stream=True)
        return {**_metadata(response), "Body": StreamingBody(response, self)}

    def put_object(  # noqa: N803
        self,
        *,
        Bucket: str,
        Key: str,
        Body: bytes,
        ContentType: str | None = None,
        CacheControl: str | None = None,
        Metadata: dict[str, str] | None = None,
    ) -> dict:
        headers = {}
        if ContentType:
            headers["Content-Type"] = ContentType
        if CacheControl:
            headers["Cache-Control"] = CacheControl
        for name, value in (Metadata or {}).items():
            # User metadata travels as x-amz-meta-* headers (signed with the rest); S3 keeps
            # names lower-cased, and only ASCII survives an HTTP header unencoded.
            if not (name.isascii() and value.isascii()):
                raise ValueError(f"S3 metadata must be ASCII: {name!r}={value!r}")
            headers[f"{METADATA_PREFIX}{name.lower()}"] = value
        response, _ = self._call("PUT", Bucket, Key, "PutObject", body=Body, headers=headers)
        return {"ETag": response.getheader("ETag")}

    # --- transport --------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        bucket: str,
        key: str,
        operation: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ):
        if self._credentials is None:
            self._credentials = Credentials.from_environment()
        scheme, host, port, path = self._address(bucket, key)
        payload_sha256 = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        base_headers = {**(self._extra_headers() if self._extra_headers else {}), **(headers or {})}
        if method == "PUT":
            base_headers["Content-Length"] = str(len(body))
        attempt = 0
        while True:
            attempt += 1
            signed = sign(method, _host_header(scheme, host, port), path, base_headers,
                          payload_sha256, self._credentials, self.region,
                          datetime.now(UTC))
            try:
                response = self._exchange(scheme, host, port, method, path, body, signed)
            except (OSError, http.client.HTTPException) as exc:
                if attempt >= self.max_attempts:
                    raise TransportError(
                        f"{operation} on s3://{bucket}/{key} failed after {attempt} attempts: "
                        f"{exc!r}"
                    ) from exc
                self._backoff(attempt)
                continue
            status = response.status
            if 200 <= status < 300:
                if not stream:
                    response.read()
                return response, status
            data = response.read()  # errors are small XML documents (none for HEAD)
            code, message = _error_of(data, status)
            if attempt < self.max_attempts and (
                status in RETRYABLE_STATUSES or code in RETRYABLE_CODES
            ):
                self._backoff(attempt)
                continue
            raise ClientError(status, code, message, operation)

    def _exchange(self, scheme, host, port, method, path, body, headers):
        """One request and its response head; a stale kept-alive connection is retried once."""
        for fresh_try in (False, True):
            reused = self._connection is not None and self._connection_key == (scheme, host, port)
            connection = self._connect(scheme, host, port)
            try:
                connection.request(method, path, body=body or None, headers=headers)
                return connection.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop()
                if not reused or fresh_try:
                    raise
            except BaseException:
                self._drop()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        if self._connection is not None and self._connection_key == (scheme, host, port):
            return self._connection
        self._drop()
        if scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=self.connect_timeout, context=_tls_context()
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        connection.connect()
        connection.sock.settimeout(self.read_timeout)  # connected: from now on, the read limit
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connection, self._connection_key = connection, (scheme, host, port)
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = self._connection_key = None

    def _backoff(self, attempt: int) -> None:
        time.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))  # noqa: S311

    def _address(self, bucket: str, key: str) -> tuple[str, str, int, str]:
        """(scheme, host, port, path) of an object, the path URI-encoded as S3 signs it."""
        object_path = quote(key, safe="/~")
        if self._endpoint is not None:
            scheme, host = self._endpoint.scheme, self._endpoint.hostname or ""
            port = self._endpoint.port or (443 if scheme == "https" else 80)
            prefix = self._endpoint.path.rstrip("/")
            return scheme, host, port, f"{prefix}/{quote(bucket, safe='')}/{object_path}"
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        regional = f"s3.{self.region}.{suffix}"
        if _VIRTUAL_HOSTABLE.fullmatch(bucket):
            return "https", f"{bucket}.{regional}", 443, f"/{object_path}"
        return "https", regional, 443, f"/{quote(bucket, safe='')}/{object_path}"


def _host_header(scheme: str, host: str, port: int) -> str:
    default = 443 if scheme == "https" else 80
    return host if port == default else f"{host}:{port}"


_TLS: list[ssl.SSLContext] = []


def _tls_context() -> ssl.SSLContext:
    if not _TLS:
        _TLS.append(ssl.create_default_context())  # verifies the certificate and host name
    return _TLS[0]


def _metadata(response: http.client.HTTPResponse) -> dict:
    length = response.getheader("Content-Length")
    return {
        "ContentLength": int(length) if length and length.isdigit() else None,
        "ContentType": response.getheader("Content-Type"),
        "ETag": response.getheader("ETag"),
        "Metadata": {
            name.lower()[len(METADATA_PREFIX) :]: value
            for name, value in response.getheaders()
            if name.lower().startswith(METADATA_PREFIX)
        },
    }


def _error_of(data: bytes, status: int) -> tuple[str, str]:
    """S3's error code and message from its XML error body; the status for HEAD (no body) or
    a body that is not S3's <Error> document (a proxy's page, say)."""
    if data:
        # Imported here: only error answers pay for it. S3 error documents declare no DTD or
        # entities; ElementTree (expat) does not fetch external entities.
        from xml.etree import ElementTree

        try:
            root = ElementTree.fromstring(data)  # noqa: S314 (S3's own answer, no entities)
        except ElementTree.ParseError:
            root = None
        if root is not None and root.tag == "Error":
            code = (root.findtext("Code") or "").strip()
            if code:
                return code, (root.findtext("Message") or "").strip()
    return str(status), ""
