"""`edgekit purge --stack NAME KEY [KEY ...] [--dry-run]`: forget every variant of originals.

Variants are cached for a year (`immutable`) and stored under `resized/`, so replacing an
original needs a purge. For each KEY (an original's key in the bucket, e.g. photos/cat.jpg):

1. every stored variant is deleted: the objects under `contract.variant_prefix(key)` that
   `contract.is_variant_of(stored, key)` accepts (so "a.jpg" never takes "a.jpg/b"'s);
2. ONE CloudFront invalidation covers every cached variant of every key. A variant's
   cache key is its path plus the contract's query parameters, which CloudFront invalidates
   only by exact URL or with a `*` wildcard, and the wildcard only at the end of a path
   (AWS, "What you need to know when invalidating files": "If client requests include five
   different query strings for the same object, you can either invalidate the object five
   times ... or you can use the * wildcard"). So the paths are `/images/{size}/{key}*`,
   one per allowed size and key. At most 15 wildcard paths may be in progress per
   distribution (AWS, "Concurrent invalidation request maximum"); past that the paths
   widen to each size's common key prefix, then to `/images/*`, and purge says so;
3. Cloudflare: the cache wrapper stores responses by URL on its hosts (custom domains and
   route hosts), so its entries
   for a key are the URLs under `{host}/images/{size}/{key}`: purged by prefix (every
   plan; at most 30 prefixes per API call: Cloudflare, "Purge cache by prefix (URL)"),
   which also covers every query string without enumerating them.

The stored variants go first, so that no request between the steps can refill a cache
from a variant of the old original.

Against a stack whose environment is `local`, purge acts on the running twin: its S3, its
CloudFront caches and its Workers' Cache API, through the status listener's controls
(`/control/invalidate`, `/control/cloudflare-purge`). Otherwise it acts on the real
clouds: boto3 for S3 and CloudFront (credentials as boto3 finds them), the Cloudflare API with
$CLOUDFLARE_API_TOKEN, reading the stack's outputs (`--outputs FILE`, or the Pulumi
backend).
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from edgekit_iac import paths
from edgekit_iac.errors import UserError
from edgekit_iac.functions.image_resizer import contract

# AWS, "Concurrent invalidation request maximum": up to 3,000 individual files, or 15
# wildcard paths, in progress per distribution at one time.
MAX_WILDCARD_PATHS = 15
MAX_FILE_PATHS = 3000
MAX_PATH_CHARS = 4000  # AWS: "The maximum length of a path is 4,000 characters"
S3_DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1,000 keys per request
CLOUDFLARE_PREFIXES_PER_CALL = 30  # Cloudflare, "Purge cache by prefix (URL)"
CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"
CLOUDFLARE_TOKEN_VARIABLE = "CLOUDFLARE_API_TOKEN"
# Safe in a URL path as viewers send it; everything else in a key is percent-encoded.
_PATH_SAFE = "/-._~!$&'()+,;=:@"


# --- the plan: pure ----------------------------------------------------------------------------


def check_keys(keys: Sequence[str]) -> list[str]:
    """The originals' keys, refused with a reason when they cannot name an original."""
    accepted = ("keys of originals as stored in the bucket, e.g. photos/cat.jpg (no leading /, "
                f"not under {contract.RESIZED_PREFIX}, no '*')")
    checked: list[str] = []
    for key in keys:
        problem = None
        if not key or key != key.strip():
            problem = "is empty or has surrounding spaces"
        elif key.startswith("/"):
            problem = "starts with /"
        elif key.startswith(contract.RESIZED_PREFIX):
            problem = f"is a stored variant (under {contract.RESIZED_PREFIX}), not an original"
        elif "*" in key:
            problem = "contains '*', which CloudFront would read as a wildcard"
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
            problem = "contains control characters"
        if problem:
            raise UserError(f"purge: key {key!r} {problem}; accepted: {accepted}")
        if key not in checked:
            checked.append(key)
    if not checked:
        raise UserError(f"purge: no KEY given; accepted: {accepted}")
    return checked


def variant_path_prefix(size: str, key: str) -> str:
    """The URL path every variant of `key` at `size` starts with (query strings follow)."""
    return f"{contract.PATH_PREFIX}{size}/{quote(key, safe=_PATH_SAFE)}"


@dataclass(frozen=True)
class Invalidation:
    paths: tuple[str, ...]
    note: str | None = None  # said when the paths are wider than the keys


