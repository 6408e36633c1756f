"""Manifest and requirements mistakes fail naming the file, the problem and what is accepted."""

from __future__ import annotations

import pytest

from edgekit_iac.bundle.build import build_function
from edgekit_iac.bundle.manifest import ManifestError, load_manifest, parse_requirements
from tests.bundle.conftest import LAMBDA_MANIFEST, WORKER_MANIFEST

HANDLER = {"handler.py": "def handler(event, context):\n    return {}\n"}
WORKER = {"entry.py": "X = 1\n"}


@pytest.mark.parametrize(
    ("manifest", "files", "expected"),
    [
        pytest.param(
            LAMBDA_MANIFEST.replace("lambda-edge", "cloudfront-function"),
            HANDLER,
            ["kind = 'cloudfront-function' is not known", "'lambda-edge', 'python-worker'"],
            id="unknown kind",
        ),
        pytest.param(
            'version = "1.0.0"\n',
            HANDLER,
            ["kind = None is not known", "accepted: 'lambda-edge', 'python-worker'"],
            id="missing kind",
        ),
        pytest.param(
            LAMBDA_MANIFEST.replace('handler = "handler.handler"\n', ""),
            HANDLER,
            ["handler is required for kind = 'lambda-edge'", 'e.g. "handler.handler"'],
            id="missing handler",
        ),
        pytest.param(
            LAMBDA_MANIFEST.replace('"handler.handler"', '"handler"'),
            HANDLER,
            ["handler = 'handler' is not `module.function`"],
            id="handler without function",
        ),
        pytest.param(
            LAMBDA_MANIFEST.replace('"handler.handler"', '"main.handler"'),
            HANDLER,
            ["handler = 'main.handler' names module file main.py, which is not in"],
            id="handler module file missing",
        ),
        pytest.param(
            LAMBDA_MANIFEST.replace("origin-request", "origin_request"),
            HANDLER,
            [
                "trigger = 'origin_request' is not a Lambda@Edge trigger",
                "'viewer-request', 'viewer-response', 'origin-request', 'origin-response'",
            ],
            id="unknown trigger",
        ),
        pytest.param(
            LAMBDA_MANIFEST.replace('"1.0.0"', '"v1"'),
            HANDLER,
            ["version = 'v1' is not a semantic version", '"1.0.0"'],
            id="bad version",
        ),
        pytest.param(
            WORKER_MANIFEST.replace('main_module = "entry.py"\n', ""),
            WORKER,
            ["main_module is required for kind = 'python-worker'"],
            id="missing main_module",
        ),
        pytest.param(
            WORKER_MANIFEST.replace("entry.py", "worker.py"),
            WORKER,
            ["main_module = 'worker.py' is not in"],
            id="main module file missing",
        ),
        pytest.param(
            WORKER_MANIFEST.replace("entry.py", "src/entry.py"),
            {"src/entry.py": "X = 1\n"},
            ["must be a top-level .py file name"],
            id="nested main module",
        ),
        pytest.param(
            LAMBDA_MANIFEST + "\n[bundle]\nexclud = ['PIL/ImageTk.py']\n",
            HANDLER,
            ["[bundle] key(s) exclud not known", "'exclude', 'size_limit_mb'"],
            id="typo in bundle table",
        ),
        pytest.param(
            LAMBDA_MANIFEST.replace("origin-request", "viewer-request")
            + "\n[bundle]\nsize_limit_mb = 5\n",
            HANDLER,
            ["size_limit_mb = 5 is above Lambda@Edge viewer-request triggers (1 MiB)"],
            id="budget above the platform limit",
        ),
        pytest.param(
            LAMBDA_MANIFEST + "\n[bundle]\nexclude = ['PIL/ImageTk.py']\n",
            HANDLER,
            ["exclude pattern(s) 'PIL/ImageTk.py' matched no vendored file"],
            id="exclude pattern that matches nothing",
        ),
        pytest.param(
            'kind = "lambda-edge"\nversion = 1.0.0\n',
            HANDLER,
            ["not valid TOML"],
            id="not TOML",
        ),
    ],
)
def test_bad_manifest_is_rejected_naming_the_file(
    make_function, tmp_path, manifest, files, expected
):
    make_function("broken", manifest, files)
    with pytest.raises(ManifestError) as error:
        build_function("broken", functions_root=tmp_path / "functions", out_dir=tmp_path / "out")
    message = str(error.value)
    assert "broken/function.toml: " in message
    for fragment in expected:
        assert fragment in message
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    "line",
    [
        "Pillow>=13",
        "Pillow",
        "Pillow==13.*",
        "Pillow==13.0.0; python_version >= '3.12'",
        "--index-url https://example.invalid/simple",
        "-r other.txt",
        "https://example.invalid/pillow.whl",
    ],
)
def test_requirements_accept_only_exact_pins(make_function, tmp_path, line):
    make_function("resizer", LAMBDA_MANIFEST, HANDLER, requirements=f"# pins\n\n{line}\n")
    with pytest.raises(ManifestError) as error:
        build_function("resizer", functions_root=tmp_path / "functions", out_dir=tmp_path / "out")
    message = str(error.value)
    assert f"resizer/requirements.txt line 3: {line!r} is not an exact pin" in message
    assert "one exact pin `name==version` per line" in message


