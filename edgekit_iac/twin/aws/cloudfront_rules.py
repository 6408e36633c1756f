"""CloudFront's documented decisions, as pure functions over a distribution's recorded inputs.

- Which cache behaviour serves a path: ordered behaviours by path pattern (`*` any run of
  characters, `?` one character, case-sensitive), first match wins, the default last.
- The viewer protocol policy: `redirect-to-https` answers an http viewer with 301 to the
  https URL, `https-only` with 403, `allow-all` serves both.
- A cache policy's key and TTLs (or a legacy behaviour's forwarded values and TTLs), and
  AWS's managed cache policies by their well-known ids.
- How long a response stays cached (AWS: "Managing how long content stays in the cache"):
  `s-maxage`, then `max-age`, then `Expires`, clamped to [minimum, maximum] TTL; the default
  TTL when the origin says nothing; `no-store`/`no-cache`/`private` only with a zero
  minimum TTL prevent caching; error statuses without caching headers are kept for the
  error-caching minimum TTL (10 s by default); other statuses are never cached.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

# Statuses CloudFront caches (AWS: "HTTP status codes that CloudFront caches").
CACHEABLE_STATUSES = frozenset({200, 203, 206, 300, 301, 410})
CACHEABLE_ERRORS = frozenset({400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504})
ERROR_CACHING_MIN_TTL = 10


@dataclass(frozen=True)
class KeyPart:
    """What of one request element (query strings, headers, cookies) is in the cache key."""

    behavior: str = "none"  # none | whitelist | allExcept | all
    names: tuple[str, ...] = ()

    def selects(self, name: str) -> bool:
        if self.behavior == "all":
            return True
        if self.behavior == "whitelist":
            return name in self.names
        if self.behavior == "allExcept":
            return name not in self.names
        return False


@dataclass(frozen=True)
class CachePolicy:
    min_ttl: int = 0
    default_ttl: int = 86_400
    max_ttl: int = 31_536_000
    query_strings: KeyPart = KeyPart()
    headers: KeyPart = KeyPart()
    cookies: KeyPart = KeyPart()
    name: str = "custom"


# AWS managed cache policies (ids are the same in every account).
MANAGED_CACHE_POLICIES = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": CachePolicy(1, 86_400, 31_536_000,
                                                        name="Managed-CachingOptimized"),
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": CachePolicy(
        1, 86_400, 31_536_000, name="Managed-CachingOptimizedForUncompressedObjects"
    ),
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": CachePolicy(0, 0, 0, name="Managed-CachingDisabled"),
    "4cc15a8a-d715-48a4-82b8-cc0b614638fe": CachePolicy(
        0, 0, 31_536_000, query_strings=KeyPart("all"),
        name="Managed-UseOriginCacheControlHeaders-QueryStrings",
    ),
}


def _names(block: Mapping[str, Any] | None, plural: str) -> tuple[str, ...]:
    items = ((block or {}).get(plural) or {}).get("items") or []
    return tuple(str(item) for item in items)


def _behavior(value: Any) -> str:
    """CloudFront's values are all, allExcept, whitelist, none (and allViewer... for origin
    request policies); header "whitelist" is the only selective header behaviour."""
    text = str(value or "none")
    return {"allViewer": "all", "allViewerAndWhitelistCloudFront": "all"}.get(text, text)


def cache_policy_from_inputs(inputs: Mapping[str, Any]) -> CachePolicy:
    """A `aws:cloudfront/cachePolicy:CachePolicy` resource's recorded inputs."""
    params = inputs.get("parametersInCacheKeyAndForwardedToOrigin") or {}
    queries = params.get("queryStringsConfig") or {}
    headers = params.get("headersConfig") or {}
    cookies = params.get("cookiesConfig") or {}
    return CachePolicy(
        min_ttl=int(inputs.get("minTtl") or 0),
        default_ttl=int(inputs.get("defaultTtl", 86_400)),
        max_ttl=int(inputs.get("maxTtl", 31_536_000)),
        query_strings=KeyPart(_behavior(queries.get("queryStringBehavior")),
                              _names(queries, "queryStrings")),
        headers=KeyPart(_behavior(headers.get("headerBehavior")),
                        tuple(n.lower() for n in _names(headers, "headers"))),
        cookies=KeyPart(_behavior(cookies.get("cookieBehavior")), _names(cookies, "cookies")),
        name=str(inputs.get("name") or "custom"),
    )


