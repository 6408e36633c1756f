"""edgekit-iac as someone else's dependency: the wheel, a foreign project, the typed API.

One wheel is built per session from a copy of the sources (`uv build`, so the checkout stays
as it was), and installed with uv, from its cache, into one fresh virtualenv outside the
repository. That virtualenv has no pip (it is a `uv venv`), so bundling there goes through
uv. Next to it lives a foreign Pulumi project with its own `components/`, `functions/` and
`policies/` packages, whose `__main__.py` is the README's "Using the components in your own
program" block, copied verbatim.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "edgekit_iac", "components", "functions", "policies")
UV = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
README_SECTION = "## Using the components in your own program"
TWIN_FIX = "pip install 'edgekit-iac[twin]'"


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def readme_block() -> str:
    """The first ```python block under the README's "Using the components" heading."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    _, found, section = text.partition(README_SECTION)
    assert found, f"README.md has no {README_SECTION!r} section"
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match, f"no ```python block under {README_SECTION!r}"
    return match.group(1)


@dataclass
class Source:
    root: Path  # a copy of the sources, where the wheel was built (setuptools left build/ here)
    wheel: Path


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Source:
    work = tmp_path_factory.mktemp("wheel")
    root = work / "source"
    root.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".edgekit", "build")
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, root / name, ignore=ignore)
        else:
            shutil.copy2(origin, root / name)
    run([UV, "build", "--quiet", "--wheel", "--out-dir", str(work / "dist"), str(root)])
    (wheel,) = (work / "dist").glob("edgekit_iac-*.whl")
    return Source(root, wheel)


def test_the_wheel_holds_one_top_level_package(source: Source):
    with zipfile.ZipFile(source.wheel) as archive:
        names = archive.namelist()
        metadata = email.parser.HeaderParser().parsestr(
            archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        )
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    assert {name.split("/")[0] for name in names} == {
        "edgekit_iac",
        "edgekit_iac-0.1.0.dist-info",
    }
    for shipped in (
        "edgekit_iac/py.typed",
        "edgekit_iac/components/__init__.py",
        "edgekit_iac/functions/image_resizer/function.toml",
        "edgekit_iac/functions/image_resizer/requirements.txt",
        "edgekit_iac/policies/PulumiPolicy.yaml",
        "edgekit_iac/policies/__main__.py",
        "edgekit_iac/twin/supervisor.py",
        "edgekit_iac/bundle/pyc_compile.mjs",  # the bundler's 3.13 bytecode compiler
    ):
        assert shipped in names, shipped
    assert metadata["Name"] == "edgekit-iac"
    assert "edgekit = edgekit_iac.cli:main" in entry_points
    # The twin's moto is an extra, not a dependency of every install.
    requires = metadata.get_all("Requires-Dist") or []
    moto = [line for line in requires if line.startswith("moto")]
    assert moto and all('extra == "twin"' in line for line in moto), moto
    assert "twin" in (metadata.get_all("Provides-Extra") or [])


def test_bundles_never_share_a_folder_with_setuptools_build_output(source: Source, monkeypatch):
    from edgekit_iac.bundle.build import build_function

    assert (source.root / "build" / "lib").is_dir()  # what building the wheel left behind
    monkeypatch.setenv("EDGEKIT_HOME", str(source.root))
    artifact = build_function("hello_geo")
    bundles = artifact.path.parent
    assert bundles == source.root / ".edgekit" / "bundles"
    assert not (source.root / "build" / "lib").is_relative_to(bundles)
    assert sorted(p.suffix for p in bundles.iterdir()) == [".json", ".zip"]


# --- a foreign project ------------------------------------------------------------------------


@dataclass
class Foreign:
    project: Path
    python: Path
    env: dict[str, str]
    install_seconds: float

    def edgekit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-m", "edgekit_iac", *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )


@pytest.fixture(scope="module")
def foreign(source: Source, tmp_path_factory) -> Foreign:
    """A uv virtualenv with the wheel installed, and a Pulumi project of someone else's."""
    work = tmp_path_factory.mktemp("foreign")
    project = work / "project"
    for package in ("components", "functions", "policies"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text(f'OURS = "{package}"\n')
    (project / "functions" / "thumbnailer").mkdir()  # not an edgekit function folder
    (project / "stacks").mkdir()
    (project / "Pulumi.yaml").write_text("name: foreign\nruntime: python\nstackConfigDir: stacks\n")
    (project / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (project / "__main__.py").write_text(readme_block())

    venv = work / "venv"
    run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    started = time.perf_counter()
    run([UV, "pip", "install", "--quiet", "--python", str(python), str(source.wheel)])
    install_seconds = time.perf_counter() - started
    tools = work / "tools"  # uv, and nothing else that installs packages
    tools.mkdir()
    (tools / "uv").symlink_to(UV)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "EDGEKIT_"))}
    env.update(
        PATH=f"{venv / 'bin'}:{tools}:/usr/bin:/bin",
        VIRTUAL_ENV=str(venv),
        # The project's own folder comes first on sys.path, as when Pulumi runs its program.
        PYTHONPATH=str(project),
    )
    return Foreign(project, python, env, install_seconds)


