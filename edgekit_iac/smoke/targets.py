"""Where `edgekit smoke` sends its requests: a stack's public endpoints as base URLs.

A deployed stack's endpoints come from its outputs: `imagesDomain` is the image CDN
(https://<domain>); each Worker is found through the outputs its component exports, the
custom domain (`cacheWorkerHostnames`, `geoWorkerHostnames`) or else the route pattern
(`cacheWorkerRoutes`, `geoWorkerRoutes`: `api.example.com/*` -> https://api.example.com).
A stack without Cloudflare has no `cacheWorker`/`geoWorker` output and its Worker checks
are skipped. The JWT auth Worker (`authWorker`, `authWorkerHostnames`, `authWorkerRoutes`)
is requested at its host's root plus `--auth-path`; the token for it is one the stack's
identity provider issued (EDGEKIT_SMOKE_TOKEN), or for the twin one signed with the twin's
own keys (as `edgekit token` signs).

A stack the local twin serves has the same outputs in the twin's graph.json; the twin's
endpoints.json says on which loopback URL each resource (by logical name) listens. The
twin's sample originals include `DEFAULT_IMAGE_KEY`; a deployed originals bucket must hold
it too (or pass another key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edgekit_iac import paths
from edgekit_iac.components.cached_worker import is_loopback
from edgekit_iac.errors import UserError
from edgekit_iac.functions.image_resizer import contract
from edgekit_iac.program import ProgramGraph, RecordedResource
from edgekit_iac.twin import auth_keys
from edgekit_iac.twin.clock import twin_now
from edgekit_iac.twin.graph_view import DISTRIBUTION, WORKERS_SCRIPT
from edgekit_iac.twin.state import StateFiles

DEFAULT_IMAGE_KEY = "samples/landscape.jpg"
PREFERRED_SIZE = "400x300"
ALLOWED_SIZES_HEADER = contract.ALLOWED_SIZES_HEADER  # the resizer's settings on the S3 origin
SIZE = re.compile(r"^([1-9][0-9]{0,3})x([1-9][0-9]{0,3})$")


@dataclass(frozen=True)
class Worker:
    """One Worker's outputs: `script` names the script, the others say where it answers."""

    label: str
    script: str  # e.g. "cacheWorker"
    hostnames: str  # e.g. "cacheWorkerHostnames"
    routes: str  # e.g. "cacheWorkerRoutes"


CACHE_WORKER = Worker("cache Worker", "cacheWorker", "cacheWorkerHostnames", "cacheWorkerRoutes")
GEO_WORKER = Worker("geo Worker", "geoWorker", "geoWorkerHostnames", "geoWorkerRoutes")
AUTH_WORKER = Worker("auth Worker", "authWorker", "authWorkerHostnames", "authWorkerRoutes")
TOKEN_ENV = "EDGEKIT_SMOKE_TOKEN"
SMOKE_SUBJECT = "edgekit-smoke"
TWIN_TOKEN_TTL = 120  # seconds: the token lives for one smoke run


@dataclass(frozen=True)
class Targets:
    """Base URLs of a stack's public endpoints (None: the stack has no such endpoint)."""

    source: str  # where they were read, for the report
    images_url: str
    cached_api_url: str | None
    geo_api_url: str | None
    allowed_sizes: tuple[str, ...] = ()  # () when the outputs do not say
    originals_bucket: str | None = None
    auth_url: str | None = None  # the auth Worker's host root (its route may have a path)
    auth_token: str | None = field(default=None, repr=False)  # None: not checked with one
    auth_token_note: str = ""  # why there is no token


def _images_domain(outputs: Mapping[str, Any], source: str) -> str:
    domain = outputs.get("imagesDomain")
    if not isinstance(domain, str) or not domain:
        have = ", ".join(sorted(outputs)) or "none"
        raise UserError(f"{source}: no imagesDomain output (outputs: {have}); smoke needs the "
                        "outputs of a stack deployed from edgekit's __main__.py")
    return domain


def url_for_route(pattern: str) -> str:
    """The base URL a Workers route pattern serves: `api.example.com/*` -> https://api.example.com.

    The pattern's path up to its first `*` stays (`example.com/api/*` -> .../api); a
    wildcard host names no host a request could go to.
    """
    rest = pattern.strip().removeprefix("https://").removeprefix("http://")
    host, slash, path = rest.partition("/")
    if not host or "*" in host:
        raise UserError(f"route pattern {pattern!r} has no concrete hostname to request; smoke "
                        "needs a route like 'api.example.com/*' or a custom domain")
    prefix = (slash + path).split("*", 1)[0].rstrip("/")
    return f"https://{host.lower()}{prefix}"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    return [item for item in value or [] if isinstance(item, str) and item]


