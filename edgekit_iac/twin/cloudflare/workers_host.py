"""Cloudflare Workers on loopback: each recorded `WorkersScript` on its own listener.

A script runs from what the program uploads: its `content` as `mainModule` plus every
module in `files` (base64, checked against its sha256), including the `workers` SDK the
bundler vendors under `python_modules/`, in its own warm Pyodide isolate (one Node process
per Worker, `edgekit_iac.twin.cloudflare.isolate`) with its recorded bindings as `env`:
plain text as str, json parsed, KV namespaces and Durable Object namespaces of its own
classes (stored under the state directory, so they survive `edgekit down` / `edgekit up`);
secret_text values are Pulumi secrets the twin cannot read, so they are bound to a
placeholder and the twin says so. Each isolate has its own Cache API, as each Worker's
requests meet one data centre's cache; requests to one Worker interleave in its isolate.

In front of each script: the `http_ratelimit` rulesets of the zones its routes and custom
domains are on. The request the Worker sees carries the route's hostname (the public URL,
https), Cloudflare's request headers (CF-Connecting-IP, CF-IPCountry, CF-Ray,
X-Forwarded-For, X-Forwarded-Proto) and a `cf` object whose country, colo and city come
from `edgekit up --cf-country/--cf-colo/--cf-city`, or per request from the twin-only
headers X-Edgekit-Cf-Country / -Colo / -City (and the client IP from X-Edgekit-Client-Ip).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit_iac.program import RecordedResource
from edgekit_iac.release.stack_files import OFFLINE_SECRET_PLACEHOLDER
from edgekit_iac.twin import canary_split, flag_stores
from edgekit_iac.twin.clock import TwinClock
from edgekit_iac.twin.cloudflare import versions
from edgekit_iac.twin.cloudflare.expression import request_fields
from edgekit_iac.twin.cloudflare.isolate import WorkerIsolate, WorkerLoadError
from edgekit_iac.twin.cloudflare.rate_limits import ZoneRateLimits
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


def script_modules(inputs: Mapping[str, Any]) -> dict[str, str | bytes]:
    """{module path: source} exactly as the script uploads them, main module first."""
    main = inputs.get("mainModule")
    if not main or not isinstance(inputs.get("content"), str):
        raise WorkerLoadError(f"script {inputs.get('scriptName')!r}: no content/mainModule "
                              "recorded; the twin runs ES-module style Python Workers")
    modules: dict[str, str | bytes] = {main: inputs["content"]}
    for path, part in sorted((inputs.get("files") or {}).items()):
        data = base64.b64decode(part.get("contentBase64") or "")
        expected = part.get("contentSha256")
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise WorkerLoadError(f"script {inputs.get('scriptName')!r}: module {path} does not "
                                  "match its recorded sha256")
        modules[path] = data
    return modules


def worker_bindings(script_name: str, bindings: Iterable[Mapping[str, Any]],
                    state_root: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The recorded bindings as the isolate takes them, and notes on what the twin changed.
    With `state_root`, a KV namespace is the one file every Worker bound to it shares
    (edgekit_iac.twin.flag_stores)."""
    result, notes = [], []
    for binding in bindings or []:
        binding = dict(binding)
        if binding.get("type") == "kv_namespace" and state_root and binding.get("namespaceId"):
            binding["twinFile"] = str(flag_stores.kv_file(state_root, binding["namespaceId"]))
        if binding.get("type") == "secret_text":
            binding["text"] = OFFLINE_SECRET_PLACEHOLDER
            notes.append(f"{script_name}: secret binding {binding.get('name')} is a Pulumi "
                         f"secret; bound to {OFFLINE_SECRET_PLACEHOLDER!r} locally")
        result.append(binding)
    return result, notes


