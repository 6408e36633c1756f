"""`python -m edgekit_iac token --stack local --sub alice`: a JWT the local auth Worker accepts.

Signed by the twin's own key (kept in the twin's state directory, made on first use; the
twin serves its JWKS), with the stack's issuer and, unless --aud says otherwise, its first
audience. Try it:

    TOKEN=$(python -m edgekit_iac token --stack local --sub alice --ttl 60)
    AUTH=$(python -m edgekit_iac url api-auth-worker-script)
    curl -i -H "Authorization: Bearer $TOKEN" "$AUTH/api/whoami"

Only for a stack whose auth Worker trusts a loopback JWKS (the twin's): other stacks trust
their identity provider, whose tokens come from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edgekit_iac import paths
from edgekit_iac.components.cached_worker import is_loopback
from edgekit_iac.errors import UserError
from edgekit_iac.release import stack_files
from edgekit_iac.twin import auth_keys
from edgekit_iac.twin.clock import twin_now

DEFAULT_TTL = 300


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="local", help="stack whose auth Worker the token is "
                                                         "for (default: local)")
    parser.add_argument("--sub", required=True, help="the subject (user id), e.g. alice")
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL,
                        help=f"seconds until exp, 1..{auth_keys.MAX_TTL} (default: {DEFAULT_TTL})")
    parser.add_argument("--aud", default=None,
                        help="the audience (default: the stack's first edgeAuth audience)")
    parser.add_argument("--alg", default=auth_keys.DEFAULT_ALGORITHM,
                        choices=auth_keys.ALGORITHMS,
                        help=f"signature algorithm (default: {auth_keys.DEFAULT_ALGORITHM})")
    parser.add_argument("--state-dir", default=None,
                        help="the twin's state directory, where its keys are "
                             "(default: .edgekit/<stack>)")


def auth_section(stack: str) -> dict[str, Any]:
    """The stack's edgekit:cloudflare.edgeAuth section, if its JWKS is the twin's."""
    cloudflare = stack_files.read_config(stack).get("edgekit:cloudflare")
    section = cloudflare.get("edgeAuth") if isinstance(cloudflare, dict) else None
    if not isinstance(section, dict):
        raise UserError(f"stack {stack!r} has no auth Worker (edgekit:cloudflare.edgeAuth in "
                        f"stacks/Pulumi.{stack}.yaml)")
    jwks = str(section.get("jwksUrl") or "")
    host = urlsplit(jwks).hostname or ""
    if not is_loopback(host):
        raise UserError(f"stack {stack!r}'s auth Worker trusts the keys at {jwks}, not the "
                        "twin's; its tokens come from that identity provider. `edgekit token` "
                        "signs for a stack whose edgeAuth.jwksUrl is on loopback (local)")
    return section


def run(args: argparse.Namespace) -> int:
    section = auth_section(args.stack)
    audiences = section.get("audiences") or []
    audience = args.aud if args.aud is not None else (audiences[0] if audiences else None)
    if not audience:
        raise UserError(f"stack {args.stack!r} lists no edgeAuth.audiences; give --aud")
    if not args.sub.strip():
        raise UserError("--sub: expected a non-empty subject, e.g. --sub alice")
    state_dir = paths.writable_dir(
        Path(args.state_dir).resolve() if args.state_dir else paths.state_dir(args.stack),
        "--state-dir")
    # Valid at the twin's time (its clock may have been moved forward), as the twin checks.
    claims = auth_keys.claims(issuer=str(section.get("issuer")), audience=audience,
                              subject=args.sub, ttl=args.ttl, now=twin_now(state_dir))
    print(auth_keys.load(state_dir).sign(claims, args.alg))
    sys.stdout.flush()
    return 0
