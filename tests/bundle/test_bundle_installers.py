"""Bundling with whichever installer the environment has: pip, uv (a `uv venv` has no pip), or
neither (a clear error). Each environment is a real virtualenv made by uv in tmp, running the
bundler from this checkout (it needs only the standard library), with PATH reduced to what
that environment is meant to have."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from edgekit_iac.bundle.build import build_function
from edgekit_iac.bundle.manifest import BundleError, Requirement
from edgekit_iac.bundle.vendor import (
    Installer,
    downloaded_wheel,
    find_installer,
    target_for,
    vendor,
)
from tests.bundle.conftest import LAMBDA_MANIFEST, WORKER_MANIFEST, make_pure_wheel

REPO = Path(__file__).resolve().parents[2]
PURE, PURE_MODULE = "edgekit-test-purelib", "edgekit_test_purelib"
UV = shutil.which("uv") or str(Path(sys.executable).parent / "uv")

# Runs inside the test virtualenv: build one function, print what happened as JSON.
BUILD = """
import json, sys
from pathlib import Path
from edgekit_iac.bundle.build import build_function
from edgekit_iac.bundle.manifest import BundleError
from edgekit_iac.bundle.vendor import find_installer
root, out, cache, name = map(Path, sys.argv[1:5])
try:
    artifact = build_function(name.name, functions_root=root, out_dir=out, wheel_cache=cache)
except BundleError as error:
    print(json.dumps({"error": str(error)}))
    raise SystemExit(0)
try:
    installer = find_installer().name
except BundleError:
    installer = None
print(json.dumps({"installer": installer, "sha256": artifact.sha256, "path": str(artifact.path)}))
"""


def make_venv(path: Path, *packages: str) -> Path:
    """A virtualenv made by `uv venv`: no pip in it unless asked for (from uv's cache)."""
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(path)], check=True)
    python = path / "bin" / "python"
    if packages:
        subprocess.run(
            [UV, "pip", "install", "--quiet", "--python", str(python), *packages], check=True
        )
    return python


@pytest.fixture(scope="module")
def venvs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("venvs")
    return {"bare": make_venv(root / "bare"), "pip": make_venv(root / "pip", "pip==25.3")}


@pytest.fixture
def uv_only_path(tmp_path) -> str:
    """A PATH with uv on it and nothing else that installs packages."""
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "uv").symlink_to(UV)
    return f"{tools}:/usr/bin:/bin"


