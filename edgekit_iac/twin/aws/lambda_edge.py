"""Lambda@Edge's documented event shapes and result rules, as pure functions.

Events (AWS "Lambda@Edge event structure"): `{"Records": [{"cf": {"config": {...},
"request": {...}, "response": {...}}}]}`, headers as `{"lower-name": [{"key": "Name",
"value": "v"}]}`, the request's `origin` ({"s3": {...}} or {"custom": {...}}) present only
in origin events, the response (status, statusDescription, headers; never the body) only
in response events.

Results:
- a request trigger returns either the (possibly modified) request, which goes on, or a
  response, which CloudFront serves instead ("generated response");
- a response trigger returns the (possibly modified) response;
- a generated response may be at most 40 KB (viewer triggers) or 1 MB (origin triggers),
  headers and body together, a `bodyEncoding: base64` body must be valid base64, and the
  status must be a number from 100 to 599: otherwise CloudFront answers 502
  (LambdaValidationError). A function that throws or times out gives 503
  (LambdaExecutionError).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

VIEWER_REQUEST = "viewer-request"
ORIGIN_REQUEST = "origin-request"
ORIGIN_RESPONSE = "origin-response"
VIEWER_RESPONSE = "viewer-response"
EVENT_TYPES = (VIEWER_REQUEST, ORIGIN_REQUEST, ORIGIN_RESPONSE, VIEWER_RESPONSE)

KIB = 1024
# Size of a response a function generates, headers and body (AWS Lambda@Edge quotas).
GENERATED_RESPONSE_LIMITS = {
    VIEWER_REQUEST: 40 * KIB,
    VIEWER_RESPONSE: 40 * KIB,
    ORIGIN_REQUEST: 1024 * KIB,
    ORIGIN_RESPONSE: 1024 * KIB,
}


class LambdaValidationError(Exception):
    """The function's result breaks a Lambda@Edge rule: CloudFront answers 502."""


@dataclass(frozen=True)
class EdgeConfig:
    distribution_domain: str
    distribution_id: str
    request_id: str


@dataclass
class CfRequest:
    """The request as Lambda@Edge sees it; `origin` only on the way to the origin."""

    client_ip: str
    method: str
    uri: str
    querystring: str
    headers: list[tuple[str, str]]
    origin: dict[str, Any] | None = None

    def to_event(self) -> dict[str, Any]:
        event = {
            "clientIp": self.client_ip,
            "headers": cf_headers(self.headers),
            "method": self.method,
            "querystring": self.querystring,
            "uri": self.uri,
        }
        if self.origin is not None:
            event["origin"] = self.origin
        return event


@dataclass
class CfResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes | None = None  # None: a response trigger left the origin's body alone
    status_description: str = ""

    def to_event(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "statusDescription": self.status_description,
            "headers": cf_headers(self.headers),
        }


def cf_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Header pairs -> CloudFront's form: lower-case name -> [{"key", "value"}, ...]."""
    headers: dict[str, list[dict[str, str]]] = {}
    for name, value in pairs:
        headers.setdefault(name.lower(), []).append({"key": name, "value": value})
    return headers


def header_pairs(headers: Mapping[str, Any] | None, event_type: str) -> list[tuple[str, str]]:
    """CloudFront's header form -> pairs; a malformed entry is the function's mistake."""
    pairs: list[tuple[str, str]] = []
    for name, entries in (headers or {}).items():
        if not isinstance(entries, list):
            raise LambdaValidationError(
                f"{event_type}: header {name!r} must be a list of {{key, value}} objects"
            )
        for entry in entries:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("value"), str):
                raise LambdaValidationError(
                    f"{event_type}: header {name!r} has an entry without a string value"
                )
            key = entry.get("key") or name
            if key.lower() != name.lower():
                raise LambdaValidationError(
                    f"{event_type}: header key {key!r} does not match its name {name!r}"
                )
            pairs.append((key, entry["value"]))
    return pairs


def event(event_type: str, config: EdgeConfig, request: CfRequest,
          response: CfResponse | None = None) -> dict[str, Any]:
    """The whole invocation event for one trigger."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown Lambda@Edge event type {event_type!r}")
    cf: dict[str, Any] = {
        "config": {
            "distributionDomainName": config.distribution_domain,
            "distributionId": config.distribution_id,
            "eventType": event_type,
            "requestId": config.request_id,
        },
        "request": request.to_event(),
    }
    if response is not None:
        cf["response"] = response.to_event()
    return {"Records": [{"cf": cf}]}


def is_response(result: Any) -> bool:
    """A request trigger's result is a response when it carries a status."""
    return isinstance(result, Mapping) and "status" in result


def request_from_result(event_type: str, result: Any, before: CfRequest) -> CfRequest:
    """The request a request trigger sends on (uri, query, headers, origin may change)."""
    if not isinstance(result, Mapping) or not isinstance(result.get("uri"), str):
        raise LambdaValidationError(
            f"{event_type}: the function returned neither a response (with a status) nor a "
            f"request (with a uri): {_preview(result)}"
        )
    uri = result["uri"]
    if not uri.startswith("/"):
        raise LambdaValidationError(f"{event_type}: uri {uri!r} must start with '/'")
    origin = result.get("origin", before.origin) if event_type == ORIGIN_REQUEST else None
    return CfRequest(
        client_ip=before.client_ip,
        method=before.method,
        uri=uri,
        querystring=str(result.get("querystring") or ""),
        headers=header_pairs(result.get("headers"), event_type),
        origin=origin,
    )


def response_from_result(event_type: str, result: Any) -> CfResponse:
    """A generated (request trigger) or updated (response trigger) response, validated."""
    if not isinstance(result, Mapping):
        raise LambdaValidationError(f"{event_type}: result is not an object: {_preview(result)}")
    limit = GENERATED_RESPONSE_LIMITS[event_type]
    size = len(json.dumps(result, separators=(",", ":")).encode())
    if size > limit:
        raise LambdaValidationError(
            f"{event_type}: the generated response is {size:,} bytes, over the Lambda@Edge "
            f"limit of {limit:,} bytes for {event_type} triggers"
        )
    try:
        status = int(result.get("status"))
    except (TypeError, ValueError):
        status = 0
    if not 100 <= status <= 599:
        raise LambdaValidationError(
            f"{event_type}: status {result.get('status')!r} is not an HTTP status (100-599)"
        )
    return CfResponse(
        status=status,
        headers=header_pairs(result.get("headers"), event_type),
        body=_body(event_type, result),
        status_description=str(result.get("statusDescription") or ""),
    )


def _body(event_type: str, result: Mapping[str, Any]) -> bytes | None:
    body = result.get("body")
    if body is None:
        return None
    if not isinstance(body, str):
        raise LambdaValidationError(f"{event_type}: body must be a string")
    encoding = result.get("bodyEncoding", "text")
    if encoding == "base64":
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise LambdaValidationError(
                f"{event_type}: bodyEncoding is base64 but the body is not valid base64"
            ) from exc
    if encoding != "text":
        raise LambdaValidationError(
            f"{event_type}: bodyEncoding {encoding!r} is not 'text' or 'base64'"
        )
    return body.encode("utf-8")


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
