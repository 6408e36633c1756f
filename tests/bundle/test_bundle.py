"""The bundler's promises: byte-identical rebuilds, reuse by content hash, size limits, layouts."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from edgekit_iac.bundle import build as bundle
from edgekit_iac.bundle.build import BundleError, build_all, build_function, worker_modules
from edgekit_iac.errors import UserError
from tests.bundle.conftest import LAMBDA_MANIFEST, WORKER_MANIFEST, write_function

HANDLER = "import helper\n\n\ndef handler(event, context):\n    return helper.answer()\n"
HELPER = "def answer():\n    return {'status': '200'}\n"


def lambda_sources() -> dict[str, str | bytes]:
    return {"handler.py": HANDLER, "helper.py": HELPER}


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


# --- reproducibility ----------------------------------------------------------------------------


def test_two_fresh_builds_in_different_places_give_the_same_bytes(tmp_path):
    # Same sources written in a different order, with different mtimes, in another folder.
    first = write_function(tmp_path / "a", "resizer", LAMBDA_MANIFEST, lambda_sources())
    second_files = dict(reversed(list(lambda_sources().items())))
    second = write_function(tmp_path / "b", "resizer", LAMBDA_MANIFEST, second_files)
    for path in second.iterdir():
        os.utime(path, (1_600_000_000, 1_600_000_000))

    one = build_function("resizer", functions_root=first.parent, out_dir=tmp_path / "out1")
    two = build_function("resizer", functions_root=second.parent, out_dir=tmp_path / "out2")

    assert one.path.name == two.path.name
    assert one.sha256 == two.sha256
    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.sha256 == hashlib.sha256(one.path.read_bytes()).hexdigest()
    assert one.size == one.path.stat().st_size
    assert one.path.name == f"resizer-{one.input_hash[:12]}.zip"


def test_zip_entries_are_sorted_with_fixed_dates_and_modes(make_function, tmp_path):
    make_function("resizer", LAMBDA_MANIFEST, {**lambda_sources(), "aaa.py": "X = 1\n"})
    artifact = build_function(
        "resizer", functions_root=tmp_path / "functions", out_dir=tmp_path / "out"
    )
    with zipfile.ZipFile(artifact.path) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == [
        "__pycache__/aaa.cpython-313.pyc",
        "__pycache__/handler.cpython-313.pyc",
        "__pycache__/helper.cpython-313.pyc",
        "aaa.py",
        "handler.py",
        "helper.py",
    ]
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.extra == b""


def test_only_runtime_modules_are_shipped(make_function, tmp_path):
    make_function(
        "resizer",
        LAMBDA_MANIFEST,
        {
            **lambda_sources(),
            "README.md": "docs",
            ".env": "SECRET=1",
            "__pycache__/helper.cpython-313.pyc": b"\x00",
            "tests/test_helper.py": "def test(): pass\n",
            "test_handler.py": "def test(): pass\n",
        },
        requirements="",
    )
    artifact = build_function(
        "resizer", functions_root=tmp_path / "functions", out_dir=tmp_path / "out"
    )
    # The stray __pycache__ file is not shipped: the bundler compiles its own bytecode.
    assert zip_names(artifact.path) == [
        "__pycache__/handler.cpython-313.pyc",
        "__pycache__/helper.cpython-313.pyc",
        "handler.py",
        "helper.py",
    ]
    with zipfile.ZipFile(artifact.path) as archive:
        assert archive.read("__pycache__/helper.cpython-313.pyc") != b"\x00"
    assert artifact.manifest["handler"] == "handler.handler"
    assert (artifact.kind, artifact.version) == ("lambda-edge", "1.0.0")


# --- rebuilt only when the inputs change --------------------------------------------------------


def test_second_build_reuses_the_artifact_without_rewriting_it(make_function, tmp_path):
    make_function("resizer", LAMBDA_MANIFEST, lambda_sources())
    root, out = tmp_path / "functions", tmp_path / "out"
    first = build_function("resizer", functions_root=root, out_dir=out)
    os.utime(first.path, ns=(1_000_000_000, 1_000_000_000))

    again = build_function("resizer", functions_root=root, out_dir=out)

    assert again == first
    assert first.path.stat().st_mtime_ns == 1_000_000_000


def test_files_that_never_ship_do_not_change_the_hash(make_function, tmp_path):
    folder = make_function("resizer", LAMBDA_MANIFEST, lambda_sources())
    root, out = tmp_path / "functions", tmp_path / "out"
    first = build_function("resizer", functions_root=root, out_dir=out)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"compiled")
    (folder / ".DS_Store").write_bytes(b"finder")
    (folder / "tests").mkdir()
    (folder / "tests" / "test_x.py").write_text("def test(): pass\n")

    assert build_function("resizer", functions_root=root, out_dir=out).path == first.path


def test_a_changed_source_gives_a_new_artifact_and_keeps_the_old(make_function, tmp_path):
    folder = make_function("resizer", LAMBDA_MANIFEST, lambda_sources())
    root, out = tmp_path / "functions", tmp_path / "out"
    first = build_function("resizer", functions_root=root, out_dir=out)
    (folder / "helper.py").write_text(HELPER.replace("200", "204"))

    second = build_function("resizer", functions_root=root, out_dir=out)

    assert second.path != first.path
    assert second.sha256 != first.sha256
    assert first.path.exists()
    with zipfile.ZipFile(second.path) as archive:
        assert b"204" in archive.read("helper.py")


def test_the_target_python_is_part_of_the_hash(make_function, tmp_path):
    make_function("resizer", LAMBDA_MANIFEST, lambda_sources())
    root, out = tmp_path / "functions", tmp_path / "out"
    names = {
        build_function("resizer", python_version=version, functions_root=root, out_dir=out).path
        for version in ("3.13", "3.12", "host")
    }
    assert len(names) == 3


def test_a_change_to_the_bundler_itself_gives_a_new_artifact(make_function, tmp_path, monkeypatch):
    # The bundler's source is hashed into every artifact name: no version to remember to bump.
    make_function("resizer", LAMBDA_MANIFEST, lambda_sources())
    root, out = tmp_path / "functions", tmp_path / "out"
    first = build_function("resizer", functions_root=root, out_dir=out)
    package = Path(bundle.__file__).parent
    expected = hashlib.sha256()
    for name in (
        "build.py", "bytecode.py", "elf.py", "manifest.py", "prune.py", "pyc_compile.mjs",
        "vendor.py",
    ):
        data = (package / name).read_bytes()
        expected.update(f"{name}:{len(data)}:".encode() + data)
    assert bundle.bundler_fingerprint() == expected.hexdigest()

    monkeypatch.setattr(bundle, "bundler_fingerprint", lambda: "0" * 64)
    second = build_function("resizer", functions_root=root, out_dir=out)
    assert second.input_hash != first.input_hash and second.path != first.path
    assert second.sha256 == first.sha256  # same bytes out: only the name says who built it


def test_a_damaged_artifact_is_rebuilt(make_function, tmp_path):
    make_function("resizer", LAMBDA_MANIFEST, lambda_sources())
    root, out = tmp_path / "functions", tmp_path / "out"
    first = build_function("resizer", functions_root=root, out_dir=out)
    good = first.path.read_bytes()
    first.path.write_bytes(good[:-10])  # truncated by a crash or a bad copy

    again = build_function("resizer", functions_root=root, out_dir=out)

    assert again.path == first.path
    assert again.path.read_bytes() == good


# --- size limits --------------------------------------------------------------------------------


def incompressible_module(size: int) -> str:
    # base64 of random bytes deflates to ~75%: 1.5 MB of it stays over 1 MiB zipped.
    return "BLOB = '" + base64.b64encode(os.urandom(size)).decode() + "'\n"


def test_viewer_trigger_bundle_over_1_mib_fails_and_leaves_nothing(make_function, tmp_path):
    manifest = LAMBDA_MANIFEST.replace("origin-request", "viewer-request")
    make_function(
        "headers", manifest, {**lambda_sources(), "blob.py": incompressible_module(1_500_000)}
    )
    out = tmp_path / "out"

    with pytest.raises(BundleError) as error:
        build_function("headers", functions_root=tmp_path / "functions", out_dir=out)

    message = str(error.value)
    assert message.startswith("headers: bundle is ")
    assert "Lambda@Edge viewer-request triggers limit of 1 MiB zipped" in message
    assert "(1,048,576 bytes)" in message
    size = int(message.split("bundle is ")[1].split(" bytes")[0].replace(",", ""))
    assert size > 1_048_576
    assert list(out.iterdir()) == []  # no zip, no sidecar, no temp file


def test_the_same_code_fits_an_origin_trigger(make_function, tmp_path):
    make_function(
        "resizer",
        LAMBDA_MANIFEST,
        {**lambda_sources(), "blob.py": incompressible_module(1_500_000)},
    )
    artifact = build_function(
        "resizer", functions_root=tmp_path / "functions", out_dir=tmp_path / "out"
    )
    assert 1_048_576 < artifact.size < artifact.size_limit == 50 * 1_048_576


def test_workers_default_to_the_free_plan_limit(make_function, tmp_path):
    make_function(
        "big_worker",
        WORKER_MANIFEST,
        {"entry.py": "import blob\n", "blob.py": incompressible_module(4_500_000)},
    )
    with pytest.raises(BundleError, match=r"Workers free-plan script limit of 3 MiB") as error:
        build_function(
            "big_worker", functions_root=tmp_path / "functions", out_dir=tmp_path / "out"
        )
    assert "size_limit_mb up to 10 on a paid plan" in str(error.value)
    assert not list((tmp_path / "out").glob("*"))


def test_a_manifest_budget_below_the_platform_limit_is_enforced(make_function, tmp_path):
    manifest = LAMBDA_MANIFEST + "\n[bundle]\nsize_limit_mb = 0.0001\n"
    make_function("lean", manifest, lambda_sources())
    with pytest.raises(BundleError, match=r"over the size_limit_mb = 0.0001 budget"):
        build_function("lean", functions_root=tmp_path / "functions", out_dir=tmp_path / "out")


# --- Python Workers -----------------------------------------------------------------------------


def test_worker_bundle_is_the_flat_modules_with_the_main_module_first(make_function, tmp_path):
    sources = {
        "entry.py": "from workers import WorkerEntrypoint\nimport rules\n",
        "rules.py": "TTL = 30\n",
        "alpha.py": "A = 1\n",
        "test_rules.py": "def test(): pass\n",
    }
    make_function("api", WORKER_MANIFEST, sources)
    artifact = build_function(
        "api", functions_root=tmp_path / "functions", out_dir=tmp_path / "out"
    )

    assert artifact.kind == "python-worker"
    assert zip_names(artifact.path) == ["alpha.py", "entry.py", "rules.py"]
    modules = worker_modules(artifact)
    assert list(modules) == ["entry.py", "alpha.py", "rules.py"]
    assert modules == {name: sources[name] for name in modules}


def test_worker_modules_refuses_a_lambda_bundle(make_function, tmp_path):
    make_function("resizer", LAMBDA_MANIFEST, lambda_sources())
    artifact = build_function(
        "resizer", functions_root=tmp_path / "functions", out_dir=tmp_path / "out"
    )
    with pytest.raises(BundleError, match="needs a python-worker bundle"):
        worker_modules(artifact)


# --- build_all and the command ------------------------------------------------------------------


def test_build_all_builds_every_function_and_rejects_unknown_names(make_function, tmp_path):
    make_function("resizer", LAMBDA_MANIFEST, lambda_sources())
    make_function("api", WORKER_MANIFEST, {"entry.py": "X = 1\n"})
    (tmp_path / "functions" / "not_a_function").mkdir()
    root, out = tmp_path / "functions", tmp_path / "out"

    assert [a.name for a in build_all(functions_root=root, out_dir=out)] == ["api", "resizer"]
    assert [a.name for a in build_all(["resizer"], functions_root=root, out_dir=out)] == ["resizer"]
    with pytest.raises(UserError, match=r"no edge function named 'nope'.*known: api, resizer"):
        build_all(["resizer", "nope"], functions_root=root, out_dir=out)


def test_cli_prints_name_path_bytes_sha256_per_function(
    make_function, tmp_path, monkeypatch, capsys
):
    from edgekit_iac.cli import main

    make_function("resizer", LAMBDA_MANIFEST, lambda_sources())
    make_function("api", WORKER_MANIFEST, {"entry.py": "X = 1\n"})
    monkeypatch.setattr(bundle.paths, "functions_root", lambda: tmp_path / "functions")
    monkeypatch.setenv("EDGEKIT_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)

    assert main(["bundle"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["api", "resizer"]
    for line in lines:
        name, path, size, sha256 = line.split()
        assert path.startswith(f".edgekit/bundles/{name}-") and path.endswith(".zip")
        data = (tmp_path / path).read_bytes()
        assert int(size) == len(data)
        assert sha256 == hashlib.sha256(data).hexdigest()


def test_cli_reports_an_unknown_function_with_exit_status_2(
    make_function, tmp_path, monkeypatch, capsys
):
    from edgekit_iac.cli import main

    make_function("resizer", LAMBDA_MANIFEST, lambda_sources())
    monkeypatch.setattr(bundle.paths, "functions_root", lambda: tmp_path / "functions")
    monkeypatch.setenv("EDGEKIT_HOME", str(tmp_path))

    assert main(["bundle", "resiser"]) == 2
    assert "no edge function named 'resiser'" in capsys.readouterr().err
    assert not (tmp_path / ".edgekit").exists()
