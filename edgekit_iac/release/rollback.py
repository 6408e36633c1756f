"""`edgekit rollback --stack prod --to 1.2.0`: pin a stack back to artifacts it ran before.

The pins come from the stack's pin history (`stacks/.history/<stack>.json`, written by every
promote and rollback). `--to 1.2.0` rolls back every function the history knows at 1.2.0;
`--to image_resizer@1.2.0` only that one. The change is checked and written exactly like a
promotion: the zips must be in the artifact store, nothing else in the stack file changes.
"""

from __future__ import annotations

import argparse

from edgekit_iac.errors import UserError
from edgekit_iac.release import history as pin_history
from edgekit_iac.release import pin_change, stack_files
from edgekit_iac.release.pins import pins_in, read_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack to roll back, e.g. prod")
    parser.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="VERSION",
        help="a version the stack ran (1.2.0), or one function's (image_resizer@1.2.0)",
    )
    pin_change.add_arguments(
        parser, artifacts_help="directory holding the earlier zips (default: .edgekit/bundles/)"
    )


def run(args: argparse.Namespace) -> int:
    entries = pin_history.load(args.stack)
    if not entries:
        raise UserError(
            f"stack {args.stack!r} has no pin history ({pin_history.history_path(args.stack)}); "
            "it is written by `edgekit promote`, so there is nothing to roll back to yet"
        )
    path = stack_files.stack_file(args.stack)
    current = pins_in(read_text(path), path) if path.is_file() else {}
    pins = {**current, **pin_history.pins_for(entries, args.target, args.stack)}
    change = pin_change.plan(args.stack, pins, args.artifacts)
    return pin_change.report(change, dry_run=args.dry_run, action=f"rollback to {args.target}")
