"""Unpack a Lambda@Edge zip for the twin: the function's own modules, and its vendored packages.

A lambda-edge bundle holds the function's modules at the zip root next to the third-party
packages vendored for Lambda's Python (CPython 3.13, manylinux x86_64). The twin runs the
function's own modules from the zip unchanged. The vendored distributions (found through
their `*.dist-info/RECORD`) are used when their wheel tags fit this interpreter; when they
do not (another Python version or platform), the twin resolves those imports from its own
environment instead, and says so: that is the only place where the local run differs from
the deployed code.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.tags import Tag, parse_tag, sys_tags

DIST_INFO = ".dist-info"


@dataclass(frozen=True)
class VendoredDistribution:
    name: str
    version: str
    tags: frozenset[Tag]
    files: tuple[str, ...]  # paths in the zip, dist-info included


@dataclass(frozen=True)
class UnpackedFunction:
    code_dir: Path  # the function's own modules: the import root, like /var/task
    vendor_dir: Path  # the vendored distributions, unpacked apart
    own_files: tuple[str, ...]
    vendored: tuple[VendoredDistribution, ...]


def _dist_info_dir(path: str) -> str | None:
    first = PurePosixPath(path).parts[0]
    return first if first.endswith(DIST_INFO) else None


def _record_paths(record_text: str) -> list[str]:
    # RECORD is CSV "path,hash,size"; paths never contain commas in wheels we vendor.
    return [line.split(",", 1)[0] for line in record_text.splitlines() if line.strip()]


def _metadata_field(text: str, name: str) -> str:
    prefix = f"{name}:"
    return next((line[len(prefix):].strip() for line in text.splitlines()
                 if line.startswith(prefix)), "")


def find_vendored(archive: zipfile.ZipFile) -> tuple[VendoredDistribution, ...]:
    """Every distribution with a RECORD in the zip, with its wheel tags and files."""
    names = set(archive.namelist())
    found = []
    for record in sorted(n for n in names if n.endswith(f"{DIST_INFO}/RECORD")):
        info_dir = record.rsplit("/", 1)[0]
        meta = archive.read(f"{info_dir}/METADATA").decode() if (
            f"{info_dir}/METADATA" in names) else ""
        wheel = archive.read(f"{info_dir}/WHEEL").decode() if (
            f"{info_dir}/WHEEL" in names) else ""
        tags = frozenset(
            tag for line in wheel.splitlines() if line.startswith("Tag:")
            for tag in parse_tag(line.split(":", 1)[1].strip())
        )
        listed = set(_record_paths(archive.read(record).decode()))
        files = tuple(sorted(n for n in names if n in listed or _dist_info_dir(n) == info_dir))
        found.append(VendoredDistribution(
            name=_metadata_field(meta, "Name") or info_dir.split("-")[0],
            version=_metadata_field(meta, "Version") or "?",
            tags=tags or frozenset(parse_tag("py3-none-any")),
            files=files,
        ))
    return tuple(found)


def incompatibility(dist: VendoredDistribution, supported: Iterable[Tag]) -> str | None:
    """Why `dist` cannot load in an interpreter supporting `supported` tags; None if it can."""
    if dist.tags & frozenset(supported):
        return None
    built_for = ", ".join(sorted(str(tag) for tag in dist.tags))
    return f"built for {built_for}"


def supported_tags() -> frozenset[Tag]:
    return frozenset(sys_tags())


def unpack(zip_path: Path, into: Path) -> UnpackedFunction:
    """Unpack `zip_path` into `into/code` (own modules) and `into/vendor` (distributions)."""
    if into.exists():
        shutil.rmtree(into)
    code_dir, vendor_dir = into / "code", into / "vendor"
    code_dir.mkdir(parents=True)
    vendor_dir.mkdir()
    with zipfile.ZipFile(zip_path) as archive:
        vendored = find_vendored(archive)
        vendored_files = {path for dist in vendored for path in dist.files}
        own = []
        for info in archive.infolist():
            if info.is_dir():
                continue
            target_root = vendor_dir if info.filename in vendored_files else code_dir
            target = (target_root / info.filename).resolve()
            if not target.is_relative_to(target_root.resolve()):
                raise ValueError(f"{zip_path}: entry {info.filename!r} escapes the bundle")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
            if target_root is code_dir:
                own.append(info.filename)
    return UnpackedFunction(code_dir, vendor_dir, tuple(sorted(own)), vendored)


def local_version(dist_name: str) -> str | None:
    """The version of a distribution installed in the twin's own environment, if any."""
    try:
        return metadata.version(dist_name)
    except metadata.PackageNotFoundError:
        return None