def legacy_cache_policy(behaviour: Mapping[str, Any]) -> CachePolicy:
    """A behaviour without a cache policy: its `forwardedValues` and TTLs (legacy settings)."""
    forwarded = behaviour.get("forwardedValues") or {}
    if forwarded.get("queryString"):
        keys = tuple(forwarded.get("queryStringCacheKeys") or ())
        queries = KeyPart("whitelist", keys) if keys else KeyPart("all")
    else:
        queries = KeyPart()
    header_names = tuple(h.lower() for h in forwarded.get("headers") or ())
    headers = KeyPart("all") if "*" in header_names else KeyPart(
        "whitelist" if header_names else "none", header_names)
    cookie_config = forwarded.get("cookies") or {}
    forward = cookie_config.get("forward", "none")
    cookies = KeyPart("whitelist", tuple(cookie_config.get("whitelistedNames") or ())) if (
        forward == "whitelist") else KeyPart("all" if forward == "all" else "none")
    return CachePolicy(
        min_ttl=int(behaviour.get("minTtl") or 0),
        default_ttl=int(behaviour.get("defaultTtl", 86_400)),
        max_ttl=int(behaviour.get("maxTtl", 31_536_000)),
        query_strings=queries, headers=headers, cookies=cookies, name="legacy",
    )


# --- behaviours -----------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    pattern = "/" + pattern.lstrip("/")
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


def path_matches(pattern: str, path: str) -> bool:
    return _pattern_regex(pattern).fullmatch(path) is not None


def choose_behaviour(distribution_inputs: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The first ordered behaviour whose path pattern matches, else the default behaviour."""
    for behaviour in distribution_inputs.get("orderedCacheBehaviors") or []:
        if path_matches(str(behaviour.get("pathPattern", "")), path):
            return behaviour
    return distribution_inputs.get("defaultCacheBehavior") or {}


@dataclass(frozen=True)
class ProtocolAnswer:
    status: int
    location: str | None = None


def viewer_protocol_answer(policy: str | None, viewer_scheme: str, host: str,
                           target: str) -> ProtocolAnswer | None:
    """None when the request may proceed; else what CloudFront answers an http viewer."""
    if viewer_scheme == "https" or policy in (None, "allow-all"):
        return None
    if policy == "redirect-to-https":
        return ProtocolAnswer(301, f"https://{host}{target}")
    return ProtocolAnswer(403)  # https-only


# --- cache key and TTL ----------------------------------------------------------------------


def selected_query(query: str, part: KeyPart) -> str:
    """The query string's selected parameters, in the viewer's order (CloudFront keeps it)."""
    if part.behavior == "all" or not query:
        return query if part.behavior != "none" else ""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if part.selects(k)]
    return "&".join(f"{k}={v}" if v else k for k, v in pairs)


def cookie_pairs(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in headers:
        if name.lower() == "cookie":
            for item in value.split(";"):
                key, _, cookie_value = item.strip().partition("=")
                if key:
                    pairs.append((key, cookie_value))
    return pairs


def cache_key(method: str, path: str, query: str, headers: Sequence[tuple[str, str]],
              policy: CachePolicy) -> tuple[Any, ...]:
    """GET and HEAD share entries; the key holds the path and what the policy includes."""
    key_headers = tuple(sorted((n.lower(), v) for n, v in headers
                               if policy.headers.selects(n.lower())))
    key_cookies = tuple(sorted((n, v) for n, v in cookie_pairs(headers)
                               if policy.cookies.selects(n)))
    group = "GET" if method in ("GET", "HEAD") else method
    return (group, path, selected_query(query, policy.query_strings), key_headers, key_cookies)


def _directives(cache_control: str | None) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for item in (cache_control or "").split(","):
        name, _, value = item.strip().partition("=")
        if name:
            found[name.lower()] = value.strip('"') or None
    return found


def _seconds(value: str | None) -> int | None:
    try:
        return max(0, int(value)) if value is not None else None
    except ValueError:
        return None


def ttl_seconds(status: int, headers: Mapping[str, str], policy: CachePolicy,
                now: float) -> int:
    """How long CloudFront keeps this response; 0 means it is not cached.

    `headers` maps lower-case names to values."""
    cacheable_error = status in CACHEABLE_ERRORS
    if status not in CACHEABLE_STATUSES and not cacheable_error:
        return 0
    directives = _directives(headers.get("cache-control"))
    age = _seconds(directives.get("s-maxage")) if "s-maxage" in directives else None
    if age is None and "max-age" in directives:
        age = _seconds(directives.get("max-age"))
    if cacheable_error and age is None:
        return ERROR_CACHING_MIN_TTL
    if {"no-store", "no-cache", "private"} & directives.keys() and age is None:
        return policy.min_ttl
    if age is None and headers.get("expires"):
        try:
            expires = email.utils.parsedate_to_datetime(headers["expires"]).timestamp()
            age = max(0, int(expires - now))
        except (TypeError, ValueError):
            age = 0  # an invalid Expires means "already expired"
    if age is None:
        return min(max(policy.default_ttl, policy.min_ttl), policy.max_ttl)
    return min(max(age, policy.min_ttl), policy.max_ttl)
