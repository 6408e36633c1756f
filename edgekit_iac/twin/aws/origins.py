"""A distribution's origins: their Lambda@Edge event form, and fetching from them.

S3 origins (an `s3OriginConfig`, or a bucket domain without a custom origin config) are
read from the twin's S3 as CloudFront would read them: with the Origin Access Control's
authority (principal cloudfront.amazonaws.com, `AWS:SourceArn` the distribution's ARN),
with an Origin Access Identity's, or anonymously; the bucket is the one whose computed
domain name the origin names. Custom origins are fetched over HTTP(S) at their domain,
port and origin path, with the origin's custom headers and read timeout.
"""

from __future__ import annotations

import http.client
import re
import ssl
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from edgekit_iac.twin.aws import s3_policy
from edgekit_iac.twin.aws.lambda_edge import cf_headers, header_pairs
from edgekit_iac.twin.aws.s3_local import LocalS3
from edgekit_iac.twin.graph_view import GraphView
from edgekit_iac.twin.http_io import HOP_BY_HOP, EdgeResponse

S3_DOMAIN = re.compile(r".+\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?")
CLOUDFRONT_SERVICE = "cloudfront.amazonaws.com"
CONNECT_TIMEOUT = 10  # CloudFront's default origin connection timeout


class OriginUnreachable(Exception):
    """The origin could not be reached or did not answer in time (502 / 504)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_s3(origin: Mapping[str, Any]) -> bool:
    if "customOriginConfig" in origin:
        return False
    return "s3OriginConfig" in origin or bool(S3_DOMAIN.fullmatch(origin.get("domainName", "")))


def event_origin(origin: Mapping[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    """An origin as Lambda@Edge origin events describe it."""
    custom_headers = cf_headers((h.get("name", ""), h.get("value", ""))
                                for h in origin.get("customHeaders") or [])
    path = origin.get("originPath") or ""
    if is_s3(origin):
        identity = (origin.get("s3OriginConfig") or {}).get("originAccessIdentity")
        return {"s3": {
            "authMethod": "origin-access-identity" if identity else "none",
            "customHeaders": custom_headers,
            "domainName": origin.get("domainName", ""),
            "path": path,
            "region": region,
        }}
    config = origin.get("customOriginConfig") or {}
    protocol = "http" if config.get("originProtocolPolicy") == "http-only" else "https"
    return {"custom": {
        "customHeaders": custom_headers,
        "domainName": origin.get("domainName", ""),
        "keepaliveTimeout": int(config.get("originKeepaliveTimeout") or 5),
        "path": path,
        "port": int(config.get("httpPort" if protocol == "http" else "httpsPort")
                    or (80 if protocol == "http" else 443)),
        "protocol": protocol,
        "readTimeout": int(config.get("originReadTimeout") or 30),
        "sslProtocols": list(config.get("originSslProtocols") or ["TLSv1.2"]),
    }}


class OriginFetcher:
    """Fetches for one distribution."""

    def __init__(self, distribution_inputs: Mapping[str, Any], distribution_arn: str,
                 view: GraphView, s3: LocalS3) -> None:
        self._origins = list(distribution_inputs.get("origins") or [])
        self._arn = distribution_arn
        self._view = view
        self._s3 = s3

    def origin(self, origin_id: str | None) -> Mapping[str, Any] | None:
        return next((o for o in self._origins if o.get("originId") == origin_id), None)

    def _declared(self, domain: str) -> Mapping[str, Any]:
        return next((o for o in self._origins if o.get("domainName") == domain), {})

    def reader_for(self, domain: str) -> s3_policy.Principal:
        """Who CloudFront is when it reads the bucket behind `domain`."""
        declared = self._declared(domain)
        context = {"aws:SecureTransport": "true"}
        if declared.get("originAccessControlId"):
            return s3_policy.Principal(service=CLOUDFRONT_SERVICE,
                                       context={**context, "AWS:SourceArn": self._arn})
        identity = (declared.get("s3OriginConfig") or {}).get("originAccessIdentity", "")
        if identity:
            oai_id = identity.rsplit("/", 1)[-1]
            return s3_policy.Principal(
                arn=f"arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity {oai_id}",
                context=context,
            )
        return s3_policy.Principal(context=context)

    def fetch(self, origin: Mapping[str, Any], method: str, uri: str, querystring: str,
              headers: Sequence[tuple[str, str]]) -> EdgeResponse:
        """GET/HEAD `uri` from an event-form origin ({"s3": ...} or {"custom": ...})."""
        if "s3" in origin:
            s3 = origin["s3"]
            bucket = self._view.bucket_for_domain(s3.get("domainName", ""))
            if bucket is None:
                raise OriginUnreachable(
                    502, f"S3 origin {s3.get('domainName')!r} is not a bucket this program "
                    "declares; the twin serves only declared buckets")
            key = unquote(s3.get("path", "") + uri).lstrip("/")
            return self._s3.read_as(bucket.outputs.get("bucket") or bucket.id, key,
                                    self.reader_for(s3.get("domainName", "")), method)
        return self._fetch_custom(origin["custom"], method, uri, querystring, headers)

    def _fetch_custom(self, custom: Mapping[str, Any], method: str, uri: str, querystring: str,
                      headers: Sequence[tuple[str, str]]) -> EdgeResponse:
        host, port = custom.get("domainName", ""), int(custom.get("port") or 443)
        target = custom.get("path", "") + uri + (f"?{querystring}" if querystring else "")
        sent = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() != "host"]
        sent += header_pairs(custom.get("customHeaders"), "origin")
        sent.append(("Host", host if port in (80, 443) else f"{host}:{port}"))
        timeout = float(custom.get("readTimeout") or 30)
        if custom.get("protocol") == "http":
            connection = http.client.HTTPConnection(host, port, timeout=CONNECT_TIMEOUT)
        else:
            connection = http.client.HTTPSConnection(host, port, timeout=CONNECT_TIMEOUT,
                                                     context=ssl.create_default_context())
        try:
            connection.connect()
            connection.sock.settimeout(timeout)
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in sent:
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            body = response.read()
        except TimeoutError as exc:
            raise OriginUnreachable(504, f"origin {host}:{port} did not answer within "
                                         f"{timeout:g} s") from exc
        except OSError as exc:
            raise OriginUnreachable(502, f"origin {host}:{port} unreachable: {exc}") from exc
        finally:
            connection.close()
        kept = [(k, v) for k, v in response.getheaders()
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
        return EdgeResponse(response.status, kept, body)
