"""CachedWorker: the cache wrapper Worker (functions/cache_wrapper) in front of an origin API.

A thin recipe over `EdgeWorker`: it turns typed cache settings into the plain-text bindings
`cache_worker.py` reads (ORIGIN_URL, DEFAULT_TTL, MAX_TTL, STALE_IF_ERROR,
ORIGIN_TIMEOUT_MS, CACHEABLE_STATUSES, SESSION_COOKIES, API_KEY_HEADERS, FORWARD_HEADERS,
TRACKING_PARAMS; their meaning is in
cache_policy's docstring), composes an EdgeWorker child for the script and its route or
custom domain, and optionally declares the proxied DNS record the origin's hostname
resolves through. Everything about deploying a Python Worker (content type, flags,
pinned compatibility date, observability, secrets, version annotations) is EdgeWorker's.

The origin must be HTTPS. Plain http is accepted only for a loopback host (localhost,
*.localhost, 127.0.0.0/8, ::1), which only the local twin can reach: a real Worker cannot
call a loopback address, so staging and prod are HTTPS by construction. A CloudflareRateLimit
(zone ruleset) in front of the route is a separate component.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pulumi
from edgekit_iac.components._args import documented, int_in, provider_module
from edgekit_iac.components._component import EdgeComponent
from edgekit_iac.components.worker import (
    EdgeWorker,
    EdgeWorkerArgs,
    WorkerArgsError,
    WorkerDeploymentArgs,
    check_hostname,
    fail,
    prepare,
)

if TYPE_CHECKING:
    import pulumi_cloudflare as cloudflare
else:
    cloudflare = provider_module("pulumi_cloudflare")

TYPE_TOKEN = "edgekit:cloudflare:CachedWorker"
FUNCTION_NAME = "cache_wrapper"
OWNER = "CachedWorkerArgs"

# The Worker's own defaults (functions/cache_wrapper/cache_policy.py), bound explicitly so
# the deployed settings are visible in the dashboard and in preview.
DEFAULT_TTL = 0
DEFAULT_MAX_TTL = 86_400
DEFAULT_STALE_IF_ERROR = 300
DEFAULT_ORIGIN_TIMEOUT_MS = 5_000
DEFAULT_CACHEABLE_STATUSES = (200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414)
DEFAULT_SESSION_COOKIES = (
    "session",
    "sessionid",
    "session_id",
    "sid",
    "connect.sid",
    "PHPSESSID",
    "JSESSIONID",
)
DEFAULT_API_KEY_HEADERS = ("x-api-key", "api-key", "x-auth-token", "x-access-token")
DEFAULT_TRACKING_PARAMS = ("utm_*", "gclid", "fbclid")
# Never forwarded on a cacheable request, whatever forward_headers says (the Worker refuses
# more: conditionals, hop-by-hop and client-address headers).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})

TTL_RANGE = (0, 31_536_000)
ORIGIN_TIMEOUT_RANGE_MS = (100, 60_000)
# 206 is refused because the Cache API cannot store partial content.
STATUS_RANGE = (200, 599)
UNSTORABLE_STATUSES = frozenset({206})
DNS_RECORD_TYPES = ("A", "AAAA", "CNAME")
# Proxied records always have TTL 1 ("automatic").
AUTOMATIC_TTL = 1

# RFC 6265 cookie-name token; a trailing "*" makes it a prefix, as in cache_policy.
_COOKIE_NAME = re.compile(r"^[!#$%&'+\-.^_`|~0-9A-Za-z]+\*?$")
_QUERY_NAME = re.compile(r"^[^\s,&=#*]+\*?$")
_HEADER_NAME = re.compile(r"^[!#$%&'+\-.^_`|~0-9A-Za-z]+$")
_HEADER_PATTERN = re.compile(r"^[!#$%&'+\-.^_`|~0-9A-Za-z]+\*?$")
_LOOPBACK_NAMES = ("localhost",)


@documented
@dataclass(kw_only=True, frozen=True)
class OriginDnsRecord:
    """The proxied DNS record the origin URL's hostname resolves through."""

    name: str
    """Fully qualified record name; must be the origin URL's hostname. Required."""

    content: str
    """An IPv4 address (A), IPv6 address (AAAA) or target hostname (CNAME). Required."""

    type: str = "CNAME"
    """A, AAAA or CNAME. Default: "CNAME"."""


