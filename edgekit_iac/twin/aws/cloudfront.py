"""One CloudFront distribution, served on a loopback listener from its recorded inputs.

The request path, in CloudFront's order:

1. the web ACL (`webAclId`), per client IP: a block ends here;
2. geo restriction (viewer country: `X-Edgekit-Cf-Country` or the twin's default);
3. the viewer protocol policy. The twin listens on plain http and treats a loopback
   request as the https request a viewer makes, unless it says otherwise with
   `X-Forwarded-Proto: http`: then `redirect-to-https` answers 301 and `https-only` 403,
   as CloudFront answers an http viewer;
4. the cache behaviour for the path (ordered path patterns, then the default), its
   allowed methods (403 otherwise);
5. viewer-request function: a CloudFront Function (`functionAssociations`, the real code run
   in Node, see cloudfront_functions.py) or a Lambda@Edge one; a generated response ends
   here (not cached);
6. the cache (key and TTLs from the behaviour's cache policy): a hit skips to 10;
7. origin-request function: a generated response is cached and skips to 10, a modified
   request (uri, query, headers, even origin) goes on;
8. the origin (S3 with the distribution's authority, or custom HTTP);
9. origin-response function, then the response is cached for its TTL;
10. viewer-response function (not for 4xx/5xx or generated viewer-request responses), then
    `X-Cache` (`Hit|Miss|Error|Redirect|LambdaGeneratedResponse from cloudfront`), `Via`,
    `X-Amz-Cf-Pop`, `X-Amz-Cf-Id` and `Age` (hits), one real-time log line, and a status
    page record.

Signed URLs and cookies (trusted key groups) are checked after 3., and the behaviour's
response headers policy is applied to every answer (see `viewer_security`).

Functions are found the way CloudFront finds them: by the qualified ARN in the behaviour's
association, resolved in the graph to the function version and its bundled zip. A
function that throws or times out is a 503 (LambdaExecutionError), a result breaking the
Lambda@Edge rules (sizes, base64, status) a 502 (LambdaValidationError).

Not emulated: compression, custom error responses, origin groups/failover, field-level
encryption, request bodies for functions (`includeBody`), range requests, viewer-response
CloudFront Functions, and HTTP/2 or /3 (the twin speaks HTTP/1.1). A viewer-request
function's KeyValueStore is modelled (cloudfront_functions.py).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit_iac.twin.aws import cloudfront_functions as cf_functions
from edgekit_iac.twin.aws import cloudfront_rules as rules
from edgekit_iac.twin.aws import lambda_edge as edge
from edgekit_iac.twin.aws import viewer_security
from edgekit_iac.twin.aws.edge_cache import CachedResponse, ResponseCache
from edgekit_iac.twin.aws.lambda_runtime import EdgeFunction, LambdaExecutionError
from edgekit_iac.twin.aws.origins import OriginFetcher, OriginUnreachable, event_origin
from edgekit_iac.twin.aws.realtime_logs import EDGE_LOCATION, RealtimeLog, RequestFacts
from edgekit_iac.twin.aws.s3_local import LocalS3
from edgekit_iac.twin.aws.waf import WafRequest, WebAcl
from edgekit_iac.twin.clock import TwinClock
from edgekit_iac.twin.graph_view import GraphView
from edgekit_iac.twin.http_io import EdgeRequest, EdgeResponse
from edgekit_iac.twin.stats import BLOCKED, ERROR, HIT, MISS, RequestRecord, TwinStats

log = logging.getLogger("edgekit.twin.cloudfront")

CLIENT_IP_HEADER = "x-edgekit-client-ip"
COUNTRY_HEADER = "x-edgekit-cf-country"
TWIN_HEADER_PREFIX = "x-edgekit-"
HIT_TYPE, MISS_TYPE, ERROR_TYPE = "Hit", "Miss", "Error"
REDIRECT_TYPE, GENERATED_TYPE = "Redirect", "LambdaGeneratedResponse"
FUNCTION_GENERATED_TYPE = "FunctionGeneratedResponse"
FUNCTION_EXECUTION_ERROR, FUNCTION_VALIDATION_ERROR = (
    "FunctionExecutionError", "FunctionValidationError")
EXECUTION_ERROR, VALIDATION_ERROR = "LambdaExecutionError", "LambdaValidationError"


@dataclass
class EdgeServices:
    """What every distribution listener shares."""

    view: GraphView
    s3: LocalS3
    functions: Mapping[str, EdgeFunction]  # qualified ARN -> runnable function version
    clock: TwinClock
    stats: TwinStats
    logs_dir: Path
    default_country: str = "US"
    cloudfront_functions: cf_functions.CloudFrontFunctionHost = field(
        default_factory=cf_functions.CloudFrontFunctionHost)
    # A header naming what produced an answer on a miss (the twin's canary: the resizer
    # version, continuous_deployment.py); kept with the cached copy, so a hit names it too.
    produced_by: Callable[[], tuple[str, str]] | None = None


@dataclass
class _Exchange:
    """One viewer request on its way through the distribution."""

    request: EdgeRequest
    client_ip: str
    country: str
    scheme: str
    request_id: str
    arrived: float
    started: float
    behaviour: dict[str, Any] = field(default_factory=dict)
    result_type: str = MISS_TYPE
    blocked: bool = False


class _Answer(Exception):
    """Stop the pipeline and answer with this response and result type."""

    def __init__(self, response: EdgeResponse, result_type: str) -> None:
        super().__init__(result_type)
        self.response, self.result_type = response, result_type


def error_page(status: int, reason: str, request_id: str) -> EdgeResponse:
    """CloudFront's own error page."""
    body = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
        '"http://www.w3.org/TR/html4/loose.dtd"><HTML><HEAD><META HTTP-EQUIV="Content-Type" '
        'CONTENT="text/html; charset=iso-8859-1"><TITLE>ERROR: The request could not be '
        f"satisfied</TITLE></HEAD><BODY><H1>{status} ERROR</H1><H2>The request could not be "
        f"satisfied.</H2><HR noshade size=\"1px\">{reason}<BR clear=\"all\"><HR noshade "
        f'size="1px"><PRE>Generated by cloudfront (CloudFront, local twin)\nRequest ID: '
        f"{request_id}</PRE></BODY></HTML>"
    )
    return EdgeResponse(status, [("Content-Type", "text/html")], body.encode())