def run_build(python: Path, path: str, root: Path, out: Path, cache: Path, name: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "UV_"))}
    env.update({"PATH": path, "PYTHONPATH": str(REPO), "EDGEKIT_INSTALLER": ""})
    env["UV_CACHE_DIR"] = os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv"))
    result = subprocess.run(
        [str(python), "-c", BUILD, str(root), str(out), str(cache), name],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture
def worker(make_function, functions_root, tmp_path) -> tuple[Path, Path]:
    cache = tmp_path / "wheels"
    make_pure_wheel(cache, PURE, "1.0.0")
    make_function(
        "api",
        WORKER_MANIFEST,
        {"entry.py": f"import {PURE_MODULE}\n"},
        requirements=f"{PURE}==1.0.0\n",
    )
    return functions_root, cache


def test_a_uv_venv_without_pip_bundles_with_uv(venvs, uv_only_path, worker, tmp_path):
    root, cache = worker
    from_pip = build_function(
        "api", functions_root=root, out_dir=tmp_path / "pip", wheel_cache=cache
    )

    found = run_build(venvs["bare"], uv_only_path, root, tmp_path / "uv", cache, "api")

    assert found.get("installer") == "uv", found
    # The installer leaves no trace in the bytes: same sources, same zip, whoever vendored.
    assert found["sha256"] == from_pip.sha256
    with zipfile.ZipFile(found["path"]) as archive:
        assert f"python_modules/{PURE_MODULE}/__init__.py" in archive.namelist()
        assert not [n for n in archive.namelist() if n.endswith((".lock", "INSTALLER"))]


def test_uv_picks_lambda_wheels_for_python_3_13_on_manylinux(venvs, uv_only_path, tmp_path):
    """The issue's failure: Pillow for Lambda from a uv venv. uv fetches through its own cache."""
    from tests.bundle.test_bundle_pillow import HANDLER, IMAGING

    root = tmp_path / "functions"
    (root / "resizer").mkdir(parents=True)
    (root / "resizer" / "function.toml").write_text(LAMBDA_MANIFEST)
    (root / "resizer" / "requirements.txt").write_text("Pillow==13.0.0\n")
    (root / "resizer" / "handler.py").write_text(HANDLER)

    found = run_build(venvs["bare"], uv_only_path, root, tmp_path / "uv", tmp_path / "c", "resizer")

    assert found.get("installer") == "uv", found
    with zipfile.ZipFile(found["path"]) as archive:
        assert IMAGING in archive.namelist()


def test_a_venv_with_pip_and_no_uv_bundles_with_pip(venvs, worker, tmp_path):
    root, cache = worker
    found = run_build(venvs["pip"], "/usr/bin:/bin", root, tmp_path / "out", cache, "api")
    assert found.get("installer") == "pip", found
    assert Path(found["path"]).is_file()


def test_neither_pip_nor_uv_says_what_is_needed(venvs, worker, tmp_path):
    root, cache = worker
    found = run_build(venvs["bare"], "/usr/bin:/bin", root, tmp_path / "out", cache, "api")
    error = found.get("error", "")
    assert "api: vendoring its wheels (edgekit-test-purelib==1.0.0) needs pip or uv" in error
    assert "has no pip module, and no `uv` is on PATH" in error
    assert "ensurepip" in error and "pip install uv" in error and "artifact=" in error
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.zip"))


def test_a_function_without_requirements_needs_no_installer(venvs, make_function, tmp_path):
    root = tmp_path / "functions"
    make_function("plain", WORKER_MANIFEST, {"entry.py": "X = 1\n"})
    out, cache = tmp_path / "out", tmp_path / "c"
    found = run_build(venvs["bare"], "/usr/bin:/bin", root, out, cache, "plain")
    assert found.get("installer", "") is None, found  # none here, and none was needed
    assert Path(found["path"]).is_file()


def test_an_unknown_installer_name_is_refused(monkeypatch):
    monkeypatch.setenv("EDGEKIT_INSTALLER", "conda")
    with pytest.raises(
        BundleError, match="EDGEKIT_INSTALLER='conda' is not accepted; accepted: 'pip', 'uv'"
    ):
        find_installer()


def test_progress_names_each_downloaded_pip_and_uv_wheel():
    pip_line = (
        "  Downloading pillow-13.0.0-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
        " (7.0 MB)"
    )
    assert downloaded_wheel(pip_line) == (
        "pillow-13.0.0-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl (7.0 MB)"
    )
    assert downloaded_wheel("Downloading pillow (6.8MiB)") == "pillow (6.8MiB)"
    assert downloaded_wheel(" Downloaded pillow") is None
    assert downloaded_wheel("Collecting Pillow==13.0.0") is None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_pip_reports_one_line_per_wheel_it_downloads(tmp_path, monkeypatch):
    """A real download (from a package index on 127.0.0.1: directory listings are simple-index
    pages), reported as it happens; the second build installs from the wheel cache, silently."""
    served = tmp_path / "served"
    make_pure_wheel(served / "simple" / PURE, PURE, "1.0.0")
    handler = lambda *a, **k: _Quiet(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_address[1]}/simple/")
    lines: list[str] = []
    pip = Installer("pip", (sys.executable, "-m", "pip"))
    target = target_for("python-worker", "3.13")
    try:
        for attempt in ("first", "second"):
            dest = tmp_path / attempt
            dest.mkdir()
            vendor(
                (Requirement(PURE, "1.0.0"),), target, dest, tmp_path / "cache", "api",
                installer=pip, progress=lines.append,
            )  # fmt: skip
            assert (dest / PURE_MODULE / "__init__.py").is_file()
            assert len(lines) == 1, lines
    finally:
        server.shutdown()
    assert lines[0].startswith(f"edgekit bundle: downloading {PURE_MODULE}-1.0.0-py3-none-any.whl")
    assert lines[0].endswith("(pip)")


def test_a_pinned_zip_in_the_store_deploys_without_building(tmp_path, monkeypatch):
    """Prefer the prebuilt artifact: with the pinned zip at hand, no build runs, so an
    environment with neither pip nor uv still deploys a function that has requirements."""
    from edgekit_iac.bundle import build as bundle
    from edgekit_iac.config import ArtifactPin
    from edgekit_iac.release import artifacts

    built = bundle.build_function("image_resizer")
    stored = tmp_path / built.path.name
    shutil.copy(built.path, stored)
    pin = ArtifactPin(version=built.version, sha256=built.sha256)

    def no_build(name, **kwargs):
        raise BundleError(f"{name}: vendoring its wheels needs pip or uv, and neither is available")

    monkeypatch.setattr(bundle, "build_function", no_build)
    resolved = artifacts.resolve(["image_resizer"], {"image_resizer": pin}, store=tmp_path)
    assert resolved["image_resizer"].path == stored
    assert resolved["image_resizer"].manifest["handler"] == "handler.handler"
    # Without the pin, it must build, and says why it cannot.
    with pytest.raises(BundleError, match="needs pip or uv"):
        artifacts.resolve(["image_resizer"], {}, store=tmp_path)
