"""A CloudFront edge cache: responses by cache key, each kept for its TTL, bounded in bytes.

Expired entries are dropped when met; when the byte budget is exceeded the least recently
used entries go first, as an edge cache evicts unpopular objects.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    stored_at: float
    ttl: float

    def fresh(self, now: float) -> bool:
        return now < self.stored_at + self.ttl

    def age(self, now: float) -> int:
        return max(0, int(now - self.stored_at))


class ResponseCache:
    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, CachedResponse] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, now: float) -> CachedResponse | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if not entry.fresh(now):
                self._remove(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, entry: CachedResponse) -> None:
        if len(entry.body) > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._remove(key)
            self._entries[key] = entry
            self._bytes += len(entry.body)
            while self._bytes > self.max_bytes:
                self._remove(next(iter(self._entries)))

    def invalidate(self, matches: Callable[[Hashable], bool]) -> int:
        """Drop every entry whose key `matches`; return how many went."""
        with self._lock:
            doomed = [key for key in self._entries if matches(key)]
            for key in doomed:
                self._remove(key)
        return len(doomed)

    def __len__(self) -> int:
        return len(self._entries)

    def _remove(self, key: Hashable) -> None:
        self._bytes -= len(self._entries.pop(key).body)
