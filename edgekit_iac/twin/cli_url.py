"""`python -m edgekit_iac url [NAME] --stack local`: where a running twin listens.

The ports differ from run to run (`--port-base 0`, `--port NAME=PORT`), so examples read
them from the running twin instead of hard-coding them:

    curl -i "$(python -m edgekit_iac url images-cdn)/images/400x300/samples/landscape.jpg"

With NAME it prints that listener's URL; without, one "NAME URL" line per listener. The
URLs come from `.edgekit/<stack>/endpoints.json`, which exists only while the twin runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgekit_iac import paths
from edgekit_iac.errors import UserError
from edgekit_iac.twin import state


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="a listener: status, s3, demo-origin or a logical resource name "
                             "such as images-cdn (default: list them all)")
    parser.add_argument("--stack", default="local", help="the running twin's stack")
    parser.add_argument("--state-dir", default=None,
                        help="the twin's state directory (default: .edgekit/<stack>)")


def run(args: argparse.Namespace) -> int:
    files = state.StateFiles(Path(args.state_dir).resolve() if args.state_dir
                             else paths.state_dir(args.stack))
    try:
        endpoints = json.loads(files.endpoints_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"no twin is running for stack {args.stack!r} (no readable "
                        f"{files.endpoints_file}); start one with `make run` or "
                        f"`python -m edgekit_iac up --stack {args.stack}`") from None
    if args.name is None:
        width = max(map(len, endpoints), default=0)
        for name, url in sorted(endpoints.items()):
            print(f"{name.ljust(width)}  {url}")
        return 0
    if args.name not in endpoints:
        raise UserError(f"the twin for stack {args.stack!r} has no listener {args.name!r}; "
                        f"it has: {', '.join(sorted(endpoints))}")
    print(endpoints[args.name])
    return 0
