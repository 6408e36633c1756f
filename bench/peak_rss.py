"""This process's peak resident set, as the bench's fresh-interpreter children report it.

Standard library only, and importable without the ``bench`` package: the children run as
plain scripts or ``-c`` programs, some with ``-I``, and put this file's folder on
``sys.path`` to import it (``cold_start_child``, ``decode_memory_child`` and
``resize_options_bench``'s child).

Peak memory is the process's VmHWM (``/proc/self/status``), not ``ru_maxrss``: Linux
carries ``ru_maxrss`` over fork and exec, so a child of a large parent would report the
parent's peak. VmHWM only ever grows, which is why every measured case runs in a fresh
interpreter.
"""

from __future__ import annotations

import resource


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM), in KiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best available
