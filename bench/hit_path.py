"""Item 3a: the cache wrapper's per-request decisions on its hit path, in microseconds.

Measured on ``functions/cache_wrapper/cache_policy.py`` loaded in isolation, with the
default settings and a browser-like GET (eight headers, non-session cookies, a
traceparent). Three figures:

- request side: ``header_map`` + ``request_decision`` (cacheability) + ``cache_key_url``
  (normalization) for a hot URL, whose key comes from the memo, and for URLs never seen
  before (tracking parameters, shuffled query order), which take the full normalization;
- hit side: ``entry_state`` + ``served_headers`` on the stored copy's headers;
- the whole hit through the real Worker in the CPython stand-in (``dispatch`` of a
  fresh stored copy, no origin involved). That figure includes the stand-in's own
  Request/Response plumbing, which is not Cloudflare's runtime: it bounds the wrapper's
  cost from above rather than predicting it.

Each figure is microseconds per call, one per batch of back-to-back calls.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any

from bench import timing

HOST = "https://api.example"
HEADERS = [
    ("accept", "application/json"),
    ("accept-encoding", "gzip, br"),
    ("accept-language", "en-GB,en;q=0.9"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench"),
    ("cookie", "theme=dark; consent=yes; _ga=GA1.2.3"),
    ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ("x-forwarded-for", "203.0.113.7"),
    ("referer", "https://www.example/weather"),
]
HOT_URL = f"{HOST}/v1/forecast?city=Oslo&days=3&units=metric"


def unique_urls(count: int, seed: int = 7) -> list[str]:
    """Distinct URLs as campaigns produce them: tracking parameters, any query order."""
    rng = random.Random(seed)
    urls = []
    for number in range(count):
        pairs = [("city", f"c{number % 97}"), ("days", str(1 + number % 7)), ("units", "metric"),
                 ("utm_source", "newsletter"), ("utm_campaign", f"spring{number}"),
                 ("gclid", f"{rng.getrandbits(48):x}")]
        rng.shuffle(pairs)
        urls.append(f"{HOST}/v1/forecast?" + "&".join(f"{k}={v}" for k, v in pairs))
    return urls


def load_policy():
    from edgekit_iac.paths import function_dir
    from edgekit_iac.twin.cloudflare.workers_runtime.loader import load_function_module

    return load_function_module(function_dir("cache_wrapper"), "cache_policy.py")


def run(quick: bool) -> dict[str, Any]:
    policy = load_policy()
    settings = policy.parse_settings({"ORIGIN_URL": "https://origin.example"})
    calls, batches = (2_000, 5) if quick else (20_000, 15)

    def request_side(url: str) -> None:
        fields = policy.header_map(HEADERS)
        if policy.request_decision("GET", fields, settings).cache:
            policy.cache_key_url(url, settings.tracking_params)

    fresh = iter(unique_urls(calls * (batches + 1) + 1))
    now = 1_700_000_000.0
    stored = policy.storage_headers([("content-type", "application/json"),
                                     ("cache-control", "max-age=60"), ("etag", '"v1"')],
                                    ttl=60, stale_if_error=300, now=now)

    def hit_side() -> None:
        if policy.entry_state(policy.header_map(stored), now + 5, 300) == policy.FRESH:
            policy.served_headers(stored, now + 5)

    figures = {
        "request_side_hot_url_us": timing.per_call_batches(
            lambda: request_side(HOT_URL), calls=calls, batches=batches),
        "request_side_new_url_us": timing.per_call_batches(
            lambda: request_side(next(fresh)), calls=calls, batches=batches),
        "hit_side_us": timing.per_call_batches(hit_side, calls=calls, batches=batches),
    }
    worker_calls, worker_batches = (200, 3) if quick else (2_000, 10)
    figures["worker_hit_in_stand_in_us"] = _worker_hits(worker_calls, worker_batches)
    return {
        "status": "ok",
        "title": "Cache wrapper hit path",
        "request": f"GET {HOT_URL} with {len(HEADERS)} headers, default settings",
        "figures": {name: timing.spread(values, "us", digits=2)
                    for name, values in figures.items()},
        "decisions_total_hot_url_us": round(statistics.median(figures["request_side_hot_url_us"])
                                            + statistics.median(figures["hit_side_us"]), 2),
    }


def _worker_hits(calls: int, batches: int) -> list[float]:
    """Per-request microseconds of a HIT served by the real Worker in the stand-in."""
    from bench.origin import LocalOrigin
    from edgekit_iac.twin.cloudflare.workers_runtime import ManualClock, WorkersRuntime

    with LocalOrigin(cache_control="max-age=3600") as origin:
        runtime = WorkersRuntime(clock=ManualClock())
        worker = runtime.load_function("cache_wrapper", env={"ORIGIN_URL": origin.url})

        async def measure() -> list[float]:
            first = await worker.dispatch("GET", HOT_URL, headers=HEADERS)
            if first.header("x-edge-cache") != "MISS":
                raise RuntimeError(f"expected a MISS to fill the cache, got {first.status}")
            figures = []
            for _ in range(batches):
                started = time.perf_counter()
                for _ in range(calls):
                    result = await worker.dispatch("GET", HOT_URL, headers=HEADERS)
                figures.append((time.perf_counter() - started) / calls * 1e6)
                if result.header("x-edge-cache") != "HIT":
                    raise RuntimeError(f"expected HITs, got {result.header('x-edge-cache')}")
            return figures

        return asyncio.run(measure())
