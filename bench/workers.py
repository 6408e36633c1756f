"""Shared by the Worker benchmarks: start a Python Worker in its Pyodide isolate.

A function folder is bundled as ``pulumi up`` would upload it (its pinned requirements,
the ``workers`` SDK among them, vendored under ``python_modules/``); a loose module (the
seed-style baseline) gets the same vendored SDK next to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

COMPATIBILITY_DATE = "2026-11-01"


def function_bundle(function: str) -> dict[str, str]:
    from edgekit_iac.bundle.build import build_function, worker_modules

    return worker_modules(build_function(function))


def sdk_modules() -> dict[str, str]:
    """The vendored packages of the cache wrapper's bundle (the workers SDK)."""
    return {path: text for path, text in function_bundle("cache_wrapper").items()
            if path.startswith("python_modules/")}


def start(bundle: Mapping[str, str], main_module: str, *, name: str,
          bindings: Mapping[str, str] | None = None, clock: Callable[[], float] | None = None,
          **options: Any):
    from edgekit_iac.twin.cloudflare.isolate import WorkerIsolate

    extra = {"clock": clock} if clock is not None else {}
    return WorkerIsolate.start(
        bundle, main_module=main_module, name=name, compatibility_date=COMPATIBILITY_DATE,
        bindings=[{"type": "plain_text", "name": key, "text": value}
                  for key, value in (bindings or {}).items()], **extra, **options)


def start_function(function: str, main_module: str, **options: Any):
    return start(function_bundle(function), main_module, name=function, **options)


def start_module(path: Path, **options: Any):
    bundle = {path.name: path.read_text(encoding="utf-8"), **sdk_modules()}
    return start(bundle, path.name, name=path.stem, **options)
