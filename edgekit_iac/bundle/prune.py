"""Decide which vendored third-party files a bundle ships (pure: paths in, paths out).

Three rules, applied to the files pip installed for a function:

1. Bundler-wide dead weight that no runtime imports: `__pycache__`, `*.pyc`,
   type stubs, console scripts, and the install-time-only dist-info files.
2. The function's own `[bundle] exclude` patterns from `function.toml`: the
   function knows which parts of a package its code never imports (Pillow's
   Tk, Qt, font and viewer modules), so the list lives next to that code.
3. Shared libraries vendored by auditwheel (`<package>.libs/`) that no kept
   extension module links, directly or through another kept library, are
   dropped; this follows from rule 2 (dropping `_imagingft` frees freetype,
   harfbuzz, brotli and libpng).

Pattern syntax (gitignore-like): a pattern without `/` matches any single path
component (`__pycache__`, `*.pyi`); a pattern with `/` (or a leading `/`) matches
the whole path relative to the vendor root or one of its parent folders
(`PIL/ImageTk.py`, `PIL/_imagingtk.*`, `PIL/tests`, `/bin`). `*` may cross `/`
in the latter.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from posixpath import basename, dirname

from edgekit_iac.bundle.manifest import BundleError

DEFAULT_VENDOR_EXCLUDES = (
    "__pycache__",
    "*.pyc",
    "*.pyi",
    "/bin",  # console scripts pip puts at the vendor root: nothing at the edge runs them
    "*.dist-info/INSTALLER",
    "*.dist-info/REQUESTED",
    "*.dist-info/direct_url.json",
    "*.dist-info/uv_cache.json",  # where uv took the wheel from: says nothing about the code
    "*.dist-info/sboms",  # describe the wheel as built, not the pruned copy we ship
)


@dataclass(frozen=True)
class PrunePlan:
    kept: tuple[str, ...]
    dropped: tuple[str, ...]
    unused_patterns: tuple[str, ...]  # function patterns that matched no file (likely typos)


def matches(path: str, pattern: str) -> bool:
    """Whether a vendored file (posix path relative to the vendor root) is hit by `pattern`."""
    anchored = pattern.startswith("/")
    pattern = pattern.strip("/")
    parts = path.split("/")
    if "/" not in pattern and not anchored:
        return any(fnmatchcase(part, pattern) for part in parts)
    prefixes = ("/".join(parts[:end]) for end in range(1, len(parts) + 1))
    return any(fnmatchcase(prefix, pattern) for prefix in prefixes)


def is_bundled_library(path: str) -> bool:
    """auditwheel puts a wheel's private copies of system libraries in `<package>.libs/`."""
    return basename(dirname(path)).endswith(".libs")


def plan_vendored_files(
    paths: Iterable[str],
    exclude: Sequence[str],
    needed: Mapping[str, Sequence[str]],
) -> PrunePlan:
    """Apply the three rules. `needed` maps each ELF file to its DT_NEEDED sonames;
    files absent from it (not ELF, or another binary format) are never pruned by rule 3.

    Raises BundleError when a pattern removes a library that a kept extension needs,
    because that bundle would fail at import time on the edge, not here.
    """
    all_paths = sorted(set(paths))
    used = {pattern: False for pattern in exclude}
    candidates: list[str] = []
    excluded_by_function: set[str] = set()
    for path in all_paths:
        if any(matches(path, pattern) for pattern in DEFAULT_VENDOR_EXCLUDES):
            continue
        hits = [pattern for pattern in exclude if matches(path, pattern)]
        for pattern in hits:
            used[pattern] = True
        if hits:
            excluded_by_function.add(path)
        else:
            candidates.append(path)

    libraries = {basename(p): p for p in all_paths if is_bundled_library(p) and p in needed}
    roots = [p for p in candidates if p in needed and not is_bundled_library(p)]
    reachable = _linked_libraries(roots, libraries, needed)
    for library, needed_by in sorted(reachable.items()):
        if library in excluded_by_function:
            raise BundleError(
                f"[bundle] exclude removes {library}, but the kept {needed_by} links it;"
                f" exclude {needed_by} too or keep the library"
            )

    kept = tuple(
        p for p in candidates if not (is_bundled_library(p) and p in needed and p not in reachable)
    )
    kept_set = set(kept)
    return PrunePlan(
        kept=kept,
        dropped=tuple(p for p in all_paths if p not in kept_set),
        unused_patterns=tuple(pattern for pattern, hit in used.items() if not hit),
    )


def _linked_libraries(
    roots: Sequence[str], libraries: Mapping[str, str], needed: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Bundled libraries reachable from `roots` through DT_NEEDED -> {library: first user}."""
    reachable: dict[str, str] = {}
    pending = list(roots)
    while pending:
        user = pending.pop()
        for soname in needed.get(user, ()):
            library = libraries.get(soname)
            if library is not None and library not in reachable:
                reachable[library] = user
                pending.append(library)
    return reachable


def filter_record(record_text: str, kept: set[str], record_path: str) -> str:
    """A dist-info RECORD that lists only the files we ship, so it stays truthful."""
    rows = [
        row
        for row in csv.reader(io.StringIO(record_text))
        if row and (row[0] in kept or row[0] == record_path)
    ]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()
