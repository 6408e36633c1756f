"""`python -m edgekit_iac bundle [NAME ...]`: build function zips, one line per function.

Each line is `<name> <path> <bytes> <sha256>`, so scripts can read it with `read`
or `split()`. Errors (bad manifest, unknown name, bundle over its size limit)
are UserErrors that `edgekit_iac.cli` prints and turns into exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgekit_iac.bundle.build import HOST, build_all
from edgekit_iac.bundle.manifest import display_path
from edgekit_iac.paths import writable_dir
from edgekit_iac.progress import progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="function folders under functions/ to build (default: all of them)",
    )
    parser.add_argument(
        "--python-version",
        default="3.13",
        metavar="VERSION",
        help=(
            "CPython version to vendor wheels for (default: 3.13, Lambda's runtime, with"
            f" manylinux x86_64 wheels); {HOST!r} builds for this interpreter and platform"
        ),
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the zips go (default: .edgekit/bundles/ under the project root)",
    )


def run(args: argparse.Namespace) -> int:
    if args.out_dir is not None:
        writable_dir(args.out_dir, "--out-dir")
    label = f"edgekit bundle: building {', '.join(args.names) if args.names else 'every function'}"
    with progress(lambda line: print(line, file=sys.stderr, flush=True), label):
        artifacts = build_all(
            args.names or None, python_version=args.python_version, out_dir=args.out_dir
        )
    for artifact in artifacts:
        print(f"{artifact.name} {display_path(artifact.path)} {artifact.size} {artifact.sha256}")
    return 0
