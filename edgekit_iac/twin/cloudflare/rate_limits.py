"""A zone's `http_ratelimit` ruleset, evaluated in front of the Workers on that zone.

Each enabled rule with a `ratelimit` block counts the requests its `countingExpression`
(else its `expression`) matches, per the values of its `characteristics`, over `period`
seconds. Once a counter passes `requestsPerPeriod`, requests matching the rule's
`expression` with those characteristics get the rule's action (`block`: the configured
`actionParameters.response`, or Cloudflare's default 429) for `mitigationTimeout` seconds,
or while the rate stays over the limit when the timeout is 0. Rules run in order; the first
blocking one answers. Characteristics the twin keys on: `cf.colo.id` (the twin's colo),
`ip.src`, `ip.src.country`, `http.host`, `http.request.uri.path`; `cf.unique_visitor_id`
and header/cookie characteristics raise at start, as do expressions outside
`cf_expression`'s subset. Actions other than block (log, challenges) never answer locally.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgekit_iac.errors import UserError
from edgekit_iac.twin.cloudflare.expression import Predicate, compile_expression
from edgekit_iac.twin.rate_counter import SlidingWindowCounter

CHARACTERISTICS = {
    "cf.colo.id": "cf.colo.id",
    "ip.src": "ip.src",
    "ip.src.country": "ip.src.country",
    "http.host": "http.host",
    "http.request.uri.path": "http.request.uri.path",
}
DEFAULT_BLOCK_BODY = (b"<!DOCTYPE html><html><head><title>Access denied | rate limited</title>"
                      b"</head><body><h1>Error 1015</h1><p>You are being rate limited.</p>"
                      b"</body></html>")


@dataclass(frozen=True)
class RateLimitBlock:
    rule: str
    status: int
    content_type: str
    body: bytes


class _Rule:
    def __init__(self, raw: Mapping[str, Any], clock: Callable[[], float]) -> None:
        limits = raw["ratelimit"]
        self.name = str(raw.get("description") or raw.get("ref") or raw.get("id") or "rule")
        self.action = str(raw.get("action") or "block")
        self.matches: Predicate = compile_expression(str(raw.get("expression") or "true"))
        counting = limits.get("countingExpression")
        self.counts: Predicate = compile_expression(counting) if counting else self.matches
        unknown = [c for c in limits.get("characteristics") or [] if c not in CHARACTERISTICS]
        if unknown:
            raise UserError(
                f"rate-limit rule {self.name!r}: characteristics {unknown} are not emulated by "
                f"the twin; it keys on {', '.join(CHARACTERISTICS)}"
            )
        self.characteristics: Sequence[str] = list(limits.get("characteristics") or [])
        self.limit = int(limits.get("requestsPerPeriod") or 0)
        self.timeout = int(limits.get("mitigationTimeout") or 0)
        self.counter = SlidingWindowCounter(int(limits.get("period") or 60), clock)
        response = (raw.get("actionParameters") or {}).get("response") or {}
        self.block = RateLimitBlock(
            rule=self.name,
            status=int(response.get("statusCode") or 429),
            content_type=str(response.get("contentType") or "text/html"),
            body=str(response["content"]).encode() if "content" in response
            else DEFAULT_BLOCK_BODY,
        )
        self._blocked_until: dict[tuple, float] = {}
        self._lock = threading.Lock()

    def check(self, fields: Mapping[str, Any], now: float) -> RateLimitBlock | None:
        key = tuple(fields.get(CHARACTERISTICS[c], "") for c in self.characteristics)
        count = self.counter.add(key) if self.counts(fields) else self.counter.count(key)
        with self._lock:
            if count > self.limit and self.timeout:
                self._blocked_until[key] = max(self._blocked_until.get(key, 0.0),
                                               now + self.timeout)
            mitigated = self._blocked_until.get(key, 0.0) > now or count > self.limit
        if mitigated and self.matches(fields) and self.action == "block":
            return self.block
        return None


class ZoneRateLimits:
    """The http_ratelimit rules of the zones a Worker is routed on."""

    def __init__(self, rulesets: Sequence[Mapping[str, Any]], clock: Callable[[], float]):
        self._clock = clock
        self.rules = [
            _Rule(rule, clock)
            for ruleset in rulesets
            for rule in ruleset.get("rules") or []
            if rule.get("enabled", True) and rule.get("ratelimit")
        ]

    def describe(self) -> list[str]:
        """Each rule, as a person reads it: name, limit per period, per what."""
        return [f"{rule.name}: {rule.limit} per {rule.counter.window} s per "
                f"{' + '.join(rule.characteristics) or 'zone'}" for rule in self.rules]

    def check(self, fields: Mapping[str, Any]) -> RateLimitBlock | None:
        now = self._clock()
        for rule in self.rules:
            block = rule.check(fields, now)
            if block is not None:
                return block
        return None
