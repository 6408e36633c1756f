"""One change of a stack's artifact pins, shared by `edgekit promote` and `edgekit rollback`.

`plan` checks everything before anything is written: the stack file exists and is editable,
no function the stack pins today would lose its pin, and every new pin's zip is in the
artifact store with the pinned hash. `apply` then writes the stack file atomically and
records the change in the stack's pin history.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from edgekit_iac.errors import UserError
from edgekit_iac.paths import build_dir, project_root
from edgekit_iac.release import history as pin_history
from edgekit_iac.release import pin_artifacts, stack_files
from edgekit_iac.release.pins import (
    Pin,
    changed,
    diff,
    pins_in,
    read_text,
    with_pins,
    write_atomically,
)


@dataclass(frozen=True)
class PinChange:
    stack: str
    path: Path
    old_text: str
    new_text: str
    previous: dict[str, Pin]
    pins: dict[str, Pin]
    artifacts: dict[str, Path]

    @property
    def label(self) -> str:
        try:
            return str(self.path.relative_to(project_root()))
        except ValueError:
            return str(self.path)

    @property
    def changes(self) -> list[str]:
        return changed(self.previous, self.pins)

    @property
    def diff(self) -> str:
        return diff(self.old_text, self.new_text, self.label)


def add_arguments(parser: argparse.ArgumentParser, artifacts_help: str) -> None:
    """The options every pin change takes: where the zips are, and whether to write."""
    parser.add_argument("--artifacts", type=Path, metavar="DIR", help=artifacts_help)
    parser.add_argument(
        "--dry-run", action="store_true", help="print the change to the stack file, write nothing"
    )


def plan(stack: str, pins: Mapping[str, Pin], store: Path | None = None) -> PinChange:
    path = stack_files.stack_file(stack)
    if not path.is_file():
        known = ", ".join(stack_files.known_stacks()) or "none"
        raise UserError(f"no stack file {path} for stack {stack!r} (stacks here: {known})")
    old_text = read_text(path)
    previous = pins_in(old_text, path)
    lost = sorted(set(previous) - set(pins))
    if lost:
        raise UserError(
            f"refusing: {path} pins {', '.join(lost)} today, and the new pins have none for "
            f"{'it' if len(lost) == 1 else 'them'} ({', '.join(sorted(pins))}); "
            f"the stack would lose {'that key' if len(lost) == 1 else 'those keys'}"
        )
    artifacts = pin_artifacts.verify(pins, store or build_dir())
    return PinChange(
        stack=stack,
        path=path,
        old_text=old_text,
        new_text=with_pins(old_text, pins, path),
        previous=previous,
        pins=dict(pins),
        artifacts=artifacts,
    )


def apply(change: PinChange, action: str) -> Path:
    """Write the stack file, then record the change; returns the history file."""
    write_atomically(change.path, change.new_text)
    entry = pin_history.Entry(
        at=pin_history.now(), action=action, previous=change.previous, written=change.pins
    )
    return pin_history.append(change.stack, entry)


def report(change: PinChange, *, dry_run: bool, action: str) -> int:
    """Print the change (and write it unless `dry_run`): the CLI end of promote and rollback."""
    if not change.changes:
        print(f"{change.label} already pins these artifacts; nothing to change.")
        return 0
    print(f"{action}: {change.stack}")
    for line in change.changes:
        print(f"  {line}")
    print()
    print(change.diff, end="")
    if dry_run:
        print("\ndry run: nothing was written.")
        return 0
    history = apply(change, action)
    print(f"\nwrote {change.label}; recorded in {history.relative_to(project_root())}")
    store = {path.parent.resolve() for path in change.artifacts.values()}
    if store and store != {build_dir().resolve()}:
        print(
            f"note: `pulumi up` looks for pinned zips in {build_dir()}; copy them there from "
            f"{', '.join(str(s) for s in sorted(store))} before deploying"
        )
    return 0
