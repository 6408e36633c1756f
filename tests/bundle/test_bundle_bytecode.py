"""Lambda bundles ship CPython 3.13 bytecode for every module, and stay byte-reproducible.

The 3.13 bytecode is compiled by Pyodide's CPython 3.13 under Node and checked by it too (this
host may run 3.11, which cannot unmarshal 3.13 code); the host-target bundle shows that the
shipped unchecked-hash .pyc files are what the interpreter actually runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from edgekit_iac.bundle.build import build_function, wheel_cache_dir
from edgekit_iac.bundle.bytecode import MAGIC_313, pyc_name, verify_pyodide


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_resizer_bundle_holds_valid_313_bytecode_for_every_module(tmp_path):
    artifact = build_function("image_resizer", out_dir=tmp_path / "a")
    entries = _entries(artifact.path)
    sources = sorted(n for n in entries if n.endswith(".py"))
    assert "handler.py" in sources and "PIL/Image.py" in sources
    for name in sources:
        pyc = entries[pyc_name(name, "cpython-313")]
        assert pyc[:4] == MAGIC_313, name  # 3571, CPython 3.13's bytecode
        assert int.from_bytes(pyc[4:8], "little") == 0b01, name  # hash-based, unchecked
    # CPython 3.13 itself unmarshals every .pyc and checks its hash against the shipped source;
    # two modules broken on purpose show that the check can fail (one Pyodide start for all).
    broken = dict(entries)
    broken["contract.py"] = entries["contract.py"] + b"\n# edited after compiling\n"
    del broken[pyc_name("resize.py", "cpython-313")]
    assert verify_pyodide(broken) == {
        "contract.py": "source hash does not match the shipped source",
        "resize.py": "no .pyc",
    }

    # Compiled again from nothing (a bytecode cache of its own, next to the same wheels), the
    # zip is byte-identical.
    wheels = tmp_path / "cache" / "wheels"
    wheels.parent.mkdir()
    os.symlink(wheel_cache_dir(), wheels)
    again = build_function("image_resizer", out_dir=tmp_path / "b", wheel_cache=wheels)
    assert (tmp_path / "cache" / "bytecode").is_dir()
    assert again.sha256 == artifact.sha256


def test_the_interpreter_runs_the_shipped_bytecode(make_function, tmp_path):
    make_function("fn", '''kind = "lambda-edge"\nversion = "1.0.0"\nhandler = "handler.handler"
trigger = "origin-request"\n''', {"handler.py": "ANSWER = 'compiled'\n"})
    artifact = build_function(
        "fn", functions_root=tmp_path / "functions", out_dir=tmp_path / "out",
        python_version="host",
    )
    task = tmp_path / "task"
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(task)
    # Unchecked-hash bytecode is loaded without looking at the source: edit the source, and
    # the import still runs what was compiled into the bundle.
    (task / "handler.py").write_text("ANSWER = 'source'\n")
    done = subprocess.run(
        [sys.executable, "-B", "-I", "-c",
         "import sys; sys.path.insert(0, sys.argv[1]); import handler; print(handler.ANSWER)",
         str(task)],
        capture_output=True, text=True, check=True,
    )
    assert done.stdout.strip() == "compiled"
