"""What the figures were measured on: CPU, cores, memory, Python, library versions, date."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

# Distributions whose versions decide the figures (absent ones are reported as null).
PACKAGES = (
    "pillow",
    "pyvips",
    "pyvips-binary",
    "pulumi",
    "pulumi-aws",
    "pulumi-cloudflare",
    "botocore",
    "moto",
    "scikit-image",
)


def describe(repo_root: Path) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": {name: _version(name) for name in PACKAGES},
        "libraries": _libraries(),
        "git_commit": _git(repo_root, "rev-parse", "HEAD"),
        "git_dirty": bool(_git(repo_root, "status", "--porcelain", "--untracked-files=no")),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError):
        pass
    return None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _libraries() -> dict[str, str | None]:
    """The C libraries under Pillow and pyvips: codec versions change encode/decode speed."""
    from PIL import features

    found: dict[str, str | None] = {
        f"pillow_{name}": features.version(name)
        for name in ("libjpeg_turbo", "webp", "avif", "zlib")
    }
    try:
        import pyvips

        found["libvips"] = ".".join(str(pyvips.version(part)) for part in range(3))
    except Exception:  # pyvips absent or its binary unusable: report none
        found["libvips"] = None
    return found


def _git(repo_root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=repo_root, capture_output=True, text=True,
                              timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()
