"""The twin's clock: wall-clock time that the control page can move forward.

Every time-based rule the twin serves (CloudFront cache TTLs, WAF and Cloudflare rate
windows, the Workers Cache API) reads this one clock, so "advance a minute" on the status
page expires caches and rate windows together, as waiting a minute would. Edge times
(how long the twin took) are measured with `time.perf_counter`, never with this clock.

The offset is also written to `clock.json` in the state directory, so that what the local
CLIs sign for the twin (`edgekit token`, `edgekit sign-url`/`sign-cookies --stack local`) is
valid at the twin's time, not only at the wall clock's: after "advance 90 s" a token with a
60 s lifetime must still get through.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

OFFSET_FILE = "clock.json"


class TwinClock:
    """Epoch seconds: `now()` plus an offset that only grows."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._offset = 0.0
        self._lock = threading.Lock()
        self._record: Path | None = None

    def record_in(self, state_dir: Path) -> None:
        """Keep the offset in `state_dir` from now on (an earlier twin's offset is replaced:
        a new twin starts on the wall clock)."""
        with self._lock:
            self._record = state_dir / OFFSET_FILE
            self._write()

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
            self._write()

    def _write(self) -> None:
        if self._record is None:
            return
        partial = self._record.with_suffix(".tmp")
        partial.write_text(json.dumps({"offset_seconds": self._offset}) + "\n")
        os.replace(partial, self._record)  # readers see the old offset or the new, never half


def twin_now(state_dir: Path) -> float:
    """The running twin's time, as epoch seconds: the wall clock plus the offset the twin
    recorded in `state_dir` (none recorded: the wall clock)."""
    try:
        offset = float(json.loads((state_dir / OFFSET_FILE).read_text())["offset_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        offset = 0.0
    return time.time() + max(offset, 0.0)
