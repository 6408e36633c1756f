"""`python -m edgekit_iac bundle [NAME ...]`: build function zips, one line per function.

Each line is `<name> <path> <bytes> <sha256>`, so scripts can read it with `read`
or `split()`. Errors (bad manifest, unknown name, bundle over its size limit)
are UserErrors that `edgekit_iac.cli` prints and turns into exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgekit_iac.bundle.build import HOST, Artifact, build_all
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


def build_with_progress(
    names: list[str] | None, *, python_version: str = "3.13", out_dir: Path | None = None
) -> list[Artifact]:
    """build_all, saying on stderr that a slow build is still going: `edgekit bundle`'s
    build, which `edgekit canary start --stack local` also runs for its candidate."""
    label = f"edgekit bundle: building {', '.join(names) if names else 'every function'}"
    with progress(lambda line: print(line, file=sys.stderr, flush=True), label):
        return build_all(names or None, python_version=python_version, out_dir=out_dir)


def run(args: argparse.Namespace) -> int:
    if args.out_dir is not None:
        writable_dir(args.out_dir, "--out-dir")
    artifacts = build_with_progress(
        args.names, python_version=args.python_version, out_dir=args.out_dir
    )
    for artifact in artifacts:
        print(f"{artifact.name} {display_path(artifact.path)} {artifact.size} {artifact.sha256}")
    return 0
