"""A deployed stack's outputs: from an exported JSON file, or through the Pulumi Automation API.

CI passes outputs between jobs as the JSON `pulumi stack output --json --show-secrets`
prints. Without a file, the outputs are read from the stack's backend with the Automation
API, which drives the Pulumi CLI; machines without the CLI get an error saying how to
export the file instead.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from edgekit_iac.errors import UserError
from edgekit_iac.paths import project_root


def read_outputs_file(path: Path) -> dict[str, Any]:
    try:
        outputs = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"outputs file {path} does not exist") from None
    except json.JSONDecodeError as error:
        raise UserError(
            f"{path}: not JSON ({error}); expected what `pulumi stack output --json "
            "--show-secrets` prints"
        ) from None
    if not isinstance(outputs, dict):
        raise UserError(
            f"{path}: expected a JSON object of output names to values, got "
            f"{type(outputs).__name__}"
        )
    return outputs


def _export_hint(stack: str) -> str:
    return (
        f"`pulumi stack output --json --show-secrets --stack {stack} > {stack}-outputs.json` "
        f"and pass --outputs {stack}-outputs.json"
    )


def read_from_backend(stack: str) -> dict[str, Any]:
    """The outputs through the Automation API (which runs the Pulumi CLI)."""
    from pulumi import automation

    try:
        selected = automation.select_stack(stack_name=stack, work_dir=str(project_root()))
        return {name: output.value for name, output in selected.outputs().items()}
    except automation.StackNotFoundError:
        raise UserError(f"the Pulumi backend has no stack {stack!r}") from None
    except automation.CommandError as error:
        raise UserError(
            f"could not read the outputs of stack {stack!r} with the Pulumi CLI: "
            f"{str(error).strip()}; or export them: {_export_hint(stack)}"
        ) from None


def read_outputs(stack: str, outputs_file: Path | None = None) -> dict[str, Any]:
    if outputs_file is not None:
        return read_outputs_file(outputs_file)
    if shutil.which("pulumi") is None:
        raise UserError(
            f"reading the outputs of stack {stack!r} needs the Pulumi CLI, which is not "
            f"installed on this machine; where it is, export them with {_export_hint(stack)}"
        )
    return read_from_backend(stack)
