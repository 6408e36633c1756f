"""Item 3b: the local twin's cache-hit throughput on loopback, under a load tool.

Starts ``python -m edgekit_iac up --stack local --port-base 0`` (this checkout's twin, free
ports, its state in a temporary folder so a twin already running here is not disturbed),
waits for its ``endpoints.json``, finds the cache wrapper Worker's listener and a path
its demo origin lets it cache, warms that entry, then loads it with ``wrk`` when it is on
PATH (else a bounded loop of Python threads on keep-alive connections, and says so). Each
run is bounded in time and in count; all traffic goes to 127.0.0.1. The twin is stopped
with ``edgekit down`` (or SIGINT to the process this started) afterwards.

The local stack rate-limits per client IP (about 100 requests a minute). The twin takes
the client IP from ``X-Edgekit-Client-Ip`` (a twin-only header, like its ``cf`` object),
so the load spreads its requests over many such addresses: the figure is the cache-hit
path's throughput, not the rate limiter's. Responses are counted by status; only 2xx
answers count as served hits.

Without the twin in this checkout (or in quick mode, since the twin takes seconds to start),
the item is reported as skipped, never failed.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import timing

STACK = "local"
START_TIMEOUT_S = 120
RUN_SECONDS = 5
RUN_REQUESTS = 20_000
RUNS = 3
CONNECTIONS = 8
# The demo origin's cacheable endpoint first (public, max-age=60), then guesses.
CANDIDATE_PATHS = ("/api/weather?city=Oslo", "/weather?city=Oslo", "/")
CLIENT_IP_HEADER = "X-Edgekit-Client-Ip"

WRK_SCRIPT = """
local counter = 0
local limit = tonumber(os.getenv("BENCH_LIMIT_PER_THREAD"))
local responses = 0
request = function()
  counter = counter + 1
  local ip = string.format("198.18.%%d.%%d", math.floor(counter / 200) %% 250, counter %% 200 + 1)
  return wrk.format("GET", "%(path)s", {["%(header)s"] = ip})
end
response = function(status, headers, body)
  responses = responses + 1
  if responses >= limit then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "non_2xx": %%d, "socket_errors": %%d, '
    .. '"p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _skipped(reason: str) -> dict[str, Any]:
    return {"status": "skipped", "title": "Twin cache-hit throughput", "reason": reason}


def run(quick: bool) -> dict[str, Any]:
    if quick:
        return _skipped("quick mode (the twin takes seconds to start)")
    if importlib.util.find_spec("edgekit_iac.twin") is None or \
            importlib.util.find_spec("edgekit_iac.twin.cli_up") is None:
        return _skipped("twin not available (edgekit_iac/twin/cli_up.py, `edgekit up`, "
                        "is not in this checkout)")
    from edgekit_iac.paths import project_root

    with tempfile.TemporaryDirectory(prefix="edgekit-bench-twin-") as state:
        return _measure(Path(state), project_root())


def _measure(state: Path, root: Path) -> dict[str, Any]:
    log_path = state / "twin.log"
    started = time.time()
    with log_path.open("w") as log:
        twin = subprocess.Popen([sys.executable, "-m", "edgekit_iac", "up", "--stack", STACK,
                                 "--port-base", "0", "--state-dir", str(state)],
                                cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        endpoints = _wait_for_endpoints(twin, state / "endpoints.json", started, log_path)
        if isinstance(endpoints, str):
            return _skipped(f"twin not available: {endpoints}")
        start_seconds = time.time() - started
        base = _cache_worker_endpoint(endpoints)
        if base is None:
            return _skipped(f"no cache wrapper listener among the twin's endpoints "
                            f"{sorted(endpoints)}")
        path = _cacheable_path(base)
        if path is None:
            return _skipped(f"no path on {base} answered a cache HIT (tried "
                            f"{', '.join(CANDIDATE_PATHS)})")
        tool = "wrk" if shutil.which("wrk") else "python-threads"
        runs = [(_wrk if tool == "wrk" else _python_load)(base, path) for _ in range(RUNS)]
        after = _get(base, path, "198.19.2.1")  # still served from the cache after the load?
        return {
            "status": "ok",
            "title": "Twin cache-hit throughput",
            "tool": tool if tool == "wrk" else
            f"python threads ({CONNECTIONS} keep-alive connections; wrk not on PATH)",
            "url": base + path,
            "twin_start_s": round(start_seconds, 2),
            "after_load": {"status": after[0], "x_edge_cache": after[1]},
            "bounds": f"{RUN_SECONDS} s or {RUN_REQUESTS} requests per run, {RUNS} runs, "
                      f"{CONNECTIONS} connections, 127.0.0.1 only",
            "hits_per_s": timing.spread([r["hits_per_s"] for r in runs], "req/s", digits=0),
            "p50_ms": timing.spread([r["p50_ms"] for r in runs], "ms", digits=2),
            "p99_ms": timing.spread([r["p99_ms"] for r in runs], "ms", digits=2),
            "runs": runs,
        }
    finally:
        _stop(twin, state, root)


def _wait_for_endpoints(twin: subprocess.Popen, endpoints_file: Path, started: float,
                        log: Path) -> dict[str, str] | str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if twin.poll() is not None:
            tail = log.read_text(errors="replace")[-600:]
            return f"`edgekit up` exited with {twin.returncode}: {tail.strip()}"
        try:
            if endpoints_file.stat().st_mtime >= started - 1:
                return json.loads(endpoints_file.read_text())
        except (OSError, ValueError):
            pass  # not written yet, or half written
        time.sleep(0.2)
    return f"no {endpoints_file} within {START_TIMEOUT_S} s"


def _cache_worker_endpoint(endpoints: dict[str, str]) -> str | None:
    for marker in ("api-cache", "edge-cache", "cache"):
        for name, url in endpoints.items():
            if marker in name.lower() and name != "s3":
                return str(url).rstrip("/")
    return None


def _get(base: str, path: str, client_ip: str) -> tuple[int, str | None]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path, headers={CLIENT_IP_HEADER: client_ip})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("x-edge-cache")
    finally:
        connection.close()