@documented
@dataclass(kw_only=True, frozen=True)
class CachedWorkerArgs(WorkerDeploymentArgs):
    """The cache wrapper: where it is deployed (see WorkerDeploymentArgs) and how it caches."""

    origin_url: str
    """The origin API, "https://host[:port][/path prefix]" without credentials, query or
    fragment; http only for a loopback host (local twin). Required."""

    default_ttl: int = DEFAULT_TTL
    """Heuristic lifetime, seconds, for a response without explicit freshness (no
    s-maxage, max-age or Expires), 0..31536000 and at most `max_ttl`; applies only to
    statuses RFC 9110 calls heuristically cacheable (or `public`). Default: 0, such responses
    are not stored: a shared cache should not guess."""

    max_ttl: int = DEFAULT_MAX_TTL
    """Upper bound on any TTL, seconds, 0..31536000. Default: 86400."""

    stale_if_error: int = DEFAULT_STALE_IF_ERROR
    """Seconds past freshness a stored copy may be served when the origin fails,
    0..31536000. Default: 300."""

    origin_timeout_ms: int = DEFAULT_ORIGIN_TIMEOUT_MS
    """Origin answer deadline in milliseconds, 100..60000. Default: 5000."""

    cacheable_statuses: Sequence[int] = DEFAULT_CACHEABLE_STATUSES
    """HTTP statuses that may be stored, 200..599 except 206; at least one.
    Default: 200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414."""

    session_cookies: Sequence[str] = DEFAULT_SESSION_COOKIES
    """Cookie names that make a request bypass the cache ("name*" = prefix); may be empty.
    Default: session, sessionid, session_id, sid, connect.sid, PHPSESSID, JSESSIONID."""

    api_key_headers: Sequence[str] = DEFAULT_API_KEY_HEADERS
    """Request headers that carry credentials ("name*" = prefix); a request with any of
    them (or Authorization) bypasses the cache. May be empty.
    Default: x-api-key, api-key, x-auth-token, x-access-token."""

    forward_headers: Sequence[str] = ()
    """Request headers forwarded to the origin on cacheable requests besides trace context:
    only headers that cannot change the response (the answer to one client is served to
    all). Never credentials or cookies. Default: none."""

    tracking_params: Sequence[str] = DEFAULT_TRACKING_PARAMS
    """Query parameters left out of the cache key ("name*" = prefix); may be empty.
    Default: utm_*, gclid, fbclid."""

    origin_dns: OriginDnsRecord | None = None
    """A proxied DNS record for the origin's hostname, in `zone_id`. Default: None (the
    origin's DNS is managed elsewhere)."""


# --- validation: pure, runs before anything is declared ------------------------------------


_int_in = functools.partial(int_in, WorkerArgsError, owner=OWNER)


def is_loopback(host: str) -> bool:
    """localhost, *.localhost (RFC 6761) or a loopback IP address."""
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_origin_url(value: Any, *, owner: str = OWNER, arg: str = "origin_url") -> str:
    """An https origin (http only on loopback), no credentials/query/fragment, no trailing /.

    `owner` and `arg` name the field in errors (the auth Worker checks its URLs this way)."""
    accepted = (
        'an https URL such as "https://origin.example.com" or "https://api.example.com/v1" '
        "(http only for localhost/127.0.0.1), without credentials, query or fragment"
    )
    if not isinstance(value, str):
        raise fail(owner, arg, f"got {value!r}", accepted)
    parts = urlsplit(value.strip())
    try:
        host, _ = parts.hostname, parts.port  # the port property raises on a bad port
    except ValueError:
        raise fail(owner, arg, f"bad port in {value!r}", accepted) from None
    if not host or parts.query or parts.fragment or parts.username or parts.password:
        raise fail(owner, arg, f"got {value!r}", accepted)
    if parts.scheme == "http" and not is_loopback(host):
        raise fail(
            owner,
            arg,
            f"{value!r} is plain http to a non-loopback host (responses would cross the "
            "internet unencrypted)",
            accepted,
        )
    if parts.scheme not in ("http", "https"):
        raise fail(owner, arg, f"scheme {parts.scheme!r} in {value!r}", accepted)
    return value.strip().rstrip("/")


def normalize_statuses(statuses: Any) -> tuple[int, ...]:
    low, high = STATUS_RANGE
    accepted = f"a non-empty list of HTTP statuses {low}..{high}, except 206"
    if isinstance(statuses, str) or not isinstance(statuses, Sequence) or not statuses:
        raise fail(OWNER, "cacheable_statuses", f"got {statuses!r}", accepted)
    for status in statuses:
        if (
            isinstance(status, bool)
            or not isinstance(status, int)
            or not low <= status <= high
            or status in UNSTORABLE_STATUSES
        ):
            raise fail(OWNER, "cacheable_statuses", f"bad status {status!r}", accepted)
    return tuple(sorted(set(statuses)))


