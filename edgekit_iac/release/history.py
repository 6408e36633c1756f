"""Which pins a stack ran before: `stacks/.history/<stack>.json`, written on every change.

Each `edgekit promote` and `edgekit rollback` appends one entry with the pins it replaced
and the pins it wrote, so `edgekit rollback --to <version>` can find the exact artifact
(version and content hash) a stack ran with that version. The file lives next to the stack
files and is committed with them: the history travels with the repository.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit_iac.errors import UserError
from edgekit_iac.paths import project_root
from edgekit_iac.release.pins import Pin, parse_pins, write_atomically

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Entry:
    at: str
    """When the change was written, ISO 8601 UTC."""
    action: str
    """What wrote it, e.g. "promote from staging" or "rollback to 1.2.0"."""
    previous: dict[str, Pin] = field(default_factory=dict)
    written: dict[str, Pin] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "action": self.action,
            "previous": {name: pin.to_config() for name, pin in sorted(self.previous.items())},
            "written": {name: pin.to_config() for name, pin in sorted(self.written.items())},
        }


def history_path(stack: str) -> Path:
    return project_root() / "stacks" / ".history" / f"{stack}.json"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def load(stack: str) -> list[Entry]:
    path = history_path(stack)
    if not path.is_file():
        return []
    try:
        document = json.loads(path.read_text())
        entries = document["entries"]
        return [
            Entry(
                at=str(item["at"]),
                action=str(item["action"]),
                previous=parse_pins(item["previous"], f"{path}", allow_empty=True),
                written=parse_pins(item["written"], f"{path}", allow_empty=True),
            )
            for item in entries
        ]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise UserError(
            f"{path}: not a pin history edgekit wrote ({error!r}); restore it from git"
        ) from None


def append(stack: str, entry: Entry) -> Path:
    path = history_path(stack)
    entries = [*load(stack), entry]
    document = {
        "format": FORMAT_VERSION,
        "stack": stack,
        "entries": [item.to_json() for item in entries],
    }
    write_atomically(path, json.dumps(document, indent=2) + "\n")
    return path


def _recorded(entries: list[Entry]) -> list[tuple[str, Pin]]:
    """Every recorded (function, pin), most recent first."""
    found = []
    for entry in reversed(entries):
        for pins in (entry.written, entry.previous):
            found.extend(sorted(pins.items()))
    return found


def known_versions(entries: list[Entry]) -> dict[str, list[str]]:
    versions: dict[str, set[str]] = {}
    for name, pin in _recorded(entries):
        versions.setdefault(name, set()).add(pin.version)
    return {name: sorted(found, key=_version_key) for name, found in sorted(versions.items())}


def _version_key(version: str) -> tuple:
    core = version.split("-", 1)[0].split("+", 1)[0]
    return (*(int(part) for part in core.split(".")), version)


def pins_for(entries: list[Entry], target: str, stack: str) -> dict[str, Pin]:
    """The most recently recorded pin of `target` for each function that had it.

    `target` is a version ("1.2.0": every function that ran it) or "name@version" (one
    function). An unknown target is refused with the versions the history knows.
    """
    name, _, version = target.rpartition("@")
    selected: dict[str, Pin] = {}
    for function, pin in _recorded(entries):
        if pin.version == version and (not name or function == name) and function not in selected:
            selected[function] = pin
    if not selected:
        raise UserError(
            f"no recorded pins of {target!r} for stack {stack!r} "
            f"({history_path(stack)}); known: {_describe(known_versions(entries))}"
        )
    return selected


def _describe(versions: Mapping[str, list[str]]) -> str:
    if not versions:
        return "none yet (the history starts with the first `edgekit promote`)"
    return "; ".join(f"{name} {', '.join(found)}" for name, found in versions.items())