def _lower_map(headers: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers:
        found.setdefault(name.lower(), value)
    return found


class Distribution:
    """The app (`EdgeRequest -> EdgeResponse`) for one recorded distribution."""

    def __init__(self, resource, services: EdgeServices) -> None:
        self.name = resource.name
        self.inputs: dict[str, Any] = resource.inputs
        self.id = resource.id or ""
        self.arn = resource.outputs.get("arn", "")
        self.domain = resource.outputs.get("domainName", f"{self.name}.cloudfront.net")
        self.services = services
        self.cache = ResponseCache()
        self.origins = OriginFetcher(self.inputs, self.arn, services.view, services.s3)
        self.notes: list[str] = []
        self.waf = self._web_acl()
        self.realtime_logs = self._realtime_logs()
        self._via = f"1.1 {secrets.token_hex(16)}.cloudfront.net (CloudFront)"
        for behaviour in self._behaviours():
            for association in behaviour.get("lambdaFunctionAssociations") or []:
                if association.get("lambdaArn") not in services.functions:
                    self.notes.append(
                        f"{self.name}: {association.get('eventType')} association names "
                        f"{association.get('lambdaArn')!r}, which is no published version in "
                        "the graph: those requests answer 503")

    # --- set-up from the graph --------------------------------------------------------------

    def _behaviours(self) -> list[dict[str, Any]]:
        return [*(self.inputs.get("orderedCacheBehaviors") or []),
                self.inputs.get("defaultCacheBehavior") or {}]

    def _web_acl(self) -> WebAcl | None:
        acl_id = self.inputs.get("webAclId")
        if not acl_id:
            return None
        acl = self.services.view.web_acl(acl_id)
        if acl is None:
            self.notes.append(f"{self.name}: webAclId {acl_id!r} is no WAFv2 web ACL in the "
                              "graph; requests are not filtered")
            return None
        web_acl = WebAcl(acl.name, acl.inputs, self.services.clock)
        self.notes.extend(web_acl.unsupported)
        return web_acl

    def _realtime_logs(self) -> dict[str, RealtimeLog]:
        logs: dict[str, RealtimeLog] = {}
        for behaviour in self._behaviours():
            arn = behaviour.get("realtimeLogConfigArn")
            if not arn or arn in logs:
                continue
            config = self.services.view.realtime_log_config(arn)
            if config is None:
                self.notes.append(f"{self.name}: realtimeLogConfigArn {arn!r} is no real-time "
                                  "log config in the graph; nothing is logged for it")
                continue
            logs[arn] = RealtimeLog(self.services.logs_dir / f"{self.name}.jsonl", config.inputs)
        return logs

    def _policy(self, behaviour: Mapping[str, Any]) -> rules.CachePolicy:
        policy_id = behaviour.get("cachePolicyId")
        if not policy_id:
            return rules.legacy_cache_policy(behaviour)
        if policy_id in rules.MANAGED_CACHE_POLICIES:
            return rules.MANAGED_CACHE_POLICIES[policy_id]
        resource = self.services.view.cache_policy(policy_id)
        return rules.cache_policy_from_inputs(resource.inputs) if resource else rules.CachePolicy()

    def _origin_request_headers(self, behaviour: Mapping[str, Any]) -> rules.KeyPart:
        """Headers an origin request policy forwards beyond the cache key (not in the key)."""
        resource = self.services.view.origin_request_policy(
            behaviour.get("originRequestPolicyId"))
        return rules.origin_request_headers(resource.inputs if resource else None)

    def invalidate(self, paths: list[str]) -> int:
        """Like a CloudFront invalidation: paths are exact or end in `*` (a prefix)."""
        def matches(key) -> bool:
            path = key[1]
            return any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in paths)

        return self.cache.invalidate(matches)

    # --- serving ---------------------------------------------------------------------------

    def __call__(self, request: EdgeRequest) -> EdgeResponse:
        exchange = _Exchange(
            request=request,
            client_ip=request.header(CLIENT_IP_HEADER) or request.peer_ip,
            country=(request.header(COUNTRY_HEADER) or self.services.default_country).upper(),
            scheme=(request.header("x-forwarded-proto") or "https").lower(),
            request_id=secrets.token_urlsafe(42)[:56],
            arrived=self.services.clock(),
            started=time.perf_counter(),
        )
        try:
            response = self._serve(exchange)
        except _Answer as answer:
            response, exchange.result_type = answer.response, answer.result_type
        except edge.LambdaValidationError as exc:
            log.error("%s: %s", self.name, exc)
            response = error_page(502, f"The Lambda function returned an invalid response: {exc}",
                                  exchange.request_id)
            exchange.result_type = VALIDATION_ERROR
        except LambdaExecutionError as exc:
            log.error("%s: %s", self.name, exc)
            response = error_page(503, "The Lambda function associated with the CloudFront "
                                  "distribution failed or timed out.", exchange.request_id)
            exchange.result_type = EXECUTION_ERROR
        except OriginUnreachable as exc:
            log.warning("%s: %s", self.name, exc)
            response = error_page(exc.status, f"CloudFront could not reach the origin: {exc}",
                                  exchange.request_id)
            exchange.result_type = ERROR_TYPE
        return self._finish(exchange, response)

    def _serve(self, exchange: _Exchange) -> EdgeResponse:
        request = exchange.request
        behaviour = exchange.behaviour = rules.choose_behaviour(self.inputs, request.path)
        self._filter(exchange)
        self._check_signed(exchange)
        if request.method not in (behaviour.get("allowedMethods") or ["GET", "HEAD"]):
            raise _Answer(error_page(403, "This distribution is not configured to allow the "
                                     "HTTP request method that was used for this request.",
                                     exchange.request_id), ERROR_TYPE)
        functions = {a.get("eventType"): a.get("lambdaArn")
                     for a in behaviour.get("lambdaFunctionAssociations") or []}
        viewer_headers = [(k, v) for k, v in request.headers
                          if not k.lower().startswith(TWIN_HEADER_PREFIX) and k.lower() != "host"]
        cf_request = edge.CfRequest(exchange.client_ip, request.method, request.path,
                                    request.query, [("Host", self.domain), *viewer_headers])
        cf_request = self._viewer_request_function(behaviour, exchange, cf_request)
        if edge.VIEWER_REQUEST in functions:
            result = self._invoke(functions, edge.VIEWER_REQUEST, exchange, cf_request)
            if edge.is_response(result):
                generated = edge.response_from_result(edge.VIEWER_REQUEST, result)
                raise _Answer(self._as_response(generated), GENERATED_TYPE)
            cf_request = edge.request_from_result(edge.VIEWER_REQUEST, result, cf_request)

        policy = self._policy(behaviour)
        cacheable = request.method in (behaviour.get("cachedMethods") or ["GET", "HEAD"])
        key = rules.cache_key(request.method, cf_request.uri, cf_request.querystring,
                              cf_request.headers, policy)
        if cacheable:
            cached = self.cache.get(key, exchange.arrived)
            if cached is not None:
                exchange.result_type = HIT_TYPE
                response = EdgeResponse(cached.status, [*cached.headers,
                                                        ("Age", str(cached.age(exchange.arrived)))],
                                        cached.body)
                return self._viewer_response(functions, exchange, cf_request, response)

        response = self._from_origin(functions, exchange, cf_request, behaviour, policy)
        if self.services.produced_by is not None:
            response = EdgeResponse(response.status,
                                    [*response.headers, self.services.produced_by()],
                                    response.body)
        ttl = rules.ttl_seconds(response.status, _lower_map(response.headers), policy,
                                exchange.arrived)
        if cacheable and ttl > 0:
            self.cache.put(key, CachedResponse(response.status, tuple(response.headers),
                                               response.body, exchange.arrived, ttl))
        exchange.result_type = ERROR_TYPE if response.status >= 400 else MISS_TYPE
        return self._viewer_response(functions, exchange, cf_request, response)

    def _viewer_request_function(self, behaviour: Mapping[str, Any], exchange: _Exchange,
                                 cf_request: edge.CfRequest) -> edge.CfRequest:
        """Run the behaviour's viewer-request CloudFront Function, if any, before the cache."""
        arn = next((a.get("functionArn") for a in behaviour.get("functionAssociations") or []
                    if a.get("eventType") == cf_functions.VIEWER_REQUEST), None)
        if arn is None:
            return cf_request
        function = self.services.view.cloudfront_function(arn)
        code = (function.inputs.get("code") if function is not None else None) or ""
        event = cf_functions.viewer_request_event(
            domain=self.domain, distribution_id=self.id, request_id=exchange.request_id,
            client_ip=cf_request.client_ip, method=cf_request.method, uri=cf_request.uri,
            query=cf_request.querystring, headers=cf_request.headers)
        try:
            if not code:
                raise cf_functions.FunctionExecutionError(f"{arn!r} is no CloudFront Function "
                                                          "with code in the graph")
            result = self.services.cloudfront_functions.run(
                code, event, cf_functions.associated_store(self.services.view, function))
        except cf_functions.FunctionValidationError as exc:
            log.error("%s: %s", self.name, exc)
            raise _Answer(error_page(502, f"The CloudFront function returned an invalid value: "
                                     f"{exc}", exchange.request_id),
                          FUNCTION_VALIDATION_ERROR) from exc
        except cf_functions.FunctionExecutionError as exc:
            log.error("%s: %s", self.name, exc)
            raise _Answer(error_page(503, "The CloudFront function associated with the "
                                     "CloudFront distribution failed.", exchange.request_id),
                          FUNCTION_EXECUTION_ERROR) from exc
        if isinstance(result, cf_functions.GeneratedResponse):
            raise _Answer(EdgeResponse(result.status, result.headers, result.body),
                          FUNCTION_GENERATED_TYPE)
        return edge.CfRequest(cf_request.client_ip, cf_request.method, result.uri, result.query,
                              result.headers)

    def _filter(self, exchange: _Exchange) -> None:
        """WAF, geo restriction and viewer protocol: answers CloudFront gives before caching."""
        request = exchange.request
        if self.waf is not None:
            block = self.waf.check(WafRequest(exchange.client_ip, request.method, request.path,
                                              request.query, _lower_map(request.headers)))
            if block is not None:
                exchange.blocked = True
                raise _Answer(EdgeResponse(block.status, list(block.headers), block.body),
                              ERROR_TYPE)
        geo = (self.inputs.get("restrictions") or {}).get("geoRestriction") or {}
        kind, places = geo.get("restrictionType", "none"), geo.get("locations") or []
        if (kind == "whitelist" and exchange.country not in places) or (
                kind == "blacklist" and exchange.country in places):
            raise _Answer(error_page(403, "The Amazon CloudFront distribution is configured to "
                                     "block access from your country.", exchange.request_id),
                          ERROR_TYPE)
        answer = rules.viewer_protocol_answer(exchange.behaviour.get("viewerProtocolPolicy"),
                                              exchange.scheme, self.domain, request.target)
        if answer is not None:
            headers = [("Location", answer.location)] if answer.location else []
            raise _Answer(EdgeResponse(answer.status, headers, b""), REDIRECT_TYPE
                          if answer.status == 301 else ERROR_TYPE)

    def _check_signed(self, exchange: _Exchange) -> None:
        request = exchange.request
        reason = viewer_security.refusal(
            self.services.view, exchange.behaviour, host=request.header("host") or self.domain,
            path=request.path, query=request.query, headers=request.headers,
            client_ip=exchange.client_ip, now=exchange.arrived)
        if reason is not None:
            log.info("%s: 403 for %s: %s", self.name, request.path, reason)
            raise _Answer(error_page(403, "Missing or invalid signed URL or signed cookies.",
                                     exchange.request_id), ERROR_TYPE)

    def _from_origin(self, functions: Mapping[str, str], exchange: _Exchange,
                     cf_request: edge.CfRequest, behaviour: Mapping[str, Any],
                     policy: rules.CachePolicy) -> EdgeResponse:
        declared = self.origins.origin(behaviour.get("targetOriginId"))
        if declared is None:
            raise OriginUnreachable(502, f"behaviour targets origin "
                                         f"{behaviour.get('targetOriginId')!r}, which the "
                                         "distribution does not declare")
        extra = self._origin_request_headers(behaviour)  # the origin request policy's
        forwarded = [(k, v) for k, v in cf_request.headers
                     if policy.headers.selects(k.lower()) or extra.selects(k.lower())]
        origin_request = edge.CfRequest(
            client_ip=cf_request.client_ip,
            method=cf_request.method,
            uri=cf_request.uri,
            querystring=rules.selected_query(cf_request.querystring, policy.query_strings),
            headers=[("Host", declared.get("domainName", "")), *forwarded,
                     ("User-Agent", "Amazon CloudFront"), ("Via", self._via),
                     ("X-Forwarded-For", cf_request.client_ip)],
            origin=event_origin(declared),
        )
        if edge.ORIGIN_REQUEST in functions:
            result = self._invoke(functions, edge.ORIGIN_REQUEST, exchange, origin_request)
            if edge.is_response(result):
                return self._as_response(edge.response_from_result(edge.ORIGIN_REQUEST, result))
            origin_request = edge.request_from_result(edge.ORIGIN_REQUEST, result,
                                                      origin_request)
        fetched = self.origins.fetch(origin_request.origin or event_origin(declared),
                                     "GET" if cf_request.method == "HEAD" else cf_request.method,
                                     origin_request.uri, origin_request.querystring,
                                     origin_request.headers)
        if edge.ORIGIN_RESPONSE not in functions:
            return fetched
        origin_response = edge.CfResponse(fetched.status, fetched.headers, fetched.body)
        result = self._invoke(functions, edge.ORIGIN_RESPONSE, exchange, origin_request,
                              origin_response)
        updated = edge.response_from_result(edge.ORIGIN_RESPONSE, result)
        return EdgeResponse(updated.status, updated.headers,
                            fetched.body if updated.body is None else updated.body)

    def _viewer_response(self, functions: Mapping[str, str], exchange: _Exchange,
                         cf_request: edge.CfRequest, response: EdgeResponse) -> EdgeResponse:
        if edge.VIEWER_RESPONSE not in functions or response.status >= 400:
            return response
        viewer_request = edge.CfRequest(cf_request.client_ip, cf_request.method, cf_request.uri,
                                        cf_request.querystring, cf_request.headers)
        result = self._invoke(functions, edge.VIEWER_RESPONSE, exchange, viewer_request,
                              edge.CfResponse(response.status, response.headers))
        updated = edge.response_from_result(edge.VIEWER_RESPONSE, result)
        return EdgeResponse(updated.status, updated.headers,
                            response.body if updated.body is None else updated.body)

    def _invoke(self, functions: Mapping[str, str], event_type: str, exchange: _Exchange,
                cf_request: edge.CfRequest, cf_response: edge.CfResponse | None = None) -> Any:
        function = self.services.functions.get(functions[event_type])
        if function is None:
            raise LambdaExecutionError(f"{event_type}: no function version "
                                       f"{functions[event_type]!r} in the graph")
        config = edge.EdgeConfig(self.domain, self.id, exchange.request_id)
        return function.invoke(edge.event(event_type, config, cf_request, cf_response))

    @staticmethod
    def _as_response(generated: edge.CfResponse) -> EdgeResponse:
        return EdgeResponse(generated.status, generated.headers, generated.body or b"")

    # --- finishing -------------------------------------------------------------------------

    def _finish(self, exchange: _Exchange, response: EdgeResponse) -> EdgeResponse:
        headers = [(k, v) for k, v in response.headers
                   if k.lower() not in ("x-cache", "via", "x-amz-cf-pop", "x-amz-cf-id")]
        headers = viewer_security.with_policy_headers(self.services.view, exchange.behaviour,
                                                      exchange.request.headers, headers)
        headers += [("X-Cache", f"{exchange.result_type} from cloudfront"), ("Via", self._via),
                    ("X-Amz-Cf-Pop", EDGE_LOCATION), ("X-Amz-Cf-Id", exchange.request_id)]
        # HEAD keeps the body here so Content-Length is the GET's; the HTTP layer sends none.
        final = EdgeResponse(response.status, headers, response.body)
        elapsed = time.perf_counter() - exchange.started
        self._record(exchange, final, elapsed)
        return final

    def _record(self, exchange: _Exchange, response: EdgeResponse, elapsed: float) -> None:
        request = exchange.request
        cache = {HIT_TYPE: HIT, MISS_TYPE: MISS}.get(exchange.result_type, ERROR)
        self.services.stats.record(RequestRecord(
            at=exchange.arrived, endpoint=self.name, method=request.method,
            target=request.target, status=response.status,
            cache=BLOCKED if exchange.blocked else cache, edge_ms=elapsed * 1000,
            client_ip=exchange.client_ip,
        ))
        log_config = exchange.behaviour.get("realtimeLogConfigArn")
        realtime = self.realtime_logs.get(log_config) if log_config else None
        if realtime is None:
            return
        realtime.write(RequestFacts(
            timestamp=exchange.arrived, client_ip=exchange.client_ip, client_port=request.peer_port,
            method=request.method, host=request.header("host") or self.domain,
            target=request.target, protocol=exchange.scheme, status=response.status,
            response_bytes=0 if request.method == "HEAD" else len(response.body),
            request_bytes=len(request.body),
            content_type=response.header("content-type") or "", time_taken=elapsed,
            result_type=exchange.result_type, request_id=exchange.request_id,
            distribution_id=self.id, distribution_domain=self.domain,
            path_pattern=exchange.behaviour.get("pathPattern", "*"),
            country=exchange.country, headers=tuple(request.headers),
        ))