class WorkersHost:
    """Starts one isolate per script of the graph and serves each through a `WorkerApp`."""

    def __init__(self, view: GraphView, clock: TwinClock, stats: TwinStats,
                 cf_defaults: CfDefaults, state_dir: Path | None = None) -> None:
        self.view = view
        self.clock = clock
        self.stats = stats
        self.cf_defaults = cf_defaults
        self.state_dir = state_dir
        self.notes: list[str] = []
        self.isolates: dict[str, WorkerIsolate] = {}
        self._starting: dict[str, tuple[WorkerIsolate, Future]] = {}
        # Worker versions (edgekit_iac.twin.cloudflare.versions): the current one per script,
        # and the stable versions' isolates, started when a local canary first needs one.
        self.current_versions: dict[str, str] = {}
        self.stable_isolates: dict[str, tuple[str, WorkerIsolate]] = {}
        self._stable_lock = threading.Lock()
        self.canary = versions.CanaryFile(state_dir.parent) if state_dir else None
        # What each version served while a local canary runs (the local promote guard).
        self.served = canary_split.served_counts(state_dir.parent) if state_dir else None

    def prepare(self, scripts: Iterable[RecordedResource]) -> None:
        """Start every script's isolate at once (each takes seconds to warm up)."""
        for script in scripts:
            if script.name not in self._starting and script.name not in self.isolates:
                self._starting[script.name] = self._spawn(script)

    def _spawn(self, script: RecordedResource) -> tuple[WorkerIsolate, Future]:
        inputs = script.inputs
        name = inputs.get("scriptName") or script.name
        bindings, notes = worker_bindings(name, inputs.get("bindings") or [],
                                          self.state_dir.parent if self.state_dir else None)
        self.notes.extend(notes)
        modules = script_modules(inputs)
        spawn = {"main_module": inputs["mainModule"], "bindings": bindings,
                 "compatibility_date": inputs.get("compatibilityDate") or "",
                 "compatibility_flags": inputs.get("compatibilityFlags") or []}
        if self.state_dir:
            self.current_versions[script.name] = versions.record(self.state_dir / name,
                                                                 modules, spawn)
        return self._start(name, modules, spawn)

    def _start(self, name: str, modules: dict[str, str | bytes], spawn: dict[str, Any]
               ) -> tuple[WorkerIsolate, Future]:
        return WorkerIsolate.spawn(
            modules, **spawn, name=name, clock=self.clock,
            state_dir=str(self.state_dir / name) if self.state_dir else None,
        )

    def canary_isolate(self, script_name: str, name: str, request_headers: dict[str, str],
                       client_ip: str) -> tuple[WorkerIsolate | None, str | None]:
        """With a local canary running: the stable version's isolate and id when this request
        goes to the stable side, else (None, candidate id) or (None, None) (no canary)."""
        canary = self.canary.current() if self.canary else None
        current = self.current_versions.get(script_name)
        if canary is None or current is None:
            return None, current
        stable = versions.stable_before(self.state_dir / name, current)
        if stable is None or versions.goes_to_candidate(canary, request_headers, client_ip):
            return None, current
        with self._stable_lock:
            running = self.stable_isolates.get(script_name)
            if running is None or running[0] != stable:
                modules, spawn = versions.load(self.state_dir / name, stable)
                isolate, loaded = self._start(name, modules, spawn)
                running = (stable, isolate.wait_loaded(loaded))
                self.stable_isolates[script_name] = running
        return running[1], stable

    def count_served(self, script_name: str, version: str | None, status: int) -> None:
        if self.served is not None and self.canary is not None:
            self.served.count(self.canary.current(), script_name, version, status)

    def isolate_for(self, script: RecordedResource) -> WorkerIsolate:
        if script.name not in self.isolates:
            isolate, loaded = self._starting.pop(script.name, None) or self._spawn(script)
            self.isolates[script.name] = isolate.wait_loaded(loaded)
            self.notes.extend(f"{isolate.name}: {note}" for note in isolate.info.get("notes") or [])
        return self.isolates[script.name]

    def app_for(self, script: RecordedResource) -> WorkerApp:
        isolate = self.isolate_for(script)
        hosts = self.view.worker_hosts(script)
        rulesets = [ruleset.inputs for host in hosts if host.zone_id
                    for ruleset in self.view.zone_rulesets(host.zone_id, RATELIMIT_PHASE)]
        return WorkerApp(script.name, isolate, hosts[0].hostname if hosts else None,
                         ZoneRateLimits(rulesets, self.clock), self)

    def purge_prefixes(self, prefixes: list[str]) -> dict[str, int]:
        """Cloudflare's purge by prefix on every running Worker's cache (one zone here)."""
        return {name: isolate.purge_prefixes(prefixes)
                for name, isolate in self.isolates.items() if isolate.alive}

    def close(self) -> None:
        for isolate, _ in self._starting.values():
            isolate.close()
        for isolate in self.isolates.values():
            isolate.close()
        for _, isolate in self.stable_isolates.values():
            isolate.close()


class WorkerApp:
    def __init__(self, endpoint: str, isolate: WorkerIsolate, hostname: str | None,
                 limits: ZoneRateLimits, host: WorkersHost) -> None:
        self.endpoint = endpoint
        self.isolate = isolate
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
        lower = {k.lower(): v for k, v in request.headers}
        try:
            # A local canary (versions.py) may send this request to the stable version.
            stable, version = self._host.canary_isolate(self.endpoint, self.isolate.name,
                                                        lower, client_ip)
            result = (stable or self.isolate).fetch(
                request.method, f"https://{host}{request.target}", headers=headers,
                body=request.body or None, cf=cf, timeout=DISPATCH_TIMEOUT)
        except WorkerLoadError as exc:
            log.error("%s: %s", self.endpoint, exc)
            return EdgeResponse(502, [("Content-Type", "text/plain")],
                                b"the Worker's isolate is not running"), "-"
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
        if version:
            headers_out.append((versions.VERSION_HEADER, version[:12]))
        self._host.count_served(self.isolate.name, version, result.status)
        return EdgeResponse(result.status, headers_out, result.body), cache
