"""`edgekit promote --from staging --to prod`: run in prod exactly what ran in staging.

Reads the artifacts the source stack deployed (its `artifacts` stack output, from
`--outputs FILE` or through the Pulumi Automation API), checks each zip is in the artifact
store with that hash, and writes the pins into the target's stack file, changing nothing
else in it. `--dry-run` prints the diff and writes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgekit_iac.errors import UserError
from edgekit_iac.release import pin_change, stack_outputs
from edgekit_iac.release.pins import pins_from_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="source", required=True, metavar="STACK", help="stack that ran them"
    )
    parser.add_argument(
        "--to", dest="target", required=True, metavar="STACK", help="stack file to pin them in"
    )
    parser.add_argument(
        "--outputs",
        type=Path,
        metavar="FILE",
        help="the source stack's outputs as `pulumi stack output --json --show-secrets` "
        "prints them (default: read them with the Pulumi CLI)",
    )
    pin_change.add_arguments(
        parser,
        artifacts_help="directory holding the source stack's zips (default: .edgekit/bundles/)",
    )


def run(args: argparse.Namespace) -> int:
    if args.source == args.target:
        raise UserError(f"--from and --to are both {args.source!r}; promote between two stacks")
    outputs = stack_outputs.read_outputs(args.source, args.outputs)
    pins = pins_from_outputs(outputs, args.source)
    change = pin_change.plan(args.target, pins, args.artifacts)
    return pin_change.report(change, dry_run=args.dry_run, action=f"promote from {args.source}")
