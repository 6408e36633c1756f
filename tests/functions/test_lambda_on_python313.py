"""The Lambda bundle on CPython 3.13, the Python Lambda@Edge runs: Pyodide's interpreter.

This machine's Python is 3.11; Pyodide 0.28.2 is CPython 3.13.2 compiled to WebAssembly,
with the same bytecode (magic number 3571) as Lambda's python3.13. Every module of the
deployable bundle, Pillow's vendored Python files included, must compile there, and the
handler's pure request module must give on 3.13 exactly the answers it gives here.
"""

from __future__ import annotations

import json
import zipfile

import pytest

from edgekit_iac.bundle.build import build_function
from edgekit_iac.function_modules import load_function_module
from edgekit_iac.paths import function_dir
from edgekit_iac.twin.cloudflare.isolate import WorkerIsolate

LAMBDA_PYTHON_MAGIC = 3571  # CPython 3.13's bytecode, importlib.util.MAGIC_NUMBER
SIZES = [(150, 150), (400, 300), (1920, 1080)]
FORMATS = ["jpeg", "png", "webp", "avif"]
CASES = [
    ("/images/400x300/photos/cat.jpg", ""),
    ("/images/400x300/photos/cat.jpg", "format=webp"),
    ("/images/400x300/photos/cat.jpg", "format=gif"),
    ("/images/401x300/photos/cat.jpg", ""),
    ("/images/150x150/%E5%86%99%E7%9C%9F/na%C3%AFve%20caf%C3%A9.png", "format=avif&x=1"),
    ("/images/150x150/../secret.jpg", ""),
    ("/images/150x150/a%00b.jpg", ""),
    ("/images/1920x1080/" + "k" * 1000 + ".jpg", ""),
    ("/images/0x0/a.jpg", ""),
    ("/other/400x300/a.jpg", ""),
    ("/images/400x300/", "format=webp&format=png"),
]

PROBE = """
import importlib.util, json, marshal, sys
files = json.loads(FILES)
magic = int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little")
failed = {}
for path, source in files.items():
    try:
        marshal.dumps(compile(source, path, "exec", dont_inherit=True))
    except (SyntaxError, ValueError) as exc:
        failed[path] = f"{type(exc).__name__}: {exc}"
import os
os.makedirs("/tmp/lambda", exist_ok=True)
for path, source in files.items():
    if "/" not in path:  # the handler's own modules, at the zip root
        with open(f"/tmp/lambda/{path}", "w") as out:
            out.write(source)
sys.path.insert(0, "/tmp/lambda")
import resize_request as module
answers = [repr(module.parse_request(uri, query, SIZES, FORMATS)) for uri, query in CASES]
json.dumps({"version": list(sys.version_info[:3]), "magic": magic, "compiled": len(files),
            "failed": failed, "answers": answers})
"""


@pytest.fixture(scope="module")
def python313():
    isolate = WorkerIsolate.interpreter()
    yield isolate
    isolate.close()


def lambda_sources() -> dict[str, str]:
    artifact = build_function("image_resizer")
    with zipfile.ZipFile(artifact.path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()
                if name.endswith(".py")}


def test_every_bundle_module_compiles_on_313_and_resize_request_agrees(python313):
    files = lambda_sources()
    assert "handler.py" in files and any(name.startswith("PIL/") for name in files)
    code = (f"FILES = {json.dumps(json.dumps(files))}\nSIZES = {SIZES!r}\n"
            f"FORMATS = {FORMATS!r}\nCASES = {CASES!r}\n" + PROBE)

    result = json.loads(python313.run_python(code))

    assert result["version"][:2] == [3, 13]
    assert result["magic"] == LAMBDA_PYTHON_MAGIC
    assert result["failed"] == {}
    assert result["compiled"] == len(files)
    here = load_function_module(function_dir("image_resizer"), "resize_request.py")
    assert result["answers"] == [repr(here.parse_request(uri, query, SIZES, FORMATS))
                                 for uri, query in CASES]
