"""What the status page shows: recent requests and, per endpoint, hit ratio, edge time (all,
hits, misses), status codes, blocks; and requests/s and p95 per second of the last minutes.

Listeners `record` one `RequestRecord` per request; `snapshot()` gives the JSON the status
page renders. Memory is bounded: the last `recent` requests overall and the last
`timings` edge times per endpoint (percentiles are over those).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

HIT, MISS, STALE, BYPASS, ERROR, BLOCKED = "HIT", "MISS", "STALE", "BYPASS", "ERROR", "BLOCKED"
# Results that were answered from (or for) the cache: the hit ratio's denominator.
_LOOKUPS = frozenset({HIT, MISS, STALE, "REVALIDATED"})  # REVALIDATED: origin said 304


@dataclass(frozen=True)
class RequestRecord:
    at: float  # epoch seconds (twin clock)
    endpoint: str
    method: str
    target: str
    status: int
    cache: str  # HIT | MISS | REVALIDATED | STALE | BYPASS | ERROR | BLOCKED | "-"
    edge_ms: float
    client_ip: str


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (fraction in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(fraction * 1000) * len(ordered) // 1000))  # ceil without floats
    return ordered[min(rank, len(ordered)) - 1]


def _ms(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


class _EndpointStats:
    def __init__(self, timings: int) -> None:
        self.requests = 0
        self.by_cache: dict[str, int] = {}
        self.by_status: dict[int, int] = {}
        self.blocks = 0
        self.edge_ms: deque[float] = deque(maxlen=timings)
        # Hits and misses cost very differently: their edge times are kept apart too.
        self.edge_ms_by_result = {HIT: deque(maxlen=timings), MISS: deque(maxlen=timings)}

    def add(self, record: RequestRecord) -> None:
        self.requests += 1
        self.by_cache[record.cache] = self.by_cache.get(record.cache, 0) + 1
        self.by_status[record.status] = self.by_status.get(record.status, 0) + 1
        self.blocks += record.cache == BLOCKED
        self.edge_ms.append(record.edge_ms)
        split = self.edge_ms_by_result.get(record.cache.upper())
        if split is not None:
            split.append(record.edge_ms)

    def split_summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"by_status": {str(k): n for k, n in
                                                 sorted(self.by_status.items())}}
        for result, timings in self.edge_ms_by_result.items():
            values = list(timings)
            summary[f"{result.lower()}_p50_ms"] = _ms(percentile(values, 0.50))
            summary[f"{result.lower()}_p95_ms"] = _ms(percentile(values, 0.95))
        return summary

    def summary(self) -> dict[str, Any]:
        lookups = sum(n for cache, n in self.by_cache.items() if cache in _LOOKUPS)
        hits = self.by_cache.get(HIT, 0)
        timings = list(self.edge_ms)
        p50, p95 = percentile(timings, 0.50), percentile(timings, 0.95)
        return {
            "requests": self.requests,
            "hits": hits,
            "lookups": lookups,
            "hit_ratio": round(hits / lookups, 4) if lookups else None,
            "by_cache": dict(sorted(self.by_cache.items())),
            "blocks": self.blocks,
            "p50_ms": round(p50, 2) if p50 is not None else None,
            "p95_ms": round(p95, 2) if p95 is not None else None,
            **self.split_summary(),
        }


class _Timeline:
    """Requests and edge times per second of the last `seconds`: the status page's charts."""

    def __init__(self, seconds: int, samples: int = 200) -> None:
        self.seconds = seconds
        self._samples = samples
        self._buckets: dict[int, tuple[int, list[float]]] = {}

    def add(self, record: RequestRecord) -> None:
        second = int(record.at)
        count, timings = self._buckets.get(second, (0, []))
        if len(timings) < self._samples:
            timings.append(record.edge_ms)
        self._buckets[second] = (count + 1, timings)
        for old in [k for k in self._buckets if k <= second - self.seconds]:
            del self._buckets[old]

    def series(self, now: float) -> list[dict[str, Any]]:
        end = int(now)
        points = []
        for second in range(end - self.seconds + 1, end + 1):
            count, timings = self._buckets.get(second, (0, []))
            points.append({"t": second, "requests": count,
                           "p95_ms": _ms(percentile(timings, 0.95))})
        return points


class TwinStats:
    def __init__(self, recent: int = 50, timings: int = 2000, series_seconds: int = 180) -> None:
        self._recent: deque[RequestRecord] = deque(maxlen=recent)
        self._timings = timings
        self._endpoints: dict[str, _EndpointStats] = {}
        self._timeline = _Timeline(series_seconds)
        self.series_seconds = series_seconds
        self._lock = threading.Lock()

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self._recent.append(record)
            stats = self._endpoints.get(record.endpoint)
            if stats is None:
                stats = self._endpoints[record.endpoint] = _EndpointStats(self._timings)
            stats.add(record)
            self._timeline.add(record)

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """`now` (the twin clock) ends the per-second series; without it there is none."""
        with self._lock:
            return {
                "series": self._timeline.series(now) if now is not None else [],
                "endpoints": {name: s.summary() for name, s in sorted(self._endpoints.items())},
                "recent": [asdict(r) for r in reversed(self._recent)],
                "total_requests": sum(s.requests for s in self._endpoints.values()),
                "total_blocks": sum(s.blocks for s in self._endpoints.values()),
            }
