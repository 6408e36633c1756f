"""The twin's local canary, shared by Workers (cloudflare/versions.py) and the CloudFront
image distribution (aws/continuous_deployment.py): recorded versions, the split, the counts.

Recorded versions: each side keeps `<folder>/versions/index.json`, the ids of what it ran, in
order; the last one is the *candidate*, the one before it the *stable* version.

The split: `edgekit canary start --stack local [--weight P]` writes `<state>/canary.json`
({"weight": P, "header": true, "run": "<token>"}). While it is there, the stable versions
serve, and the candidates serve the requests carrying `X-Edgekit-Canary: 1` (when "header")
and a sticky P % of clients (a hash of the client IP), as Cloudflare's percentage
deployments and CloudFront's continuous deployment do. `abort` sets the weight to 0 and the
header off; `promote` removes the file: the candidates serve everything. The file is
re-read when it changes, without a restart. Answers carry `X-Edgekit-Version: <id[:12]>`.

The counts: while a canary runs, every answer is counted per side and version (requests,
and errors: status 5xx) in `<state>/canary-counts.json`, tagged with the run's token, so
that `edgekit canary promote --stack local` applies the cloud's guard (at least N requests,
an error rate under the threshold) to what this run's candidates served.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CANARY_FILE = "canary.json"
COUNTS_FILE = "canary-counts.json"
SETTINGS_FILE = "canary-settings.json"
BUNDLES_DIR = "canary"  # lambda/canary/<function>/versions/: the image function's bundles
CANARY_HEADER = "x-edgekit-canary"
VERSION_HEADER = "X-Edgekit-Version"
_BUCKETS = 10_000


def write_json(path: Path, document: Any) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    temporary.write_text(json.dumps(document, sort_keys=True))
    temporary.replace(path)


def history(folder: Path) -> list[str]:
    """The recorded version ids of one side (a Worker script, a Lambda function), oldest
    first."""
    index = folder / "versions" / "index.json"
    return json.loads(index.read_text()) if index.is_file() else []


def append_version(folder: Path, version: str) -> None:
    """`version` becomes the newest recorded one, unless it already is."""
    index = history(folder)
    if not index or index[-1] != version:
        write_json(folder / "versions" / "index.json", [*index, version])


def bundles_root(state_root: Path) -> Path:
    return state_root / "lambda" / BUNDLES_DIR


def record_file(folder: Path, source: Path, suffix: str = ".zip") -> str:
    """Keep a copy of a file (a function bundle) as the newest recorded version; its id
    (sha256 of its bytes)."""
    version = hashlib.sha256(source.read_bytes()).hexdigest()
    stored = folder / "versions" / f"{version}{suffix}"
    if not stored.is_file():
        stored.parent.mkdir(parents=True, exist_ok=True)
        temporary = stored.with_name(f".{stored.name}.{os.getpid()}.tmp")
        shutil.copyfile(source, temporary)
        temporary.replace(stored)
    append_version(folder, version)
    return version


def write_settings(state_root: Path, config: Mapping[str, Any]) -> None:
    """The served stack's canary settings, validated, for `edgekit canary --stack local`:
    it reads what this twin serves, without parsing the stack file again."""
    from edgekit_iac.config import NAMESPACE, parse_settings

    values = {key.partition(":")[2]: value for key, value in config.items()
              if key.startswith(f"{NAMESPACE}:")}
    settings = parse_settings(values, "the twin's stack config")

    def section(canary: Any, share: float) -> dict[str, Any] | None:
        return None if canary is None else {"weightPercent": share,
                                            "minRequests": canary.min_requests,
                                            "maxErrorRate": canary.max_error_rate}

    images = settings.images.canary
    wrapper = settings.cloudflare.cache_wrapper if settings.cloudflare else None
    workers = {wrapper.script_name: section(wrapper.canary, wrapper.canary.percent)
               } if wrapper is not None and wrapper.canary is not None else {}
    write_json(state_root / SETTINGS_FILE, {
        "images": section(images, images.weight_percent) if images is not None else None,
        "workers": workers})


def read_settings(state_root: Path) -> dict[str, Any]:
    path = state_root / SETTINGS_FILE
    return json.loads(path.read_text()) if path.is_file() else {"images": None, "workers": {}}


def stable_in(recorded: list[str], current: str) -> str | None:
    """The last of `recorded` other than `current`, or None."""
    earlier = [version for version in recorded if version != current]
    return earlier[-1] if earlier else None


def stable_before(folder: Path, current: str) -> str | None:
    """The last recorded version other than `current`, or None."""
    return stable_in(history(folder), current)


class WatchedJson:
    """A JSON file read per request, parsed again only when it was replaced (write_json
    gives every write a new inode) or changed; None while it is absent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._value: Any = None

    def current(self) -> Any:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._value = None, None
            return None
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._stamp, self._value = stamp, json.loads(self.path.read_text())
        return self._value


