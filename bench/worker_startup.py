"""Item: Pyodide start-up per Worker, from nothing to ready for its first request.

For each Python Worker in functions/ (kind ``python-worker``), bundled as deployed: the
wall time from spawning its Node process to the isolate having loaded Pyodide, written
the bundle into its file system and imported the main module (with the workers SDK), as
the twin does at ``edgekit up``; and the part of it the isolate itself measured (load
message received to ready, so without Node's own start). Then its first request (a
``GET /`` whose answer does not matter), which is when lazily imported modules load.
"""

from __future__ import annotations

import time
import tomllib
from typing import Any

from bench import timing


def _worker_functions() -> list[tuple[str, str]]:
    from edgekit_iac.paths import functions_root

    found = []
    for manifest in sorted(functions_root().glob("*/function.toml")):
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        if data.get("kind") == "python-worker":
            found.append((manifest.parent.name, data["main_module"]))
    return found


def run(quick: bool) -> dict[str, Any]:
    from bench import workers

    repeats = 1 if quick else 3
    rows = []
    for function, main_module in _worker_functions():
        bundle = workers.function_bundle(function)
        walls, inside, first = [], [], []
        for _ in range(repeats):
            started = time.perf_counter()
            isolate = workers.start(bundle, main_module, name=function,
                                    bindings={"ORIGIN_URL": "http://127.0.0.1:9"})
            walls.append((time.perf_counter() - started) * 1000)
            try:
                inside.append(float(isolate.info["startupMs"]))
                began = time.perf_counter()
                isolate.fetch("GET", "https://bench.example/", timeout=30)
                first.append((time.perf_counter() - began) * 1000)
            finally:
                isolate.close()
        rows.append({
            "function": function,
            "bundle_files": len(bundle),
            "pyodide": isolate.info.get("pyodide"),
            "start_ms": timing.spread(walls, "ms", digits=0),
            "isolate_load_ms": timing.spread(inside, "ms", digits=0),
            "first_request_ms": timing.spread(first, "ms", digits=1),
        })
    if not rows:
        return {"status": "skipped", "title": "Pyodide start-up per Worker",
                "reason": "no python-worker function in functions/"}
    return {"status": "ok", "title": "Pyodide start-up per Worker", "repeats": repeats,
            "rows": rows}
