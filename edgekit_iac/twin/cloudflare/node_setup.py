"""The Node side of the Workers runtime: check Node >= 20, install Pyodide from the lock file.

Python Workers run in Pyodide (npm ``pyodide``, pinned in ``pyodide/package.json`` and
``pyodide/package-lock.json`` next to this module) under Node. ``ensure()`` finds or
makes an ``npm ci`` install of that lock file:

* in a checkout, next to package.json (``make run`` / ``make test`` call this first);
* from an installed edgekit-iac whose package folder is read-only, in a per-user folder,
  ``$EDGEKIT_NODE_DIR`` or ``$XDG_CACHE_HOME/edgekit-iac/node/<lock sha256[:12]>``.

An install is reused while its stamp matches the lock file's sha256. Nothing is downloaded
at run time beyond this ``npm ci`` from the npm registry. Run it on its own with
``python -m edgekit_iac.twin.cloudflare.node_setup``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from edgekit_iac.errors import UserError

PACKAGE_DIR = Path(__file__).resolve().with_name("pyodide")
HOST_SCRIPT = PACKAGE_DIR / "host.mjs"
MIN_NODE = (20, 0)
STAMP = ".edgekit-lock-sha256"
INSTALL_HINT = (
    "Install Node.js 20 or newer with its npm: https://nodejs.org/en/download (or on "
    "Debian/Ubuntu `apt-get install nodejs npm` where the distribution ships Node >= 20, "
    "else NodeSource's node_20.x repository), make sure `node` and `npm` are on PATH, "
    "and run the command again."
)


class NodeRuntimeError(UserError):
    """Node or its packages are missing or too old; the message says what to install."""


@dataclass(frozen=True)
class NodeRuntime:
    node: str  # the node executable
    version: str  # e.g. "v20.20.2"
    packages: Path  # the folder whose node_modules/ holds the locked packages
    host: Path  # host.mjs

    def command(self, *extra: str) -> list[str]:
        return [self.node, str(self.host), f"--packages={self.packages}", *extra]


def node_version(node: str) -> tuple[str, tuple[int, int]]:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30,
                             check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise NodeRuntimeError(f"`{node} --version` failed ({exc}). {INSTALL_HINT}") from exc
    match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+.*", out)
    if not match:
        raise NodeRuntimeError(f"`{node} --version` said {out!r}, not a Node.js version. "
                               f"{INSTALL_HINT}")
    return out, (int(match[1]), int(match[2]))


def find_node() -> tuple[str, str]:
    node = os.environ.get("EDGEKIT_NODE") or shutil.which("node")
    if not node:
        raise NodeRuntimeError("edgekit runs Python Workers in Pyodide under Node.js >= 20, "
                               f"and there is no `node` on PATH. {INSTALL_HINT}")
    version, parts = node_version(node)
    if parts < MIN_NODE:
        raise NodeRuntimeError(f"edgekit runs Python Workers in Pyodide under Node.js >= 20; "
                               f"{node} is {version}. {INSTALL_HINT}")
    return node, version


def lock_digest() -> str:
    return hashlib.sha256((PACKAGE_DIR / "package-lock.json").read_bytes()).hexdigest()


def _installed(folder: Path, digest: str) -> bool:
    stamp = folder / "node_modules" / STAMP
    return stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest


def _user_dir(digest: str) -> Path:
    override = os.environ.get("EDGEKIT_NODE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "edgekit-iac" / "node" / digest[:12]


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK) and not (folder / "node_modules").is_symlink()


def _npm_ci(folder: Path, digest: str, say) -> None:
    npm = shutil.which("npm")
    if not npm:
        raise NodeRuntimeError(f"npm is not on PATH, and edgekit needs it once to install "
                               f"Pyodide from its lock file. {INSTALL_HINT}")
    if folder != PACKAGE_DIR:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(PACKAGE_DIR / name, folder / name)
    say(f"installing the Workers runtime (Pyodide) with npm ci into {folder} ...")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", "--ignore-scripts"],
        cwd=folder, capture_output=True, text=True, timeout=900,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise NodeRuntimeError(f"`npm ci` in {folder} failed (exit {result.returncode}); it "
                               f"needs the npm registry once. npm said:\n{tail}")
    (folder / "node_modules" / STAMP).write_text(digest + "\n", encoding="utf-8")


def ensure(say=lambda message: print(message, file=sys.stderr)) -> NodeRuntime:
    """Node >= 20 and an install of the locked packages, installing them when needed."""
    node, version = find_node()
    digest = lock_digest()
    for folder in (PACKAGE_DIR, _user_dir(digest)):
        if _installed(folder, digest):
            return NodeRuntime(node, version, folder, HOST_SCRIPT)
    folder = PACKAGE_DIR if _writable(PACKAGE_DIR) else _user_dir(digest)
    _npm_ci(folder, digest, say)
    return NodeRuntime(node, version, folder, HOST_SCRIPT)


def main() -> int:
    try:
        runtime = ensure()
    except NodeRuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Workers runtime ready: node {runtime.version}, packages in {runtime.packages}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
