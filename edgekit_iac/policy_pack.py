"""`edgekit policy-pack-path`: where the installed policy pack is, for `--policy-pack`.

    pulumi preview --policy-pack "$(edgekit policy-pack-path)"

The pack ships inside the package (`edgekit_iac/policies/`, with its PulumiPolicy.yaml).
The Pulumi CLI runs it with PULUMI_PYTHON_CMD, else the `python3` on PATH (the pack names
no virtualenv), so that must be a Python with edgekit-iac installed: this one, printed on
stderr with `--explain`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgekit_iac.errors import UserError

PACK_FILE = "PulumiPolicy.yaml"


def pack_dir() -> Path:
    """The folder holding the installed pack's PulumiPolicy.yaml and __main__.py."""
    import edgekit_iac.policies as policies

    folder = Path(policies.__file__).resolve().parent
    missing = [name for name in (PACK_FILE, "__main__.py") if not (folder / name).is_file()]
    if missing:
        raise UserError(
            f"the policy pack in {folder} lacks {', '.join(missing)}; reinstall edgekit-iac"
            " (`pip install --force-reinstall edgekit-iac`)"
        )
    return folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also print, on stderr, the pulumi command line that uses it with this Python",
    )


def run(args: argparse.Namespace) -> int:
    folder = pack_dir()
    print(folder)
    if args.explain:
        print(
            f'PULUMI_PYTHON_CMD={sys.executable} pulumi preview --policy-pack "{folder}"',
            file=sys.stderr,
        )
    return 0
