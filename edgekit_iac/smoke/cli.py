"""`python -m edgekit_iac smoke --stack NAME`: request each public endpoint and check the answers.

Six requests, one report line each (PASS/FAIL/SKIP, time, URL, what was expected, what came
back; `edgekit_iac.smoke.checks` says exactly what each check asserts): a resized image from the
image CDN, the cached API twice (the second must be a cache HIT of the first), the geo
API, and the JWT auth Worker's route without a token (401) and with one (200; the token is
$EDGEKIT_SMOKE_TOKEN, or for the twin one signed with its keys). Exit status 0 when nothing
failed, 1 when a check failed, 2 when the stack's endpoints cannot be found (bad arguments,
no outputs, no running twin).

Endpoints (`edgekit_iac.smoke.targets`): the `local` stack, or any stack given `--endpoints FILE`,
is the running local twin; other stacks are deployed and found through their outputs
(`--outputs FILE` as `pulumi stack output --json` prints them, else the Pulumi CLI).

Each request has its own time limit (`--timeout`, default 10 s) and is made once: a smoke test
that retries hides the flakiness it should report. No redirects are followed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import ssl
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, urlsplit

from edgekit_iac.errors import UserError
from edgekit_iac.release import stack_outputs
from edgekit_iac.smoke.checks import (
    CheckResult,
    HttpAnswer,
    all_passed,
    check_auth_accepted,
    check_auth_refused,
    check_cache_fill,
    check_cache_hit,
    check_geo,
    check_image,
    report_lines,
)
from edgekit_iac.smoke.targets import (
    DEFAULT_IMAGE_KEY,
    TOKEN_ENV,
    Targets,
    choose_size,
    deployed_targets,
    read_twin,
)

TWIN_STACK = "local"
DEFAULT_API_PATH = "/api/weather?city=Oslo"  # the twin's demo origin; cacheable for 60 s
DEFAULT_AUTH_PATH = "/api/whoami"  # the twin's demo origin: the identity that reached it
DEFAULT_TIMEOUT = 10.0
MAX_BODY_BYTES = 20 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
USER_AGENT = "edgekit-smoke"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default=TWIN_STACK,
                        help=f"stack to test; {TWIN_STACK!r} is the running local twin "
                             f"(default: {TWIN_STACK})")
    parser.add_argument("--outputs", type=Path, metavar="FILE",
                        help="a deployed stack's outputs as `pulumi stack output --json "
                             "--show-secrets` prints them (default: read them with the "
                             "Pulumi CLI)")
    parser.add_argument("--endpoints", type=Path, metavar="FILE",
                        help="test the twin that wrote this endpoints.json (for a twin started "
                             "with --state-dir; default for the local stack: "
                             ".edgekit/local/endpoints.json)")
    parser.add_argument("--image-key", default=DEFAULT_IMAGE_KEY, metavar="KEY",
                        help="original to resize; the twin seeds it, a deployed stack's "
                             f"originals bucket must hold it (default: {DEFAULT_IMAGE_KEY})")
    parser.add_argument("--image-size", metavar="WxH",
                        help="resize box to request (default: 400x300 when the stack allows "
                             "it, else its first allowed size)")
    parser.add_argument("--api-path", default=DEFAULT_API_PATH, metavar="PATH",
                        help="a cacheable JSON GET of the cached API, relative to its Worker's "
                             f"route (default: {DEFAULT_API_PATH})")
    parser.add_argument("--auth-path", default=DEFAULT_AUTH_PATH, metavar="PATH",
                        help="a GET under the auth Worker's route that its origin answers 200 "
                             "for a signed-in user, from the host's root (default: "
                             f"{DEFAULT_AUTH_PATH}); the token is ${TOKEN_ENV}, or for the "
                             "twin one signed with its keys")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"time limit of each request (default: {DEFAULT_TIMEOUT:g})")


def fetch(url: str, timeout: float, headers: Mapping[str, str] | None = None) -> HttpAnswer:
    """One GET, no retries, no redirects; any failure to get an answer is in `error`."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)

    def failed(error: str) -> HttpAnswer:
        return HttpAnswer(url, None, elapsed_ms=(time.perf_counter() - started) * 1000,
                          error=error)

    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout,
            context=ssl.create_default_context())
    elif parts.scheme == "http":
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                                timeout=timeout)
    else:
        return failed(f"unsupported URL scheme {parts.scheme!r}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target, headers={"User-Agent": USER_AGENT, "Accept": "*/*",
                                                   **(headers or {})})
        response = connection.getresponse()
        body = bytearray()
        while chunk := response.read(CHUNK_BYTES):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return failed(f"body larger than {MAX_BODY_BYTES // (1024 * 1024)} MB")
            if time.monotonic() > deadline:
                return failed(f"body not complete within {timeout:g} s")
        answered: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            answered[key] = f"{answered[key]}, {value}" if key in answered else value
        return HttpAnswer(url, response.status, answered, bytes(body),
                          (time.perf_counter() - started) * 1000)
    except TimeoutError:
        return failed(f"timed out after {timeout:g} s")
    except (OSError, http.client.HTTPException) as error:
        return failed(f"{type(error).__name__}: {error}")
    finally:
        connection.close()


def resolve_targets(args: argparse.Namespace) -> Targets:
    if args.endpoints is not None or args.stack == TWIN_STACK:
        if args.outputs is not None:
            raise UserError("--outputs is for deployed stacks; the twin's outputs are in the "
                            "graph.json beside its endpoints.json (drop --outputs, or "
                            "--endpoints to test a deployed stack)")
        return read_twin(args.stack, args.endpoints, os.environ.get(TOKEN_ENV))
    outputs = stack_outputs.read_outputs(args.stack, args.outputs)
    source = str(args.outputs) if args.outputs else f"the Pulumi outputs of {args.stack!r}"
    return deployed_targets(outputs, source, os.environ.get(TOKEN_ENV))


def _skipped(name: str, output: str) -> CheckResult:
    return CheckResult(name, "", None, note=f"the stack has no {output} output")


def run_checks(targets: Targets, image_key: str, box: tuple[int, int], api_path: str,
               timeout: float, auth_path: str = DEFAULT_AUTH_PATH) -> list[CheckResult]:
    results = []
    image_url = f"{targets.images_url}/images/{box[0]}x{box[1]}/{quote(image_key.lstrip('/'))}"
    image = fetch(image_url, timeout)
    hint = ""
    if image.status in (403, 404):  # S3 behind CloudFront says 403 for a missing key
        bucket = targets.originals_bucket or "the originals bucket"
        hint = f"{bucket} must hold {image_key} (upload it, or pass --image-key)"
    results.append(CheckResult("image", image_url, check_image(image, box), image.elapsed_ms,
                               hint))
    if targets.cached_api_url is None:
        results += [_skipped("cached-api-1", "cacheWorker"),
                    _skipped("cached-api-2", "cacheWorker")]
    else:
        api_url = targets.cached_api_url + "/" + api_path.lstrip("/")
        first = fetch(api_url, timeout)
        second = fetch(api_url, timeout)
        results += [
            CheckResult("cached-api-1", api_url, check_cache_fill(first), first.elapsed_ms),
            CheckResult("cached-api-2", api_url, check_cache_hit(first, second),
                        second.elapsed_ms),
        ]
    if targets.geo_api_url is None:
        results.append(_skipped("geo-api", "geoWorker"))
    else:
        geo = fetch(targets.geo_api_url + "/", timeout)
        results.append(CheckResult("geo-api", geo.url, check_geo(geo), geo.elapsed_ms))
    return results + auth_checks(targets, auth_path, timeout)


def auth_checks(targets: Targets, auth_path: str, timeout: float) -> list[CheckResult]:
    """The auth Worker's route refused without a token, and passed with one."""
    if targets.auth_url is None:
        return [_skipped("auth-no-token", "authWorker"), _skipped("auth-token", "authWorker")]
    url = targets.auth_url + "/" + auth_path.lstrip("/")
    anonymous = fetch(url, timeout)
    hint = ("is --auth-path under the auth Worker's route?"
            if anonymous.status is not None and 200 <= anonymous.status < 300 else "")
    results = [CheckResult("auth-no-token", url, check_auth_refused(anonymous),
                           anonymous.elapsed_ms, hint)]
    if targets.auth_token is None:
        return results + [CheckResult("auth-token", url, None, note=targets.auth_token_note)]
    signed = fetch(url, timeout, {"Authorization": f"Bearer {targets.auth_token}"})
    return results + [CheckResult("auth-token", url, check_auth_accepted(signed),
                                  signed.elapsed_ms)]


def run(args: argparse.Namespace) -> int:
    if not args.timeout > 0:
        raise UserError(f"--timeout {args.timeout:g}: give a positive number of seconds")
    targets = resolve_targets(args)
    box = choose_size(args.image_size, targets.allowed_sizes)
    print(f"edgekit smoke: stack {args.stack!r}, endpoints from {targets.source}", flush=True)
    results = run_checks(targets, args.image_key, box, args.api_path, args.timeout,
                         args.auth_path)
    for line in report_lines(results):
        print(line)
    return 0 if all_passed(results) else 1
