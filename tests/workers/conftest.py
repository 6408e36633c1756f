from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgekit_iac.twin.cloudflare.workers_runtime import LoadedWorker, ManualClock, WorkersRuntime

from .origin import Origin

# Located from the repository, not through the `functions` package: pytest may import
# tests/functions as a top-level package of that name.
FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin()
    yield server
    server.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def runtime(clock: ManualClock) -> WorkersRuntime:
    return WorkersRuntime(clock=clock)


@pytest.fixture
def cache_worker(runtime: WorkersRuntime, origin: Origin) -> Callable[..., LoadedWorker]:
    """Load the cache wrapper in front of the test origin; keyword args become bindings."""

    def load(**bindings: str) -> LoadedWorker:
        return runtime.load_worker(FUNCTIONS / "cache_wrapper", main_module="cache_worker.py",
                                   env={"ORIGIN_URL": origin.url, **bindings})

    return load


@pytest.fixture
def geo_worker(runtime: WorkersRuntime) -> Callable[..., LoadedWorker]:
    """Load the geo API; keyword args become bindings."""

    def load(**bindings: str) -> LoadedWorker:
        return runtime.load_worker(FUNCTIONS / "hello_geo", main_module="geo_worker.py",
                                   env=bindings)

    return load
