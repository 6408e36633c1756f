"""Worker versions in the twin, and the local canary split between two of them.

Each `edgekit up` records what every Worker script runs (its modules, bindings, main module,
compatibility date and flags) under `<state>/workers/<script>/versions/<id>.json`, the id
being the sha256 of that record, and appends the id to `versions/index.json` when it differs
from the last one. The version recorded before the current one is the *stable* version; the
current one is the *candidate*.

`edgekit canary start --stack local [--weight P]` writes `<state>/canary.json`
({"weight": P, "header": true}); while it is there, each Worker's stable version serves the
requests, and the candidate serves those carrying `X-Edgekit-Canary: 1` (when "header") and
a sticky P % of clients (hash of the client IP), as Cloudflare's percentage deployments and
CloudFront's continuous deployment do. `abort` sets the weight to 0 and the header off;
`promote` removes the file: the candidate serves everything. The file is re-read when it
changes, without a restart. Answers carry `X-Edgekit-Version: <id[:12]>` (twin only).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

CANARY_FILE = "canary.json"
CANARY_HEADER = "x-edgekit-canary"
VERSION_HEADER = "X-Edgekit-Version"
_BUCKETS = 10_000


def _write(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    temporary.write_text(json.dumps(document, sort_keys=True))
    temporary.replace(path)


def record(script_dir: Path, modules: dict[str, str | bytes], spawn: dict[str, Any]) -> str:
    """Record a script's version (modules + how it is spawned); its id."""
    document = {
        "modules": {path: base64.b64encode(part.encode() if isinstance(part, str) else part
                                           ).decode("ascii")
                    for path, part in sorted(modules.items())},
        "spawn": spawn,
    }
    text = json.dumps(document, sort_keys=True)
    version = hashlib.sha256(text.encode()).hexdigest()
    folder = script_dir / "versions"
    if not (folder / f"{version}.json").is_file():
        _write(folder / f"{version}.json", document)
    index = history(script_dir)
    if not index or index[-1] != version:
        _write(folder / "index.json", [*index, version])
    return version


def history(script_dir: Path) -> list[str]:
    index = script_dir / "versions" / "index.json"
    return json.loads(index.read_text()) if index.is_file() else []


def stable_before(script_dir: Path, current: str) -> str | None:
    """The last recorded version other than `current`, or None."""
    earlier = [version for version in history(script_dir) if version != current]
    return earlier[-1] if earlier else None


def load(script_dir: Path, version: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    document = json.loads((script_dir / "versions" / f"{version}.json").read_text())
    modules = {path: base64.b64decode(part) for path, part in document["modules"].items()}
    return modules, document["spawn"]


class CanaryFile:
    """`<state>/canary.json`, re-read when its mtime changes."""

    def __init__(self, state_root: Path) -> None:
        self.path = state_root / CANARY_FILE
        self._stamp: float | None = None
        self._value: dict[str, Any] | None = None

    def current(self) -> dict[str, Any] | None:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            self._stamp, self._value = None, None
            return None
        if stamp != self._stamp:
            self._stamp, self._value = stamp, json.loads(self.path.read_text())
        return self._value


def write_canary(state_root: Path, weight: float | None, header: bool = True) -> Path:
    """Start (weight, header) or abort (0, False) the local canary; None removes it."""
    path = state_root / CANARY_FILE
    if weight is None:
        path.unlink(missing_ok=True)
    else:
        _write(path, {"weight": weight, "header": header})
    return path


def goes_to_candidate(canary: dict[str, Any], headers: dict[str, str], client_ip: str) -> bool:
    """The candidate answers: by the header, or for a sticky `weight` % of client IPs."""
    if canary.get("header") and headers.get(CANARY_HEADER) == "1":
        return True
    weight = float(canary.get("weight") or 0)
    digest = hashlib.sha256(f"canary\0{client_ip}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % _BUCKETS < round(weight * _BUCKETS / 100)