def invalidation_paths(keys: Sequence[str], sizes: Sequence[str]) -> Invalidation:
    """Wildcard paths covering every cached variant of `keys`, within CloudFront's limits."""
    exact = tuple(f"{variant_path_prefix(size, key)}*" for key in keys for size in sizes)
    if len(exact) <= MAX_WILDCARD_PATHS and all(len(p) <= MAX_PATH_CHARS for p in exact):
        return Invalidation(exact)
    common = os.path.commonprefix([quote(key, safe=_PATH_SAFE) for key in keys])
    per_size = tuple(f"{contract.PATH_PREFIX}{size}/{common}*" for size in sizes)
    if len(per_size) <= MAX_WILDCARD_PATHS and all(len(p) <= MAX_PATH_CHARS for p in per_size):
        return Invalidation(per_size, (
            f"{len(exact)} paths ({len(keys)} keys x {len(sizes)} sizes) exceed CloudFront's "
            f"{MAX_WILDCARD_PATHS} wildcard paths in progress; invalidating every key starting "
            f"with {common!r} instead (other variants there are fetched again, nothing more)"))
    return Invalidation((f"{contract.PATH_PREFIX}*",), (
        f"{len(sizes)} sizes exceed CloudFront's {MAX_WILDCARD_PATHS} wildcard paths in "
        f"progress; invalidating {contract.PATH_PREFIX}* (every variant is fetched again)"))


def cloudflare_prefixes(keys: Sequence[str], sizes: Sequence[str],
                        hosts: Sequence[str]) -> list[str]:
    """Cloudflare purge prefixes (host/path, no scheme) for the cache wrapper's URLs."""
    return [f"{host}{variant_path_prefix(size, key)}" for host in hosts for key in keys
            for size in sizes]


@dataclass
class PurgePlan:
    keys: list[str]
    variants: dict[str, list[str]]  # key -> stored variant keys
    invalidation: Invalidation
    prefixes: list[str]
    notes: list[str] = field(default_factory=list)


# --- where it acts -----------------------------------------------------------------------------


class Backend(Protocol):
    where: str

    def stored_variants(self, key: str) -> list[str]: ...
    def delete(self, stored: Sequence[str]) -> None: ...
    def invalidate(self, paths: Sequence[str]) -> str: ...
    def purge_cloudflare(self, prefixes: Sequence[str]) -> str: ...


@dataclass
class _StoredVariants:
    """The originals bucket's `resized/` variants, through an S3 client (real or the twin's)."""

    bucket: str
    s3: Any

    def stored_variants(self, key: str) -> list[str]:
        found: list[str] = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=contract.variant_prefix(key))
        for page in pages:
            found.extend(item["Key"] for item in page.get("Contents", [])
                         if contract.is_variant_of(item["Key"], key))
        return found

    def delete(self, stored: Sequence[str]) -> None:
        for start in range(0, len(stored), S3_DELETE_BATCH):
            batch = stored[start:start + S3_DELETE_BATCH]
            reply = self.s3.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": key} for key in batch], "Quiet": True})
            if reply.get("Errors"):
                first = reply["Errors"][0]
                raise UserError(f"purge: S3 refused to delete {len(reply['Errors'])} variants, "
                                f"e.g. {first.get('Key')!r}: {first.get('Code')} "
                                f"{first.get('Message')}")


def invalidation_batch(paths: Sequence[str], reference: str | None = None) -> dict[str, Any]:
    """CreateInvalidation's InvalidationBatch for `paths` (one request)."""
    if not 0 < len(paths) <= MAX_FILE_PATHS:
        raise UserError(f"purge: {len(paths)} invalidation paths; CloudFront takes 1.."
                        f"{MAX_FILE_PATHS} per request")
    return {"Paths": {"Quantity": len(paths), "Items": list(paths)},
            "CallerReference": reference or f"edgekit-purge-{uuid.uuid4()}"}


