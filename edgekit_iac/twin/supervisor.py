"""Bring the whole twin up from a stack, in order, and take it down again.

`start_twin` takes the stack's lock, starts the demo origin (its URL goes into the
program's config, see `stack_overrides`), bundles the functions, runs the program under
the mock runtime and writes graph.json, starts S3 with the declared buckets (the
distributions' buckets seeded with sample images), unpacks and warms the Lambda@Edge
functions the distributions associate, loads the Workers, starts one listener per
distribution and per Worker and the status page, and writes endpoints.json. If any step
fails, everything started so far is stopped and the lock released: nothing is left
half up. `RunningTwin.stop()` undoes it all (graph.json and the logs stay for reading).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit_iac import paths
from edgekit_iac.bundle import build as bundle
from edgekit_iac.errors import UserError
from edgekit_iac.functions.image_resizer import contract
from edgekit_iac.program import ProgramGraph, RecordedResource, run_program
from edgekit_iac.progress import progress
from edgekit_iac.release import stack_files
from edgekit_iac.twin import (
    auth_keys,
    canary_split,
    flag_stores,
    local_signing,
    log_reader,
    ports,
    sample_images,
    stack_overrides,
    state,
)
from edgekit_iac.twin.aws import continuous_deployment
from edgekit_iac.twin.aws.cloudfront import Distribution, EdgeServices
from edgekit_iac.twin.aws.cloudfront_functions import CloudFrontFunctionHost
from edgekit_iac.twin.aws.continuous_deployment import ContinuousDeployment
from edgekit_iac.twin.aws.lambda_runtime import EdgeFunction
from edgekit_iac.twin.aws.origins import is_s3
from edgekit_iac.twin.aws.s3_local import LocalS3
from edgekit_iac.twin.clock import TwinClock
from edgekit_iac.twin.cloudflare.workers_host import CfDefaults, WorkersHost
from edgekit_iac.twin.demo_origin import DemoOrigin
from edgekit_iac.twin.graph_view import WORKERS_SCRIPT, GraphView
from edgekit_iac.twin.http_io import Listener
from edgekit_iac.twin.stats import TwinStats
from edgekit_iac.twin.status_page import StatusPage

log = logging.getLogger("edgekit.twin")

# The resizer's settings header tells the twin a distribution resizes (for example URLs).
RESIZER_SIZES_HEADER = contract.ALLOWED_SIZES_HEADER
EXAMPLE_IMAGE = "samples/landscape.jpg"
PREFERRED_EXAMPLE_SIZE = "400x300"


@dataclass
class TwinOptions:
    stack: str = "local"
    state_dir: Path | None = None
    port_base: int = ports.DEFAULT_BASE
    port_overrides: dict[str, int] = field(default_factory=dict)
    cf: CfDefaults = field(default_factory=CfDefaults)
    lambda_environments: int = 4
    bundle_first: bool = True
    program: Callable[[], None] | None = None  # default: the project's __main__.py
    config: Mapping[str, Any] | None = None  # default: stacks/Pulumi.<stack>.yaml
    origin_url: str | None = None  # the cache wrapper's origin instead of the demo origin
    checked: bool = False  # `preflight` already ran (edgekit up runs it before the state dir)


@dataclass(frozen=True)
class ListenerInfo:
    name: str
    url: str
    serves: str


@dataclass
class RunningTwin:
    stack: str
    files: state.StateFiles
    graph: ProgramGraph
    listeners: list[ListenerInfo]
    examples: list[str]
    notes: list[str]
    started_in: float
    clock: TwinClock
    demo_origin: DemoOrigin | None
    _stoppers: list[Callable[[], None]]
    _stopped: bool = False

    @property
    def endpoints(self) -> dict[str, str]:
        return {info.name: info.url for info in self.listeners}

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        _run_stoppers(self._stoppers)
        state.release(self.files)


def _run_stoppers(stoppers: list[Callable[[], None]]) -> None:
    for stop in reversed(stoppers):
        try:
            stop()
        except Exception:  # keep stopping the rest
            log.exception("while stopping the twin")


def _example_path(distribution: RecordedResource) -> str:
    for origin in distribution.inputs.get("origins") or []:
        for header in origin.get("customHeaders") or []:
            if header.get("name", "").lower() == RESIZER_SIZES_HEADER:
                sizes = [s.strip() for s in str(header.get("value", "")).split(",")]
                size = PREFERRED_EXAMPLE_SIZE if PREFERRED_EXAMPLE_SIZE in sizes else sizes[0]
                return f"/images/{size}/{EXAMPLE_IMAGE}"
    return f"/{EXAMPLE_IMAGE}"


def _describe_distribution(dist: Distribution | ContinuousDeployment,
                            view: GraphView) -> str:
    parts = [f"CloudFront {dist.domain}"]
    # Each association once, with the behaviours that carry it (several share one function).
    behaviours: dict[str, list[str]] = {}
    for behaviour in [dist.inputs.get("defaultCacheBehavior") or {},
                      *(dist.inputs.get("orderedCacheBehaviors") or [])]:
        for association in behaviour.get("lambdaFunctionAssociations") or []:
            function = view.lambda_function(association.get("lambdaArn", ""))
            label = f"{function.name}:{function.outputs.get('version')}" if function else "?"
            behaviours.setdefault(f"{association.get('eventType')} {label}", []).append(
                behaviour.get("pathPattern", "default"))
    parts.extend(f"{what} ({', '.join(paths)})" for what, paths in behaviours.items())
    if isinstance(dist, ContinuousDeployment):
        parts.append(f"canary: staging {dist.staging.name}")
    if dist.waf is not None:
        parts.append(f"WAF {dist.waf.name}")
    if dist.realtime_logs:
        parts.append("real-time logs")
    return ", ".join(parts)


class _Starter:
    """The steps of `start_twin`, each registering how to undo itself."""

    def __init__(self, options: TwinOptions, say: Callable[[str], None]) -> None:
        self.options = options
        self.say = say
        self.stoppers: list[Callable[[], None]] = []
        self.listeners: list[ListenerInfo] = []
        self.notes: list[str] = []
        self.stats = TwinStats()
        self.rate_limits: dict[str, list[str]] = {}  # listener -> its rate rules, described
        self.files = state.StateFiles(options.state_dir or paths.state_dir(options.stack))
        self.clock = TwinClock()

    def listen(self, name: str, app, port: int, serves: str) -> Listener:
        listener = Listener(name, app, port).start()
        self.stoppers.append(listener.close)
        self.listeners.append(ListenerInfo(name, listener.url, serves))
        return listener

    def demo_origin(self, config: Mapping[str, Any], after: int) -> DemoOrigin:
        opts = self.options
        port = ports.demo_origin_port(opts.port_base, opts.port_overrides,
                                      stack_overrides.loopback_origin_port(config), after)
        # The local identity provider's keys: the demo origin serves their JWKS.
        origin = DemoOrigin(port, jwks=auth_keys.load(self.files.root).jwks_bytes())
        self.stoppers.append(origin.stop)
        return origin

    def graph(self, config: Mapping[str, Any]) -> ProgramGraph:
        opts = self.options
        if opts.bundle_first and opts.program is None:
            with progress(self.say, "  bundling the functions"):
                artifacts = bundle.build_all()
            for artifact in artifacts:
                self.say(f"  bundled {artifact.name} {artifact.version}: {artifact.size:,} "
                         f"bytes, sha256 {artifact.sha256[:12]}")
        graph = run_program(opts.stack, program=opts.program, config=config)
        graph.write(self.files.graph_file)
        self.clock.record_in(self.files.root)
        self.say(f"  recorded {len(graph.resources)} resources -> {self.files.graph_file}")
        return graph

    def s3(self, view: GraphView) -> LocalS3:
        s3 = LocalS3(ports.fixed_port(ports.S3, self.options.port_base,
                                      self.options.port_overrides))
        self.stoppers.append(s3.close)
        names = s3.create_declared_buckets(view)
        for distribution in view.distributions():
            if continuous_deployment.is_staging(distribution):
                continue  # its primary's origins: seeded once
            for origin in distribution.inputs.get("origins") or []:
                bucket = view.bucket_for_domain(origin.get("domainName", ""))
                if is_s3(origin) and bucket is not None:
                    name = bucket.outputs.get("bucket") or bucket.id
                    keys = s3.seed(name, sample_images.samples())
                    self.say(f"  seeded s3://{name}/ with {', '.join(keys)}")
        self.listeners.append(ListenerInfo(ports.S3, s3.url, "S3 API (moto): "
                                           + (", ".join(names) or "no buckets")))
        return s3

    def serve_distribution(self, distribution: Distribution | ContinuousDeployment,
                           resource: RecordedResource, view: GraphView, port: int) -> str:
        """Listen for one distribution; return an example request."""
        self.notes.extend(distribution.notes)
        waf = distribution.waf
        self.rate_limits[resource.name] = waf.rate_limits() if waf is not None else []
        listener = self.listen(resource.name, distribution, port,
                               _describe_distribution(distribution, view))
        return f"curl -i {listener.url}{_example_path(resource)}"

    def serve_worker(self, script: RecordedResource, workers: WorkersHost, port: int,
                     demo_url: str) -> str:
        """Listen for one Workers script; return an example request."""
        app = workers.app_for(script)
        self.rate_limits[script.name] = app.limits.describe()
        hostname = f" ({app.hostname})" if app.hostname else ""
        listener = self.listen(script.name, app, port,
                               f"Worker {script.inputs.get('scriptName')}{hostname}")
        bindings = script.inputs.get("bindings") or []
        uses_demo = any(binding.get("text") == demo_url for binding in bindings)
        if any(binding.get("name") == "JWKS_URL" for binding in bindings):  # the auth Worker
            return (f'curl -i -H "Authorization: Bearer $(python -m edgekit_iac token --stack '
                    f'{self.options.stack} --sub alice)" {listener.url}/api/whoami')
        if any(binding.get("type") == "durable_object_namespace" for binding in bindings):
            # The counter Worker answers only under /counters/{name}; `/` is its 404.
            return f"curl -i -X POST {listener.url}/counters/visits"
        return f"curl -i {listener.url}" + ("/api/weather?city=Oslo" if uses_demo else "/")

    def distribution(self, view: GraphView, resource: RecordedResource,
                     services: EdgeServices) -> Distribution | ContinuousDeployment:
        """A distribution's app; with a continuous deployment policy, the primary and its
        staging distribution behind one listener (aws/continuous_deployment.py)."""
        deployment = continuous_deployment.build(
            view, resource, services, self.files.root,
            _edge_function_factory(self, services.s3), Distribution)
        return deployment or Distribution(resource, services)

    def functions(self, view: GraphView, s3: LocalS3) -> dict[str, EdgeFunction]:
        functions: dict[str, EdgeFunction] = {}
        for distribution in view.distributions():
            behaviours = [*(distribution.inputs.get("orderedCacheBehaviors") or []),
                          distribution.inputs.get("defaultCacheBehavior") or {}]
            for behaviour in behaviours:
                for association in behaviour.get("lambdaFunctionAssociations") or []:
                    arn = association.get("lambdaArn", "")
                    resource = view.lambda_function(arn)
                    if resource is None or arn in functions:
                        continue
                    version = resource.outputs.get("version")
                    work = self.files.lambda_dir / f"{resource.name}-{version}"
                    function = EdgeFunction(resource, work, {"AWS_ENDPOINT_URL_S3": s3.url},
                                            self.options.lambda_environments)
                    self.stoppers.append(function.close)
                    self.notes.extend(function.notes)
                    functions[arn] = function
                    threading.Thread(target=function.prewarm, daemon=True,
                                     name=f"prewarm-{resource.name}").start()
        return functions


def _edge_function_factory(starter: _Starter, s3: LocalS3
                           ) -> Callable[[RecordedResource, Path], EdgeFunction]:
    def make(resource: RecordedResource, work: Path) -> EdgeFunction:
        function = EdgeFunction(resource, work, {"AWS_ENDPOINT_URL_S3": s3.url},
                                starter.options.lambda_environments)
        starter.stoppers.append(function.close)
        return function
    return make


def _listened(view: GraphView) -> list[RecordedResource]:
    """What gets a listener of its own, by logical name: distributions and Workers. A staging
    distribution has none: viewers reach it only through its primary's policy."""
    distributions = [d for d in view.distributions() if not continuous_deployment.is_staging(d)]
    return sorted(distributions + view.workers_scripts(), key=lambda r: r.name)


