"""Read and validate a function folder: its `function.toml` manifest and `requirements.txt`.

Everything here is a decision about the folder's text; nothing is built. Errors
name the file, what was wrong and what is accepted, so `edgekit bundle` can
print them as they are.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit_iac.errors import UserError

MANIFEST_FILE = "function.toml"
REQUIREMENTS_FILE = "requirements.txt"

# "lambda": a regular (regional) Lambda function, e.g. a Firehose transform.
KINDS = ("lambda-edge", "python-worker", "lambda")
VIEWER_TRIGGERS = ("viewer-request", "viewer-response")
ORIGIN_TRIGGERS = ("origin-request", "origin-response")
TRIGGERS = VIEWER_TRIGGERS + ORIGIN_TRIGGERS

# Zipped code-size limits as the providers state them ("MB" there is 2**20 bytes).
MIB = 1024 * 1024
LAMBDA_EDGE_VIEWER_LIMIT_MIB = 1
LAMBDA_EDGE_ORIGIN_LIMIT_MIB = 50
LAMBDA_LIMIT_MIB = 50  # a regular Lambda's zipped upload
# Workers: 3 MB compressed on the free plan, 10 MB on paid plans. The free plan is
# the default so a bundle never silently depends on a paid account;
# `[bundle] size_limit_mb = 10` opts in to the paid limit.
WORKERS_FREE_LIMIT_MIB = 3
WORKERS_PAID_LIMIT_MIB = 10

BUNDLE_TABLE_KEYS = ("exclude", "size_limit_mb", "shared")
# `[bundle] shared = ["edge_flags.py"]`: modules from functions/_shared/ that the function
# ships at its bundle's root, so two functions share one source instead of two copies.
SHARED_DIR = "_shared"

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_HANDLER = re.compile(rf"^{_IDENTIFIER}(\.{_IDENTIFIER})+$")
_MAIN_MODULE = re.compile(rf"^{_IDENTIFIER}\.py$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"(?P<extras>\[[A-Za-z0-9._,\s-]*\])?"
    r"\s*==\s*(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)$"
)
PIN_FORMAT_HELP = (
    "accepted: one exact pin `name==version` per line (extras allowed, e.g. `name[extra]==1.2.3`),"
    " blank lines and # comments; no version ranges, options, URLs or environment markers"
)


class BundleError(UserError):
    """A function could not be bundled: bad manifest, unresolvable requirement, size over limit."""


class ManifestError(BundleError):
    """`function.toml` or `requirements.txt` says something the bundler does not accept."""


@dataclass(frozen=True)
class Requirement:
    name: str
    version: str
    extras: str = ""  # "" or "[extra1,extra2]" as written

    @property
    def key(self) -> str:
        return normalize_name(self.name)

    @property
    def spec(self) -> str:
        return f"{self.name}{self.extras}=={self.version}"


@dataclass(frozen=True)
class FunctionManifest:
    name: str
    folder: Path
    kind: str
    version: str
    handler: str | None  # lambda-edge: "module.function"
    trigger: str | None  # lambda-edge: one of TRIGGERS
    main_module: str | None  # python-worker: "module.py"
    exclude: tuple[str, ...]  # prune patterns for vendored third-party files
    size_limit: int  # zipped bytes
    size_limit_reason: str  # which rule the limit comes from, for error messages
    requirements: tuple[Requirement, ...]
    raw: dict[str, Any]  # function.toml as parsed
    shared: tuple[str, ...] = ()  # module names from functions/_shared/ shipped at the root


def normalize_name(name: str) -> str:
    """PEP 503 project-name normalization: `Pillow`, `pillow` and `PILLOW` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_manifest(folder: Path) -> FunctionManifest:
    """Parse and validate `<folder>/function.toml` and the optional `requirements.txt`."""
    manifest_path = folder / MANIFEST_FILE
    where = display_path(manifest_path)
    try:
        raw = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ManifestError(f"{where}: missing; every function folder needs one") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ManifestError(f"{where}: not valid TOML: {error}") from error

    kind = raw.get("kind")
    if kind not in KINDS:
        raise ManifestError(f"{where}: kind = {kind!r} is not known; accepted: {_one_of(KINDS)}")
    version = raw.get("version")
    if not isinstance(version, str) or not _SEMVER.match(version):
        raise ManifestError(
            f'{where}: version = {version!r} is not a semantic version; accepted: e.g. "1.0.0"'
        )

    handler = trigger = main_module = None
    if kind in ("lambda-edge", "lambda"):
        handler = _require_str(raw, "handler", where, 'e.g. "handler.handler" (module.function)')
        if not _HANDLER.match(handler):
            raise ManifestError(
                f"{where}: handler = {handler!r} is not `module.function`;"
                ' accepted: e.g. "handler.handler"'
            )
        module_file = handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
        if not (folder / module_file).is_file():
            raise ManifestError(
                f"{where}: handler = {handler!r} names module file {module_file},"
                f" which is not in {display_path(folder)}"
            )
        trigger = raw.get("trigger") if kind == "lambda-edge" else None
        if kind == "lambda-edge" and trigger not in TRIGGERS:
            raise ManifestError(
                f"{where}: trigger = {trigger!r} is not a Lambda@Edge trigger;"
                f" accepted: {_one_of(TRIGGERS)}"
            )
    else:
        main_module = _require_str(raw, "main_module", where, 'e.g. "worker.py"')
        if not _MAIN_MODULE.match(main_module):
            raise ManifestError(
                f"{where}: main_module = {main_module!r} must be a top-level .py file name;"
                ' accepted: e.g. "cache_worker.py"'
            )
        if not (folder / main_module).is_file():
            raise ManifestError(
                f"{where}: main_module = {main_module!r} is not in {display_path(folder)}"
            )

    exclude, size_limit_mb = _bundle_table(raw.get("bundle", {}), where)
    shared = _shared_modules(raw.get("bundle", {}), folder, where)
    size_limit, reason = _size_limit(kind, trigger, size_limit_mb, where)
    return FunctionManifest(
        name=folder.name,
        folder=folder,
        kind=kind,
        version=version,
        handler=handler,
        trigger=trigger,
        main_module=main_module,
        exclude=exclude,
        size_limit=size_limit,
        size_limit_reason=reason,
        requirements=load_requirements(folder / REQUIREMENTS_FILE),
        raw=raw,
        shared=shared,
    )


