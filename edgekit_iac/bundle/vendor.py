"""Vendor a function's pinned third-party wheels into a folder with pip, for its target.

The target decides which wheels pip may pick (never the host's, unless asked):
Lambda@Edge gets CPython manylinux x86_64 wheels for the runtime's Python,
Python Workers get pure-Python wheels only (Pyodide cannot load platform code).
Wheels are kept in a cache folder: a build first installs from the cache with
no network, and downloads into it only when a pinned wheel is missing, so
repeated builds are offline and fast.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from edgekit_iac.bundle.manifest import BundleError, Requirement, normalize_name

HOST = "host"
# Lambda's Python 3.13 runs on Amazon Linux 2023 (glibc 2.34, x86_64 for Lambda@Edge);
# recent Pillow ships only manylinux_2_28 wheels, older packages only manylinux2014.
LAMBDA_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
_PYTHON_VERSION = re.compile(r"^3\.\d{1,2}$")


@dataclass(frozen=True)
class Target:
    """Which wheels pip may choose: a Python version and platform tags (or the host's)."""

    python_version: str  # "3.13"
    platforms: tuple[str, ...]  # () with host=True: the running interpreter's own tags
    implementation: str  # "cp" (CPython extension wheels allowed) or "py" (pure only)
    host: bool = False

    @property
    def pure_only(self) -> bool:
        return self.implementation == "py"

    def pip_args(self) -> list[str]:
        if self.host:
            return []
        args = [f"--platform={tag}" for tag in self.platforms]
        args += [
            f"--implementation={self.implementation}",
            f"--python-version={self.python_version}",
        ]
        if self.pure_only:
            args.append("--abi=none")
        return args

    def fingerprint(self) -> dict[str, object]:
        """What the content hash records about the target: change any of it, get a new artifact."""
        data: dict[str, object] = {
            "python": self.python_version,
            "platforms": list(self.platforms),
            "implementation": self.implementation,
        }
        if self.host:
            data["host"] = {
                "cache_tag": sys.implementation.cache_tag,
                "platform": sysconfig.get_platform(),
                "libc": list(platform.libc_ver()),
            }
        return data

    def describe(self) -> str:
        if self.host:
            return f"this interpreter (Python {self.python_version}, {sysconfig.get_platform()})"
        if self.pure_only:
            return f"pure-Python wheels (py3-none-any) for Python {self.python_version}"
        return f"CPython {self.python_version} on {' / '.join(self.platforms)}"


def target_for(kind: str, python_version: str) -> Target:
    """The wheel target of a function kind; python_version "3.X" or "host" (this interpreter)."""
    host = python_version == HOST
    if host:
        python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    elif not _PYTHON_VERSION.match(python_version):
        raise BundleError(
            f"python_version {python_version!r} is not accepted; accepted: '3.X' (e.g. '3.13',"
            f" Lambda's runtime) or {HOST!r} (this interpreter and its platform)"
        )
    if kind == "python-worker":
        # Pyodide loads only pure-Python wheels, so even "host" builds stay pure.
        return Target(python_version, ("any",), "py")
    if host:
        return Target(python_version, (), "cp", host=True)
    return Target(python_version, LAMBDA_PLATFORMS, "cp")


@dataclass(frozen=True)
class InstalledDistribution:
    name: str
    version: str
    dist_info: str  # folder name relative to the vendor root
    purelib: bool
    tags: tuple[str, ...]

    @property
    def key(self) -> str:
        return normalize_name(self.name)


def vendor(
    requirements: tuple[Requirement, ...], target: Target, dest: Path, wheel_cache: Path, who: str
) -> list[InstalledDistribution]:
    """Install the pinned wheels into empty `dest` from the cache, downloading what is missing."""
    specs = [requirement.spec for requirement in requirements]
    wheel_cache.mkdir(parents=True, exist_ok=True)
    install = [
        "install", "--no-index", f"--find-links={wheel_cache}", f"--target={dest}",
        "--only-binary=:all:", "--no-compile", *target.pip_args(), *specs,
    ]  # fmt: skip
    if _pip(install).returncode != 0:
        download = [
            "download", f"--dest={wheel_cache}", "--only-binary=:all:", *target.pip_args(), *specs,
        ]  # fmt: skip
        fetched = _pip(download)
        if fetched.returncode != 0:
            hint = (
                " Python Workers accept only pure-Python wheels (py3-none-any);"
                " a package with platform code cannot be vendored."
                if target.pure_only
                else ""
            )
            raise BundleError(
                f"{who}: pip found no wheel for {' '.join(specs)} as {target.describe()}.{hint}"
                f" pip said: {_tail(fetched)}"
            )
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        installed = _pip(install)
        if installed.returncode != 0:
            raise BundleError(
                f"{who}: pip could not install {' '.join(specs)} from the wheel cache {wheel_cache}"
                f" for {target.describe()}: {_tail(installed)}"
            )
    distributions = installed_distributions(dest)
    check_all_pinned(requirements, distributions, who)
    if target.pure_only:
        check_pure(distributions, who)
    return distributions


def installed_distributions(root: Path) -> list[InstalledDistribution]:
    found = []
    for dist_info in sorted(root.glob("*.dist-info")):
        metadata = HeaderParser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
        wheel = HeaderParser().parsestr((dist_info / "WHEEL").read_text(encoding="utf-8"))
        found.append(
            InstalledDistribution(
                name=metadata["Name"],
                version=metadata["Version"],
                dist_info=dist_info.name,
                purelib=(wheel.get("Root-Is-Purelib", "").strip().lower() == "true"),
                tags=tuple(wheel.get_all("Tag") or ()),
            )
        )
    return found


def check_all_pinned(
    requirements: tuple[Requirement, ...], distributions: list[InstalledDistribution], who: str
) -> None:
    """Every shipped package must be pinned: the pins are hashed, resolved dependencies are not."""
    pinned = {requirement.key for requirement in requirements}
    unpinned = [f"{d.name}=={d.version}" for d in distributions if d.key not in pinned]
    if unpinned:
        raise BundleError(
            f"{who}: requirements.txt does not pin {', '.join(unpinned)}, which its pins pull in;"
            " pin every shipped package exactly (add those lines) so the content hash covers it"
        )


def check_pure(distributions: list[InstalledDistribution], who: str) -> None:
    for dist in distributions:
        platform_tags = [tag for tag in dist.tags if not tag.endswith("-none-any")]
        if not dist.purelib or platform_tags or not dist.tags:
            raise BundleError(
                f"{who}: {dist.name}=={dist.version} ships platform code"
                f" (wheel tags: {', '.join(dist.tags) or 'none'}); Python Workers run on Pyodide"
                " and accept only pure-Python wheels (py3-none-any)"
            )


def _pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _tail(result: subprocess.CompletedProcess[str], lines: int = 6) -> str:
    text = (result.stderr or result.stdout).strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:] if line.strip()) or "(no output)"
