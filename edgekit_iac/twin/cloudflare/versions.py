"""Worker versions in the twin, for the local canary (edgekit_iac/twin/canary_split.py).

Each `edgekit up` records what every Worker script runs (its modules, bindings, main module,
compatibility date and flags) under `<state>/workers/<script>/versions/<id>.json`, the id
being the sha256 of that record, and appends the id to `versions/index.json` when it differs
from the last one. The version recorded before the current one is the *stable* version; the
current one is the *candidate*. How `edgekit canary --stack local` splits requests between
them, and counts what each served, is canary_split.py's, shared with the CloudFront image
distribution.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from edgekit_iac.twin.canary_split import (  # noqa: F401 (the Workers host's names for them)
    VERSION_HEADER,
    CanaryFile,
    append_version,
    goes_to_candidate,
    history,
    stable_before,
    write_canary,
    write_json,
)


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
        write_json(folder / f"{version}.json", document)
    append_version(script_dir, version)
    return version


def load(script_dir: Path, version: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    document = json.loads((script_dir / "versions" / f"{version}.json").read_text())
    modules = {path: base64.b64decode(part) for path, part in document["modules"].items()}
    return modules, document["spawn"]
