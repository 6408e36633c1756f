"""What the status page shows: recent requests and, per endpoint, hit ratio, edge time, blocks.

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


class _EndpointStats:
    def __init__(self, timings: int) -> None:
        self.requests = 0
        self.by_cache: dict[str, int] = {}
        self.blocks = 0
        self.edge_ms: deque[float] = deque(maxlen=timings)

    def add(self, record: RequestRecord) -> None:
        self.requests += 1
        self.by_cache[record.cache] = self.by_cache.get(record.cache, 0) + 1
        self.blocks += record.cache == BLOCKED
        self.edge_ms.append(record.edge_ms)

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
        }


class TwinStats:
    def __init__(self, recent: int = 50, timings: int = 2000) -> None:
        self._recent: deque[RequestRecord] = deque(maxlen=recent)
        self._timings = timings
        self._endpoints: dict[str, _EndpointStats] = {}
        self._lock = threading.Lock()

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self._recent.append(record)
            stats = self._endpoints.get(record.endpoint)
            if stats is None:
                stats = self._endpoints[record.endpoint] = _EndpointStats(self._timings)
            stats.add(record)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "endpoints": {name: s.summary() for name, s in sorted(self._endpoints.items())},
                "recent": [asdict(r) for r in reversed(self._recent)],
                "total_requests": sum(s.requests for s in self._endpoints.values()),
                "total_blocks": sum(s.blocks for s in self._endpoints.values()),
            }
