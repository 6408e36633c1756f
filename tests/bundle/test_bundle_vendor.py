"""Vendoring through pip from the wheel cache, with locally made wheels (no network needed)."""

from __future__ import annotations

import zipfile

import pytest

from edgekit_iac.bundle.build import BundleError, build_function, worker_modules
from edgekit_iac.bundle.vendor import InstalledDistribution, check_pure, target_for
from tests.bundle.conftest import LAMBDA_MANIFEST, WORKER_MANIFEST, make_pure_wheel

PURE = "edgekit-test-purelib"
PURE_MODULE = "edgekit_test_purelib"


@pytest.fixture
def wheel_cache(tmp_path):
    cache = tmp_path / "wheels"
    make_pure_wheel(cache, PURE, "1.0.0")
    return cache


def test_worker_vendors_pure_packages_under_python_modules(make_function, tmp_path, wheel_cache):
    make_function(
        "api",
        WORKER_MANIFEST,
        {"entry.py": f"import {PURE_MODULE}\n"},
        requirements=f"{PURE}==1.0.0\n",
    )
    root = tmp_path / "functions"

    one = build_function(
        "api", functions_root=root, out_dir=tmp_path / "a", wheel_cache=wheel_cache
    )
    two = build_function(
        "api", functions_root=root, out_dir=tmp_path / "b", wheel_cache=wheel_cache
    )

    assert one.sha256 == two.sha256
    dist_info = f"python_modules/{PURE_MODULE}-1.0.0.dist-info"
    with zipfile.ZipFile(one.path) as archive:
        names = archive.namelist()
        record = archive.read(f"{dist_info}/RECORD").decode()
    assert names == [
        "entry.py",
        f"{dist_info}/METADATA",
        f"{dist_info}/RECORD",
        f"{dist_info}/WHEEL",
        f"python_modules/{PURE_MODULE}/__init__.py",
        f"python_modules/{PURE_MODULE}/py.typed",
    ]
    assert "INSTALLER" not in record and "REQUESTED" not in record
    assert f"{PURE_MODULE}/__init__.py,sha256=" in record
    modules = worker_modules(one)
    assert next(iter(modules)) == "entry.py"
    assert 'VALUE = "1.0.0"' in modules[f"python_modules/{PURE_MODULE}/__init__.py"]


def test_lambda_vendors_packages_at_the_import_root(make_function, tmp_path, wheel_cache):
    make_function(
        "resizer",
        LAMBDA_MANIFEST,
        {"handler.py": f"import {PURE_MODULE}\n\n\ndef handler(event, context):\n    return 1\n"},
        requirements=f"{PURE}==1.0.0\n",
    )
    artifact = build_function(
        "resizer",
        functions_root=tmp_path / "functions",
        out_dir=tmp_path / "out",
        wheel_cache=wheel_cache,
    )
    with zipfile.ZipFile(artifact.path) as archive:
        assert f"{PURE_MODULE}/__init__.py" in archive.namelist()
        assert "handler.py" in archive.namelist()


def test_every_shipped_package_must_be_pinned(make_function, tmp_path, wheel_cache):
    make_pure_wheel(wheel_cache, "edgekit-test-app", "2.0.0", requires=(PURE,))
    make_function(
        "api",
        WORKER_MANIFEST,
        {"entry.py": "X = 1\n"},
        requirements="edgekit-test-app==2.0.0\n",
    )
    out = tmp_path / "out"
    with pytest.raises(BundleError) as error:
        build_function(
            "api", functions_root=tmp_path / "functions", out_dir=out, wheel_cache=wheel_cache
        )
    assert "api: requirements.txt does not pin edgekit-test-purelib==1.0.0" in str(error.value)
    assert not list(out.glob("*.zip"))


def test_python_workers_refuse_platform_wheels():
    native = InstalledDistribution(
        name="fastjson",
        version="1.0",
        dist_info="fastjson-1.0.dist-info",
        purelib=False,
        tags=("cp313-cp313-manylinux_2_28_x86_64",),
    )
    pure = InstalledDistribution("tiny", "1.0", "tiny-1.0.dist-info", True, ("py3-none-any",))
    check_pure([pure], "api")
    with pytest.raises(BundleError) as error:
        check_pure([pure, native], "api")
    message = str(error.value)
    assert "api: fastjson==1.0 ships platform code" in message
    assert "cp313-cp313-manylinux_2_28_x86_64" in message
    assert "only pure-Python wheels (py3-none-any)" in message


def test_targets_pin_what_pip_may_choose():
    lambda_args = target_for("lambda-edge", "3.13").pip_args()
    assert lambda_args == [
        "--platform=manylinux_2_28_x86_64",
        "--platform=manylinux2014_x86_64",
        "--implementation=cp",
        "--python-version=3.13",
    ]
    assert target_for("python-worker", "3.13").pip_args() == [
        "--platform=any",
        "--implementation=py",
        "--python-version=3.13",
        "--abi=none",
    ]
    host = target_for("lambda-edge", "host")
    assert host.pip_args() == []  # pip's own view of this interpreter
    assert host.fingerprint()["host"]


@pytest.mark.parametrize("version", ["3", "313", "python3.13", "2.7.18", ""])
def test_python_version_must_be_3_x_or_host(version):
    with pytest.raises(BundleError, match=r"accepted: '3.X' .* or 'host'"):
        target_for("lambda-edge", version)