def check_port_names(view: GraphView, overrides: Mapping[str, int], stack: str) -> None:
    """Every `--port NAME=...` names a listener of the stack, or a UserError lists them."""
    names = [resource.name for resource in _listened(view)]
    unknown = ports.unknown_overrides(overrides, [*names, ports.STATUS, ports.S3,
                                                  ports.DEMO_ORIGIN])
    if unknown:
        raise UserError(f"--port names {unknown} are no listener of stack {stack!r}; "
                        f"its listeners: {', '.join(sorted(names))}, status, s3, "
                        "demo-origin")


def preflight(stack: str, config: Mapping[str, Any], overrides: Mapping[str, int],
              origin_url: str | None = None,
              program: Callable[[], None] | None = None) -> None:
    """Refuse what can be refused before the slow work: the program runs with its function
    bundles described, not built (edgekit_iac.bundle.declared), so every config check and
    every component check runs, and the `--port` names are checked against the listeners
    it declares. Nothing is built, downloaded, written or started."""
    if origin_url:
        config = stack_overrides.with_origin_url(config, origin_url)
    graph = run_program(stack, program=program, config=config, declare_only=True)
    check_port_names(GraphView(graph), overrides, stack)


def start_twin(options: TwinOptions, say: Callable[[str], None] = print) -> RunningTwin:
    """Start everything; see the module docstring. Raises UserError on bad input."""
    started = time.perf_counter()
    starter = _Starter(options, say)
    ports.check_base(options.port_base)
    if not options.checked and options.bundle_first and options.program is None:
        # Bundling comes first below: check the stack and the --port names before it.
        preflight(options.stack, options.config if options.config is not None
                  else stack_files.read_config(options.stack), options.port_overrides,
                  options.origin_url)
    state.acquire(starter.files, options.stack)
    try:
        return _start(starter, options, started)
    except BaseException:
        _run_stoppers(starter.stoppers)
        state.release(starter.files)
        raise


