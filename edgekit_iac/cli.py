"""`python -m edgekit_iac <command>`: one module per command, imported only when used.

Each command module defines `add_arguments(parser)` and `run(args) -> int`. A command's
options are parsed by that command's own parser, so a bad flag prints its usage
(`usage: edgekit up ...`), not the list of commands. Bad input ends in one line on stderr
and exit status 2: a `UserError`, or a file system error on a path the user gave.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import sys

from edgekit_iac.errors import UserError

COMMANDS: dict[str, tuple[str, str]] = {
    "bundle": ("edgekit_iac.bundle.cli", "build each edge function into a reproducible zip"),
    "preview": ("edgekit_iac.preview", "print the offline plan of a stack (mock runtime)"),
    "up": ("edgekit_iac.twin.cli_up", "serve a stack on this machine as the local twin"),
    "down": ("edgekit_iac.twin.cli_down", "stop a running local twin"),
    "url": ("edgekit_iac.twin.cli_url", "print where a running twin listens (one URL or all)"),
    "logs": ("edgekit_iac.twin.cli_logs", "read a twin's log lines, filtered, or follow them"),
    "purge": (
        "edgekit_iac.purge",
        "delete, invalidate and purge every variant of originals (S3, CloudFront, Cloudflare)",
    ),
    "token": (
        "edgekit_iac.twin.cli_token",
        "print a JWT signed by the local twin's key, for its auth Worker",
    ),
    "promote": ("edgekit_iac.release.promote", "copy artifact pins from one stack into another"),
    "rollback": ("edgekit_iac.release.rollback", "write a stack's earlier artifact pins back"),
    "smoke": (
        "edgekit_iac.smoke.cli",
        "request each public endpoint of a stack and check the answers",
    ),
    "dashboard": (
        "edgekit_iac.dashboard_cli",
        "write a stack's dashboard as Grafana JSON or a CloudWatch dashboard body",
    ),
    "flags": ("edgekit_iac.flags_cli", "list, read and flip a stack's feature flags"),
    "canary": ("edgekit_iac.release.canary", "start, promote or abort a stack's canary"),
    "sign-url": ("edgekit_iac.sign_cli", "print a CloudFront signed URL for a stack's key"),
    "sign-cookies": (
        "edgekit_iac.sign_cli",
        "print the Set-Cookie values of CloudFront signed cookies for a stack's key",
    ),
    "policy-pack-path": (
        "edgekit_iac.policy_pack",
        "print the installed policy pack's folder, for pulumi preview --policy-pack",
    ),
}

# Commands that need an extra's dependencies: {command: (module that must be importable, extra)}.
NEEDS_EXTRA: dict[str, tuple[str, str]] = {"up": ("moto", "twin"), "token": ("jwt", "twin")}


def missing_extra(command: str) -> str | None:
    """The install line that fixes `command` when its extra is not installed, else None."""
    need = NEEDS_EXTRA.get(command)
    if need is None or importlib.util.find_spec(need[0]) is not None:
        return None
    return f"pip install 'edgekit-iac[{need[1]}]'"


def version() -> str:
    """The installed distribution's version (edgekit-iac), else the package's own."""
    from importlib import metadata

    try:
        return metadata.version("edgekit-iac")
    except metadata.PackageNotFoundError:
        from edgekit_iac import __version__

        return __version__


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="edgekit")
    parser.add_argument("--version", action="version", version=f"edgekit {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands = {}
    for name, (module_name, help_text) in COMMANDS.items():
        commands[name] = sub.add_parser(name, help=help_text, description=help_text)
        commands[name].set_defaults(_module=module_name)
    return parser, commands


def main(argv: list[str] | None = None) -> int:
    as_program = argv is None  # the `edgekit` command or `python -m edgekit_iac`
    argv = sys.argv[1:] if argv is None else argv
    parser, commands = _parser()
    if argv and argv[0] in commands:
        fix = missing_extra(argv[0])
        if fix:
            print(
                f"edgekit {argv[0]}: needs the [{NEEDS_EXTRA[argv[0]][1]}] extra, which is not"
                f" installed; install it with: {fix}",
                file=sys.stderr,
            )
            return 2
        command_parser = commands[argv[0]]
        importlib.import_module(command_parser.get_default("_module")).add_arguments(
            command_parser)
        # Intermixed, so options may come between positionals as users type them:
        # `edgekit flags set --stack local cache_enabled false` (plain parse_args would
        # give the optional `name`/`value` nothing and refuse the trailing words).
        args = command_parser.parse_intermixed_args(argv[1:])
        args.command = argv[0]
    else:
        args = parser.parse_args(argv)  # --help, --version, or an unknown command
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except UserError as error:
        print(f"edgekit {args.command}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.filename is None:
            raise
        print(f"edgekit {args.command}: {error.filename}: {error.strerror or error}",
              file=sys.stderr)
        return 2
    finally:
        if as_program:
            # The providers' SDKs load tens of thousands of objects; the collector would
            # walk them all again at exit (6 s measured), delaying the prompt and `down`.
            gc.freeze()
