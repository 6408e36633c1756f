"""Fixture function folders built in tmp_path, so bundler tests never depend on functions/."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

LAMBDA_MANIFEST = """\
kind = "lambda-edge"
version = "1.0.0"
handler = "handler.handler"
trigger = "origin-request"
"""

WORKER_MANIFEST = """\
kind = "python-worker"
version = "2.1.0"
main_module = "entry.py"
"""

MakeFunction = Callable[..., Path]


def write_function(
    root: Path,
    name: str,
    manifest: str,
    files: dict[str, str | bytes],
    requirements: str | None = None,
) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "function.toml").write_text(manifest)
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements)
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


@pytest.fixture
def functions_root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    root.mkdir()
    return root


@pytest.fixture
def make_function(functions_root: Path) -> MakeFunction:
    def make(name: str, manifest: str, files: dict[str, str | bytes], **kwargs) -> Path:
        return write_function(functions_root, name, manifest, files, **kwargs)

    return make


def make_pure_wheel(
    directory: Path, name: str, version: str, requires: tuple[str, ...] = ()
) -> Path:
    """A minimal, valid py3-none-any wheel, so vendoring is tested with no network."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    files = {
        f"{module}/__init__.py": f'"""{name} test package."""\nVALUE = "{version}"\n',
        f"{module}/py.typed": "",
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: edgekit-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    rows = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append([path, f"sha256={digest}", str(len(data))])
    rows.append([f"{dist_info}/RECORD", "", ""])
    record = io.StringIO()
    csv.writer(record, lineterminator="\n").writerows(rows)
    files[f"{dist_info}/RECORD"] = record.getvalue()
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel
