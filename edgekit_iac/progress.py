"""Say that slow work is still going: silent for quick work, a line now and then for slow.

    with progress(say, "bundling image_resizer"):
        build()

prints nothing if `build()` returns within `after` seconds; otherwise
"bundling image_resizer ... (2 s)" then a line every `every` seconds, and
"bundling image_resizer: done in 41 s" at the end. The bundler adds its own detail (a line
per wheel downloaded); this is the command line's part, so no command is silent for minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress(say: Callable[[str], None], label: str, *, after: float = 2.0,
             every: float = 10.0) -> Iterator[None]:
    done = threading.Event()
    started = time.monotonic()
    said = threading.Event()

    def watch() -> None:
        wait = after
        while not done.wait(wait):
            said.set()
            say(f"{label} ... ({time.monotonic() - started:.0f} s)")
            wait = every

    watcher = threading.Thread(target=watch, daemon=True, name=f"progress: {label}")
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        if said.is_set():
            say(f"{label}: done in {time.monotonic() - started:.0f} s")
