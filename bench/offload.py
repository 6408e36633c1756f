"""Item 4: origin offload during a spike — edgekit's cache wrapper against a seed-style one.

A spike of requests for 100 hot keys arrives over 30 simulated seconds (evenly spaced,
one at a time) at a cold cache. Each wrapper is the real Worker code, run in its own
Pyodide isolate with the workers SDK and a manual clock, in front of an origin on 127.0.0.1
(``LocalOrigin``) that counts what reaches it; each wrapper has its own cache and the same
request sequence.

- **edgekit**: ``functions/cache_wrapper`` with its defaults (it stores only answers with
  explicit freshness, so the origin here sends ``Cache-Control: max-age=30``, the same 30 s
  the baseline uses; 300 s stale-if-error; tracking parameters removed and the query sorted
  in the key). Without that header edgekit stores nothing by default (RFC 9111 heuristics
  are opt-in, ``cacheWrapper.defaultTtl``), and every request would reach the origin.
- **seed-style baseline** (``bench/seed_worker.py``, not edgekit code): key = URL as sent,
  30 s TTL whatever the origin says, nothing cached on error, nothing stale served.

Requests: keys drawn from a Zipf distribution (weight 1/rank, the usual shape of hot
content) or uniformly; the query ``lang=en&view=full`` comes in either order; 30% carry
``utm_source/utm_medium/utm_campaign`` (20 campaigns), 10% a unique ``fbclid`` and 5% a
unique ``gclid``, as links shared on social media and ads do. Origin errors: every origin
request during simulated seconds 12-14 (an outage) and 1% at random otherwise answer 503.

Sequential arrival is a lower bound for both wrappers: concurrent misses of one key would
each reach the origin before the first answer is stored (neither wrapper coalesces).
Each scenario runs with several seeds; fractions are reported as min/median/max.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import timing
from bench.origin import LocalOrigin

HOST = "https://api.example"
KEYS = 100
WINDOW_SECONDS = 30.0
TTL_SECONDS = 30  # the origin's max-age, and the seed-style wrapper's fixed TTL
OUTAGE = (12.0, 14.0)
RANDOM_ERROR_RATE = 0.01
SEED_WORKER = Path(__file__).with_name("seed_worker.py")
EDGEKIT, SEED = "edgekit", "seed_style"


def request_urls(count: int, distribution: str, rng: random.Random) -> list[str]:
    weights = [1 / rank for rank in range(1, KEYS + 1)] if distribution == "zipf" else None
    keys = rng.choices(range(KEYS), weights=weights, k=count)
    urls = []
    for key in keys:
        pairs = [("lang", "en"), ("view", "full")]
        if rng.random() < 0.5:
            pairs.reverse()
        if rng.random() < 0.30:
            pairs += [("utm_source", "social"), ("utm_medium", "post"),
                      ("utm_campaign", f"c{rng.randrange(20)}")]
        if rng.random() < 0.10:
            pairs.append(("fbclid", f"{rng.getrandbits(64):x}"))
        if rng.random() < 0.05:
            pairs.append(("gclid", f"{rng.getrandbits(64):x}"))
        urls.append(f"{HOST}/v1/items/{key}?" + "&".join(f"{k}={v}" for k, v in pairs))
    return urls


def _simulate(isolate, urls: list[str], seed: int, clock: ManualClock) -> dict[str, Any]:
    start = clock.now = ManualClock.START
    errors = random.Random(seed + 1)

    def failing(path: str) -> bool:
        elapsed = clock.now - start
        return OUTAGE[0] <= elapsed < OUTAGE[1] or errors.random() < RANDOM_ERROR_RATE

    with LocalOrigin(cache_control=f"max-age={TTL_SECONDS}", failing=failing) as origin:
        isolate.reset([{"type": "plain_text", "name": "ORIGIN_URL", "text": origin.url}])
        step = WINDOW_SECONDS / len(urls)
        statuses, cache_results = Counter(), Counter()
        started = time.perf_counter()
        for number, url in enumerate(urls):
            clock.now = start + number * step
            result = isolate.fetch("GET", url, headers=[("accept", "*/*")])
            statuses[result.status] += 1
            cache_results[result.header("x-edge-cache") or "-"] += 1
        elapsed = time.perf_counter() - started
    client_errors = sum(count for status, count in statuses.items() if status >= 500)
    return {
        "origin_requests": origin.requests,
        "origin_errors": origin.errors,
        "origin_fraction": origin.requests / len(urls),
        "client_errors": client_errors,
        "client_error_fraction": client_errors / len(urls),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "x_edge_cache": dict(sorted(cache_results.items())),
        "us_per_request": elapsed / len(urls) * 1e6,
    }


class ManualClock:
    """Epoch seconds that move only when the spike says so."""

    START = 1_700_000_000.0

    def __init__(self) -> None:
        self.now = self.START

    def __call__(self) -> float:
        return self.now


def run(quick: bool) -> dict[str, Any]:
    from bench import workers

    count = 150 if quick else 5_000  # quick: the suite checks the shape, not the figure
    seeds = (1,) if quick else (1, 2, 3)
    distributions = ("zipf",) if quick else ("zipf", "uniform")
    clock = ManualClock()
    # One warm isolate per wrapper, its cache emptied (reset) before each spike.
    isolates = {EDGEKIT: workers.start_function("cache_wrapper", "cache_worker.py", clock=clock),
                SEED: workers.start_module(SEED_WORKER, clock=clock)}
    try:
        return _scenarios(isolates, clock, count, seeds, distributions)
    finally:
        for isolate in isolates.values():
            isolate.close()


def _scenarios(isolates, clock, count, seeds, distributions) -> dict[str, Any]:
    scenarios = []
    for distribution in distributions:
        runs: dict[str, list[dict[str, Any]]] = {EDGEKIT: [], SEED: []}
        for seed in seeds:
            urls = request_urls(count, distribution, random.Random(seed))
            order = (EDGEKIT, SEED) if seed % 2 else (SEED, EDGEKIT)
            for wrapper in order:
                runs[wrapper].append(_simulate(isolates[wrapper], urls, seed, clock))
        scenario: dict[str, Any] = {"distribution": distribution, "requests": count,
                                    "seeds": list(seeds), "wrappers": {}}
        for wrapper, results in runs.items():
            scenario["wrappers"][wrapper] = {
                "origin_fraction": timing.spread([r["origin_fraction"] for r in results],
                                                 "fraction", digits=4),
                "client_error_fraction": timing.spread(
                    [r["client_error_fraction"] for r in results], "fraction", digits=4),
                "origin_requests": timing.spread([r["origin_requests"] for r in results],
                                                 "requests", digits=0),
                "us_per_request": timing.spread([r["us_per_request"] for r in results], "us",
                                                digits=1),
                "last_run": {key: results[-1][key] for key in ("statuses", "x_edge_cache")},
            }
        edge = scenario["wrappers"][EDGEKIT]["origin_fraction"]["median"]
        seed_median = scenario["wrappers"][SEED]["origin_fraction"]["median"]
        scenario["origin_fraction_ratio_edgekit/seed_style"] = timing.ratio(edge, seed_median)
        scenarios.append(scenario)
    return {
        "status": "ok",
        "title": "Origin offload",
        "keys": KEYS,
        "window_seconds": WINDOW_SECONDS,
        "ttl_seconds": TTL_SECONDS,
        "origin_errors": f"503 during simulated {OUTAGE[0]:g}-{OUTAGE[1]:g} s, "
                         f"and {RANDOM_ERROR_RATE:.0%} at random",
        "scenarios": scenarios,
    }
