"""AWS WAFv2 web ACL evaluation for the twin, from the web ACL's recorded inputs.

Rules run in priority order; the first terminating action (Allow or Block) decides, Count
goes on; the default action decides when nothing terminates. Emulated statements:

- `rateBasedStatement` per client IP (`aggregateKeyType` IP, or FORWARDED_IP with its
  header), `limit` requests over `evaluationWindowSec` (default 300 s), optionally scoped
  down; a client over the limit gets the rule's action for as long as it stays over it;
- `byteMatchStatement` on the URI path, query string, method or a single header, with
  EXACTLY / STARTS_WITH / ENDS_WITH / CONTAINS / CONTAINS_WORD and the LOWERCASE,
  URL_DECODE and NONE text transformations;
- `andStatement`, `orStatement`, `notStatement` of those.

Block answers 403, or the custom response (status, headers, a body from
`customResponseBodies`). Managed rule groups and other statements are not emulated: such
rules never match locally, and the twin says so once at start (`unsupported`).
Rules may come as `rules` (Pulumi inputs) or `ruleJson` (the AWS API's JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from edgekit_iac.twin.rate_counter import SlidingWindowCounter

DEFAULT_WINDOW = 300
_CONTENT_TYPES = {"APPLICATION_JSON": "application/json", "TEXT_HTML": "text/html",
                  "TEXT_PLAIN": "text/plain"}


@dataclass(frozen=True)
class WafRequest:
    client_ip: str
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names


@dataclass(frozen=True)
class WafBlock:
    rule: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def camel(value: Any) -> Any:
    """AWS API JSON (PascalCase keys) -> Pulumi's wire form (camelCase keys)."""
    if isinstance(value, Mapping):
        return {(k[:1].lower() + k[1:]): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _field(request: WafRequest, field_to_match: Mapping[str, Any]) -> str | None:
    if "uriPath" in field_to_match:
        return request.path
    if "queryString" in field_to_match:
        return request.query
    if "method" in field_to_match:
        return request.method
    if "singleHeader" in field_to_match:
        return request.headers.get(str(field_to_match["singleHeader"].get("name", "")).lower())
    return None


def _transform(text: str, transformations: list[Mapping[str, Any]]) -> str:
    for step in sorted(transformations or [], key=lambda t: t.get("priority", 0)):
        kind = step.get("type", "NONE")
        if kind == "LOWERCASE":
            text = text.lower()
        elif kind == "URL_DECODE":
            text = unquote_plus(text)
    return text


def _byte_match(statement: Mapping[str, Any], request: WafRequest) -> bool:
    value = _field(request, statement.get("fieldToMatch") or {})
    if value is None:
        return False
    value = _transform(value, statement.get("textTransformations") or [])
    search = str(statement.get("searchString", ""))
    where = statement.get("positionalConstraint", "CONTAINS")
    if where == "EXACTLY":
        return value == search
    if where == "STARTS_WITH":
        return value.startswith(search)
    if where == "ENDS_WITH":
        return value.endswith(search)
    if where == "CONTAINS_WORD":
        return re.search(rf"(^|\W){re.escape(search)}(\W|$)", value) is not None
    return search in value


class UnsupportedStatement(Exception):
    pass


def statement_matches(statement: Mapping[str, Any], request: WafRequest) -> bool:
    """Whether a (non rate-based) statement matches; raises for statements not emulated."""
    if "byteMatchStatement" in statement:
        return _byte_match(statement["byteMatchStatement"], request)
    if "andStatement" in statement:
        return all(statement_matches(s, request)
                   for s in statement["andStatement"].get("statements", []))
    if "orStatement" in statement:
        return any(statement_matches(s, request)
                   for s in statement["orStatement"].get("statements", []))
    if "notStatement" in statement:
        inner = statement["notStatement"].get("statement") or (
            statement["notStatement"].get("statements") or [{}])[0]
        return not statement_matches(inner, request)
    raise UnsupportedStatement(", ".join(sorted(statement)) or "an empty statement")


@dataclass
class _Rule:
    name: str
    priority: int
    statement: dict[str, Any]
    action: str  # allow | block | count | none (rule group)
    block: WafBlock | None
    counter: SlidingWindowCounter | None = None


class WebAcl:
    """One web ACL: `check(request)` is None (let it through) or the block to answer with."""

    def __init__(self, name: str, inputs: Mapping[str, Any], clock: Callable[[], float]):
        self.name = name
        self.unsupported: list[str] = []
        bodies = {b.get("key"): b for b in inputs.get("customResponseBodies") or []}
        rules = inputs.get("rules") or []
        if not rules and inputs.get("ruleJson"):
            rules = camel(json.loads(inputs["ruleJson"]))
        self._rules = []
        for raw in sorted(rules, key=lambda r: int(r.get("priority", 0))):
            rule = self._rule(raw, bodies, clock)
            if rule is not None:
                self._rules.append(rule)
        default = inputs.get("defaultAction") or {"allow": {}}
        self._default_block = (self._block(self.name, default["block"], bodies)
                               if "block" in default else None)

    def _rule(self, raw: Mapping[str, Any], bodies: Mapping[str, Any],
              clock: Callable[[], float]) -> _Rule | None:
        name = str(raw.get("name", "rule"))
        statement = dict(raw.get("statement") or {})
        action_block = raw.get("action") or {}
        action = next((a for a in ("allow", "block", "count") if a in action_block), "none")
        if action == "none" or not ({"rateBasedStatement", "byteMatchStatement", "andStatement",
                                     "orStatement", "notStatement"} & statement.keys()):
            kinds = ", ".join(sorted(statement)) or "no statement"
            self.unsupported.append(f"{self.name}: rule {name!r} ({kinds}) is not emulated "
                                    "by the twin and never matches locally")
            return None
        block = self._block(name, action_block["block"], bodies) if action == "block" else None
        counter = None
        if "rateBasedStatement" in statement:
            window = int(statement["rateBasedStatement"].get("evaluationWindowSec")
                         or DEFAULT_WINDOW)
            counter = SlidingWindowCounter(window, clock)
        return _Rule(name, int(raw.get("priority", 0)), statement, action, block, counter)

    def rate_limits(self) -> list[str]:
        """Each rate rule, as a person reads it: name, limit per window, scope."""
        described = []
        for rule in self._rules:
            rate = rule.statement.get("rateBasedStatement")
            if rate is None or rule.counter is None:
                continue
            scope = rate.get("scopeDownStatement", {}).get("byteMatchStatement", {})
            where = f" on {scope['searchString']}*" if scope.get("searchString") else ""
            described.append(f"WAF {rule.name}: {rate.get('limit')} per "
                             f"{rule.counter.window} s per IP{where}")
        return described

    @staticmethod
    def _block(rule: str, block: Mapping[str, Any] | None, bodies: Mapping[str, Any]) -> WafBlock:
        custom = (block or {}).get("customResponse") or {}
        headers = [(h.get("name", ""), h.get("value", ""))
                   for h in custom.get("responseHeaders") or []]
        body_spec = bodies.get(custom.get("customResponseBodyKey")) or {}
        body = str(body_spec.get("content", "")).encode()
        if body_spec:
            content_type = _CONTENT_TYPES.get(body_spec.get("contentType"), "text/plain")
            headers.append(("Content-Type", content_type))
        elif not custom:
            headers.append(("Content-Type", "text/html"))
            body = b"<html><body><h1>403 Forbidden</h1></body></html>"
        # WAF prefixes custom header names with x-amzn-waf-.
        headers = [(n if n.lower() == "content-type" else f"x-amzn-waf-{n}", v)
                   for n, v in headers]
        return WafBlock(rule, int(custom.get("responseCode") or 403), tuple(headers), body)

    def _matches(self, rule: _Rule, request: WafRequest) -> bool:
        if rule.counter is None:
            return statement_matches(rule.statement, request)
        rate = rule.statement["rateBasedStatement"]
        scope = rate.get("scopeDownStatement")
        if scope and not statement_matches(scope, request):
            return False
        key = request.client_ip
        if rate.get("aggregateKeyType") == "FORWARDED_IP":
            header = (rate.get("forwardedIpConfig") or {}).get("headerName", "X-Forwarded-For")
            forwarded = request.headers.get(header.lower(), "")
            key = forwarded.split(",")[0].strip() or request.client_ip
        return rule.counter.add(key) > int(rate.get("limit", 0))

    def check(self, request: WafRequest) -> WafBlock | None:
        for rule in self._rules:
            try:
                matched = self._matches(rule, request)
            except UnsupportedStatement:
                matched = False
            if not matched or rule.action == "count":
                continue
            return rule.block if rule.action == "block" else None
        return self._default_block
