"""The response headers policy edgekit attaches to its distributions: pure checks and inputs.

CloudFront adds a response headers policy's headers "to every response that it sends for
requests that match the cache behavior" (pulumi-aws `aws.cloudfront.ResponseHeadersPolicy`;
CloudFront Developer Guide, "Understand response headers policies"), and its CORS headers
to the responses for CORS requests (those with an `Origin` header). edgekit's policy:

- `Strict-Transport-Security: max-age=N` (N configurable; `preload`, which needs
  `includeSubDomains` and at least a year, only when asked for: a preload list entry is
  hard to take back);
- `X-Content-Type-Options: nosniff`;
- `Referrer-Policy` (configurable, `strict-origin-when-cross-origin` by default);
- CORS for GET/HEAD from the listed origins only (none by default: no CORS headers).

Every security header overrides what the origin sent (`override = true`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from edgekit_iac.components._args import ArgsError, int_in

# CloudFront's ReferrerPolicy values (API ResponseHeadersPolicyReferrerPolicy).
REFERRER_POLICIES = (
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
)
DEFAULT_REFERRER_POLICY = "strict-origin-when-cross-origin"
HSTS_DEFAULT_MAX_AGE = 31_536_000
# hstspreload.org requires a max-age of at least a year for the preload list.
HSTS_PRELOAD_MIN_AGE = 31_536_000
HSTS_MAX_AGE_RANGE = (0, 2**31 - 1)
CORS_METHODS = ("GET", "HEAD")
CORS_MAX_AGE_SECONDS = 600
MAX_CORS_ORIGINS = 20
_ORIGIN = re.compile(r"^https?://([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}(:\d{1,5})?$")


def check_headers(
    error: type[ArgsError],
    *,
    hsts_max_age: Any,
    hsts_preload: Any,
    referrer_policy: Any,
    cors_allowed_origins: Any,
) -> tuple[int, bool, str, tuple[str, ...]]:
    """The header settings, normalized, or `error` naming the field."""
    max_age = int_in(error, "hsts_max_age", hsts_max_age, *HSTS_MAX_AGE_RANGE)
    if not isinstance(hsts_preload, bool):
        raise error("hsts_preload", f"got {hsts_preload!r}", "True or False")
    if hsts_preload and max_age < HSTS_PRELOAD_MIN_AGE:
        raise error(
            "hsts_preload",
            f"preload with hsts_max_age {max_age}",
            f"hsts_max_age of at least {HSTS_PRELOAD_MIN_AGE} (a year) with preload",
        )
    if referrer_policy not in REFERRER_POLICIES:
        raise error("referrer_policy", f"got {referrer_policy!r}", ", ".join(REFERRER_POLICIES))
    accepted = (
        f'up to {MAX_CORS_ORIGINS} origins like "https://app.example.com" (scheme, host, '
        "optional port; no path, no `*`)"
    )
    if isinstance(cors_allowed_origins, str) or not isinstance(cors_allowed_origins, Sequence):
        raise error("cors_allowed_origins", f"got {cors_allowed_origins!r}, not a list", accepted)
    origins: list[str] = []
    for origin in cors_allowed_origins:
        if not isinstance(origin, str) or not _ORIGIN.match(origin.lower()):
            raise error("cors_allowed_origins", f"bad origin {origin!r}", accepted)
        if origin.lower() not in origins:
            origins.append(origin.lower())
    if len(origins) > MAX_CORS_ORIGINS:
        raise error("cors_allowed_origins", f"{len(origins)} origins", accepted)
    return max_age, hsts_preload, referrer_policy, tuple(origins)


def response_headers_policy_inputs(
    *,
    hsts_max_age: int,
    hsts_preload: bool,
    referrer_policy: str,
    cors_allowed_origins: Sequence[str],
) -> dict[str, Any]:
    """Keyword arguments of `aws.cloudfront.ResponseHeadersPolicy` (besides name/comment)."""
    strict_transport: dict[str, Any] = {
        "access_control_max_age_sec": hsts_max_age,
        "override": True,
    }
    if hsts_preload:
        strict_transport.update(include_subdomains=True, preload=True)
    inputs: dict[str, Any] = {
        "security_headers_config": {
            "strict_transport_security": strict_transport,
            "content_type_options": {"override": True},
            "referrer_policy": {"referrer_policy": referrer_policy, "override": True},
        }
    }
    if cors_allowed_origins:
        inputs["cors_config"] = {
            "access_control_allow_credentials": False,
            "access_control_allow_headers": {"items": ["*"]},
            "access_control_allow_methods": {"items": list(CORS_METHODS)},
            "access_control_allow_origins": {"items": list(cors_allowed_origins)},
            "access_control_max_age_sec": CORS_MAX_AGE_SECONDS,
            "origin_override": True,
        }
    return inputs
