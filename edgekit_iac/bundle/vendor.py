"""Vendor a function's pinned third-party wheels into a folder, with pip or uv, for its target.

The target decides which wheels may be picked (never the host's, unless asked):
Lambda@Edge gets CPython manylinux x86_64 wheels for the runtime's Python,
Python Workers get pure-Python wheels only (Pyodide cannot load platform code).

Whichever installer this environment has does the work: pip when the running
interpreter has it, else uv (a `uv venv` has no pip), else a BundleError that says
what to install. Wheels are kept in a per-user cache folder (see `wheel_cache_dir`):
a build first installs from it with no network; pip downloads what is missing into
it, uv fetches what is missing through its own per-user cache. Each wheel that has
to be downloaded is reported as one progress line, so a slow first build is not
silent; builds from the cache print nothing.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from edgekit_iac.bundle.manifest import BundleError, Requirement, normalize_name

HOST = "host"
# Lambda's Python 3.13 runs on Amazon Linux 2023 (glibc 2.34, x86_64 for Lambda@Edge);
# recent Pillow ships only manylinux_2_28 wheels, older packages only manylinux2014.
LAMBDA_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
UV_LAMBDA_PLATFORM = "x86_64-manylinux_2_28"
UV_PYODIDE_PLATFORM = "wasm32-pyodide2025"
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

    def uv_args(self) -> list[str]:
        """The same choice for `uv pip install`, which takes one platform name.

        uv's x86_64-manylinux_2_28 accepts every manylinux tag up to glibc 2.28 (manylinux2014
        included); Workers' pure-only target is Pyodide's platform, and any wheel with platform
        code it might still pick is refused afterwards by `check_pure`.
        """
        if self.host:
            return []
        platform_name = UV_PYODIDE_PLATFORM if self.pure_only else UV_LAMBDA_PLATFORM
        return [f"--python-platform={platform_name}", f"--python-version={self.python_version}"]

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


Progress = Callable[[str], None]


def _stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def vendor(
    requirements: tuple[Requirement, ...],
    target: Target,
    dest: Path,
    wheel_cache: Path,
    who: str,
    *,
    installer: Installer | None = None,
    progress: Progress | None = None,
) -> list[InstalledDistribution]:
    """Install the pinned wheels into empty `dest` from the cache, downloading what is missing."""
    specs = [requirement.spec for requirement in requirements]
    tool = installer or find_installer(who, specs)
    say = progress or _stderr_progress
    wheel_cache.mkdir(parents=True, exist_ok=True)
    if tool.install(specs, target, dest, wheel_cache, offline=True, progress=say).returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        fetched = tool.fetch(specs, target, dest, wheel_cache, progress=say)
        if fetched.returncode != 0:
            hint = (
                " Python Workers accept only pure-Python wheels (py3-none-any);"
                " a package with platform code cannot be vendored."
                if target.pure_only
                else ""
            )
            raise BundleError(
                f"{who}: {tool.name} found no wheel for {' '.join(specs)} as"
                f" {target.describe()}.{hint} {tool.name} said: {_tail(fetched)}"
            )
    (dest / ".lock").unlink(missing_ok=True)  # uv's lock file for --target, not a package file
    distributions = installed_distributions(dest)
    check_all_pinned(requirements, distributions, who)
    if target.pure_only:
        check_pure(distributions, who)
    return distributions


# --- installers -------------------------------------------------------------------------------

INSTALLER_ENV = "EDGEKIT_INSTALLER"  # "pip" or "uv": use that one, even when both are present


@dataclass(frozen=True)
class Installer:
    """pip (`python -m pip` of this interpreter) or uv (the `uv` executable)."""

    name: str  # "pip" | "uv"
    command: tuple[str, ...]  # what runs it: (python, "-m", "pip") or (uv,)

    def install(
        self,
        specs: list[str],
        target: Target,
        dest: Path,
        wheel_cache: Path,
        *,
        offline: bool,
        progress: Progress,
    ) -> subprocess.CompletedProcess[str]:
        """Install into `dest`; offline: only from the wheel cache (and uv's own cache)."""
        if self.name == "pip":
            args = [
                "install", "--no-index", f"--find-links={wheel_cache}", f"--target={dest}",
                "--only-binary=:all:", "--no-compile", *target.pip_args(), *specs,
            ]  # fmt: skip
            return self._run(args, progress)
        args = [
            "pip", "install", f"--python={sys.executable}", f"--target={dest}",
            f"--find-links={wheel_cache}", "--only-binary=:all:", "--no-compile",
            *target.uv_args(), *specs,
        ]  # fmt: skip
        if offline:
            args[2:2] = ["--offline", "--no-index"]
        return self._run(args, progress)

    def fetch(
        self, specs: list[str], target: Target, dest: Path, wheel_cache: Path, *, progress: Progress
    ) -> subprocess.CompletedProcess[str]:
        """Download what the cache lacks and install into `dest`."""
        if self.name == "uv":
            # uv has no `download`; it installs from the index, keeping wheels in its own cache.
            return self.install(specs, target, dest, wheel_cache, offline=False, progress=progress)
        download = [
            "download", f"--dest={wheel_cache}", "--only-binary=:all:", *target.pip_args(), *specs,
        ]  # fmt: skip
        fetched = self._run(download, progress)
        if fetched.returncode != 0:
            return fetched
        return self.install(specs, target, dest, wheel_cache, offline=True, progress=progress)

    def _run(self, args: list[str], progress: Progress) -> subprocess.CompletedProcess[str]:
        """Run the installer, passing each download it reports to `progress` as it happens."""
        env = {
            **os.environ,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "PIP_PROGRESS_BAR": "off",
            "UV_NO_PROGRESS": "1",
        }
        process = subprocess.Popen(
            [*self.command, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            wheel = downloaded_wheel(line)
            if wheel:
                progress(f"edgekit bundle: downloading {wheel} ({self.name})")
        returncode = process.wait()
        return subprocess.CompletedProcess(process.args, returncode, "".join(lines), "")


_PIP_DOWNLOAD = re.compile(r"^\s*Downloading\s+(\S+\.whl)(?:\s+\((.+)\))?")
_UV_DOWNLOAD = re.compile(r"^\s*Downloading\s+(\S+)\s+\(([^)]+)\)\s*$")


def downloaded_wheel(line: str) -> str | None:
    """The wheel (and size) a pip or uv output line says is being downloaded, else None."""
    match = _PIP_DOWNLOAD.match(line)
    if match:
        wheel = match.group(1).rsplit("/", 1)[-1]
        return f"{wheel} ({match.group(2)})" if match.group(2) else wheel
    match = _UV_DOWNLOAD.match(line)
    if match:
        return f"{match.group(1)} ({match.group(2)})"
    return None


def find_installer(who: str = "bundling", specs: list[str] | None = None) -> Installer:
    """pip if this interpreter has it, else uv; EDGEKIT_INSTALLER=pip|uv chooses explicitly."""
    wanted = os.environ.get(INSTALLER_ENV, "").strip().lower()
    if wanted not in ("", "pip", "uv"):
        raise BundleError(
            f"{INSTALLER_ENV}={wanted!r} is not accepted; accepted: 'pip', 'uv' (or unset:"
            " pip if this Python has it, else uv)"
        )
    pip = _pip_installer() if wanted in ("", "pip") else None
    if pip is not None:
        return pip
    uv = _uv_installer() if wanted in ("", "uv") else None
    if uv is not None:
        return uv
    needed = f" ({' '.join(specs)})" if specs else ""
    asked = f" ({INSTALLER_ENV}={wanted} asked for it)" if wanted else ""
    raise BundleError(
        f"{who}: vendoring its wheels{needed} needs pip or uv, and neither is available{asked}:"
        f" {sys.executable} has no pip module, and no `uv` is on PATH or beside that"
        " interpreter. Install one of them (`uv pip install --python"
        f" {sys.executable} pip`, `{sys.executable} -m ensurepip`, or `pip install uv`),"
        " or deploy a prebuilt bundle (the component's `artifact=` argument, or a pinned zip"
        " in the artifact store)"
    )


def _pip_installer() -> Installer | None:
    if importlib.util.find_spec("pip") is None:
        return None
    return Installer("pip", (sys.executable, "-m", "pip"))


def _uv_installer() -> Installer | None:
    beside = Path(sys.executable).parent / "uv"
    found = shutil.which("uv") or (str(beside) if os.access(beside, os.X_OK) else None)
    return Installer("uv", (found,)) if found else None


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


def _tail(result: subprocess.CompletedProcess[str], lines: int = 6) -> str:
    text = (result.stderr or result.stdout).strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:] if line.strip()) or "(no output)"
