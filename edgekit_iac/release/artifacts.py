"""Which artifact each function deploys: built from the checkout, or pinned by content hash.

Staging builds from the checkout. Prod pins (`edgekit:artifacts` in its stack file, written
by `edgekit promote`): a pinned function deploys only a zip whose sha256 equals its pin,
taken from the artifact store (.edgekit/bundles/, where CI unpacks the artifacts staging ran) or
rebuilt from this commit and verified. A mismatch stops the program before any resource
is declared, so prod never runs code that did not run in staging.
"""

from __future__ import annotations

import contextlib
import contextvars
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from edgekit_iac.bundle import build as bundle
from edgekit_iac.bundle.declared import declared_artifact
from edgekit_iac.config import ArtifactPin
from edgekit_iac.errors import UserError
from edgekit_iac.paths import build_dir
from edgekit_iac.release.pin_artifacts import find_artifact


class PinMismatchError(UserError):
    """A pinned artifact is not available with the pinned hash."""


# On while a program runs only to be checked (`declaring_only`): artifacts are described from
# their sources, nothing is built or written (edgekit_iac.bundle.declared).
_DECLARE_ONLY = contextvars.ContextVar("edgekit_declare_only", default=False)


@contextlib.contextmanager
def declaring_only() -> Iterator[None]:
    """Within this block `resolve` describes each artifact instead of building or finding it."""
    token = _DECLARE_ONLY.set(True)
    try:
        yield
    finally:
        _DECLARE_ONLY.reset(token)


def resolve(
    names: Iterable[str], pins: Mapping[str, ArtifactPin], store: Path | None = None
) -> dict[str, bundle.Artifact]:
    """A pinned function deploys its pinned zip from the store when it is there, with no build
    (so no pip or uv is needed); anything else is built, and a pinned build must match.
    Within `declaring_only()`, every artifact is described (with its pin's version and hash)
    and nothing is built, read from the store or written."""
    store = store or build_dir()
    resolved: dict[str, bundle.Artifact] = {}
    for name in names:
        pin = pins.get(name)
        if _DECLARE_ONLY.get():
            resolved[name] = declared_artifact(
                name,
                version=pin.version if pin else None,
                sha256=pin.sha256 if pin else None,
            )
            continue
        stored = find_artifact(name, pin.sha256, store) if pin is not None else None
        if pin is not None and stored is not None:
            prebuilt = bundle.prebuilt_artifact(
                name, stored, version=pin.version, sha256=pin.sha256
            )
            _check_entry_point(name, stored, prebuilt.manifest)
            resolved[name] = prebuilt
            continue
        built = bundle.build_function(name)
        if pin is not None and built.sha256 != pin.sha256:
            raise PinMismatchError(
                f"{name} is pinned to {pin.version} (sha256 {pin.sha256}) but no artifact with "
                f"that hash is in {store}, and this checkout builds sha256 {built.sha256}. "
                "Promote from staging (`edgekit promote --from staging --to <stack>`) or put the "
                "promoted zip in the artifact store."
            )
        resolved[name] = built
    unknown = sorted(set(pins) - set(resolved))
    if unknown:
        raise PinMismatchError(
            f"pins for functions this stack does not deploy: {', '.join(unknown)} "
            f"(it deploys {', '.join(sorted(resolved))})"
        )
    return resolved


def _check_entry_point(name: str, stored: Path, manifest: Mapping[str, object]) -> None:
    """A promoted zip is described by this checkout's function.toml (the zip carries none):
    refuse when the entry point it names is not in the zip, rather than deploy a handler
    name the code does not have."""
    handler = manifest.get("handler")
    entry = f"{str(handler).rpartition('.')[0]}.py" if handler else str(manifest["main_module"])
    with zipfile.ZipFile(stored) as archive:
        if entry not in archive.namelist():
            raise PinMismatchError(
                f"{name}: the pinned zip {stored.name} has no {entry}, which this checkout's "
                "function.toml names as its entry point; promote again from staging"
            )


def as_pins(artifacts: Mapping[str, bundle.Artifact]) -> dict[str, dict[str, object]]:
    """The `artifacts` stack output: what `edgekit promote` copies into the next stack."""
    return {
        name: {"version": a.version, "sha256": a.sha256, "bytes": a.size}
        for name, a in sorted(artifacts.items())
    }