def normalize_names(
    arg: str, names: Any, pattern: re.Pattern[str], example: str
) -> tuple[str, ...]:
    """Names for a comma-separated binding, each once, in the given order; may be empty."""
    accepted = f'a list of names, "name*" for a prefix, e.g. {example}; no commas or spaces'
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise fail(OWNER, arg, f"got {names!r}, not a list", accepted)
    for name in names:
        if not isinstance(name, str) or not pattern.match(name):
            raise fail(OWNER, arg, f"bad name {name!r}", accepted)
    return tuple(dict.fromkeys(names))


def normalize_forward_headers(names: Any, api_key_headers: Sequence[str]) -> tuple[str, ...]:
    """Header names, lower-cased, none of them a credential, cookie or API-key header."""
    headers = tuple(dict.fromkeys(
        name.lower() for name in normalize_names("forward_headers", names, _HEADER_NAME,
                                                 '["X-Request-Id"]')
    ))
    keys = tuple(key.lower() for key in api_key_headers)
    for name in headers:
        is_key = name in keys or any(k.endswith("*") and name.startswith(k[:-1]) for k in keys)
        if name in CREDENTIAL_HEADERS or is_key:
            raise fail(OWNER, "forward_headers", f"{name!r} carries credentials",
                       "headers that cannot change the response, e.g. X-Request-Id")
    return headers


def check_origin_dns(
    record: Any, origin_url: str, zone_id: Any, custom_domain: str | None
) -> OriginDnsRecord | None:
    """The record names the origin's host, has content of its type, and sits in the zone."""
    if record is None:
        return None
    if not isinstance(record, OriginDnsRecord):
        raise fail(OWNER, "origin_dns", f"got {record!r}", "an OriginDnsRecord or None")
    if zone_id is None:
        raise fail(OWNER, "zone_id", "missing for origin_dns", "the id of the origin's zone")
    name = check_hostname(OWNER, "origin_dns.name", record.name)
    origin_host = urlsplit(origin_url).hostname
    if name != origin_host:
        raise fail(
            OWNER,
            "origin_dns.name",
            f"{name!r} is not the origin URL's host {origin_host!r}",
            "the hostname of origin_url",
        )
    if name == custom_domain:
        raise fail(
            OWNER,
            "origin_dns.name",
            f"{name!r} is also the Worker's custom domain",
            "an origin hostname the Worker does not serve",
        )
    if record.type not in DNS_RECORD_TYPES:
        raise fail(OWNER, "origin_dns.type", f"got {record.type!r}", ", ".join(DNS_RECORD_TYPES))
    return replace(record, name=name, content=_record_content(record.type, record.content, name))


def _record_content(record_type: str, content: Any, name: str) -> str:
    accepted = {
        "A": "an IPv4 address such as 203.0.113.10",
        "AAAA": "an IPv6 address such as 2001:db8::10",
        "CNAME": "a hostname other than the record's own name",
    }[record_type]
    if not isinstance(content, str):
        raise fail(OWNER, "origin_dns.content", f"got {content!r}", accepted)
    if record_type == "CNAME":
        target = check_hostname(OWNER, "origin_dns.content", content)
        if target == name:
            raise fail(OWNER, "origin_dns.content", f"{content!r} points at itself", accepted)
        return target
    version = 4 if record_type == "A" else 6
    try:
        address = ipaddress.ip_address(content.strip())
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise fail(OWNER, "origin_dns.content", f"got {content!r}", accepted)
    return str(address)


def validate_args(args: CachedWorkerArgs) -> CachedWorkerArgs:
    """`args` with the cache fields checked and normalized, or an error naming the field
    (EdgeWorker checks the deployment fields)."""
    origin_url = normalize_origin_url(args.origin_url)
    default_ttl = _int_in("default_ttl", args.default_ttl, *TTL_RANGE)
    max_ttl = _int_in("max_ttl", args.max_ttl, *TTL_RANGE)
    if default_ttl > max_ttl:
        raise fail(
            OWNER,
            "default_ttl",
            f"default_ttl={default_ttl} is above max_ttl={max_ttl}",
            "default_ttl <= max_ttl",
        )
    api_key_headers = normalize_names(
        "api_key_headers", args.api_key_headers, _HEADER_PATTERN, '["x-api-key", "x-token-*"]'
    )
    return replace(
        args,
        origin_url=origin_url,
        default_ttl=default_ttl,
        max_ttl=max_ttl,
        stale_if_error=_int_in("stale_if_error", args.stale_if_error, *TTL_RANGE),
        origin_timeout_ms=_int_in(
            "origin_timeout_ms", args.origin_timeout_ms, *ORIGIN_TIMEOUT_RANGE_MS
        ),
        cacheable_statuses=normalize_statuses(args.cacheable_statuses),
        session_cookies=normalize_names(
            "session_cookies", args.session_cookies, _COOKIE_NAME, '["session", "wp_*"]'
        ),
        api_key_headers=api_key_headers,
        forward_headers=normalize_forward_headers(args.forward_headers, api_key_headers),
        tracking_params=normalize_names(
            "tracking_params", args.tracking_params, _QUERY_NAME, '["utm_*", "gclid"]'
        ),
        origin_dns=check_origin_dns(
            args.origin_dns, origin_url, args.zone_id, _custom_domain(args.custom_domain)
        ),
    )


