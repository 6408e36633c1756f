"""The twin's S3: moto's server on 127.0.0.1 holding the buckets and policies the program declared.

The image resizer's boto3 reaches it through AWS_ENDPOINT_URL_S3 (set only in the Lambda
environments); the distributions read it through `read_as`, which applies the declared
bucket policy to the reader CloudFront would be (see `s3_policy`) before moto answers:
moto itself does not enforce bucket policies.

moto's server listens on 127.0.0.1 only, behind the guard that protects the status page's
controls (`http_io.cross_site_refusal`: loopback Host, no cross-site Origin), with moto's
management API (`/moto-api/`, which resets every bucket) refused: see `_GuardedApp`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from urllib.parse import quote
from xml.sax.saxutils import escape

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from edgekit_iac.twin.aws import s3_policy
from edgekit_iac.twin.graph_view import GraphView
from edgekit_iac.twin.http_io import LOOPBACK, EdgeResponse, PortBusyError, cross_site_refusal
from edgekit_iac.twin.sample_images import SampleImage

log = logging.getLogger("edgekit.twin.s3")

# Headers S3 sends that CloudFront passes on to the viewer.
_PASSED_HEADERS = ("content-type", "cache-control", "etag", "last-modified", "expires",
                   "content-encoding", "content-language", "content-disposition",
                   "accept-ranges")
DUMMY_CREDENTIALS = {"aws_access_key_id": "twin-local", "aws_secret_access_key": "twin-local"}


# moto's own management API (reset every backend, dump all data, seed): never over HTTP.
MOTO_API_PREFIX = "/moto-api"
# A connection silent this long is closed: moto's server spends a thread per connection.
SOCKET_TIMEOUT_S = 10


class _GuardedApp:
    """WSGI middleware in front of moto: the status page's guard (loopback Host only, no
    cross-site Origin), and moto's management API refused. moto itself reflects any Origin
    in Access-Control-Allow-Origin and takes multipart form uploads, so without this a page
    open in the developer's browser could write objects, read listings and reset S3."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        refusal = cross_site_refusal(environ.get("HTTP_HOST"), environ.get("HTTP_ORIGIN"))
        path = environ.get("PATH_INFO", "")
        if refusal is None and (path == MOTO_API_PREFIX or
                                path.startswith(MOTO_API_PREFIX + "/")):
            refusal = (f"{MOTO_API_PREFIX}/ (moto's reset and data dump) is not served by the "
                       "twin; restart the twin for fresh buckets")
        if refusal is None:
            return self.app(environ, start_response)
        body = _error_xml("AccessDenied", escape(refusal))
        start_response("403 Forbidden", [("Content-Type", "application/xml"),
                                         ("Content-Length", str(len(body)))])
        return [body]


class _RequestHandler(MotoRequestHandler):
    timeout = SOCKET_TIMEOUT_S


class _MotoServer(ThreadedMotoServer):
    """moto's threaded server behind `_GuardedApp`, on 127.0.0.1 only, with a socket
    timeout; a bind failure is reported instead of hanging start()."""

    bind_error: OSError | None = None

    def _server_entry(self) -> None:
        try:
            self._server = make_server(
                self._ip_address, self._port,
                _GuardedApp(DomainDispatcherApplication(create_backend_app)),
                threaded=True, request_handler=_RequestHandler,
            )
        except OSError as exc:
            self.bind_error = exc
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()


def _error_xml(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>").encode()


class LocalS3:
    def __init__(self, port: int = 0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
        self._server = _MotoServer(ip_address=LOOPBACK, port=port, verbose=False)
        self._server.start()
        if self._server.bind_error is not None:
            error = self._server.bind_error
            raise PortBusyError(
                f"s3: cannot listen on {LOOPBACK}:{port} ({error.strerror}); choose another "
                "port with --port s3=PORT or --port-base N (0 picks free ports)"
            ) from error
        host, self.port = self._server.get_host_and_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.client = boto3.client(
            "s3", endpoint_url=self.url, region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
            **DUMMY_CREDENTIALS,
        )
        self._policies: dict[str, dict | None] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._server.stop()

    # --- declared state --------------------------------------------------------------------

    def create_declared_buckets(self, view: GraphView) -> list[str]:
        """Create every declared bucket (by its computed name) with its declared policy."""
        names = []
        for bucket in view.buckets():
            name = bucket.outputs.get("bucket") or bucket.id
            region = bucket.outputs.get("region") or "us-east-1"
            extra = {} if region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": region}}
            self.client.create_bucket(Bucket=name, **extra)
            policy = view.bucket_policy(name)
            if policy is not None and (tls_policy := s3_policy.over_tls(policy))["Statement"]:
                self.client.put_bucket_policy(Bucket=name, Policy=json.dumps(tls_policy))
            with self._lock:
                self._policies[name] = policy
            names.append(name)
        return names

    def seed(self, bucket: str, images: Iterable[SampleImage]) -> list[str]:
        keys = []
        for image in images:
            self.client.put_object(Bucket=bucket, Key=image.key, Body=image.data,
                                   ContentType=image.content_type)
            keys.append(image.key)
        return keys

    # --- reading as CloudFront -------------------------------------------------------------

    def read_as(self, bucket: str, key: str, reader: s3_policy.Principal,
                method: str = "GET") -> EdgeResponse:
        """What S3 answers `reader` for GET/HEAD `bucket/key`, the bucket policy applied."""
        policy = self._policies.get(bucket)
        object_arn = f"arn:aws:s3:::{bucket}/{key}"
        verdict = s3_policy.evaluate(policy, reader, "s3:GetObject", object_arn)
        if verdict != s3_policy.ALLOW:
            return self._denied()
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                # Without s3:ListBucket S3 hides whether a key exists: 403, not 404.
                listing = s3_policy.evaluate(policy, reader, "s3:ListBucket",
                                             f"arn:aws:s3:::{bucket}")
                if listing != s3_policy.ALLOW:
                    return self._denied()
                return EdgeResponse(404, [("Content-Type", "application/xml")],
                                    _error_xml("NoSuchKey", "The specified key does not exist."))
            if code == "NoSuchBucket":
                return EdgeResponse(404, [("Content-Type", "application/xml")],
                                    _error_xml("NoSuchBucket", "The specified bucket does not "
                                               "exist"))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            return EdgeResponse(status, [("Content-Type", "application/xml")],
                                _error_xml(code or "InternalError", str(exc)))
        body = response["Body"].read()
        raw = response["ResponseMetadata"].get("HTTPHeaders", {})
        headers = [(name, raw[name]) for name in _PASSED_HEADERS if name in raw]
        headers.append(("Server", "AmazonS3"))
        return EdgeResponse(200, headers, b"" if method == "HEAD" else body)

    @staticmethod
    def _denied() -> EdgeResponse:
        return EdgeResponse(403, [("Content-Type", "application/xml"), ("Server", "AmazonS3")],
                            _error_xml("AccessDenied", "Access Denied"))

    def object_url(self, bucket: str, key: str) -> str:
        return f"{self.url}/{bucket}/{quote(key)}"