@dataclass
class CloudBackend(_StoredVariants):
    """The real clouds: S3 and CloudFront through boto3, Cloudflare through its API."""

    distribution_id: str = ""
    zone_id: str | None = None
    cloudfront: Any = None
    token: str | None = None
    api: str = CLOUDFLARE_API
    where: str = "AWS and Cloudflare"

    def invalidate(self, paths: Sequence[str]) -> str:
        reply = self.cloudfront.create_invalidation(DistributionId=self.distribution_id,
                                                    InvalidationBatch=invalidation_batch(paths))
        invalidation = reply["Invalidation"]
        return f"invalidation {invalidation['Id']} ({invalidation['Status']})"

    def purge_cloudflare(self, prefixes: Sequence[str]) -> str:
        if not prefixes:
            return "nothing to purge on Cloudflare (the stack has no cache wrapper hostnames)"
        if not self.zone_id:
            raise UserError("purge: the stack's edgekit:cloudflare has no zoneId")
        if not self.token:
            raise UserError(f"purge: set ${CLOUDFLARE_TOKEN_VARIABLE} to an API token with "
                            "the zone's Cache Purge permission")
        ids = []
        for start in range(0, len(prefixes), CLOUDFLARE_PREFIXES_PER_CALL):
            body = json.dumps({"prefixes": list(
                prefixes[start:start + CLOUDFLARE_PREFIXES_PER_CALL])}).encode()
            ids.append(self._post(f"{self.api}/zones/{self.zone_id}/purge_cache", body))
        return f"Cloudflare purge {', '.join(ids)} ({len(prefixes)} prefixes)"

    def _post(self, url: str, body: bytes) -> str:
        if not url.startswith(("https://", "http://127.0.0.1:")):
            raise UserError(f"purge: the Cloudflare API must be https, not {url!r}")
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url, data=body, method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                reply = json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise UserError(f"purge: Cloudflare answered {error.code} to purge_cache: "
                            f"{detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise UserError(f"purge: Cloudflare's API could not be reached: {error}") from None
        if not reply.get("success"):
            raise UserError(f"purge: Cloudflare refused the purge: {reply.get('errors')}")
        return str((reply.get("result") or {}).get("id", "?"))


@dataclass
class TwinBackend(_StoredVariants):
    """A running twin: its S3 (moto) and its distributions' caches."""

    distribution: str = ""  # the distribution's logical name, as the twin's control knows it
    status_url: str = ""
    where: str = "the local twin"

    def _control(self, control: str, query: list[tuple[str, str]]) -> dict[str, Any]:
        if not self.status_url.startswith("http://127.0.0.1:"):
            raise UserError(f"purge: the twin listens on loopback, not {self.status_url!r}")
        request = urllib.request.Request(  # noqa: S310 (loopback checked above)
            f"{self.status_url}/control/{control}?{urlencode(query)}", method="POST", data=b"")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise UserError(f"purge: the twin's status listener {self.status_url} refused "
                            f"{control}: {error}") from None

    def invalidate(self, paths: Sequence[str]) -> str:
        reply = self._control("invalidate", [("distribution", self.distribution),
                                             *(("path", p) for p in paths)])
        removed = reply.get("invalidated", {}).get(self.distribution, 0)
        return f"twin invalidation: {removed} cached responses removed"

    def purge_cloudflare(self, prefixes: Sequence[str]) -> str:
        if not prefixes:
            return "nothing to purge on Cloudflare (the stack has no cache wrapper hostnames)"
        reply = self._control("cloudflare-purge", [("prefix", p) for p in prefixes])
        removed = sum((reply.get("purged") or {}).values())
        return f"twin Cloudflare purge: {removed} cached responses removed"


# --- the command -------------------------------------------------------------------------------


def plan(backend: Backend, keys: Sequence[str], sizes: Sequence[str],
         cache_hosts: Sequence[str]) -> PurgePlan:
    keys = check_keys(keys)
    if not sizes:
        raise UserError("purge: the stack names no image sizes (imagesAllowedSizes)")
    variants = {key: backend.stored_variants(key) for key in keys}
    invalidation = invalidation_paths(keys, sizes)
    prefixes = cloudflare_prefixes(keys, sizes, cache_hosts)
    notes = [invalidation.note] if invalidation.note else []
    return PurgePlan(keys, variants, invalidation, prefixes, notes)


def execute(backend: Backend, purge: PurgePlan, dry_run: bool,
            say=print) -> None:
    verb = "would" if dry_run else "will"
    for note in purge.notes:
        say(f"note: {note}")
    for key, stored in purge.variants.items():
        say(f"{key}: {len(stored)} stored variants {verb} be deleted")
        for item in stored:
            say(f"  delete s3://{getattr(backend, 'bucket', '?')}/{item}")
    say(f"one CloudFront invalidation, {len(purge.invalidation.paths)} paths:")
    for path in purge.invalidation.paths:
        say(f"  {path}")
    if purge.prefixes:
        say(f"Cloudflare purge by prefix, {len(purge.prefixes)} prefixes:")
        for prefix in purge.prefixes:
            say(f"  {prefix}")
    if dry_run:
        say(f"dry run: nothing changed in {backend.where}")
        return
    for stored in purge.variants.values():
        if stored:
            backend.delete(stored)
    say(backend.invalidate(purge.invalidation.paths))
    say(backend.purge_cloudflare(purge.prefixes))


def cache_wrapper_hosts(outputs: dict[str, Any]) -> list[str]:
    """Where the cache wrapper answers: its custom domains and its routes' hosts.

    A route such as `api.example.com/*` stores URLs on api.example.com; a route whose host
    has a wildcard (`*.example.com/*`) names no host to purge and is skipped."""
    hosts = [str(h) for h in outputs.get("cacheWorkerHostnames") or []]
    for route in outputs.get("cacheWorkerRoutes") or []:
        host = str(route).split("/", 1)[0]
        if host and "*" not in host and host not in hosts:
            hosts.append(host)
    return hosts


def _sizes(value: Any) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value) if value.startswith("[") else value.split(",")
    return [str(size) for size in value or []]


