"""Item 5: program scale — the Pulumi program under the mock runtime with 1, 10, 50 resizers.

A program that declares N ``EdgeImageResizer`` components (``images-0`` ... ``images-N-1``,
default arguments, one prebuilt artifact shared by all, so bundling is not timed) runs
through ``edgekit_iac.program.run_program``, the same mock engine ``edgekit preview`` and the
local twin use. The counts are interleaved round by round. This is how the cost of a
preview grows with the size of a stack; the project's own ``__main__.py`` on the local
stack is timed alongside as a reference point.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import timing

STACK = "bench"
CONFIG = {"aws:region": "us-east-1"}


def resizers_program(count: int, artifact) -> Callable[[], None]:
    def program() -> None:
        from edgekit_iac.components import EdgeImageResizer, EdgeImageResizerArgs

        for index in range(count):
            EdgeImageResizer(f"images-{index}", EdgeImageResizerArgs(artifact=artifact))

    return program


def run(quick: bool) -> dict[str, Any]:
    from edgekit_iac.bundle.build import build_function
    from edgekit_iac.program import run_program

    # Pulumi's mock runtime uses the thread's current event loop, and earlier items'
    # asyncio.run() leave none behind.
    asyncio.set_event_loop(asyncio.new_event_loop())
    counts = (1, 2) if quick else (1, 10, 50)
    repeats = 1 if quick else 3
    artifact = build_function("image_resizer")
    started = time.perf_counter()  # the first run imports pulumi_aws: timed apart
    run_program(STACK, program=resizers_program(1, artifact), config=CONFIG)
    first_run = time.perf_counter() - started
    seconds: dict[int, list[float]] = {count: [] for count in counts}
    resources: dict[int, int] = {}
    for round_number in range(repeats):
        shift = round_number % len(counts)
        for count in counts[shift:] + counts[:shift]:
            started = time.perf_counter()
            graph = run_program(STACK, program=resizers_program(count, artifact), config=CONFIG)
            seconds[count].append(time.perf_counter() - started)
            resources[count] = len(graph.resources)
    rows = [
        {
            "components": count,
            "resources": resources[count],
            "time_s": timing.spread(seconds[count], "s"),
            "ms_per_component": round(statistics.median(seconds[count]) / count * 1000, 1),
        }
        for count in counts
    ]
    return {
        "status": "ok",
        "title": "Program scale",
        "first_run_s": round(first_run, 3),
        "rows": rows,
        "reference_main_local": _main_program_reference(quick),
    }


def _main_program_reference(quick: bool) -> dict[str, Any]:
    """The project's __main__.py on the local stack: what `edgekit preview` runs."""
    from edgekit_iac.program import run_program

    figures = []
    try:
        for _ in range(1 if quick else 3):
            started = time.perf_counter()
            graph = run_program("local")
            figures.append(time.perf_counter() - started)
    except Exception as exc:  # the program is the lead's, mid-change: report, do not fail
        return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:500]}
    return {"status": "ok", "resources": len(graph.resources),
            "time_s": timing.spread(figures, "s")}