class CanaryFile(WatchedJson):
    """`<state>/canary.json`, re-read when it changes."""

    def __init__(self, state_root: Path) -> None:
        super().__init__(state_root / CANARY_FILE)


def read_canary(state_root: Path) -> dict[str, Any] | None:
    path = state_root / CANARY_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def write_canary(state_root: Path, weight: float | None, header: bool = True,
                 new_run: bool = False) -> Path:
    """Start (weight, header; `new_run` restarts the counts) or abort (0, False) the local
    canary; None removes it (promote)."""
    path = state_root / CANARY_FILE
    if weight is None:
        path.unlink(missing_ok=True)
        return path
    before = read_canary(state_root) or {}
    run = before.get("run") if before.get("run") and not new_run else secrets.token_hex(8)
    write_json(path, {"weight": weight, "header": header, "run": run})
    return path


def goes_to_candidate(canary: dict[str, Any], headers: dict[str, str], client_ip: str) -> bool:
    """The candidate answers: by the header, or for a sticky `weight` % of client IPs."""
    if canary.get("header") and headers.get(CANARY_HEADER) == "1":
        return True
    weight = float(canary.get("weight") or 0)
    digest = hashlib.sha256(f"canary\0{client_ip}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % _BUCKETS < round(weight * _BUCKETS / 100)


class ServedCounts:
    """Requests and 5xx answers per side and version during one canary run, on disk."""

    def __init__(self, state_root: Path) -> None:
        self.path = state_root / COUNTS_FILE
        self._lock = threading.Lock()
        self._run: str | None = None
        self._sides: dict[str, dict[str, dict[str, int]]] = {}

    def count(self, canary: dict[str, Any] | None, side: str, version: str | None,
              status: int) -> None:
        if canary is None or not version:
            return  # no canary running: nothing to guard, nothing written
        with self._lock:
            run = str(canary.get("run") or "")
            if run != self._run:
                self._run, self._sides = run, {}
            served = self._sides.setdefault(side, {}).setdefault(
                version, {"requests": 0, "errors": 0})
            served["requests"] += 1
            served["errors"] += status >= 500
            write_json(self.path, {"run": run, "sides": self._sides})


_COUNTS: dict[Path, ServedCounts] = {}
_COUNTS_LOCK = threading.Lock()


def served_counts(state_root: Path) -> ServedCounts:
    """The one counter of a state directory in this process (Workers and CloudFront share
    its file)."""
    with _COUNTS_LOCK:
        return _COUNTS.setdefault(state_root.resolve(), ServedCounts(state_root))


def read_counts(state_root: Path) -> dict[str, dict[str, dict[str, int]]]:
    """What the running canary's candidates served: side -> version -> counts; empty when
    the counts belong to an earlier run (or none)."""
    canary = read_canary(state_root)
    path = state_root / COUNTS_FILE
    if canary is None or not path.is_file():
        return {}
    document = json.loads(path.read_text())
    return document.get("sides") or {} if document.get("run") == canary.get("run") else {}
