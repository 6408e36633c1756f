"""Build each function folder into a reproducible, content-addressed zip in .edgekit/bundles/.

The artifact's name carries a hash of everything that decides its bytes: the
function's source files (sorted relative paths and contents, requirements.txt
and function.toml included), the wheel target (Python version, platform tags)
and the bundler's own source (`bundler_fingerprint`), so a change to how bundles
are made rebuilds them without anyone remembering to bump a version. If
`.edgekit/bundles/<name>-<hash12>.zip` and its metadata sidecar already agree with
that hash, the zip is reused untouched; otherwise it is built in a temporary file
and moved into place only when it is complete and within the size limit, so the
folder never holds a half-written or oversized zip.

The zip itself is byte-for-byte reproducible: entries sorted, timestamps fixed
at 1980-01-01, mode 0644, DEFLATE at a fixed level (6), no extra fields, so two
builds of the same sources give the same sha256 and `pulumi up` sees no diff.
(Across machines this also assumes the same deflate output, which stock zlib has
kept stable for years; a CPython built on zlib-ng would compress differently.)

Layouts:
- lambda-edge: the function's `.py` modules at the zip root (the import root of
  the handler), third-party packages vendored next to them.
- python-worker: the main module and other `.py` modules at the root, pure-Python
  packages under `python_modules/`, where Python Workers look for them.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from edgekit_iac import paths
from edgekit_iac.bundle.bytecode import compiler_id, with_bytecode
from edgekit_iac.bundle.elf import ElfFormatError, is_elf, needed_libraries
from edgekit_iac.bundle.manifest import (
    MANIFEST_FILE,
    MIB,
    SHARED_DIR,
    BundleError,
    FunctionManifest,
    ManifestError,
    display_path,
    load_manifest,
)
from edgekit_iac.bundle.prune import filter_record, plan_vendored_files
from edgekit_iac.bundle.vendor import HOST, Target, target_for, vendor

__all__ = [
    "HOST",
    "Artifact",
    "BundleError",
    "ManifestError",
    "build_all",
    "build_function",
    "bundler_fingerprint",
    "input_hash",
    "prebuilt_artifact",
    "source_files",
    "wheel_cache_dir",
    "worker_modules",
    "write_reproducible_zip",
]

# The modules whose code decides a bundle's bytes; the CLI only calls them.
_BUNDLER_SOURCES = (
    "build.py", "bytecode.py", "elf.py", "manifest.py", "prune.py", "pyc_compile.mjs", "vendor.py"
)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
FILE_MODE = 0o644
# zlib's default: level 9 saves ~0.4% on the Pillow bundle but takes 3x as long.
COMPRESSION_LEVEL = 6
WORKER_VENDOR_DIR = "python_modules"
_TEST_DIRS = frozenset({"tests", "test", "__pycache__"})


@dataclass(frozen=True)
class Artifact:
    name: str  # function folder name
    kind: str  # "lambda-edge" | "python-worker"
    version: str  # from function.toml
    path: Path  # .edgekit/bundles/<name>-<hash12>.zip
    size: int  # zip bytes
    sha256: str  # hex sha256 of the zip bytes
    manifest: dict[str, Any] = field(hash=False)  # parsed function.toml
    input_hash: str = ""  # hex sha256 of the inputs; its first 12 digits name the zip
    python_version: str = "3.13"  # the Python the vendored wheels were chosen for
    size_limit: int = 0  # zipped bytes the platform (or the manifest's budget) allows
    pruned: tuple[str, ...] = ()  # vendored files left out of the zip


def wheel_cache_dir() -> Path:
    """Downloaded wheels, kept between builds and projects: EDGEKIT_WHEEL_CACHE, else
    `wheels/` in edgekit's per-user cache folder (never the directory `pulumi up` runs in)."""
    override = os.environ.get("EDGEKIT_WHEEL_CACHE")
    return Path(override).resolve() if override else paths.user_cache_dir() / "wheels"


