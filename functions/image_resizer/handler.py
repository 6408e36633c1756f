"""Lambda@Edge origin-request handler: serve /images/{W}x{H}/{key} resized from S3.

The request's S3 origin names the originals bucket; its custom headers carry the settings
(see resize_request). The handler only translates between CloudFront, S3 and the pure
modules: ``resize_request`` decides what was asked, ``resize`` makes the image.

Responses:
- 200 generated response with the image (base64 body), ``Content-Type``, a year-long
  immutable ``Cache-Control``, ``X-Edgekit-Size: WxH`` (the size actually served: dpr and
  the crop modes never enlarge, so it may be smaller than asked) and, when the format was
  negotiated (``format=auto``), ``Vary: Accept``; when it fits Lambda@Edge's 1 MB
  generated-response limit;
- otherwise the request is rewritten to the stored variant (see below) and CloudFront
  fetches it from S3, which serves the Content-Type and Cache-Control stored with it;
- 400 bad path, size, key or format, or a key under ``resized/`` (a stored variant is
  never resized again); 404 no such original; 415 the original is not a JPEG (MPO
  included), PNG, WebP or AVIF image; 422 the original is a corrupt image (anything Pillow
  raises on it; broken metadata alone is ignored and the image served), over the pixel limit
  (decompression bombs are refused from the header) or over MAX_ORIGINAL_BYTES. These are
  cached for a minute: an original may be uploaded or fixed soon after.
- 422 an animation over the frame cap (``x-edgekit-max-frames``) or whose frames x pixels
  are over the pixel limit (``?frames=1`` asks for its first frame).
- When the original is missing (404), not an image (415) or corrupt (422), the stack's
  ``on_error`` decides: ``status`` answers as above; ``redirect`` answers a 302 to
  ``/{key}`` on the same distribution (the original's own URL, served only where the
  distribution exposes originals); ``fallback`` answers the placeholder image
  (``x-edgekit-fallback-key`` in the bucket) resized like the request, with
  ``Cache-Control: public, max-age=60`` and ``X-Edgekit-Fallback: 1`` (never stored as the
  variant). Both are cached for a minute; if the placeholder itself fails, the status
  answer is given. Limits (pixels, frames, bytes) always answer their 422.
- 503 S3 throttled, failed or was unreachable; 502 S3 refused us (permissions, missing
  bucket); 500 a settings header is malformed or something unexpected broke. None of these
  are cached (``no-store``), and the handler never raises.

Stored variants: every resized result is written once to
``resized/{key}/{W}x{H}/{descriptor}`` (contract.variant_key: the descriptor names the
normalised parameters, ``original`` when none were given), under the origin path, with the
served size in the ``x-amz-meta-edgekit-size`` metadata header, and every request first
checks for it, so a variant is resized at most once no matter how many regional edge
caches miss it. Small results are stored too, not only those over the 1 MB limit: the
first request still answers directly from memory, and later misses cost one HEAD instead
of a download and a resize. Originals are treated as immutable (the success Cache-Control
says so); to replace one, delete its variants under ``resized/{key}/`` (`edgekit purge`).
If storing a small result fails it is still served.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from typing import BinaryIO

import contract
import edge_trace
import resize_request

LOG = logging.getLogger("edgekit.image_resizer")
LOG.addFilter(edge_trace.JsonLines())  # every line: JSON with the trace (edge_trace.py)
LOG.setLevel(logging.INFO)

# Lambda@Edge origin triggers may generate 1 MB (headers + body); keep a margin under it.
MAX_GENERATED_RESPONSE_BYTES = 1_000_000
# Bigger originals are refused before downloading them (a download must fit the 30 s).
MAX_ORIGINAL_BYTES = 64 * 1024 * 1024
# An original is streamed from S3 into a spool that stays in memory up to this size and
# beyond it moves to an unnamed file in /tmp: a large original's compressed bytes then never
# sit in memory next to its decoded pixels (Pillow reads PNG 64 KiB at a time).
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
DOWNLOAD_CHUNK_BYTES = 1024 * 1024

IMMUTABLE = "public, max-age=31536000, immutable"
BRIEFLY = "public, max-age=60"
NO_STORE = "no-store"

# S3 error codes meaning "try again later" (they may come with a 4xx or 5xx status).
_RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeTooSkewed",
    }
)
_DENIED_CODES = frozenset({"AccessDenied", "403", "Forbidden"})
_ABSENT_CODES = frozenset({"NoSuchKey", "NotFound", "404"}) | _DENIED_CODES

# "<bucket>.s3.<region>.amazonaws.com", "<bucket>.s3-<region>.amazonaws.com" (legacy) or
# "<bucket>.s3.amazonaws.com" (us-east-1). Bucket names may themselves contain dots.
_S3_DOMAIN = re.compile(
    r"(?P<bucket>.+)\.s3(?:[.-](?P<region>[a-z]{2}(?:-[a-z]+)+-\d+))?\.amazonaws\.com(?:\.cn)?"
)

_S3_CLIENTS: dict[str, object] = {}


class ErrorReply(Exception):
    """Stop handling and answer with this status, message and Cache-Control."""

    def __init__(
        self, status: int, message: str, cache_control: str, *, original_broken: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.cache_control = cache_control
        # The original is missing, not an image or corrupt: on_error may answer instead.
        self.original_broken = original_broken


def handler(event, context):
    """CloudFront origin-request entry point. Never raises. Joins (or starts) the viewer's
    trace, logs one JSON line per request and puts Server-Timing on generated images."""
    trace = edge_trace.start(_header_of(event, "traceparent"))
    token = edge_trace.begin(trace, method=_header_of(event, ":method"), path=_uri_of(event))
    started = time.perf_counter()
    try:
        return traced(_answer(event), trace, started)
    finally:
        edge_trace.end(token)


def _answer(event):
    try:
        return handle_request(event["Records"][0]["cf"]["request"])
    except ErrorReply as reply:
        return error_response(reply.status, reply.message, reply.cache_control)
    except Exception:
        LOG.exception("image resizer failed on %r", _uri_of(event))
        return error_response(500, "internal error while resizing the image", NO_STORE)


def handle_request(request: dict) -> dict:
    s3_origin = request["origin"]["s3"]
    settings = _settings(s3_origin)
    bucket, region = bucket_and_region(s3_origin.get("domainName", ""), s3_origin.get("region"))

    import resize  # Pillow is loaded only once a request needs it

    asked = resize_request.parse_request(
        request["uri"],
        request.get("querystring", ""),
        settings.allowed_sizes,
        resize.encodable_formats(),
        quality_presets=settings.quality_presets,
        default_quality=settings.quality,
    )
    if isinstance(asked, resize_request.Rejection):
        raise ErrorReply(400, asked.reason, BRIEFLY)

    origin_path = s3_origin.get("path", "")
    variant = resize_request.variant_key(asked)
    store = OriginStore(s3_client(region), bucket)
    if store.exists(resize_request.object_key(origin_path, variant)):
        return rewritten_to(request, variant)

    try:
        result = resized_from(store, origin_path, asked, settings)
    except ErrorReply as failure:
        if failure.original_broken and settings.on_error != contract.ON_ERROR_STATUS:
            return instead_of(failure, store, origin_path, asked, settings)
        raise

    edge_trace.record_timings(result.timings)
    response = image_response(result.data, result.content_type, served_headers(asked, result))
    try:
        store.write(
            resize_request.object_key(origin_path, variant),
            result.data,
            result.content_type,
            {"edgekit-size": f"{result.width}x{result.height}"},
        )
    except ErrorReply as failure:
        if fits_generated_limit(response):
            LOG.warning("serving %s without storing it: %s", variant, failure.message)
            return response
        raise ErrorReply(
            503,
            "the resized image is too large to return directly and could not be stored: "
            + failure.message,
            NO_STORE,
        ) from failure
    return response if fits_generated_limit(response) else rewritten_to(request, variant)


def resized_from(store, origin_path: str, asked, settings):
    """The original `asked.key` read and resized as asked; failures become ErrorReply."""
    import resize

    key = resize_request.object_key(origin_path, asked.key)
    with store.download(key, MAX_ORIGINAL_BYTES) as original:  # gone on every path
        return _resized(resize, original, asked, settings)


def _resized(resize, original, asked, settings):
    try:
        return resize.resize(
            original,
            asked.box,
            asked.format,
            quality=asked.quality or settings.quality,
            max_pixels=settings.max_pixels,
            fit=asked.fit,
            gravity=asked.gravity,
            background=asked.background,
            animate=asked.frames != 1,
            max_frames=settings.max_frames,
        )
    except resize.NotAnImage as exc:
        raise ErrorReply(415, str(exc), BRIEFLY, original_broken=True) from exc
    except resize.CorruptImage as exc:
        raise ErrorReply(422, str(exc), BRIEFLY, original_broken=True) from exc
    except resize.ResizeError as exc:  # over a limit: pixels, frames
        raise ErrorReply(422, str(exc), BRIEFLY) from exc


def served_headers(asked, result) -> dict[str, str]:
    """What a resized response says besides its type: the real size, and Vary if negotiated."""
    headers = {contract.SIZE_RESPONSE_HEADER: f"{result.width}x{result.height}"}
    if asked.negotiated:
        headers["vary"] = "Accept"
    return headers


def instead_of(failure: ErrorReply, store, origin_path: str, asked, settings) -> dict:
    """The on_error answer for a missing or broken original (redirect or fallback)."""
    LOG.warning("original %r: %s; answering %s", asked.key, failure.message, settings.on_error)
    if settings.on_error == contract.ON_ERROR_REDIRECT:
        return redirect_response(resize_request.uri_for(asked.key), BRIEFLY)
    placeholder = replace(asked, key=settings.fallback_key)
    try:
        result = resized_from(store, origin_path, placeholder, settings)
    except ErrorReply as broken:
        LOG.error("fallback image %r failed: %s", settings.fallback_key, broken.message)
        raise failure from broken
    edge_trace.record_timings(result.timings)
    headers = served_headers(asked, result) | {contract.FALLBACK_RESPONSE_HEADER: "1"}
    response = image_response(result.data, result.content_type, headers, BRIEFLY)
    if not fits_generated_limit(response):
        LOG.error("fallback image %r is over the generated-response limit", settings.fallback_key)
        raise failure
    return response


def _settings(s3_origin: dict) -> resize_request.ResizerSettings:
    headers = {
        name.lower(): entries[0]["value"]
        for name, entries in (s3_origin.get("customHeaders") or {}).items()
        if entries
    }
    try:
        return resize_request.parse_settings(headers)
    except resize_request.SettingsError as exc:
        LOG.error("image resizer misconfigured: %s", exc)
        raise ErrorReply(500, f"image resizer misconfigured: {exc}", NO_STORE) from exc


def bucket_and_region(domain_name: str, region: str | None) -> tuple[str, str]:
    """The bucket and its region from the S3 origin's domain name (and region, if given)."""
    match = _S3_DOMAIN.fullmatch(domain_name.lower())
    if not match:
        raise ErrorReply(
            500,
            f"image resizer misconfigured: origin domain {domain_name!r} is not an S3 bucket "
            "domain like '<bucket>.s3.<region>.amazonaws.com'",
            NO_STORE,
        )
    return match["bucket"], region or match["region"] or "us-east-1"


