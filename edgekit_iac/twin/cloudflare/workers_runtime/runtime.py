"""A stand-in Workers runtime: load a Python Worker and dispatch requests to its ``Default``."""

from __future__ import annotations

import asyncio
import logging
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from edgekit_iac import paths
from edgekit_iac.errors import UserError
from edgekit_iac.twin.cloudflare.workers_runtime import sdk
from edgekit_iac.twin.cloudflare.workers_runtime.cache import CacheStorage, Clock
from edgekit_iac.twin.cloudflare.workers_runtime.jsglobals import make_js_module
from edgekit_iac.twin.cloudflare.workers_runtime.loader import import_isolated, sources_from_dir

log = logging.getLogger("edgekit.workers_runtime")

ENTRYPOINT_CLASS = "Default"


class WorkerLoadError(UserError):
    """A Worker's modules could not be loaded, or do not define a usable entrypoint."""


class ManualClock:
    """A clock that moves only when told to (epoch seconds), for tests and demos."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Env:
    """``self.env``: bindings as attributes (plain-text ones are str); unbound names raise."""

    def __init__(self, bindings: Mapping[str, Any] | None = None):
        self.__dict__.update(bindings or {})

    def __repr__(self) -> str:  # names only: values may be secrets
        return f"Env({', '.join(sorted(self.__dict__))})"


@dataclass(frozen=True)
class WorkerResult:
    """What the Worker answered: status, headers (lower-case names, Set-Cookie kept apart),
    body bytes, and the exception when the Worker failed (the status is then 500).

    There is no Content-Length or Date: whoever writes the HTTP response sets those; except
    on HEAD, where the body is dropped and ``content-length`` says how long it was, the
    length GET would send (RFC 9110 section 9.3.2)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reason: str = ""
    error: BaseException | None = None
    background_errors: list[BaseException] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitively; None when absent."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class WorkersRuntime:
    """One stand-in runtime: a Cache API store and a clock shared by the Workers it loads.

    >>> runtime = WorkersRuntime()                      # or WorkersRuntime(clock=ManualClock())
    >>> worker = runtime.load_function("hello_geo", env={"MESSAGE": "hi"})
    >>> result = worker.dispatch_sync("GET", "https://geo.example/", cf={"country": "DE"})
    >>> result.status, result.json()["country"]
    (200, 'DE')
    """

    def __init__(self, *, clock: Clock = time.time):
        self.clock = clock
        self.caches = CacheStorage(clock)
        self.js = make_js_module(self.caches, clock)

    def load_worker(self, sources: Mapping[str, str] | Path, *, main_module: str,
                    env: Mapping[str, Any] | None = None, name: str | None = None
                    ) -> LoadedWorker:
        """Load a Worker from ``{module path: source}`` (a bundle's modules) or a folder."""
        if isinstance(sources, Path):
            name = name or sources.name
            origin, sources = str(sources), sources_from_dir(sources)
        else:
            name = name or main_module.removesuffix(".py")
            origin = f"<worker {name}>"
        try:
            module = import_isolated(sources, main_module, origin=origin,
                                     injected={"workers": sdk, "js": self.js})
        except ImportError as exc:
            raise WorkerLoadError(f"Worker {name!r}: {exc}") from exc
        entrypoint = getattr(module, ENTRYPOINT_CLASS, None)
        if not (isinstance(entrypoint, type) and issubclass(entrypoint, sdk.WorkerEntrypoint)):
            raise WorkerLoadError(
                f"Worker {name!r}: there is no {ENTRYPOINT_CLASS!r} class derived from "
                f"workers.WorkerEntrypoint in its main module {main_module!r}"
            )
        return LoadedWorker(name=name, module=module, entrypoint=entrypoint, env=Env(env))

    def load_function(self, function_name: str, *, env: Mapping[str, Any] | None = None
                      ) -> LoadedWorker:
        """Load ``functions/<name>/`` using its function.toml (kind python-worker)."""
        try:
            directory = paths.function_dir(function_name)
        except FileNotFoundError as exc:
            raise WorkerLoadError(str(exc)) from exc
        manifest = tomllib.loads((directory / "function.toml").read_text(encoding="utf-8"))
        if manifest.get("kind") != "python-worker" or not manifest.get("main_module"):
            raise WorkerLoadError(
                f"{directory / 'function.toml'}: kind must be 'python-worker' with a "
                f"main_module to run in the Workers stand-in, got kind {manifest.get('kind')!r}"
            )
        return self.load_worker(directory, main_module=manifest["main_module"], env=env,
                                name=function_name)


@dataclass
class LoadedWorker:
    """A Worker ready to serve: call ``dispatch`` (async) or ``dispatch_sync``."""

    name: str
    module: ModuleType
    entrypoint: type
    env: Env

    async def dispatch(self, method: str, url: str, *,
                       headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
                       body: bytes | None = None, cf: Mapping[str, Any] | None = None
                       ) -> WorkerResult:
        """Run one request through ``Default.fetch`` and every ``waitUntil`` it scheduled."""
        header_list = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        method = method.upper()
        request = sdk.Request(url, method=method, headers=header_list,
                              body=None if method in ("GET", "HEAD") else body or None,
                              cf=cf)
        ctx = sdk.Context()
        try:
            response = await self.entrypoint(ctx, self.env).fetch(request)
            if not isinstance(response, sdk.Response):
                raise TypeError(f"fetch() returned {type(response).__name__}, not a Response")
            headers, body = _result_headers(response), await response.bytes()
            if method == "HEAD":
                if body and not any(name == "content-length" for name, _ in headers):
                    headers.append(("content-length", str(len(body))))
                body = b""
            result = WorkerResult(response.status, headers, body, response.status_text)
        except Exception as exc:  # the runtime answers 500, like Cloudflare's error 1101
            log.exception("Worker %s threw on %s %s", self.name, method, url)
            result = WorkerResult(500, [("content-type", "text/plain;charset=UTF-8")],
                                  b"Worker threw exception", "Internal Server Error", error=exc)
        for error in await ctx.settle():
            log.error("Worker %s: waitUntil task failed: %r", self.name, error)
            result.background_errors.append(error)
        return result

    def dispatch_sync(self, method: str, url: str, **kwargs: Any) -> WorkerResult:
        """``dispatch`` in a fresh event loop (for threads without a running loop)."""
        return asyncio.run(self.dispatch(method, url, **kwargs))


def _result_headers(response: sdk.Response) -> list[tuple[str, str]]:
    return [(name, value) for name, value in response.headers.items()]