def _shared_modules(table: Any, folder: Path, where: str) -> tuple[str, ...]:
    names = table.get("shared", []) if isinstance(table, dict) else []
    accepted = f'a list of .py file names in {SHARED_DIR}/, e.g. ["edge_flags.py"]'
    if not isinstance(names, list) or not all(
        isinstance(n, str) and _MAIN_MODULE.match(n) for n in names
    ):
        raise ManifestError(f"{where}: [bundle] shared = {names!r}; accepted: {accepted}")
    for name in names:
        if not (folder.parent / SHARED_DIR / name).is_file():
            raise ManifestError(f"{where}: [bundle] shared module {name} is not in "
                                f"{display_path(folder.parent / SHARED_DIR)}; accepted: {accepted}")
        if (folder / name).exists():
            raise ManifestError(f"{where}: [bundle] shared module {name} is also a file of "
                                "the function; rename one")
    return tuple(names)


def load_requirements(path: Path) -> tuple[Requirement, ...]:
    if not path.is_file():
        return ()
    return parse_requirements(path.read_text(encoding="utf-8"), display_path(path))


def parse_requirements(text: str, where: str) -> tuple[Requirement, ...]:
    """Exact pins only: the pins are part of the content hash, so a range would let
    the same hash stand for different code."""
    pins: dict[str, Requirement] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split(" #", 1)[0].strip()
        if not content or content.startswith("#"):
            continue
        match = _PIN.match(content)
        if not match:
            raise ManifestError(
                f"{where} line {number}: {content!r} is not an exact pin; {PIN_FORMAT_HELP}"
            )
        requirement = Requirement(
            name=match["name"],
            version=match["version"],
            extras=re.sub(r"\s+", "", match["extras"] or ""),
        )
        if requirement.key in pins:
            raise ManifestError(
                f"{where} line {number}: {requirement.name} is pinned twice; keep one pin"
            )
        pins[requirement.key] = requirement
    return tuple(pins.values())


def _require_str(raw: dict[str, Any], key: str, where: str, example: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        kind = raw.get("kind")
        raise ManifestError(f"{where}: {key} is required for kind = {kind!r}; accepted: {example}")
    return value


def _bundle_table(table: Any, where: str) -> tuple[tuple[str, ...], float | None]:
    if not isinstance(table, dict):
        raise ManifestError(
            f"{where}: [bundle] must be a table with keys {_one_of(BUNDLE_TABLE_KEYS)}"
        )
    unknown = sorted(set(table) - set(BUNDLE_TABLE_KEYS))
    if unknown:
        raise ManifestError(
            f"{where}: [bundle] key(s) {', '.join(unknown)} not known;"
            f" accepted: {_one_of(BUNDLE_TABLE_KEYS)}"
        )
    exclude = table.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(p, str) and p.strip() for p in exclude):
        raise ManifestError(
            f"{where}: [bundle] exclude must be a list of glob patterns for vendored files,"
            ' e.g. ["PIL/ImageTk.py", "PIL/_imagingtk.*"]'
        )
    size_limit_mb = table.get("size_limit_mb")
    if size_limit_mb is not None and (
        isinstance(size_limit_mb, bool)
        or not isinstance(size_limit_mb, int | float)
        or size_limit_mb <= 0
    ):
        raise ManifestError(
            f"{where}: [bundle] size_limit_mb = {size_limit_mb!r} must be a positive number of MiB"
        )
    return tuple(p.strip() for p in exclude), size_limit_mb


def _size_limit(
    kind: str, trigger: str | None, size_limit_mb: float | None, where: str
) -> tuple[int, str]:
    """The zipped size a bundle may reach: the platform's limit, or a stricter budget."""
    if kind == "lambda":
        rule, ceiling = "Lambda's zipped upload", LAMBDA_LIMIT_MIB
        default = ceiling
    elif kind == "lambda-edge":
        viewer = trigger in VIEWER_TRIGGERS
        ceiling = LAMBDA_EDGE_VIEWER_LIMIT_MIB if viewer else LAMBDA_EDGE_ORIGIN_LIMIT_MIB
        rule, default = f"Lambda@Edge {trigger} triggers", ceiling
    else:
        ceiling, rule = WORKERS_PAID_LIMIT_MIB, "the Workers paid-plan script limit"
        default = WORKERS_FREE_LIMIT_MIB
    if size_limit_mb is None:
        if kind == "python-worker":
            return default * MIB, (
                f"the Workers free-plan script limit of {default} MiB compressed"
                f" (set [bundle] size_limit_mb up to {ceiling} on a paid plan)"
            )
        return default * MIB, f"the {rule} limit of {default} MiB zipped"
    if size_limit_mb > ceiling:
        raise ManifestError(
            f"{where}: [bundle] size_limit_mb = {size_limit_mb} is above {rule}"
            f" ({ceiling} MiB); accepted: a number up to {ceiling}"
        )
    return int(size_limit_mb * MIB), f"the size_limit_mb = {size_limit_mb} budget in {where}"


def _one_of(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)