def _start(starter: _Starter, options: TwinOptions, started: float) -> RunningTwin:
    config = dict(options.config if options.config is not None
                  else stack_files.read_config(options.stack))
    base, overrides = options.port_base, options.port_overrides
    status = StatusPage(options.stack, {}, starter.stats, starter.clock, None,
                        lambda: list(starter.notes), logs_dir=starter.files.logs_dir,
                        rate_limits=starter.rate_limits)
    starter.listen(ports.STATUS, status, ports.fixed_port(ports.STATUS, base, overrides),
                   "status page and controls")
    origin = starter.demo_origin(config, after=90)
    status.demo_origin = origin
    config = (stack_overrides.with_origin_url(config, options.origin_url) if options.origin_url
              else stack_overrides.with_demo_origin(config, origin.url))
    config = stack_overrides.with_signing_key(
        config, local_signing.KEY_NAME, local_signing.ensure_key_pair(starter.files.root))

    # The functions' JSON log lines go beside the real-time logs (edgekit logs, status page).
    function_lines = log_reader.FunctionLogLines(starter.files.logs_dir)
    starter.files.logs_dir.mkdir(parents=True, exist_ok=True)
    for logger in map(logging.getLogger, ("edgekit.twin.lambda", "edgekit.twin.workers")):
        logger.addHandler(function_lines)
        starter.stoppers.append(functools.partial(logger.removeHandler, function_lines))
    graph = starter.graph(config)
    view = GraphView(graph)
    # The listener names come from the graph: check --port names against them before
    # S3, the Lambda environments and the Workers start.
    listened = _listened(view)
    graph_names = [resource.name for resource in listened]
    check_port_names(view, overrides, options.stack)
    # Flag stores get the program's defaults where a key is absent (never over a CLI value).
    flag_stores.seed(graph, starter.files.root)
    if options.program is None:  # the project's program: its config is edgekit's schema
        # What `edgekit canary --stack local` reads of the stack this twin serves.
        canary_split.write_settings(starter.files.root, config)
    workers = WorkersHost(view, starter.clock, starter.stats, options.cf,
                          starter.files.workers_dir)
    starter.stoppers.append(workers.close)
    status.workers = workers
    workers.prepare(view.workers_scripts())  # their isolates warm up while the rest starts
    s3 = starter.s3(view)
    status.s3 = s3
    services = EdgeServices(view, s3, starter.functions(view, s3), starter.clock,
                            starter.stats, starter.files.logs_dir, options.cf.country,
                            CloudFrontFunctionHost(state_root=starter.files.root))
    starter.stoppers.append(services.cloudfront_functions.close)

    planned = ports.plan(graph_names, base, overrides)
    examples = []
    for resource in listened:
        port = planned[resource.name]
        if resource.type == WORKERS_SCRIPT:
            examples.append(starter.serve_worker(resource, workers, port, origin.url))
        else:
            distribution = status.distributions[resource.name] = starter.distribution(
                view, resource, services)
            examples.append(starter.serve_distribution(distribution, resource, view, port))
    starter.notes.extend(workers.notes)
    starter.listeners.append(ListenerInfo(ports.DEMO_ORIGIN, origin.url, "demo weather API"))

    running = RunningTwin(options.stack, starter.files, graph, starter.listeners, examples,
                          starter.notes, time.perf_counter() - started, starter.clock, origin,
                          starter.stoppers)
    status.endpoints.update(running.endpoints)
    starter.files.write_json(starter.files.endpoints_file, running.endpoints)
    state.update_lock(starter.files, status=status.endpoints[ports.STATUS])
    for note in starter.notes:
        log.warning("%s", note)
    return running
