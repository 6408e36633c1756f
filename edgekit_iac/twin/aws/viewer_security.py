"""What a behaviour demands of viewers and adds to their responses: signed URLs or cookies
(trusted key groups) and the response headers policy. Pure, over the recorded graph.

Signed requests, as CloudFront documents them (edgekit_iac.cloudfront_signing): a behaviour
with `trustedKeyGroups` answers 403 unless the request carries a signed URL (query
parameters `Expires` or `Policy`, `Signature`, `Key-Pair-Id`, optionally `Hash-Algorithm`)
or, without those, signed cookies (`CloudFront-*`), whose signature verifies with a public
key of one of the groups, whose policy covers the URL and the viewer's IP, and has not
expired. The URL a policy covers is the one the viewer asked the twin for: `http://`, the
`Host` header, the path and the query string without the signing parameters (the twin's
listener speaks plain HTTP on loopback).

Not emulated: `trustedSigners` (root-account key pairs: the policy pack refuses them),
CloudFront's own normalization of the path before matching behaviours (the twin matches the
path as sent; the resizer refuses a percent-encoded `private/` either way), the
X-Frame-Options/X-XSS-Protection/CSP/custom/remove-headers parts of a response headers
policy, CORS preflight (OPTIONS) answers, and managed response headers policies by id.

Response headers policy: its security headers on every response of the behaviour
(overriding the origin's when `override` is set), and its CORS headers on responses to
requests whose `Origin` is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edgekit_iac import cloudfront_signing as signing
from edgekit_iac.twin.graph_view import GraphView


def trusted_keys(view: GraphView, behaviour: Mapping[str, Any]) -> dict[str, signing.PublicKey]:
    """Public key id -> key, for every key of the behaviour's trusted key groups."""
    keys: dict[str, signing.PublicKey] = {}
    for group_id in behaviour.get("trustedKeyGroups") or []:
        group = view.key_group(group_id)
        for key_id in (group.inputs.get("items") or []) if group else []:
            resource = view.public_key(key_id)
            if resource is None:
                continue
            try:
                keys[key_id] = signing.load_public_key(str(resource.inputs.get("encodedKey")))
            except ValueError:
                continue  # CloudFront would have refused the key at deploy time
    return keys


def cookies(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Cookie name -> value over every Cookie header (the first of a name wins)."""
    jar: dict[str, str] = {}
    for name, value in headers:
        if name.lower() != "cookie":
            continue
        for item in value.split(";"):
            key, sep, cookie_value = item.strip().partition("=")
            if sep and key:
                jar.setdefault(key, cookie_value)
    return jar


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for item in query.split("&") if query else []:
        name, _, value = item.partition("=")
        pairs.append((name, value))
    return pairs


def unsigned_url(host: str, path: str, query: str) -> str:
    """The viewer's URL without the signing parameters, other parameters kept as sent."""
    kept = [item for item in (query.split("&") if query else [])
            if item.partition("=")[0] not in signing.QUERY_PARAMETERS]
    return f"http://{host}{path}" + (f"?{'&'.join(kept)}" if kept else "")


def refusal(view: GraphView, behaviour: Mapping[str, Any], *, host: str, path: str, query: str,
            headers: Sequence[tuple[str, str]], client_ip: str, now: float) -> str | None:
    """Why CloudFront answers 403 to this request, or None when it may proceed."""
    if not behaviour.get("trustedKeyGroups"):
        return None
    found = signing.credentials(_query_pairs(query), cookies(headers))
    if found is None:
        return "the behaviour requires a signed URL or signed cookies; the request has neither"
    try:
        signing.verify(found, unsigned_url(host, path, query), client_ip, now,
                       trusted_keys(view, behaviour))
    except signing.Refused as refused:
        return str(refused)
    return None


def _header_config(inputs: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """(name, value, override) for the security headers a policy's inputs set."""
    security = inputs.get("securityHeadersConfig") or {}
    found: list[tuple[str, str, bool]] = []
    hsts = security.get("strictTransportSecurity")
    if hsts:
        value = f"max-age={int(hsts.get('accessControlMaxAgeSec') or 0)}"
        if hsts.get("includeSubdomains"):
            value += "; includeSubDomains"
        if hsts.get("preload"):
            value += "; preload"
        found.append(("Strict-Transport-Security", value, bool(hsts.get("override"))))
    if "contentTypeOptions" in security:
        found.append(("X-Content-Type-Options", "nosniff",
                      bool((security.get("contentTypeOptions") or {}).get("override"))))
    referrer = security.get("referrerPolicy")
    if referrer:
        found.append(("Referrer-Policy", str(referrer.get("referrerPolicy")),
                      bool(referrer.get("override"))))
    return found


def _cors(inputs: Mapping[str, Any], origin: str | None) -> list[tuple[str, str]]:
    cors = inputs.get("corsConfig")
    if not cors or not origin:
        return []
    allowed = (cors.get("accessControlAllowOrigins") or {}).get("items") or []
    if origin.lower() not in [item.lower() for item in allowed] and "*" not in allowed:
        return []
    added = [("Access-Control-Allow-Origin", origin)]
    if cors.get("accessControlAllowCredentials"):
        added.append(("Access-Control-Allow-Credentials", "true"))
    exposed = (cors.get("accessControlExposeHeaders") or {}).get("items") or []
    if exposed:
        added.append(("Access-Control-Expose-Headers", ", ".join(exposed)))
    return added


def with_policy_headers(view: GraphView, behaviour: Mapping[str, Any],
                        request_headers: Sequence[tuple[str, str]],
                        headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`headers` with the behaviour's response headers policy applied."""
    policy = view.response_headers_policy(behaviour.get("responseHeadersPolicyId"))
    if policy is None:
        return headers
    result = list(headers)
    origin = next((v for k, v in request_headers if k.lower() == "origin"), None)
    cors = _cors(policy.inputs, origin)
    additions = [(name, value, True) for name, value in cors]
    additions += _header_config(policy.inputs)
    for name, value, override in additions:
        present = any(k.lower() == name.lower() for k, _ in result)
        if present and not override:
            continue
        result = [(k, v) for k, v in result if k.lower() != name.lower()] + [(name, value)]
    return result
