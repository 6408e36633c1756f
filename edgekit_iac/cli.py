"""`python -m edgekit_iac <command>`: one module per command, imported only when used.

Each command module defines `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from edgekit_iac.errors import UserError

COMMANDS: dict[str, tuple[str, str]] = {
    "bundle": ("edgekit_iac.bundle.cli", "build each edge function into a reproducible zip"),
    "preview": ("edgekit_iac.preview", "print the offline plan of a stack (mock runtime)"),
    "up": ("edgekit_iac.twin.cli_up", "serve a stack on this machine as the local twin"),
    "down": ("edgekit_iac.twin.cli_down", "stop a running local twin"),
    "promote": ("edgekit_iac.release.promote", "copy artifact pins from one stack into another"),
    "rollback": ("edgekit_iac.release.rollback", "write a stack's earlier artifact pins back"),
    "smoke": (
        "edgekit_iac.smoke.cli",
        "request each public endpoint of a stack and check the answers",
    ),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="edgekit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command_parser.set_defaults(_module=module_name)
        if argv[:1] == [name]:
            importlib.import_module(module_name).add_arguments(command_parser)
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except UserError as error:
        print(f"edgekit {args.command}: {error}", file=sys.stderr)
        return 2