def test_requirements_parse_pins_extras_and_comments():
    pins = parse_requirements(
        "# vendored for the edge\nPillow==13.0.0  # images\n\nattrs[tests] == 25.1.0\n",
        "requirements.txt",
    )
    assert [(p.name, p.version, p.extras, p.spec) for p in pins] == [
        ("Pillow", "13.0.0", "", "Pillow==13.0.0"),
        ("attrs", "25.1.0", "[tests]", "attrs[tests]==25.1.0"),
    ]
    assert pins[0].key == "pillow"


def test_a_package_pinned_twice_is_rejected():
    with pytest.raises(ManifestError, match="line 2: pillow is pinned twice"):
        parse_requirements("Pillow==13.0.0\npillow==12.0.0\n", "requirements.txt")


def test_missing_manifest_is_named(tmp_path):
    (tmp_path / "fn").mkdir()
    with pytest.raises(ManifestError, match=r"fn/function.toml: missing"):
        load_manifest(tmp_path / "fn")


def test_limits_follow_the_trigger_and_the_workers_plan(make_function, functions_root):
    viewer = make_function(
        "viewer", LAMBDA_MANIFEST.replace("origin-request", "viewer-response"), HANDLER
    )
    origin = make_function("origin", LAMBDA_MANIFEST, HANDLER)
    free = make_function("free", WORKER_MANIFEST, WORKER)
    paid = make_function("paid", WORKER_MANIFEST + "\n[bundle]\nsize_limit_mb = 10\n", WORKER)
    mib = 1024 * 1024
    assert load_manifest(viewer).size_limit == 1 * mib
    assert load_manifest(origin).size_limit == 50 * mib
    assert load_manifest(free).size_limit == 3 * mib
    assert load_manifest(paid).size_limit == 10 * mib


def test_a_shared_module_ships_at_the_bundle_root_and_changes_its_hash(make_function, tmp_path):
    import zipfile

    functions = tmp_path / "functions"
    manifest = WORKER_MANIFEST + '[bundle]\nshared = ["flags.py"]\n'
    make_function("worker", manifest, {"entry.py": "import flags\n"})
    (functions / "_shared").mkdir()
    (functions / "_shared" / "flags.py").write_text("ON = True\n")
    first = build_function("worker", functions_root=functions, out_dir=tmp_path / "out")
    assert zipfile.ZipFile(first.path).read("flags.py") == b"ON = True\n"
    (functions / "_shared" / "flags.py").write_text("ON = False\n")
    second = build_function("worker", functions_root=functions, out_dir=tmp_path / "out")
    assert second.sha256 != first.sha256


@pytest.mark.parametrize(("shared", "files", "expected"), [
    ('["missing.py"]', {}, "shared module missing.py is not in"),
    ('["../x.py"]', {}, "accepted: a list of .py file names in _shared/"),
    ('["entry.py"]', {}, "also a file of the function"),
])
def test_a_bad_shared_module_is_refused(make_function, tmp_path, shared, files, expected):
    make_function("worker", WORKER_MANIFEST + f"[bundle]\nshared = {shared}\n",
                  {"entry.py": "x = 1\n", **files})
    (tmp_path / "functions" / "_shared").mkdir(exist_ok=True)
    (tmp_path / "functions" / "_shared" / "entry.py").write_text("x = 2\n")
    with pytest.raises(ManifestError, match=expected):
        build_function("worker", functions_root=tmp_path / "functions", out_dir=tmp_path / "o")
