"""Find the zip a pin names: `<store>/<name>-*.zip` whose sha256 equals the pin.

Zips are named by their bundler input hash, not their content hash, so a pin is matched by
hashing the candidates. The store is .edgekit/bundles/ by default, or the directory CI hands
from the staging job to the prod job (`--artifacts DIR`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from edgekit_iac.bundle.build import file_sha256
from edgekit_iac.errors import UserError
from edgekit_iac.release.pins import Pin


class ArtifactMismatchError(UserError):
    """A pinned artifact is missing, or no zip has the pinned hash."""


def candidates(name: str, store: Path) -> list[Path]:
    return sorted(p for p in store.glob(f"{name}-*.zip") if p.is_file())


def find_artifact(name: str, sha256: str, store: Path) -> Path | None:
    for candidate in candidates(name, store):
        if file_sha256(candidate) == sha256:
            return candidate
    return None


def verify(pins: Mapping[str, Pin], store: Path) -> dict[str, Path]:
    """The zip of every pin, or one error listing every pin without its zip."""
    if not store.is_dir():
        raise ArtifactMismatchError(
            f"artifact directory {store} does not exist; pass the directory holding the zips "
            "the source stack deployed with --artifacts DIR, or build them with `edgekit bundle`"
        )
    found: dict[str, Path] = {}
    problems: list[str] = []
    for name, pin in sorted(pins.items()):
        path = find_artifact(name, pin.sha256, store)
        if path is not None:
            found[name] = path
            continue
        others = candidates(name, store)
        if others:
            hashes = ", ".join(f"{p.name} has sha256 {file_sha256(p)[:12]}" for p in others)
            problems.append(f"{name} {pin.version}: hash mismatch, want {pin.sha256}; {hashes}")
        else:
            problems.append(f"{name} {pin.version}: no {name}-*.zip in {store}")
    if problems:
        raise ArtifactMismatchError(
            f"refusing: the pinned artifacts are not all in {store}:\n  - "
            + "\n  - ".join(problems)
            + "\nPass the directory holding the zips the source stack deployed with "
            "--artifacts DIR (in CI: the staging job's artifact), or run `edgekit bundle` on "
            "the commit that stack deployed."
        )
    return found