def deployed_worker_url(outputs: Mapping[str, Any], worker: Worker, source: str) -> str | None:
    """https://<custom domain>, else the route's URL; None when the stack has no such Worker."""
    if not outputs.get(worker.script):
        return None
    if worker.hostnames not in outputs and worker.routes not in outputs:
        raise UserError(
            f"{source}: the {worker.label} {outputs[worker.script]!r} is deployed but the "
            f"outputs do not say where it answers; export {worker.hostnames} and "
            f"{worker.routes} from __main__.py (the component's hostnames and routes outputs)"
        )
    hostnames = _strings(outputs.get(worker.hostnames))
    if hostnames:
        return f"https://{hostnames[0].lower()}"
    routes = _strings(outputs.get(worker.routes))
    if routes:
        return url_for_route(routes[0])
    raise UserError(f"{source}: the {worker.label} {outputs[worker.script]!r} has neither a "
                    f"custom domain ({worker.hostnames}) nor a route ({worker.routes})")


def _sizes(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else _strings(value)
    return tuple(size.strip() for size in items if size.strip())


def _host_root(url: str | None) -> str | None:
    """`https://secure.example.com/api` -> `https://secure.example.com`."""
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def deployed_targets(outputs: Mapping[str, Any], source: str,
                     auth_token: str | None = None) -> Targets:
    """`auth_token`: one the stack's identity provider issued (none: that check is skipped)."""
    return Targets(
        source=source,
        images_url=f"https://{_images_domain(outputs, source).lower()}",
        cached_api_url=deployed_worker_url(outputs, CACHE_WORKER, source),
        geo_api_url=deployed_worker_url(outputs, GEO_WORKER, source),
        allowed_sizes=_sizes(outputs.get("imagesAllowedSizes")),
        originals_bucket=outputs.get("originalsBucket") or None,
        auth_url=_host_root(deployed_worker_url(outputs, AUTH_WORKER, source)),
        auth_token=auth_token or None,
        auth_token_note="" if auth_token else (
            f"no token: set {TOKEN_ENV} to one the stack's identity provider issued for "
            "its auth Worker's issuer and audience"),
    )


def _listener(endpoints: Mapping[str, str], name: str, source: str) -> str:
    url = endpoints.get(name)
    if not url:
        raise UserError(f"{source} has no listener for {name!r} (it lists: "
                        f"{', '.join(sorted(endpoints)) or 'none'}); restart the twin")
    return url.rstrip("/")


def _distribution_sizes(inputs: Mapping[str, Any]) -> tuple[str, ...]:
    for origin in inputs.get("origins") or []:
        for header in origin.get("customHeaders") or []:
            if str(header.get("name", "")).lower() == ALLOWED_SIZES_HEADER:
                return _sizes(str(header.get("value", "")))
    return ()


def _twin_script(graph: ProgramGraph, worker: Worker, source: str) -> RecordedResource | None:
    script_name = graph.exports.get(worker.script)
    if not script_name:
        return None
    for script in graph.of_type(WORKERS_SCRIPT):
        if script.inputs.get("scriptName") == script_name:
            return script
    raise UserError(f"{source}: the twin's graph has no Workers script {script_name!r} "
                    f"(the {worker.label} output); restart the twin")


def _twin_worker_url(graph: ProgramGraph, endpoints: Mapping[str, str], worker: Worker,
                     source: str) -> str | None:
    script = _twin_script(graph, worker, source)
    return None if script is None else _listener(endpoints, script.name, source)


def twin_token(script: RecordedResource, state_dir: Path) -> tuple[str | None, str]:
    """A short-lived token the twin's auth Worker accepts, or None and why not: signed with
    the twin's keys in `state_dir` for the issuer and first audience the script is bound
    to, at the twin's time (its clock may have been moved forward)."""
    bindings = {b.get("name"): b.get("text") for b in script.inputs.get("bindings") or []}
    jwks_url = str(bindings.get("JWKS_URL") or "")
    audiences = [a.strip() for a in str(bindings.get("AUDIENCES") or "").split(",") if a.strip()]
    if not audiences:
        return None, "no token: the auth Worker is bound to no AUDIENCES"
    if not is_loopback(urlsplit(jwks_url).hostname or ""):
        return None, (f"no token: the auth Worker trusts {jwks_url}, not the twin's keys; set "
                      f"{TOKEN_ENV} to a token of that identity provider")
    if not (state_dir / auth_keys.KEYS_DIR).is_dir():
        return None, f"no token: the twin's keys are not in {state_dir / auth_keys.KEYS_DIR}"
    claims = auth_keys.claims(issuer=str(bindings.get("ISSUER")), audience=audiences[0],
                              subject=SMOKE_SUBJECT, ttl=TWIN_TOKEN_TTL,
                              now=twin_now(state_dir))
    return auth_keys.load(state_dir).sign(claims), ""


def twin_targets(graph: ProgramGraph, endpoints: Mapping[str, str], source: str,
                 state_dir: Path | None = None, auth_token: str | None = None) -> Targets:
    """The twin's loopback URL for each resource the stack's outputs name; the auth token is
    `auth_token`, else one signed with the keys in the twin's `state_dir`."""
    domain = _images_domain(graph.exports, source)
    distribution = next((resource for resource in graph.of_type(DISTRIBUTION)
                         if resource.outputs.get("domainName") == domain), None)
    if distribution is None:
        raise UserError(f"{source}: the twin's graph has no distribution {domain!r} (the "
                        "imagesDomain output); restart the twin")
    return Targets(
        source=source,
        images_url=_listener(endpoints, distribution.name, source),
        cached_api_url=_twin_worker_url(graph, endpoints, CACHE_WORKER, source),
        geo_api_url=_twin_worker_url(graph, endpoints, GEO_WORKER, source),
        allowed_sizes=_distribution_sizes(distribution.inputs),
        originals_bucket=graph.exports.get("originalsBucket") or None,
        **_twin_auth(graph, endpoints, source, state_dir, auth_token),
    )


def _twin_auth(graph: ProgramGraph, endpoints: Mapping[str, str], source: str,
               state_dir: Path | None, auth_token: str | None) -> dict[str, Any]:
    script = _twin_script(graph, AUTH_WORKER, source)
    if script is None:
        return {}
    token, note = (auth_token, "") if auth_token else (
        twin_token(script, state_dir) if state_dir is not None
        else (None, f"no token: set {TOKEN_ENV}"))
    return {"auth_url": _listener(endpoints, script.name, source), "auth_token": token,
            "auth_token_note": note}


def _json_file(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} does not exist ({what})") from None
    except ValueError as error:
        raise UserError(f"{path}: not JSON ({error}); expected {what}") from None


def read_twin(stack: str, endpoints_file: Path | None, auth_token: str | None = None) -> Targets:
    """The targets of the twin serving `stack`: its endpoints.json and the graph.json beside it
    (and its keys there, for the auth Worker's token unless `auth_token` is given)."""
    files = StateFiles(endpoints_file.resolve().parent if endpoints_file
                       else paths.state_dir(stack))
    endpoints_path = endpoints_file.resolve() if endpoints_file else files.endpoints_file
    if not endpoints_path.is_file():
        raise UserError(
            f"no twin is serving stack {stack!r}: {endpoints_path} does not exist; start one "
            f"with `python -m edgekit_iac up --stack {stack}`, or pass --endpoints FILE for a twin "
            "started with --state-dir"
        )
    endpoints = _json_file(endpoints_path, "the twin's endpoints.json: logical name -> URL")
    if not isinstance(endpoints, dict):
        raise UserError(f"{endpoints_path}: expected a JSON object of logical names to URLs")
    document = _json_file(files.graph_file, "the graph.json the twin writes beside "
                                            "endpoints.json")
    try:
        graph = ProgramGraph.from_json(document)
    except (KeyError, TypeError) as error:
        raise UserError(f"{files.graph_file}: not a recorded graph ({error!r} is missing)") \
            from None
    return twin_targets(graph, endpoints, f"the twin's {endpoints_path}", files.root,
                        auth_token)


def choose_size(requested: str | None, allowed: Sequence[str]) -> tuple[int, int]:
    """The resize box to request: `requested`, else 400x300 when allowed, else the first."""
    if requested is None:
        size = PREFERRED_SIZE if not allowed or PREFERRED_SIZE in allowed else allowed[0]
    else:
        size = requested.strip().lower()
        if allowed and size not in allowed:
            raise UserError(f"--image-size {requested} is not one of the stack's allowed sizes: "
                            f"{', '.join(allowed)}")
    match = SIZE.match(size)
    if match is None:
        raise UserError(f"image size {size!r} is not WIDTHxHEIGHT (e.g. 400x300, sides 1-9999)")
    return int(match[1]), int(match[2])
