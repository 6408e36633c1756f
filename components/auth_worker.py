"""AuthWorker: the JWT auth Worker (functions/edge_auth) in front of an origin API.

A thin recipe over `EdgeWorker`, like CachedWorker: typed settings become the plain-text
bindings `auth_worker.py` reads (ORIGIN_URL, JWKS_URL, ISSUER, AUDIENCES, COOKIE_NAME,
CLOCK_SKEW_SECONDS, FORWARD_CLAIMS, ALGORITHMS, FORWARD_TOKEN, REALM), checked here by the
Worker's own parser (`auth_rules.parse_settings`) so that the component and the Worker
cannot disagree on what a binding may be. The origin and the JWKS must be HTTPS (plain
http only on loopback, which only the local twin reaches).

Security by default: only RS256, ES256 and EdDSA exist to choose from (never `none` or
HMAC), `iss`, `aud` and `exp` are always required, the token is not forwarded to the
origin, and the claim headers the origin trusts are removed from every client request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

import pulumi
from edgekit_iac.components._args import documented
from edgekit_iac.components._component import EdgeComponent
from edgekit_iac.components.cached_worker import normalize_origin_url
from edgekit_iac.components.worker import (
    EdgeWorker,
    EdgeWorkerArgs,
    WorkerDeploymentArgs,
    fail,
    prepare,
)
from edgekit_iac.functions.edge_auth import auth_rules

TYPE_TOKEN = "edgekit:cloudflare:AuthWorker"
FUNCTION_NAME = "edge_auth"
OWNER = "AuthWorkerArgs"

# The binding each field becomes (and which field a binding's error is about).
FIELD_BINDINGS = {
    "origin_url": "ORIGIN_URL",
    "jwks_url": "JWKS_URL",
    "issuer": "ISSUER",
    "audiences": "AUDIENCES",
    "cookie_name": "COOKIE_NAME",
    "clock_skew_seconds": "CLOCK_SKEW_SECONDS",
    "forward_claims": "FORWARD_CLAIMS",
    "algorithms": "ALGORITHMS",
    "forward_token": "FORWARD_TOKEN",
    "realm": "REALM",
}


@documented
@dataclass(kw_only=True, frozen=True)
class AuthWorkerArgs(WorkerDeploymentArgs):
    """The auth Worker: where it is deployed (see WorkerDeploymentArgs) and what it accepts."""

    origin_url: str
    """The origin API requests go to once their token is valid, "https://host[:port][/path
    prefix]"; http only for a loopback host (local twin). Required."""

    jwks_url: str
    """The issuer's JSON Web Key Set, https (http only on loopback). Required."""

    issuer: str
    """The exact `iss` claim tokens must carry. Required."""

    audiences: Sequence[str]
    """Accepted `aud` values; a token must name at least one. Required, non-empty."""

    cookie_name: str | None = None
    """A cookie that may carry the token instead of `Authorization: Bearer`. Default: None
    (header only)."""

    clock_skew_seconds: int = auth_rules.DEFAULT_SKEW
    """Leeway on exp, nbf and iat, seconds, 0..300. Default: 60."""

    forward_claims: Mapping[str, str] = field(
        default_factory=lambda: dict(auth_rules.DEFAULT_FORWARD_CLAIMS))
    """Claims the origin gets, claim -> request header; the same headers from clients are
    always removed. Default: {"sub": "X-Auth-Sub"}."""

    algorithms: Sequence[str] = auth_rules.ALGORITHMS
    """Accepted signature algorithms, among RS256, ES256 and EdDSA (none and HS* are never
    accepted). Default: all three."""

    forward_token: bool = False
    """Pass the token (Authorization header, token cookie) on to the origin. Default: False."""

    realm: str = auth_rules.DEFAULT_REALM
    """The realm in `WWW-Authenticate: Bearer realm="..."`. Default: "api"."""


# --- validation: pure, runs before anything is declared ------------------------------------