def test_the_readme_block_runs_verbatim_in_a_foreign_project(foreign: Foreign):
    block = readme_block()
    assert block.startswith("import pulumi\n")
    started = time.perf_counter()
    result = foreign.edgekit("preview", "--stack", "dev", "--json")
    preview_seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    print(
        f"\npip install -> mock preview in a foreign project: "
        f"{foreign.install_seconds + preview_seconds:.1f} s "
        f"(install {foreign.install_seconds:.1f} s, preview {preview_seconds:.1f} s)"
    )
    graph = json.loads(result.stdout)
    types = {resource["type"] for resource in graph["resources"]}
    assert {
        "edgekit:aws:EdgeImageResizer",
        "aws:lambda/function:Function",
        "aws:cloudfront/distribution:Distribution",
        "aws:s3/bucket:Bucket",
    } <= types
    assert graph["outputs"]["imagesDomain"].endswith(".cloudfront.net")
    (function,) = [r for r in graph["resources"] if r["type"] == "aws:lambda/function:Function"]
    assert function["inputs"]["handler"] == "handler.handler"
    code = Path(function["inputs"]["code"]["path"])
    # Bundled here (the venv has no pip: uv did it), into the project's .edgekit/bundles.
    assert code.parent == foreign.project / ".edgekit" / "bundles"
    with zipfile.ZipFile(code) as archive:
        names = archive.namelist()
    assert "handler.py" in names and "PIL/Image.py" in names
    assert not (foreign.project / "build").exists()

    # The project's own packages are still its own, next to edgekit's.
    probe = (
        "import json, components, functions, policies, edgekit_iac.components as ours\n"
        "print(json.dumps([components.OURS, functions.OURS, policies.OURS, ours.__file__]))"
    )
    own = json.loads(run([str(foreign.python), "-c", probe], cwd=foreign.project,
                         env=foreign.env).stdout)  # fmt: skip
    assert own[:3] == ["components", "functions", "policies"]
    assert "site-packages" in own[3]


def test_up_without_the_twin_extra_prints_the_install_line(foreign: Foreign):
    for args in (("up", "--help"), ("up", "--stack", "dev")):
        result = foreign.edgekit(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert TWIN_FIX in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "ModuleNotFoundError" not in result.stderr


def test_the_installed_policy_pack_runs_with_the_installs_python(foreign: Foreign, tmp_path):
    import yaml
    from google.protobuf import empty_pb2

    from tests.policies.test_pack import start_pack

    result = foreign.edgekit("policy-pack-path")
    assert result.returncode == 0, result.stderr
    pack = Path(result.stdout.strip())
    assert pack.name == "policies" and pack.parent.name == "edgekit_iac"
    assert "site-packages" in str(pack)
    project = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    # No virtualenv option: that would point inside site-packages, where none is.
    assert "virtualenv" not in project["runtime"].get("options", {})
    # What the Pulumi CLI does with PULUMI_PYTHON_CMD=<this venv's python>.
    for analyzer in start_pack(tmp_path, "prod", python=str(foreign.python), pack_dir=pack):
        info = analyzer.stub.GetAnalyzerInfo(empty_pb2.Empty())
        assert info.name == "edgekit-edge-policies"
        assert len(info.policies) >= 5


# --- the typed API --------------------------------------------------------------------------

MYPY_CONFIG = """\
[mypy]
python_version = 3.11
# The provider SDKs are huge and typed; skipping them keeps this check to seconds.
[mypy-pulumi_aws.*]
follow_imports = skip
[mypy-pulumi_cloudflare.*]
follow_imports = skip
[mypy-boto3.*,botocore.*,PIL.*]
follow_imports = skip
"""


def test_mypy_sees_the_public_classes_and_catches_a_misspelt_field(foreign: Foreign, tmp_path):
    """Type-checked against the installed wheel (py.typed), through the README's import."""
    (tmp_path / "mypy.ini").write_text(MYPY_CONFIG)
    (tmp_path / "good.py").write_text(
        "from edgekit_iac.components import EdgeImageResizerArgs, EdgeWorkerArgs\n"
        "args = EdgeImageResizerArgs(quality=80)\n"
        "reveal_type(EdgeWorkerArgs)\n"
    )
    (tmp_path / "typo.py").write_text(
        "from edgekit_iac.components import EdgeImageResizerArgs\n"
        "args = EdgeImageResizerArgs(qualty=80)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini",
         "--python-executable", str(foreign.python), "--cache-dir", str(tmp_path / "cache"),
         "good.py", "typo.py"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, result.stdout
    assert errors[0].startswith("typo.py:2: error:"), result.stdout
    assert '"qualty"' in errors[0] and "EdgeImageResizerArgs" in errors[0], errors[0]
    # A real class, not Any: reveal_type names it.
    assert "edgekit_iac.components.worker.EdgeWorkerArgs" in result.stdout, result.stdout


def field_docs(cls: type) -> dict[str, str]:
    """Each field's documentation, wherever the class keeps it: a pydantic Field description,
    an `Annotated[..., Doc(...)]`-style metadata string, or an attribute docstring."""
    import ast
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    for name, info in (getattr(cls, "model_fields", None) or {}).items():
        if info.description:
            docs[name] = info.description
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    for statement, following in zip(body, body[1:], strict=False):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs.setdefault(statement.target.id, inspect.cleandoc(following.value.value))
    return docs


def test_help_shows_the_documentation_of_every_args_field():
    """Editors and help() show what pydoc renders; an attribute docstring is not in it."""
    import pydoc

    import edgekit_iac.components as components

    missing: dict[str, list[str]] = {}
    for name in components.__all__:
        if not name.endswith("Args"):
            continue
        cls = getattr(components, name)
        text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
        rendered = " ".join(word for word in text.split() if word != "|")  # pydoc's margin
        docs = field_docs(cls)
        assert docs, f"{name}: no field documentation found at all"
        for field_name, doc in docs.items():
            first_words = " ".join(doc.split()[:8])
            if first_words not in rendered:
                missing.setdefault(name, []).append(field_name)
    assert not missing, f"help() does not show these fields' documentation: {missing}"
