"""Where edgekit finds its function sources and writes its build and state files."""

from __future__ import annotations

import os
from pathlib import Path


def functions_root() -> Path:
    """The folder holding one subfolder per deployable function.

    Resolved through the `functions` package, so it works from a checkout and
    from `pip install .` alike (the sources ship as package data).
    """
    import edgekit_iac.functions as functions

    return Path(functions.__file__).resolve().parent


def function_dir(name: str) -> Path:
    path = functions_root() / name
    if not (path / "function.toml").is_file():
        known = ", ".join(sorted(available_functions())) or "none"
        raise FileNotFoundError(f"no edge function named {name!r} (known: {known})")
    return path


def available_functions() -> list[str]:
    root = functions_root()
    return sorted(p.name for p in root.iterdir() if (p / "function.toml").is_file())


def project_root() -> Path:
    """The directory .edgekit/ lives in: EDGEKIT_HOME, else the working directory."""
    return Path(os.environ.get("EDGEKIT_HOME") or Path.cwd()).resolve()


# Bundles live in a folder of edgekit's own, not in build/: that one belongs to whoever runs
# `pulumi up` (a consumer project's own build/), and setuptools leaves build/lib and
# build/bdist.* there when the repository is pip-installed.
BUNDLES_DIR = ".edgekit/bundles"


def build_dir() -> Path:
    """Where function bundles (zips and their sidecars) go: <project root>/.edgekit/bundles."""
    return project_root() / BUNDLES_DIR


def user_cache_dir() -> Path:
    """edgekit's per-user cache (downloaded wheels): EDGEKIT_CACHE_DIR, else the platform's
    user cache folder (~/.cache/edgekit-iac on Linux, honouring XDG_CACHE_HOME)."""
    override = os.environ.get("EDGEKIT_CACHE_DIR")
    if override:
        return Path(override).resolve()
    import platformdirs

    return Path(platformdirs.user_cache_dir("edgekit-iac", appauthor=False))


def state_dir(stack: str) -> Path:
    return project_root() / ".edgekit" / stack


def writable_dir(path: Path, option: str) -> Path:
    """`path` created if missing and probed with a file, or a UserError naming `option`.

    Commands check the directories they were given before any slow work, so a typo or a
    read-only place is one line, not a traceback after minutes of bundling."""
    import tempfile

    from edgekit_iac.errors import UserError

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise UserError(f"{option} {path}: cannot write there ({error.strerror or error}); "
                        "give a directory you can write to") from None
    return path