def _cacheable_path(base: str) -> str | None:
    for number, path in enumerate(CANDIDATE_PATHS):
        try:
            _get(base, path, f"198.19.0.{number + 1}")
            status, cache = _get(base, path, f"198.19.1.{number + 1}")
        except OSError:
            continue
        if 200 <= status < 300 and cache == "HIT":
            return path
    return None


def _wrk(base: str, path: str) -> dict[str, Any]:
    threads = 1
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"path": path, "header": CLIENT_IP_HEADER})
    try:
        done = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{CONNECTIONS}", f"-d{RUN_SECONDS}s", "-s", script.name,
             base + path],
            capture_output=True, text=True, timeout=RUN_SECONDS + 30, check=True,
            env={**os.environ, "BENCH_LIMIT_PER_THREAD": str(RUN_REQUESTS // threads)})
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("{"))
    figures = json.loads(line)
    seconds = figures["duration_us"] / 1e6
    hits = figures["requests"] - figures["non_2xx"]
    return {"requests": figures["requests"], "non_2xx": figures["non_2xx"],
            "socket_errors": figures["socket_errors"], "seconds": round(seconds, 2),
            "hits_per_s": hits / seconds, "p50_ms": figures["p50_us"] / 1000,
            "p99_ms": figures["p99_us"] / 1000}


def _python_load(base: str, path: str) -> dict[str, Any]:
    parts = urlsplit(base)
    deadline = time.monotonic() + RUN_SECONDS
    budget = iter(range(RUN_REQUESTS))
    lock = threading.Lock()
    statuses: Counter = Counter()
    latencies: list[float] = []

    def worker(number: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        sent = 0
        while time.monotonic() < deadline:
            with lock:
                if next(budget, None) is None:
                    break
            sent += 1
            ip = f"198.18.{number}.{sent % 200 + 1}"
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers={CLIENT_IP_HEADER: ip})
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            elapsed = time.perf_counter() - began
            with lock:
                statuses[status] += 1
                latencies.append(elapsed)
        connection.close()

    began = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(n,)) for n in range(CONNECTIONS)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    seconds = time.perf_counter() - began
    latencies.sort()
    hits = sum(count for status, count in statuses.items() if 200 <= status < 300)
    return {"requests": sum(statuses.values()),
            "non_2xx": sum(statuses.values()) - hits,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "seconds": round(seconds, 2), "hits_per_s": hits / seconds,
            "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None}


def _stop(twin: subprocess.Popen, state: Path, root: Path) -> None:
    """Stop the twin this module started: `edgekit down`, then SIGINT, then SIGKILL."""
    if twin.poll() is None and importlib.util.find_spec("edgekit_iac.twin.cli_down"):
        subprocess.run([sys.executable, "-m", "edgekit_iac", "down", "--stack", STACK,
                        "--state-dir", str(state)],
                       cwd=root, capture_output=True, timeout=60, check=False)
    for stop_signal, wait in ((signal.SIGINT, 20), (signal.SIGKILL, 10)):
        if twin.poll() is not None:
            return
        twin.send_signal(stop_signal)
        try:
            twin.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