def auth_bindings(args: AuthWorkerArgs) -> dict[str, str]:
    """The plain-text bindings auth_worker.py reads; the origin and JWKS URLs checked."""
    if isinstance(args.audiences, str) or not isinstance(args.audiences, Sequence):
        raise fail(OWNER, "audiences", f"got {args.audiences!r}", 'a list such as ["api"]')
    if isinstance(args.algorithms, str) or not isinstance(args.algorithms, Sequence):
        raise fail(OWNER, "algorithms", f"got {args.algorithms!r}", 'a list such as ["ES256"]')
    if not isinstance(args.forward_claims, Mapping) or not args.forward_claims:
        raise fail(OWNER, "forward_claims", f"got {args.forward_claims!r}",
                   'a non-empty mapping claim -> header, e.g. {"sub": "X-Auth-Sub"}')
    for name in ("issuer", "realm"):
        if not isinstance(getattr(args, name), str):
            raise fail(OWNER, name, f"got {getattr(args, name)!r}", "a string")
    for audience in args.audiences:
        if not isinstance(audience, str) or not audience.strip() or "," in audience:
            raise fail(OWNER, "audiences", f"bad audience {audience!r}",
                       "non-empty strings without commas")
    skew = args.clock_skew_seconds
    if isinstance(skew, bool) or not isinstance(skew, int):
        raise fail(OWNER, "clock_skew_seconds", f"got {skew!r}",
                   f"an integer from 0 to {auth_rules.MAX_SKEW}")
    if not isinstance(args.forward_token, bool):
        raise fail(OWNER, "forward_token", f"got {args.forward_token!r}", "True or False")
    bindings = {
        "ORIGIN_URL": normalize_origin_url(args.origin_url, owner=OWNER),
        "JWKS_URL": normalize_origin_url(args.jwks_url, owner=OWNER, arg="jwks_url"),
        "ISSUER": args.issuer,
        "AUDIENCES": ",".join(a.strip() for a in args.audiences),
        "CLOCK_SKEW_SECONDS": str(skew),
        "FORWARD_CLAIMS": ",".join(f"{claim}={header}"
                                   for claim, header in args.forward_claims.items()),
        "ALGORITHMS": ",".join(str(alg) for alg in args.algorithms),
        "FORWARD_TOKEN": "true" if args.forward_token else "false",
        "REALM": args.realm,
    }
    # An unbound name means "none" to the Worker; an empty text binding would be an input
    # the provider does not keep (a diff on every preview).
    if args.cookie_name is not None:
        bindings["COOKIE_NAME"] = args.cookie_name
    return bindings


def validate_args(args: AuthWorkerArgs) -> dict[str, str]:
    """Check the auth fields of `args` with the Worker's own parser; return its bindings."""
    bindings = auth_bindings(args)
    try:
        auth_rules.parse_settings(bindings)
    except auth_rules.SettingsError as error:
        arg = {binding: name for name, binding in FIELD_BINDINGS.items()}[error.binding]
        raise fail(OWNER, arg, str(error), _ACCEPTED[arg]) from None
    if not args.algorithms:
        raise fail(OWNER, "algorithms", "empty", "one or more of RS256, ES256, EdDSA")
    return bindings


_ACCEPTED = {
    "origin_url": "an https URL (http only on loopback)",
    "jwks_url": "an https URL (http only on loopback)",
    "issuer": "the issuer's exact iss value",
    "audiences": 'a non-empty list such as ["api"]',
    "cookie_name": "a cookie name (RFC 6265 token), or None",
    "clock_skew_seconds": f"an integer from 0 to {auth_rules.MAX_SKEW}",
    "forward_claims": 'claim -> header name, e.g. {"sub": "X-Auth-Sub"}, not Authorization, '
                      "Cookie or hop-by-hop headers, each header once",
    "algorithms": f"a list among {', '.join(auth_rules.ALGORITHMS)}",
    "forward_token": "True or False",
    "realm": "printable ASCII without quotes or backslashes",
}


def edge_worker_args(args: AuthWorkerArgs, bindings: Mapping[str, str]) -> EdgeWorkerArgs:
    """The EdgeWorker that runs the auth Worker: the same deployment, the auth bindings."""
    deployment = {f.name: getattr(args, f.name) for f in fields(WorkerDeploymentArgs)}
    return EdgeWorkerArgs(**deployment, function=FUNCTION_NAME, plain_text_bindings=bindings)


# --- the component ---------------------------------------------------------------------------


class AuthWorker(EdgeComponent):
    """The auth Worker and its route or custom domain, in front of `origin_url`."""

    TYPE_TOKEN = TYPE_TOKEN

    script_name: pulumi.Output[str]
    routes: pulumi.Output[list[str]]
    hostnames: pulumi.Output[list[str]]
    bundle_sha256: pulumi.Output[str]
    version: pulumi.Output[str]
    version_tag: pulumi.Output[str]
    jwks_url: pulumi.Output[str]

    def __init__(self, name: str, args: AuthWorkerArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        # Both layers are checked (and the bundle built once) before the first registration.
        bindings = validate_args(args)
        worker_args = edge_worker_args(args, bindings)
        prepared = prepare(worker_args, owner=OWNER)
        super().__init__(name, opts)
        self._create_worker(replace(worker_args, artifact=prepared.artifact))
        self.set_outputs(
            script_name=self.worker.script_name,
            routes=self.worker.routes,
            hostnames=self.worker.hostnames,
            bundle_sha256=self.worker.bundle_sha256,
            version=self.worker.version,
            version_tag=self.worker.version_tag,
            jwks_url=pulumi.Output.from_input(bindings["JWKS_URL"]),
        )

    def _create_worker(self, worker_args: EdgeWorkerArgs) -> None:
        self.worker = EdgeWorker(self.child_name("worker"), worker_args, opts=self.child_opts())

