"""The twin's clock: wall-clock time that the control page can move forward.

Every time-based rule the twin serves (CloudFront cache TTLs, WAF and Cloudflare rate
windows, the Workers Cache API) reads this one clock, so "advance a minute" on the status
page expires caches and rate windows together, as waiting a minute would. Edge times
(how long the twin took) are measured with `time.perf_counter`, never with this clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TwinClock:
    """Epoch seconds: `now()` plus an offset that only grows."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> None:
        if not 0 <= seconds <= 86_400 * 366:
            raise ValueError(f"can advance the clock by 0..31622400 seconds, not {seconds}")
        with self._lock:
            self._offset += seconds