def s3_client(region: str):
    """One S3 client per region for the life of the Lambda instance (created on first use).

    The resizer's own small S3 client (s3.py: stdlib only, SigV4, botocore's retry and error
    shapes), not botocore's: importing botocore and creating its client cost more than the
    rest of a cold start (bench/cold_start.py). It honours AWS_ENDPOINT_URL_S3 /
    AWS_ENDPOINT_URL, which is how tests and the local twin point it at moto. Timeouts and
    retries are bounded to stay within the 30 s limit.
    """
    client = _S3_CLIENTS.get(region)
    if client is None:
        import s3

        client = s3.S3Client(
            region,
            connect_timeout=3,
            read_timeout=10,
            max_attempts=3,
            # S3 calls carry the request's traceparent (S3's server access logs see it).
            extra_headers=edge_trace.outgoing_headers,
        )
        _S3_CLIENTS[region] = client
    return client


class OriginStore:
    """The originals bucket, with S3 failures turned into ErrorReply.

    S3 answers 403 instead of 404 for a missing key when the caller lacks s3:ListBucket,
    so a 403 on a lookup is read as "absent" (and logged when it concerns an original).
    """

    def __init__(self, client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except _s3_errors() as exc:
            if _s3_error_code(exc) in _ABSENT_CODES:
                return False
            raise storage_failure(exc, f"checking for {key!r}") from exc
        return True

    @contextmanager
    def download(self, key: str, max_bytes: int) -> Iterator[BinaryIO]:
        """The object `key` in a rewound spool (see SPOOL_IN_MEMORY_BYTES), closed on leaving.
        Its file in /tmp, if it needs one, is unnamed from the start (tempfile's
        TemporaryFile: O_TMPFILE, or unlinked at once), so nothing is left on disk whatever
        happens: closing it, or the process ending (a timeout), frees it."""
        import tempfile

        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
            self._download_into(spool, key, max_bytes)
            spool.seek(0)
            yield spool

    def _download_into(self, spool, key: str, max_bytes: int) -> None:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
            size = obj.get("ContentLength") or 0
            received = 0
            try:
                while size <= max_bytes and (chunk := obj["Body"].read(DOWNLOAD_CHUNK_BYTES)):
                    received += len(chunk)
                    if received > max_bytes:  # no or a wrong Content-Length: still bounded
                        break
                    spool.write(chunk)
            finally:
                obj["Body"].close()  # read to the end: nothing to do; else drops the connection
            if size > max_bytes or received > max_bytes:
                told = f"{size} bytes, over" if size > max_bytes else "over"
                raise ErrorReply(
                    422, f"the original is {told} the limit of {max_bytes} bytes", BRIEFLY
                )
        except _s3_errors() as exc:
            if (code := _s3_error_code(exc)) in _ABSENT_CODES:
                if code in _DENIED_CODES:
                    LOG.warning("S3 denied reading %r: missing, or no s3:GetObject", key)
                raise ErrorReply(
                    404, f"no original image at {key!r}", BRIEFLY, original_broken=True
                ) from exc
            raise storage_failure(exc, f"reading {key!r}") from exc

    def write(
        self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                CacheControl=IMMUTABLE,
                Metadata=metadata or {},
            )
        except _s3_errors() as exc:
            raise storage_failure(exc, f"storing {key!r}") from exc


@cache
def _s3_errors() -> tuple[type[Exception], ...]:
    """The S3 client's exception types, imported only once S3 is actually called."""
    import s3

    return s3.ClientError, s3.TransportError


def _s3_error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)  # only ClientError has one
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "")) or None
    return None