def build_all(
    names: list[str] | None = None,
    *,
    python_version: str = "3.13",
    out_dir: Path | None = None,
    functions_root: Path | None = None,
    wheel_cache: Path | None = None,
) -> list[Artifact]:
    """Build the named functions (all of them when `names` is empty or None), in order."""
    root = functions_root or paths.functions_root()
    selected = list(dict.fromkeys(names)) if names else _available(root)
    for name in selected:
        _function_folder(root, name)  # fail on an unknown name before building anything
    return [
        build_function(
            name,
            python_version=python_version,
            out_dir=out_dir,
            functions_root=root,
            wheel_cache=wheel_cache,
        )
        for name in selected
    ]


def build_function(
    name: str,
    *,
    python_version: str = "3.13",
    out_dir: Path | None = None,
    functions_root: Path | None = None,
    wheel_cache: Path | None = None,
) -> Artifact:
    """Build (or reuse) the zip of one function.

    python_version: "3.13" (default, Lambda's runtime) or another "3.X" selects
    CPython manylinux x86_64 wheels for that version; "host" selects wheels for
    the running interpreter and its platform (for local cold-start measurements).
    """
    folder = _function_folder(functions_root or paths.functions_root(), name)
    manifest = load_manifest(folder)
    target = target_for(manifest.kind, python_version)
    files = sorted(source_files(folder) + [
        (shared, folder.parent / SHARED_DIR / shared) for shared in manifest.shared
    ])
    digest = input_hash(files, manifest.kind, target)
    out = out_dir or paths.build_dir()
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / f"{name}-{digest[:12]}.zip"

    reused = _reuse(zip_path, digest, manifest)
    if reused is not None:
        return reused

    entries, pruned = _zip_entries(manifest, files, target, wheel_cache or wheel_cache_dir())
    size, sha256 = _write_zip_atomically(entries, zip_path, manifest)
    artifact = Artifact(
        name=name,
        kind=manifest.kind,
        version=manifest.version,
        path=zip_path,
        size=size,
        sha256=sha256,
        manifest=manifest.raw,
        input_hash=digest,
        python_version=target.python_version,
        size_limit=manifest.size_limit,
        pruned=pruned,
    )
    _write_sidecar(artifact, target)
    return artifact


def prebuilt_artifact(
    name: str,
    path: Path,
    *,
    version: str,
    sha256: str,
    functions_root: Path | None = None,
) -> Artifact:
    """An Artifact for a zip built elsewhere (a promoted or pinned one), described by this
    checkout's function.toml: deploying it needs no build, so neither pip nor uv."""
    folder = _function_folder(functions_root or paths.functions_root(), name)
    manifest = load_manifest(folder)
    return Artifact(
        name=name,
        kind=manifest.kind,
        version=version,
        path=path,
        size=path.stat().st_size,
        sha256=sha256,
        manifest=manifest.raw,
        size_limit=manifest.size_limit,
    )


def worker_modules(artifact: Artifact) -> dict[str, str]:
    """{path in zip: source text} of a Python Worker bundle, main module first."""
    if artifact.kind != "python-worker":
        raise BundleError(
            f"{artifact.name}: worker_modules needs a python-worker bundle, not {artifact.kind!r}"
        )
    main = artifact.manifest["main_module"]
    modules: dict[str, str] = {}
    with zipfile.ZipFile(artifact.path) as archive:
        names = sorted(archive.namelist(), key=lambda n: (n != main, n))
        for name in names:
            try:
                modules[name] = archive.read(name).decode("utf-8")
            except UnicodeDecodeError as error:
                raise BundleError(
                    f"{artifact.name}: {name} in {display_path(artifact.path)} is not UTF-8 text;"
                    " Python Worker modules are uploaded as text"
                ) from error
    return modules


# --- inputs -----------------------------------------------------------------------------------


