"""Stand-in for the ``js`` module (JavaScript globals seen from Python Workers).

Only what edgekit's Workers use: ``caches`` (the Cache API), ``Date.now()`` (the
runtime's clock, in milliseconds) and ``console``. Each runtime builds its own module,
so two runtimes never share a cache or a clock.
"""

from __future__ import annotations

import logging
from types import ModuleType

from edgekit_iac.twin.cloudflare.workers_runtime.cache import CacheStorage, Clock

log = logging.getLogger("edgekit.workers_runtime.console")


class _Date:
    """``js.Date``: ``Date.now()`` gives whole milliseconds since the epoch."""

    def __init__(self, clock: Clock):
        self._clock = clock

    def now(self) -> int:
        return int(self._clock() * 1000)


class _Console:
    """``js.console``: log lines go to the ``edgekit.workers_runtime.console`` logger."""

    def log(self, *parts: object) -> None:
        log.info(" ".join(map(str, parts)))

    def warn(self, *parts: object) -> None:
        log.warning(" ".join(map(str, parts)))

    def error(self, *parts: object) -> None:
        log.error(" ".join(map(str, parts)))


def make_js_module(caches: CacheStorage, clock: Clock) -> ModuleType:
    module = ModuleType("js", __doc__)
    module.caches = caches  # type: ignore[attr-defined]
    module.Date = _Date(clock)  # type: ignore[attr-defined]
    module.console = _Console()  # type: ignore[attr-defined]
    return module
