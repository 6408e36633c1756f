"""Worker tests run the deployable bundle in Pyodide under Node with the real workers SDK.

One isolate per Worker for the whole session (starting Pyodide takes seconds); each test
gets it back with an empty Cache API, its own bindings and its own manual clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from edgekit_iac.bundle.build import build_function, worker_modules
from edgekit_iac.twin.cloudflare.isolate import WorkerIsolate, WorkerResult

from .origin import Origin

COMPATIBILITY_DATE = "2026-11-01"


class ManualClock:
    """Epoch seconds that move only when told to."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def plain_text(bindings: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"type": "plain_text", "name": name, "text": text} for name, text in bindings.items()]


@dataclass
class Worker:
    """A test's view of a session isolate."""

    isolate: WorkerIsolate

    def fetch(self, method: str, url: str, **kwargs: Any) -> WorkerResult:
        return self.isolate.fetch(method, url, **kwargs)


def sdk_modules() -> dict[str, str]:
    """The workers SDK as the bundler vendors it (python_modules/ of a Worker bundle)."""
    return {path: text for path, text in worker_modules(build_function("hello_geo")).items()
            if path.startswith("python_modules/")}


def start_isolate(function: str, main_module: str, **options: Any) -> WorkerIsolate:
    return WorkerIsolate.start(worker_modules(build_function(function)), main_module=main_module,
                               compatibility_date=COMPATIBILITY_DATE, name=function, **options)


@pytest.fixture(scope="session")
def cache_isolate() -> Iterator[WorkerIsolate]:
    isolate = start_isolate("cache_wrapper", "cache_worker.py")
    yield isolate
    isolate.close()


@pytest.fixture(scope="session")
def geo_isolate() -> Iterator[WorkerIsolate]:
    isolate = start_isolate("hello_geo", "geo_worker.py")
    yield isolate
    isolate.close()


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin()
    yield server
    server.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def cache_worker(cache_isolate: WorkerIsolate, origin: Origin, clock: ManualClock
                 ) -> Callable[..., Worker]:
    """The cache wrapper in front of the test origin; keyword args become bindings."""

    def load(**bindings: str) -> Worker:
        cache_isolate.clock = clock
        cache_isolate.reset(plain_text({"ORIGIN_URL": origin.url, **bindings}))
        return Worker(cache_isolate)

    return load


@pytest.fixture
def geo_worker(geo_isolate: WorkerIsolate, clock: ManualClock) -> Callable[..., Worker]:
    """The geo API; keyword args become bindings."""

    def load(**bindings: str) -> Worker:
        geo_isolate.clock = clock
        geo_isolate.reset(plain_text(bindings))
        return Worker(geo_isolate)

    return load


@pytest.fixture(scope="session")
def auth_isolate() -> Iterator[WorkerIsolate]:
    isolate = start_isolate("edge_auth", "auth_worker.py")
    yield isolate
    isolate.close()


@pytest.fixture
def auth_worker(auth_isolate: WorkerIsolate, origin: Origin, clock: ManualClock
                ) -> Callable[..., Worker]:
    """The auth Worker in front of the test origin, which also serves its JWKS at /jwks.json;
    keyword args become bindings (ISSUER "https://issuer.test", AUDIENCES "api" by default)."""

    def load(**bindings: str) -> Worker:
        auth_isolate.clock = clock
        auth_isolate.reset(plain_text({
            "ORIGIN_URL": origin.url, "JWKS_URL": f"{origin.url}/jwks.json",
            "ISSUER": "https://issuer.test", "AUDIENCES": "api", **bindings}))
        return Worker(auth_isolate)

    return load