def _twin_backend(args: argparse.Namespace) -> tuple[TwinBackend, list[str], list[str]]:
    import boto3

    from edgekit_iac.twin import state

    files = state.StateFiles(Path(args.state_dir).resolve() if args.state_dir
                             else paths.state_dir(args.stack))
    try:
        endpoints = json.loads(files.endpoints_file.read_text(encoding="utf-8"))
        graph = json.loads(files.graph_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"purge: no twin is running for stack {args.stack!r} (no readable "
                        f"{files.endpoints_file}); start one with `python -m edgekit_iac up "
                        f"--stack {args.stack}`, or purge a deployed stack") from None
    exports = graph.get("exports") or {}
    distribution_id = exports.get("imagesDistributionId")
    distribution = next((r["name"] for r in graph.get("resources", [])
                         if r.get("type") == "aws:cloudfront/distribution:Distribution"
                         and r.get("id") == distribution_id), None)
    if not exports.get("originalsBucket") or distribution is None:
        raise UserError(f"purge: stack {args.stack!r} has no image resizer "
                        "(exports originalsBucket / imagesDistributionId)")
    s3 = boto3.client("s3", endpoint_url=endpoints["s3"], region_name="us-east-1",
                      aws_access_key_id="twin-local",
                      aws_secret_access_key="twin-local")  # noqa: S106 (moto takes any)
    backend = TwinBackend(exports["originalsBucket"], s3, distribution=distribution,
                          status_url=endpoints["status"])
    return (backend, _sizes(exports.get("imagesAllowedSizes")),
            cache_wrapper_hosts(exports))


def _cloud_backend(args: argparse.Namespace,
                   config: dict[str, Any]) -> tuple[CloudBackend, list[str], list[str]]:
    import boto3

    from edgekit_iac.release import stack_outputs

    outputs = (stack_outputs.read_outputs_file(Path(args.outputs)) if args.outputs
               else stack_outputs.read_from_backend(args.stack))
    missing = [name for name in ("originalsBucket", "imagesDistributionId",
                                 "imagesAllowedSizes") if not outputs.get(name)]
    if missing:
        raise UserError(f"purge: stack {args.stack!r}'s outputs lack {', '.join(missing)}; "
                        "deploy the image resizer first")
    cloudflare = config.get("edgekit:cloudflare") or {}
    region = config.get("aws:region") or "us-east-1"
    backend = CloudBackend(
        bucket=outputs["originalsBucket"], s3=boto3.client("s3", region_name=region),
        distribution_id=outputs["imagesDistributionId"],
        zone_id=cloudflare.get("zoneId") if isinstance(cloudflare, dict) else None,
        cloudfront=boto3.client("cloudfront", region_name="us-east-1"),
        token=os.environ.get(CLOUDFLARE_TOKEN_VARIABLE))
    return (backend, _sizes(outputs["imagesAllowedSizes"]),
            cache_wrapper_hosts(outputs))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("keys", nargs="+", metavar="KEY",
                        help="an original's key in the bucket, e.g. photos/cat.jpg")
    parser.add_argument("--stack", required=True, help="the stack (local: the running twin)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be deleted, invalidated and purged; change nothing")
    parser.add_argument("--outputs", default=None,
                        help="the deployed stack's outputs as `pulumi stack output --json` "
                             "prints them (default: read through the Pulumi backend)")
    parser.add_argument("--state-dir", default=None,
                        help="a local twin's state directory (default: .edgekit/<stack>)")


def run(args: argparse.Namespace, say=print) -> int:
    from edgekit_iac.release import stack_files

    config = stack_files.read_config(args.stack)
    check_keys(args.keys)  # bad keys are refused before anything is contacted
    if config.get("edgekit:environment") == "local":
        backend, sizes, hosts = _twin_backend(args)
    else:
        backend, sizes, hosts = _cloud_backend(args, config)
    execute(backend, plan(backend, args.keys, sizes, hosts), args.dry_run, say)
    return 0

