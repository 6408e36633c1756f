"""The twin's HTTP layer alone (``edgekit_iac.twin.http_io.Listener``) under wrk, on loopback.

A trivial app (a 1 KB JSON answer, no work) on one listener, so the figure is what the
HTTP layer itself costs: the ceiling every twin listener shares. The app is served both
ways the layer runs apps: synchronous (called on the event loop that read the request, as
every twin app is) and asynchronous (awaited there). Each shape is bounded in time: a few
keep-alive connections (throughput), and 200 concurrent connections (the issue's abuse
case: every request must be answered, none may time out). wrk's own timeout is 2 s; a
request over it counts as a timeout. Besides requests per second, each run reports the
server's CPU time per request (this process's user + system time over the run), which a
busy machine disturbs less than throughput. All traffic goes to 127.0.0.1.

Without wrk on PATH, or in quick mode, the item is reported as skipped.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench import timing

# (label, app kind, connections, wrk threads, seconds)
SHAPES = (("sync app, keep-alive x8", "sync", 8, 1, 5),
          ("async app, keep-alive x8", "async", 8, 1, 5),
          ("sync app, concurrent x200", "sync", 200, 2, 10))
RUNS = 3
BODY = json.dumps({"pad": "x" * 1000}).encode()

WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "connect_errors": %d, '
    .. '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _skipped(reason: str) -> dict[str, Any]:
    return {"status": "skipped", "title": "Twin HTTP layer under wrk", "reason": reason}


def run(quick: bool) -> dict[str, Any]:
    if quick:
        return _skipped("quick mode (each shape runs for seconds)")
    if shutil.which("wrk") is None:
        return _skipped("wrk is not on PATH (apt-get install wrk)")
    from edgekit_iac.twin.http_io import EdgeRequest, EdgeResponse, Listener

    def sync_app(request: EdgeRequest) -> EdgeResponse:
        return EdgeResponse(200, [("Content-Type", "application/json")], BODY)

    async def async_app(request: EdgeRequest) -> EdgeResponse:
        return sync_app(request)

    listeners = {"sync": Listener("bench-sync", sync_app).start(),
                 "async": Listener("bench-async", async_app).start()}
    try:
        shapes = {}
        for label, kind, connections, threads, seconds in SHAPES:
            runs = [_wrk(listeners[kind].url + "/", connections, threads, seconds)
                    for _ in range(RUNS)]
            shapes[label] = {
                "connections": connections,
                "seconds_per_run": seconds,
                "req_per_s": timing.spread([r["req_per_s"] for r in runs], "req/s", digits=0),
                "server_cpu_us_per_req": timing.spread([r["cpu_us_per_req"] for r in runs],
                                                       "µs", digits=1),
                "p50_ms": timing.spread([r["p50_ms"] for r in runs], "ms", digits=2),
                "p99_ms": timing.spread([r["p99_ms"] for r in runs], "ms", digits=2),
                "errors": sum(r["errors"] for r in runs),
                "timeouts": sum(r["timeouts"] for r in runs),
                "runs": runs,
            }
    finally:
        for listener in listeners.values():
            listener.close()
    return {"status": "ok", "title": "Twin HTTP layer under wrk",
            "bounds": f"{RUNS} runs per shape, 127.0.0.1 only, wrk timeout 2 s",
            "shapes": shapes}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _wrk(url: str, connections: int, threads: int, seconds: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    cpu_before = _cpu_seconds()
    try:
        done = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "2s",
             "-s", script.name, url],
            capture_output=True, text=True, timeout=seconds + 30, check=True,
            env=dict(os.environ))
    finally:
        Path(script.name).unlink(missing_ok=True)
    cpu = _cpu_seconds() - cpu_before
    line = next(line for line in done.stdout.splitlines() if line.startswith("{"))
    figures = json.loads(line)
    return {
        "requests": figures["requests"],
        "req_per_s": figures["requests"] / (figures["duration_us"] / 1e6),
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "errors": figures["non_2xx"] + figures["connect_errors"] + figures["read_errors"]
        + figures["write_errors"],
        "timeouts": figures["timeouts"],
        "cpu_us_per_req": cpu * 1e6 / max(figures["requests"], 1),
    }
