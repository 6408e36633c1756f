"""Where `edgekit smoke` sends its requests: a stack's public endpoints as base URLs.

A deployed stack's endpoints come from its outputs: `imagesDomain` is the image CDN
(https://<domain>); each Worker is found through the outputs its component exports, the
custom domain (`cacheWorkerHostnames`, `geoWorkerHostnames`) or else the route pattern
(`cacheWorkerRoutes`, `geoWorkerRoutes`: `api.example.com/*` -> https://api.example.com).
A stack without Cloudflare has no `cacheWorker`/`geoWorker` output and its Worker checks
are skipped.

A stack the local twin serves has the same outputs in the twin's graph.json; the twin's
endpoints.json says on which loopback URL each resource (by logical name) listens. The
twin's sample originals include `DEFAULT_IMAGE_KEY`; a deployed originals bucket must hold
it too (or pass another key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit_iac import paths
from edgekit_iac.errors import UserError
from edgekit_iac.functions.image_resizer import contract
from edgekit_iac.program import ProgramGraph
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


@dataclass(frozen=True)
class Targets:
    """Base URLs of a stack's public endpoints (None: the stack has no such endpoint)."""

    source: str  # where they were read, for the report
    images_url: str
    cached_api_url: str | None
    geo_api_url: str | None
    allowed_sizes: tuple[str, ...] = ()  # () when the outputs do not say
    originals_bucket: str | None = None


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


def deployed_targets(outputs: Mapping[str, Any], source: str) -> Targets:
    return Targets(
        source=source,
        images_url=f"https://{_images_domain(outputs, source).lower()}",
        cached_api_url=deployed_worker_url(outputs, CACHE_WORKER, source),
        geo_api_url=deployed_worker_url(outputs, GEO_WORKER, source),
        allowed_sizes=_sizes(outputs.get("imagesAllowedSizes")),
        originals_bucket=outputs.get("originalsBucket") or None,
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


def _twin_worker_url(graph: ProgramGraph, endpoints: Mapping[str, str], worker: Worker,
                     source: str) -> str | None:
    script_name = graph.exports.get(worker.script)
    if not script_name:
        return None
    for script in graph.of_type(WORKERS_SCRIPT):
        if script.inputs.get("scriptName") == script_name:
            return _listener(endpoints, script.name, source)
    raise UserError(f"{source}: the twin's graph has no Workers script {script_name!r} "
                    f"(the {worker.label} output); restart the twin")


def twin_targets(graph: ProgramGraph, endpoints: Mapping[str, str], source: str) -> Targets:
    """The twin's loopback URL for each resource the stack's outputs name."""
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
    )


def _json_file(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} does not exist ({what})") from None
    except ValueError as error:
        raise UserError(f"{path}: not JSON ({error}); expected {what}") from None


def read_twin(stack: str, endpoints_file: Path | None) -> Targets:
    """The targets of the twin serving `stack`: its endpoints.json and the graph.json beside it."""
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
    return twin_targets(graph, endpoints, f"the twin's {endpoints_path}")


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
