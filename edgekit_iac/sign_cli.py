"""`edgekit sign-url` and `edgekit sign-cookies`: CloudFront signed URLs and signed cookies.

    edgekit sign-url --stack local "$(edgekit url images-cdn)/images/400x300/private/a.jpg"
    edgekit sign-url --stack prod URL --expires 300 --ip 203.0.113.0/24 --key-file key.pem
    edgekit sign-cookies --stack local "http://127.0.0.1:8702/images/*/private/*"

A canned policy signs exactly the URL; a custom policy is used with `--ip`, with
`--resource PATTERN` (a wildcard the signature covers, e.g. every size of one key), and
for cookies whose resource holds `*`. Signatures are made by botocore's CloudFrontSigner
with `cryptography` (edgekit_iac.cloudfront_signing).

Which key: for `--stack local`, the twin's own pair in its state directory (`edgekit up`
creates it) and the CloudFront key id from its graph.json. For a deployed stack, the
private key is the stack secret `edgekit:urlSigningKey`, handed over with `--key-file`
(`pulumi config get edgekit:urlSigningKey --stack prod > key.pem`, or `-` for stdin); the
key's name is found among `edgekit:images.signingPublicKeys` by its public half, and its
CloudFront id in the stack output `urlSigningKeyIds` (`--outputs FILE` from `pulumi stack
output --json`, the Pulumi CLI otherwise, or `--key-pair-id ID`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edgekit_iac import cloudfront_signing as signing
from edgekit_iac import paths
from edgekit_iac.errors import UserError

LOCAL = "local"
MAX_EXPIRES = 31_536_000
OUTPUT_KEY_IDS = "urlSigningKeyIds"
PUBLIC_KEY_TYPE = "aws:cloudfront/publicKey:PublicKey"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cookies = parser.prog.endswith("sign-cookies")
    parser.add_argument(
        "url", metavar="URL",
        help=("the resource the cookies grant, an absolute URL that may hold * and ? (e.g. "
              "https://img.example.com/images/*/private/*)") if cookies else
             "the absolute http(s) URL to sign, without Expires/Policy/Signature/Key-Pair-Id")
    parser.add_argument("--stack", default=LOCAL, help="whose key signs (default: local)")
    parser.add_argument("--expires", type=int, default=300, metavar="SECONDS",
                        help=f"valid for this many seconds from now, 1..{MAX_EXPIRES} "
                             "(default: 300)")
    parser.add_argument("--ip", default=None, metavar="CIDR",
                        help="only viewers from this address or CIDR (custom policy)")
    if not cookies:
        parser.add_argument("--resource", default=None, metavar="PATTERN",
                            help="sign this wildcard resource covering URL instead of URL "
                                 "itself (custom policy)")
    parser.add_argument("--hash-algorithm", choices=sorted(signing.HASHES), default="SHA1",
                        help="signature digest (default: SHA1, CloudFront's default)")
    parser.add_argument("--key-file", default=None, metavar="PATH",
                        help="the PEM private key (the secret edgekit:urlSigningKey), '-' for "
                             "stdin; not for --stack local")
    parser.add_argument("--key-pair-id", default=None, metavar="ID",
                        help="the CloudFront public key id (default: from the stack outputs)")
    parser.add_argument("--outputs", type=Path, default=None, metavar="FILE",
                        help="stack outputs as `pulumi stack output --json` prints them")
    parser.add_argument("--state-dir", default=None,
                        help="the local twin's state directory (default: .edgekit/local)")


def _check_url(url: str, *, wildcard: bool) -> str:
    parts = urlsplit(url)
    accepted = ("an absolute http:// or https:// URL without a fragment" +
                (", * allowed" if wildcard else ", without * (use --resource)"))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise UserError(f"URL {url!r} is not usable; accepted: {accepted}")
    if not wildcard and "*" in url:
        raise UserError(f"URL {url!r} holds a wildcard; accepted: {accepted}")
    names = {item.partition("=")[0] for item in parts.query.split("&") if item}
    taken = sorted(names & set(signing.QUERY_PARAMETERS))
    if taken:
        raise UserError(f"URL {url!r} already carries {', '.join(taken)}; accepted: the URL "
                        "before signing")
    return url


def _read_key_file(path: str) -> signing.PrivateKey:
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"--key-file {path}: {error.strerror or error}") from None
    try:
        return signing.load_private_key(data)
    except ValueError as error:
        raise UserError(f"--key-file {path}: {error} (contents not shown); accepted: the "
                        "unencrypted PEM private key of edgekit:urlSigningKey") from None


def _local_key(args: argparse.Namespace) -> tuple[signing.PrivateKey, str]:
    from edgekit_iac.twin import local_signing

    state = Path(args.state_dir).resolve() if args.state_dir else paths.state_dir(LOCAL)
    if args.key_file:
        raise UserError("--key-file is for deployed stacks; --stack local signs with the "
                        f"twin's own key in {local_signing.signing_dir(state)}")
    key = local_signing.private_key(state)
    graph_file = state / "graph.json"
    if key is None or not graph_file.is_file():
        raise UserError(f"no local twin key in {local_signing.signing_dir(state)} (or no "
                        f"{graph_file}); start the twin once with `edgekit up --stack local`"
                        + (f" --state-dir {args.state_dir}" if args.state_dir else ""))
    if args.key_pair_id:
        return key, args.key_pair_id
    public = signing.public_pem(key)
    graph = json.loads(graph_file.read_text(encoding="utf-8"))
    for resource in graph.get("resources", []):
        encoded = (resource.get("inputs") or {}).get("encodedKey")
        if resource.get("type") == PUBLIC_KEY_TYPE and encoded and signing.same_key(public,
                                                                                    encoded):
            return key, str(resource["id"])
    raise UserError(f"the twin's key is not in {graph_file}: the stack trusts keys of its own "
                    "(edgekit:images.signingPublicKeys); sign with one of those (--key-file)")


def _stack_key(args: argparse.Namespace) -> tuple[signing.PrivateKey, str]:
    if not args.key_file:
        raise UserError(
            f"--stack {args.stack} needs --key-file: the stack secret edgekit:urlSigningKey, "
            f"e.g. `pulumi config get edgekit:urlSigningKey --stack {args.stack} | edgekit "
            f"{args.command} --stack {args.stack} --key-file - ...`")
    key = _read_key_file(args.key_file)
    if args.key_pair_id:
        return key, args.key_pair_id
    from edgekit_iac.release import stack_files, stack_outputs

    images = stack_files.read_config(args.stack).get("edgekit:images") or {}
    trusted: dict[str, Any] = images.get("signingPublicKeys") or {}
    public = signing.public_pem(key)
    names = [name for name, pem in trusted.items()
             if isinstance(pem, str) and _same(public, pem)]
    if not names:
        raise UserError(f"--key-file: its public key is none of edgekit:images."
                        f"signingPublicKeys of stack {args.stack!r} "
                        f"({', '.join(trusted) or 'none'}); CloudFront would refuse it")
    ids = stack_outputs.read_outputs(args.stack, args.outputs).get(OUTPUT_KEY_IDS) or {}
    if names[0] not in ids:
        raise UserError(f"the stack outputs have no {OUTPUT_KEY_IDS}[{names[0]!r}]: deploy "
                        "the key first (pulumi up), or pass --key-pair-id")
    return key, str(ids[names[0]])


def _same(first: str, second: str) -> bool:
    try:
        return signing.same_key(first, second)
    except ValueError:
        return False


def _now(args: argparse.Namespace) -> datetime.datetime:
    """Now, for the signer: the twin's clock for --stack local (it may have been moved
    forward, and the twin checks expiry against it), else the wall clock."""
    if args.stack != LOCAL:
        return datetime.datetime.now(datetime.UTC)
    from edgekit_iac.twin.clock import twin_now

    state = Path(args.state_dir).resolve() if args.state_dir else paths.state_dir(LOCAL)
    return datetime.datetime.fromtimestamp(twin_now(state), datetime.UTC)


def run(args: argparse.Namespace) -> int:
    cookies = args.command == "sign-cookies"
    if not 1 <= args.expires <= MAX_EXPIRES:
        raise UserError(f"--expires {args.expires}: accepted: 1..{MAX_EXPIRES} seconds")
    url = _check_url(args.url, wildcard=cookies)
    resource = url
    if not cookies and args.resource is not None:
        resource = _check_url(args.resource, wildcard=True)
        if not signing.covers(resource, url):
            raise UserError(f"--resource {resource!r} does not cover URL {url!r}")
    ip = signing.check_cidr(args.ip) if args.ip is not None else None
    key, key_pair_id = _local_key(args) if args.stack == LOCAL else _stack_key(args)
    expires = _now(args) + datetime.timedelta(seconds=args.expires)
    request = signing.SigningRequest(resource, expires.replace(microsecond=0), ip,
                                     args.hash_algorithm)
    if cookies:
        for value in signing.signed_cookies(key_pair_id, key, request,
                                            domain=urlsplit(url).hostname):
            print(f"Set-Cookie: {value}")
    else:
        print(signing.sign_url(url, key_pair_id, key, request))
    return 0