def storage_failure(exc: Exception, doing: str) -> ErrorReply:
    """Map an S3 failure to a reply CloudFront will not cache, and log it."""
    code = _s3_error_code(exc)
    if code is None:  # TransportError: connection refused/reset, timeouts, DNS
        code, status = type(exc).__name__, 0
        retryable = True
    else:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        retryable = code in _RETRYABLE_CODES or status >= 500
    LOG.error("S3 failed %s: %s (%s)", doing, code, exc)
    if retryable:
        return ErrorReply(503, f"image storage is unavailable ({code}); retry shortly", NO_STORE)
    if code in _DENIED_CODES or status == 403:
        return ErrorReply(502, "the resizer is not allowed to use image storage", NO_STORE)
    return ErrorReply(502, f"image storage refused the request ({code})", NO_STORE)


def image_response(
    data: bytes,
    content_type: str,
    extra_headers: dict[str, str] | None = None,
    cache_control: str = IMMUTABLE,
) -> dict:
    headers = {
        "content-type": [{"key": "Content-Type", "value": content_type}],
        "cache-control": [{"key": "Cache-Control", "value": cache_control}],
    }
    for name, value in (extra_headers or {}).items():
        headers[name.lower()] = [{"key": _header_key(name), "value": value}]
    return {
        "status": "200",
        "statusDescription": "OK",
        "headers": headers,
        "bodyEncoding": "base64",
        "body": base64.b64encode(data).decode("ascii"),
    }