def source_files(folder: Path) -> list[tuple[str, Path]]:
    """The function folder's inputs as sorted (posix relative path, file): everything but
    dotfiles, __pycache__, compiled files and tests, which never reach the edge."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        parts = relative.parts
        if not path.is_file() or any(part.startswith(".") for part in parts):
            continue
        if any(part in _TEST_DIRS for part in parts[:-1]) or _is_test_or_compiled(parts[-1]):
            continue
        found.append((relative.as_posix(), path))
    return sorted(found)


@cache
def bundler_fingerprint() -> str:
    """sha256 of the bundler's own source: any change to it is a new bundler."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _BUNDLER_SOURCES:
        data = (here / name).read_bytes()
        digest.update(f"{name}:{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


def input_hash(files: list[tuple[str, Path]], kind: str, target: Target) -> str:
    """sha256 over the bundler's source, the target and every source path and its bytes."""
    digest = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        # Length-prefixed so no two different input lists can produce the same stream.
        digest.update(f"{label}:{len(data)}:".encode())
        digest.update(data)

    feed("bundler", bundler_fingerprint().encode())
    feed("target", json.dumps({"kind": kind, **target.fingerprint()}, sort_keys=True).encode())
    if kind == "lambda-edge":  # which interpreter compiles the shipped bytecode
        feed("bytecode", str(compiler_id(target)).encode())
    for relative, path in files:
        feed("path", relative.encode())
        feed("bytes", path.read_bytes())
    return digest.hexdigest()


def _is_test_or_compiled(filename: str) -> bool:
    return (
        filename.endswith((".pyc", ".pyo", "_test.py"))
        or filename.startswith("test_")
        or filename == "conftest.py"
    )


def _available(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST_FILE).is_file())


def _function_folder(root: Path, name: str) -> Path:
    folder = root / name
    if (
        "/" in name
        or "\\" in name
        or name.startswith(".")
        or not (folder / MANIFEST_FILE).is_file()
    ):
        known = ", ".join(_available(root)) if root.is_dir() else ""
        raise BundleError(
            f"no edge function named {name!r} in {display_path(root)}; known: {known or 'none'}"
        )
    return folder


# --- contents ---------------------------------------------------------------------------------


def _zip_entries(
    manifest: FunctionManifest,
    files: list[tuple[str, Path]],
    target: Target,
    wheel_cache: Path,
) -> tuple[dict[str, bytes], tuple[str, ...]]:
    """{path in zip: bytes}: the function's modules plus its pruned, vendored packages, and
    for Lambda@Edge their bytecode (see bytecode.py)."""
    entries, pruned = _sources_and_vendored(manifest, files, target, wheel_cache)
    if manifest.kind == "lambda-edge":
        entries = with_bytecode(entries, target, wheel_cache.parent / "bytecode")
    return entries, pruned


def _sources_and_vendored(
    manifest: FunctionManifest,
    files: list[tuple[str, Path]],
    target: Target,
    wheel_cache: Path,
) -> tuple[dict[str, bytes], tuple[str, ...]]:
    entries = {relative: path.read_bytes() for relative, path in files if relative.endswith(".py")}
    if not manifest.requirements:
        _check_patterns_used(manifest, manifest.exclude)
        return entries, ()
    prefix = f"{WORKER_VENDOR_DIR}/" if manifest.kind == "python-worker" else ""
    with tempfile.TemporaryDirectory(prefix=f"edgekit-{manifest.name}-") as scratch:
        site = Path(scratch) / "site"
        site.mkdir()
        vendor(manifest.requirements, target, site, wheel_cache, who=manifest.name)
        vendored, pruned = _pruned_vendor_files(site, manifest)
    for relative, data in vendored.items():
        if prefix + relative in entries:
            raise BundleError(
                f"{manifest.name}: {relative} is both a function source and a vendored file;"
                " rename the function module"
            )
        entries[prefix + relative] = data
    return entries, pruned


def _pruned_vendor_files(
    site: Path, manifest: FunctionManifest
) -> tuple[dict[str, bytes], tuple[str, ...]]:
    contents = {
        path.relative_to(site).as_posix(): path.read_bytes()
        for path in site.rglob("*")
        if path.is_file()
    }
    needed: dict[str, list[str]] = {}
    for relative, data in contents.items():
        if is_elf(data):
            try:
                needed[relative] = needed_libraries(data)
            except ElfFormatError:
                continue  # unreadable: never pruned by linkage, shipped as it is
    try:
        plan = plan_vendored_files(contents, manifest.exclude, needed)
    except BundleError as error:
        raise BundleError(f"{manifest.name}: {error}") from error
    _check_patterns_used(manifest, plan.unused_patterns)
    kept = set(plan.kept)
    shipped = {relative: contents[relative] for relative in plan.kept}
    for relative in plan.kept:
        if relative.endswith(".dist-info/RECORD"):
            text = filter_record(contents[relative].decode("utf-8"), kept, relative)
            shipped[relative] = text.encode("utf-8")
    return shipped, plan.dropped