def _custom_domain(value: Any) -> str | None:
    return value.strip().lower().rstrip(".") if isinstance(value, str) else None


# --- pure decisions the resources are built from ------------------------------------------


def cache_bindings(settings: CachedWorkerArgs) -> dict[str, str]:
    """The plain-text bindings cache_worker.py reads, in the formats cache_policy parses."""
    bindings = {
        "ORIGIN_URL": settings.origin_url,
        "DEFAULT_TTL": str(settings.default_ttl),
        "MAX_TTL": str(settings.max_ttl),
        "STALE_IF_ERROR": str(settings.stale_if_error),
        "ORIGIN_TIMEOUT_MS": str(settings.origin_timeout_ms),
        "CACHEABLE_STATUSES": ",".join(str(status) for status in settings.cacheable_statuses),
        # An empty string is "none" to the Worker; an unbound name would mean "its default".
        "SESSION_COOKIES": ",".join(settings.session_cookies),
        "API_KEY_HEADERS": ",".join(settings.api_key_headers),
        "TRACKING_PARAMS": ",".join(settings.tracking_params),
    }
    # FORWARD_HEADERS defaults to none in the Worker, so an empty list is left unbound: an
    # empty text binding is one the provider may not write back (a diff on every preview).
    if settings.forward_headers:
        bindings["FORWARD_HEADERS"] = ",".join(settings.forward_headers)
    return bindings


def edge_worker_args(settings: CachedWorkerArgs) -> EdgeWorkerArgs:
    """The EdgeWorker that runs the cache wrapper (`settings` validated): the same
    deployment, the cache bindings."""
    deployment = {f.name: getattr(settings, f.name) for f in fields(WorkerDeploymentArgs)}
    return EdgeWorkerArgs(
        **deployment, function=FUNCTION_NAME, plain_text_bindings=cache_bindings(settings)
    )


# --- the component ---------------------------------------------------------------------------


class CachedWorker(EdgeComponent):
    """The cache wrapper Worker, its route or custom domain, and optionally the origin's DNS."""

    TYPE_TOKEN = TYPE_TOKEN

    script_name: pulumi.Output[str]
    routes: pulumi.Output[list[str]]
    hostnames: pulumi.Output[list[str]]
    bundle_sha256: pulumi.Output[str]
    version: pulumi.Output[str]
    version_tag: pulumi.Output[str]
    origin_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: CachedWorkerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Both layers are checked (and the bundle built once) before the first registration.
        settings = validate_args(args)
        worker_args = edge_worker_args(settings)
        prepared = prepare(worker_args, owner=OWNER)
        super().__init__(name, opts)
        self._settings = settings

        self._create_origin_dns(settings.zone_id)
        self._create_worker(replace(worker_args, artifact=prepared.artifact))

        self.set_outputs(
            script_name=self.worker.script_name,
            routes=self.worker.routes,
            hostnames=self.worker.hostnames,
            bundle_sha256=self.worker.bundle_sha256,
            version=self.worker.version,
            version_tag=self.worker.version_tag,
            origin_url=pulumi.Output.from_input(settings.origin_url),
        )

    def _create_origin_dns(self, zone_id: pulumi.Input[str] | None) -> None:
        record = self._settings.origin_dns
        self.origin_dns: cloudflare.DnsRecord | None = None
        if record is None:
            return
        self.origin_dns = cloudflare.DnsRecord(
            self.child_name("origin-dns"),
            zone_id=zone_id,
            name=record.name,
            type=record.type,
            content=record.content,
            proxied=True,
            ttl=AUTOMATIC_TTL,
            comment=f"edgekit: origin of the {self._name} cache wrapper",
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_worker(self, worker_args: EdgeWorkerArgs) -> None:
        # Traffic reaches the Worker only once its origin's name resolves.
        depends_on = [self.origin_dns] if self.origin_dns is not None else []
        self.worker = EdgeWorker(
            self.child_name("worker"),
            worker_args,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