def redirect_response(location: str, cache_control: str) -> dict:
    return {
        "status": "302",
        "statusDescription": "Found",
        "headers": {
            "location": [{"key": "Location", "value": location}],
            "cache-control": [{"key": "Cache-Control", "value": cache_control}],
        },
    }


def _header_key(name: str) -> str:
    """The display form CloudFront shows for a header name: X-Edgekit-Size."""
    return "-".join(part.capitalize() for part in name.split("-"))


def error_response(status: int, message: str, cache_control: str) -> dict:
    return {
        "status": str(status),
        "statusDescription": _REASONS.get(status, "Error"),
        "headers": {
            "content-type": [{"key": "Content-Type", "value": "application/json"}],
            "cache-control": [{"key": "Cache-Control", "value": cache_control}],
        },
        "bodyEncoding": "text",
        "body": json.dumps({"error": message, "status": status}),
    }


_REASONS = {
    400: "Bad Request",
    404: "Not Found",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def fits_generated_limit(response: dict) -> bool:
    """Whether Lambda@Edge accepts this generated response (its serialized size)."""
    return len(json.dumps(response)) <= MAX_GENERATED_RESPONSE_BYTES


def rewritten_to(request: dict, key: str) -> dict:
    """Send the request on to the origin for the stored object `key` instead of generating."""
    request["uri"] = resize_request.uri_for(key)
    request["querystring"] = ""  # S3 gives meaning to some query parameters; drop them all
    return request


def traced(result: dict, trace: edge_trace.Trace, started: float) -> dict:
    """The trace on what leaves: Server-Timing on a generated response, traceparent on a
    request rewritten to a stored variant (S3 sees it); one log line either way."""
    timings = edge_trace.timings()
    total = (time.perf_counter() - started) * 1000
    headers = result.setdefault("headers", {})
    if "status" in result:
        if timings:
            value = edge_trace.server_timing({**timings, "resizer": total})
            headers["server-timing"] = [{"key": "Server-Timing", "value": value}]
        status = int(result["status"])
        cache_result = _outcome(status, headers)
    else:
        headers["traceparent"] = [{"key": "traceparent", "value": trace.traceparent}]
        status, cache_result = None, "variant"
    LOG.info("resized" if timings else "answered", extra={"edge_fields": {
        "status": status, "cache": cache_result, "duration_ms": round(total, 1)}})
    return result


def _outcome(status: int, headers: dict) -> str:
    """What a generated response was, for the log line's `cache` field."""
    if status >= 400:
        return "error"
    if status >= 300:
        return "redirect"  # on_error=redirect
    return "fallback" if contract.FALLBACK_RESPONSE_HEADER in headers else "generated"


def _header_of(event, name: str) -> str | None:
    """A request header's first value (":method" is the request's method)."""
    try:
        request = event["Records"][0]["cf"]["request"]
        if name == ":method":
            return request.get("method")
        return request.get("headers", {}).get(name, [{}])[0].get("value")
    except Exception:
        return None


def _uri_of(event) -> str:
    try:
        return event["Records"][0]["cf"]["request"]["uri"]
    except Exception:
        return "<no uri in event>"