def _check_patterns_used(manifest: FunctionManifest, unused: tuple[str, ...]) -> None:
    # A pattern that matches nothing is a typo or a stale rule after an upgrade:
    # either way the bundle is not as lean as the manifest claims.
    if unused:
        raise ManifestError(
            f"{display_path(manifest.folder / MANIFEST_FILE)}: [bundle] exclude pattern(s)"
            f" {', '.join(repr(p) for p in unused)} matched no vendored file;"
            " fix or remove them (patterns apply to packages from requirements.txt)"
        )


# --- the zip ----------------------------------------------------------------------------------


def write_reproducible_zip(entries: Mapping[str, bytes], stream: BinaryIO) -> None:
    """Same entries in, same bytes out: sorted names, fixed date and mode, fixed compression."""
    with zipfile.ZipFile(stream, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so external_attr means a mode on every host
            info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name], compresslevel=COMPRESSION_LEVEL)


def _write_zip_atomically(
    entries: Mapping[str, bytes], zip_path: Path, manifest: FunctionManifest
) -> tuple[int, str]:
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{zip_path.name}.", suffix=".tmp", dir=zip_path.parent
    )
    temp_path = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            write_reproducible_zip(entries, stream)
        size = temp_path.stat().st_size
        if size > manifest.size_limit:
            raise BundleError(
                f"{manifest.name}: bundle is {size:,} bytes ({size / MIB:.2f} MiB), over"
                f" {manifest.size_limit_reason} ({manifest.size_limit:,} bytes); ship less"
                " (drop unused modules, or prune vendored packages with [bundle] exclude"
                f" in {display_path(manifest.folder / MANIFEST_FILE)})"
            )
        sha256 = file_sha256(temp_path)
        os.chmod(temp_path, FILE_MODE)
        os.replace(temp_path, zip_path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return size, sha256


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in blocks (zips can be tens of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- reuse ------------------------------------------------------------------------------------


def _sidecar_path(zip_path: Path) -> Path:
    return zip_path.with_suffix(".json")


def _write_sidecar(artifact: Artifact, target: Target) -> None:
    record = {
        "bundler": bundler_fingerprint(),
        "name": artifact.name,
        "kind": artifact.kind,
        "version": artifact.version,
        "input_hash": artifact.input_hash,
        "sha256": artifact.sha256,
        "size": artifact.size,
        "python_version": artifact.python_version,
        "size_limit": artifact.size_limit,
        "target": target.fingerprint(),
        "pruned": list(artifact.pruned),
    }
    sidecar = _sidecar_path(artifact.path)
    temp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temp, sidecar)


def _reuse(zip_path: Path, digest: str, manifest: FunctionManifest) -> Artifact | None:
    """The existing artifact if its sidecar vouches for these inputs and the zip is intact."""
    try:
        record = json.loads(_sidecar_path(zip_path).read_text(encoding="utf-8"))
        size = zip_path.stat().st_size
    except (OSError, ValueError):
        return None
    if (
        record.get("input_hash") != digest
        or record.get("bundler") != bundler_fingerprint()
        or record.get("size") != size
        or record.get("sha256") != file_sha256(zip_path)
    ):
        return None
    return Artifact(
        name=manifest.name,
        kind=manifest.kind,
        version=manifest.version,
        path=zip_path,
        size=size,
        sha256=record["sha256"],
        manifest=manifest.raw,
        input_hash=digest,
        python_version=record.get("python_version", ""),
        size_limit=manifest.size_limit,
        pruned=tuple(record.get("pruned", ())),
    )
