"""Artifacts described, not built: what lets a program be checked before the slow work.

`edgekit up` runs the program once with declared artifacts (`run_program(...,
declare_only=True)`) to check the stack config and the `--port` names against the listeners
the program declares, before it bundles anything: on a fresh clone, building the bundles
(downloading wheels) is the slow part. A declared artifact is described from the function's
folder and function.toml: nothing is built, downloaded or written. Its `path` is the source
folder (there is no zip), its `sha256` the hash of the bundle's inputs, and a Worker's modules
are the folder's own `.py` files (vendored packages are not there yet). Such a graph is for
checking only; it is never deployed or served.

This module is not one of the bundler's hashed sources (build.py `_BUNDLER_SOURCES`):
describing a bundle does not change how one is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgekit_iac import paths
from edgekit_iac.bundle.build import (
    Artifact,
    _function_folder,
    input_hash,
    source_files,
    worker_modules,
)
from edgekit_iac.bundle.manifest import BundleError, load_manifest
from edgekit_iac.bundle.vendor import target_for


@dataclass(frozen=True)
class DeclaredArtifact(Artifact):
    """A function's bundle as it would be built, described without building it."""


def declared_artifact(
    name: str,
    *,
    version: str | None = None,
    sha256: str | None = None,
    python_version: str = "3.13",
    functions_root: Path | None = None,
) -> DeclaredArtifact:
    """The bundle `build_function(name)` would make (a pin's `version` and `sha256` when
    given), described from the function's folder. Reads the sources; writes nothing."""
    folder = _function_folder(functions_root or paths.functions_root(), name)
    manifest = load_manifest(folder)
    target = target_for(manifest.kind, python_version)
    digest = input_hash(source_files(folder), manifest.kind, target)
    return DeclaredArtifact(
        name=name,
        kind=manifest.kind,
        version=version or manifest.version,
        path=folder,
        size=0,
        sha256=sha256 or digest,
        manifest=manifest.raw,
        input_hash=digest,
        python_version=target.python_version,
        size_limit=manifest.size_limit,
    )


def is_declared(artifact: Artifact) -> bool:
    return isinstance(artifact, DeclaredArtifact)


def modules(artifact: Artifact) -> dict[str, str]:
    """{path: source text} of a Python Worker, main module first: from its zip, or for a
    declared artifact from its folder (its own modules; vendored packages come with the
    build)."""
    if not is_declared(artifact):
        return worker_modules(artifact)
    main = artifact.manifest["main_module"]
    found: dict[str, str] = {}
    for relative, path in sorted(
        source_files(Path(artifact.path)), key=lambda item: (item[0] != main, item[0])
    ):
        if relative.endswith(".py"):
            try:
                found[relative] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as error:
                raise BundleError(f"{artifact.name}: {relative} is not UTF-8 text") from error
    return found
