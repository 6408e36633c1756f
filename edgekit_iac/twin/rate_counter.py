"""Requests per key over a trailing window, in one-second buckets (bounded memory).

Both rate limiters the twin emulates count this way: AWS WAF rate-based rules (per client
IP over the evaluation window) and Cloudflare's http_ratelimit rules (per characteristics
over the period). Neither service counts to the millisecond either; one-second buckets
keep a burst of a million requests at a few dozen integers per key.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindowCounter:
    def __init__(self, window_seconds: int, clock: Callable[[], float]) -> None:
        if window_seconds < 1:
            raise ValueError(f"window must be at least 1 second, got {window_seconds}")
        self.window = int(window_seconds)
        self._clock = clock
        self._buckets: dict[Hashable, deque[list[int]]] = {}
        self._lock = threading.Lock()

    def add(self, key: Hashable) -> int:
        """Count one request for `key`; return the count within the window, this one included."""
        second = int(self._clock())
        with self._lock:
            buckets = self._buckets.setdefault(key, deque())
            self._expire(buckets, second)
            if buckets and buckets[-1][0] == second:
                buckets[-1][1] += 1
            else:
                buckets.append([second, 1])
            return sum(count for _, count in buckets)

    def count(self, key: Hashable) -> int:
        """Requests for `key` within the window, without counting one."""
        with self._lock:
            buckets = self._buckets.get(key)
            if not buckets:
                return 0
            self._expire(buckets, int(self._clock()))
            return sum(count for _, count in buckets)

    def _expire(self, buckets: deque[list[int]], second: int) -> None:
        while buckets and buckets[0][0] <= second - self.window:
            buckets.popleft()
