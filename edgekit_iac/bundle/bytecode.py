"""Ship bytecode in Lambda@Edge bundles: every `.py` gets its `__pycache__/*.pyc`.

Lambda's /var/task is read-only, so Python cannot cache the bytecode it compiles: a bundle
without `.pyc` files pays for compiling its sources (the resizer's own modules and Pillow's)
on every cold start. The bundle carries them instead, compiled by the interpreter the target
runs:

- target "3.13" (Lambda's python3.13): Pyodide's CPython 3.13 under Node (npm `pyodide`,
  the Workers runtime that ``edgekit_iac.twin.cloudflare.node_setup`` installs). Its bytecode
  is CPython 3.13's (magic number 3571, as on Lambda); no other 3.13 is available here;
- target "host" (local cold-start measurements): this interpreter;
- any other version: no bytecode (none of the available interpreters can make it).

The `.pyc` files are hash-based and *unchecked* (PEP 552): the header holds a hash of the
source instead of its mtime, so the bytes do not depend on when or where the bundle was
built (the zip stays byte-reproducible), and the interpreter loads them without hashing the
source again. The sources stay in the zip, for tracebacks. Each `.pyc` is compiled with the
zip-relative path as its file name; the import system replaces it with the real path.

Compiled files are cached per (compiler, path, source) in a `bytecode/` folder next to the
wheel cache, so only the first build of a given Pillow pays for starting Pyodide (seconds).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from edgekit_iac.bundle.manifest import BundleError
from edgekit_iac.bundle.vendor import Target

LAMBDA_PYTHON = "3.13"
LAMBDA_CACHE_TAG = "cpython-313"
# importlib.util.MAGIC_NUMBER of CPython 3.13 (Lib/importlib/_bootstrap_external.py).
MAGIC_313 = (3571).to_bytes(2, "little") + b"\r\n"
_SCRIPT = Path(__file__).with_name("pyc_compile.mjs")
_COMPILE_TIMEOUT = 600


def pyc_name(source: str, cache_tag: str) -> str:
    """Where the import system looks for `source`'s bytecode: a/b.py -> a/__pycache__/b.TAG.pyc."""
    folder, _, filename = source.rpartition("/")
    stem = filename[: -len(".py")]
    return f"{folder + '/' if folder else ''}__pycache__/{stem}.{cache_tag}.pyc"


def compiler_id(target: Target) -> str | None:
    """What makes this target's bytecode (part of the bundle's input hash), or None for none."""
    if target.host:
        return f"host:{sys.implementation.cache_tag}:{sys.version}"
    if target.python_version == LAMBDA_PYTHON:
        return f"pyodide:{_pyodide_version()}"
    return None


def with_bytecode(
    entries: Mapping[str, bytes], target: Target, cache: Path
) -> dict[str, bytes]:
    """`entries` plus an unchecked-hash `.pyc` for every `.py` (none if the target has no
    compiler here, see the module docstring); compiled files are kept in `cache`."""
    compiler = compiler_id(target)
    result = dict(entries)
    if compiler is None:
        return result
    sources = {name: data for name, data in entries.items() if name.endswith(".py")}
    cache_tag = sys.implementation.cache_tag if target.host else LAMBDA_CACHE_TAG
    compiled: dict[str, bytes] = {}
    missing: dict[str, bytes] = {}
    for name, source in sources.items():
        cached = cache / f"{_cache_key(compiler, name, source)}.pyc"
        try:
            compiled[name] = cached.read_bytes()
        except OSError:
            missing[name] = source
    if missing:
        fresh = _compile_host(missing) if target.host else _compile_pyodide(missing)
        for name, pyc in fresh.items():
            _store(cache / f"{_cache_key(compiler, name, missing[name])}.pyc", pyc)
        compiled.update(fresh)
    for name, pyc in compiled.items():
        target_name = pyc_name(name, cache_tag)
        if target_name in result:
            raise BundleError(f"{target_name} is both shipped and compiled; drop the shipped one")
        result[target_name] = pyc
    return result


def verify_pyodide(entries: Mapping[str, bytes]) -> dict[str, str]:
    """{source: problem} for every `.py` in `entries` whose 3.13 `.pyc` is missing or invalid
    (wrong magic, not hash-based, hash not of the shipped source, does not unmarshal): checked
    by CPython 3.13 itself (Pyodide). Empty when all is well."""
    problems: dict[str, str] = {}
    files = {}
    for name, source in entries.items():
        if not name.endswith(".py"):
            continue
        pyc = entries.get(pyc_name(name, LAMBDA_CACHE_TAG))
        if pyc is None:
            problems[name] = "no .pyc"
            continue
        files[name] = {"source": _b64(source), "pyc": _b64(pyc)}
    problems.update(_run_pyodide("verify", files)["result"])
    return problems


# --- compilers --------------------------------------------------------------------------------


def _compile_host(sources: Mapping[str, bytes]) -> dict[str, bytes]:
    from importlib._bootstrap_external import _code_to_hash_pyc  # the one importlib uses

    out = {}
    for name in sorted(sources):
        try:
            code = compile(sources[name], name, "exec", dont_inherit=True, optimize=0)
        except SyntaxError:
            continue  # as compileall does: the interpreter will report it if it is imported
        out[name] = bytes(
            _code_to_hash_pyc(code, importlib.util.source_hash(sources[name]), checked=False)
        )
    return out


def _compile_pyodide(sources: Mapping[str, bytes]) -> dict[str, bytes]:
    answer = _run_pyodide("compile", {name: _b64(data) for name, data in sources.items()})
    if answer.get("magic") != MAGIC_313.hex():
        raise BundleError(
            f"Pyodide's interpreter ({answer.get('version')}) writes bytecode magic "
            f"{answer.get('magic')}, not CPython 3.13's {MAGIC_313.hex()}: its bytecode would "
            "not load on Lambda's python3.13; pin the Pyodide that ships CPython 3.13"
        )
    return {name: base64.b64decode(data) for name, data in answer["result"].items()}


def _run_pyodide(mode: str, files: Mapping[str, object]) -> dict:
    from edgekit_iac.twin.cloudflare import node_setup  # the Workers runtime's Node + Pyodide

    try:
        runtime = node_setup.ensure()
    except node_setup.NodeRuntimeError as exc:
        raise BundleError(
            "Lambda bundles ship CPython 3.13 bytecode, compiled by Pyodide under Node: " + str(exc)
        ) from exc
    command = [runtime.node, str(_SCRIPT), f"--packages={runtime.packages}"]
    try:
        done = subprocess.run(
            command,
            input=json.dumps({"mode": mode, "files": files}),
            capture_output=True,
            text=True,
            timeout=_COMPILE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BundleError(f"compiling bytecode with Pyodide failed to run: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-12:])
        raise BundleError(
            f"compiling bytecode with Pyodide failed (exit {done.returncode}):\n{tail}"
        )
    return json.loads(done.stdout)


# --- cache ------------------------------------------------------------------------------------


def _cache_key(compiler: str, name: str, source: bytes) -> str:
    digest = hashlib.sha256()
    for part in (compiler.encode(), name.encode(), source):
        digest.update(f"{len(part)}:".encode())
        digest.update(part)
    return digest.hexdigest()


def _store(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temp.write_bytes(data)
        os.replace(temp, path)
    except OSError:
        pass  # a cache that cannot be written only costs the next build a compile


def _pyodide_version() -> str:
    from edgekit_iac.twin.cloudflare import node_setup

    manifest = json.loads((node_setup.PACKAGE_DIR / "package.json").read_text(encoding="utf-8"))
    return str(manifest["dependencies"]["pyodide"])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
