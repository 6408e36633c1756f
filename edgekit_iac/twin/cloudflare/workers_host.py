"""Cloudflare Workers on loopback: each recorded `WorkersScript` on its own listener.

A script runs from what the program uploads: its `content` as `mainModule` plus every
module in `files` (base64, checked against its sha256), through the CPython Workers
stand-in (`edgekit_iac.twin.cloudflare.workers_runtime`), with its recorded bindings as
`env` (plain text as str, json parsed; secret_text values are Pulumi secrets the twin
cannot read, so they are bound to a placeholder and the twin says so). All scripts share one
stand-in runtime, so one Cache API store per twin, and one event loop (an isolate's:
requests interleave).

In front of each script: the `http_ratelimit` rulesets of the zones its routes and custom
domains are on. The request the Worker sees carries the route's hostname (the public URL,
https), Cloudflare's request headers (CF-Connecting-IP, CF-IPCountry, CF-Ray,
X-Forwarded-For, X-Forwarded-Proto) and a `cf` object whose country, colo and city come
from `edgekit up --cf-country/--cf-colo/--cf-city`, or per request from the twin-only
headers X-Edgekit-Cf-Country / -Colo / -City (and the client IP from X-Edgekit-Client-Ip).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgekit_iac.program import RecordedResource
from edgekit_iac.release.stack_files import OFFLINE_SECRET_PLACEHOLDER
from edgekit_iac.twin.clock import TwinClock
from edgekit_iac.twin.cloudflare.expression import request_fields
from edgekit_iac.twin.cloudflare.rate_limits import ZoneRateLimits
from edgekit_iac.twin.cloudflare.workers_runtime import (
    LoadedWorker,
    WorkerLoadError,
    WorkersRuntime,
)
from edgekit_iac.twin.graph_view import GraphView
from edgekit_iac.twin.http_io import EdgeRequest, EdgeResponse
from edgekit_iac.twin.stats import BLOCKED, RequestRecord, TwinStats

log = logging.getLogger("edgekit.twin.workers")

RATELIMIT_PHASE = "http_ratelimit"
CLIENT_IP_HEADER = "x-edgekit-client-ip"
TWIN_HEADER_PREFIX = "x-edgekit-"
# A request the Worker has not answered by then is abandoned (Cloudflare error 1102-like).
DISPATCH_TIMEOUT = 60


@dataclass(frozen=True)
class CfDefaults:
    """The `cf` geo fields a request gets unless its X-Edgekit-Cf-* headers say otherwise."""

    country: str = "US"
    colo: str = "SFO"
    city: str = "San Francisco"
    continent: str = "NA"
    timezone: str = "America/Los_Angeles"

    def for_request(self, request: EdgeRequest) -> dict[str, Any]:
        cf = {
            "country": self.country, "colo": self.colo, "city": self.city,
            "continent": self.continent, "timezone": self.timezone,
            "httpProtocol": "HTTP/1.1", "tlsVersion": "TLSv1.3", "asn": 64496,
        }
        for name in ("country", "colo", "city"):
            override = request.header(f"{TWIN_HEADER_PREFIX}cf-{name}")
            if override:
                cf[name] = override
        if str(cf["country"]).upper() != self.country.upper():
            # A visitor from another country is not in the default city, continent or time
            # zone: leave out what the request did not say rather than mix two places.
            if not request.header(f"{TWIN_HEADER_PREFIX}cf-city"):
                del cf["city"]
            del cf["continent"], cf["timezone"]
        cf["country"] = str(cf["country"]).upper()
        cf["colo"] = str(cf["colo"]).upper()
        return cf


def script_modules(inputs: Mapping[str, Any]) -> dict[str, str]:
    """{module path: source} exactly as the script uploads them, main module first."""
    main = inputs.get("mainModule")
    if not main or not isinstance(inputs.get("content"), str):
        raise WorkerLoadError(f"script {inputs.get('scriptName')!r}: no content/mainModule "
                              "recorded; the twin runs ES-module style Python Workers")
    modules = {main: inputs["content"]}
    for path, part in sorted((inputs.get("files") or {}).items()):
        data = base64.b64decode(part.get("contentBase64") or "")
        expected = part.get("contentSha256")
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise WorkerLoadError(f"script {inputs.get('scriptName')!r}: module {path} does not "
                                  "match its recorded sha256")
        modules[path] = data.decode("utf-8")
    return modules


def binding_env(script_name: str, bindings: list[Mapping[str, Any]]) -> tuple[dict, list[str]]:
    """`env` values from recorded bindings, and notes on what the twin could not bind."""
    env: dict[str, Any] = {}
    notes = []
    for binding in bindings or []:
        name, kind = binding.get("name"), binding.get("type")
        if kind == "plain_text":
            env[name] = binding.get("text", "")
        elif kind == "secret_text":
            env[name] = OFFLINE_SECRET_PLACEHOLDER
            notes.append(f"{script_name}: secret binding {name} is a Pulumi secret; bound to "
                         f"{OFFLINE_SECRET_PLACEHOLDER!r} locally")
        elif kind == "json":
            raw = binding.get("json")
            env[name] = json.loads(raw) if isinstance(raw, str) else raw
        else:
            notes.append(f"{script_name}: binding {name} of type {kind!r} is not emulated")
    return env, notes


class WorkersHost:
    """Loads every script of the graph and serves each through an `app_for` callable."""

    def __init__(self, view: GraphView, clock: TwinClock, stats: TwinStats,
                 cf_defaults: CfDefaults) -> None:
        self.view = view
        self.clock = clock
        self.stats = stats
        self.cf_defaults = cf_defaults
        self.runtime = WorkersRuntime(clock=clock)
        self.notes: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="twin-workers",
                                        daemon=True)
        self._thread.start()

    def app_for(self, script: RecordedResource) -> WorkerApp:
        name = script.inputs.get("scriptName") or script.name
        env, notes = binding_env(name, script.inputs.get("bindings") or [])
        self.notes.extend(notes)
        worker = self.runtime.load_worker(script_modules(script.inputs),
                                          main_module=script.inputs["mainModule"], env=env,
                                          name=name)
        hosts = self.view.worker_hosts(script)
        rulesets = [ruleset.inputs for host in hosts if host.zone_id
                    for ruleset in self.view.zone_rulesets(host.zone_id, RATELIMIT_PHASE)]
        return WorkerApp(script.name, worker, hosts[0].hostname if hosts else None,
                         ZoneRateLimits(rulesets, self.clock), self)

    def run(self, coroutine, timeout: float = DISPATCH_TIMEOUT):
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()  # else the abandoned Worker call runs on in the loop forever
            raise

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


class WorkerApp:
    def __init__(self, endpoint: str, worker: LoadedWorker, hostname: str | None,
                 limits: ZoneRateLimits, host: WorkersHost) -> None:
        self.endpoint = endpoint
        self.worker = worker
        self.hostname = hostname
        self.limits = limits
        self._host = host

    def __call__(self, request: EdgeRequest) -> EdgeResponse:
        started = time.perf_counter()
        client_ip = request.header(CLIENT_IP_HEADER) or request.peer_ip
        cf = self._host.cf_defaults.for_request(request)
        host = self.hostname or (request.header("host") or "localhost").split(":")[0]
        ray = f"{secrets.token_hex(8)}-{cf['colo']}"
        lower = {k.lower(): v for k, v in request.headers}
        fields = request_fields(request.method, "https", host, request.path, request.query,
                                lower, client_ip, cf["country"])
        fields["cf.colo.id"] = cf["colo"]
        block = self.limits.check(fields)
        if block is not None:
            response = EdgeResponse(block.status, [("Content-Type", block.content_type)],
                                    block.body)
            cache = BLOCKED
        else:
            response, cache = self._dispatch(request, host, client_ip, cf, ray)
        # Cloudflare's edge answers as itself, whatever Server the Worker or origin sent.
        response.headers = [(k, v) for k, v in response.headers if k.lower() != "server"]
        response.headers += [("CF-Ray", ray), ("Server", "cloudflare")]
        self._host.stats.record(RequestRecord(
            at=self._host.clock(), endpoint=self.endpoint, method=request.method,
            target=request.target, status=response.status, cache=cache,
            edge_ms=(time.perf_counter() - started) * 1000, client_ip=client_ip,
        ))
        return response

    def _dispatch(self, request: EdgeRequest, host: str, client_ip: str, cf: dict[str, Any],
                  ray: str) -> tuple[EdgeResponse, str]:
        headers = [(k, v) for k, v in request.headers
                   if not k.lower().startswith(TWIN_HEADER_PREFIX) and k.lower() != "host"]
        headers += [("Host", host), ("CF-Connecting-IP", client_ip), ("X-Real-IP", client_ip),
                    ("X-Forwarded-For", client_ip), ("X-Forwarded-Proto", "https"),
                    ("CF-IPCountry", cf["country"]), ("CF-Ray", ray),
                    ("CF-Visitor", '{"scheme":"https"}')]
        try:
            result = self._host.run(self.worker.dispatch(
                request.method, f"https://{host}{request.target}", headers=headers,
                body=request.body or None, cf=cf))
        except TimeoutError:
            log.error("%s: no answer within %s s for %s %s", self.endpoint, DISPATCH_TIMEOUT,
                      request.method, request.target)
            return EdgeResponse(504, [("Content-Type", "text/plain")],
                                b"the Worker did not answer in time"), "-"
        cache = (result.header("x-edge-cache") or "-").upper()
        # The HTTP layer sets Content-Length from the body; a HEAD has none, so it keeps the
        # length the runtime reported (GET's).
        headers_out = [(k, v) for k, v in result.headers
                       if k.lower() != "content-length" or request.method == "HEAD"]
        return EdgeResponse(result.status, headers_out, result.body), cache
