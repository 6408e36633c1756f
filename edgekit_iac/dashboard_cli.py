"""`edgekit dashboard --stack NAME --format grafana|cloudwatch [--outputs FILE] [-o FILE]`.

Runs the stack's program under the mock runtime (as `edgekit preview` does), takes the
panels its EdgeDashboard declared, and writes them as an importable Grafana dashboard
(with the Workers' analytics) or as the CloudWatch dashboard body. The ids in a mock graph
are placeholders: `--outputs FILE` (`pulumi stack output --json > FILE` of the deployed
stack) puts the real distribution id and function name in. Nothing is deployed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit_iac.errors import UserError

if TYPE_CHECKING:
    from edgekit_iac.program import ProgramGraph

FORMATS = ("grafana", "cloudwatch")
DASHBOARD_TYPE = "edgekit:aws:EdgeDashboard"
SCRIPT_TYPE = "cloudflare:index/workersScript:WorkersScript"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack name (stacks/Pulumi.NAME.yaml)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="grafana",
        help="grafana: an importable dashboard JSON; cloudwatch: the "
        "dashboard body the stack deploys (default grafana)",
    )
    parser.add_argument(
        "--outputs",
        metavar="FILE",
        help="`pulumi stack output --json` of the deployed stack: its ids "
        "replace the mock runtime's placeholders",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default stdout)")


def _deployed(path: str | None) -> dict[str, Any]:
    from edgekit_iac.release.stack_outputs import read_outputs_file

    return read_outputs_file(Path(path)) if path is not None else {}


def _function_name(qualified_arn: Any) -> str | None:
    """arn:aws:lambda:us-east-1:ACCOUNT:function:NAME:VERSION -> NAME."""
    parts = str(qualified_arn or "").split(":")
    return parts[6] if len(parts) >= 7 and parts[5] == "function" else None


def build(
    graph: ProgramGraph, fmt: str, outputs: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The document for a recorded stack graph, and notes for stderr."""
    from edgekit_iac import grafana
    from edgekit_iac.components.dashboard import Panel

    found = graph.of_type(DASHBOARD_TYPE)
    if not found:
        raise UserError(
            f"stack {graph.stack!r} declares no EdgeDashboard; turn it on with "
            f"`edgekit:dashboard: {{enabled: true}}` in stacks/Pulumi.{graph.stack}.yaml"
        )
    component = found[0]
    notes = []
    mock_id = graph.exports.get("imagesDistributionId")
    mock_function = _function_name(graph.exports.get("imageResizerArn"))
    distribution_id = outputs.get("imagesDistributionId") or mock_id
    function = _function_name(outputs.get("imageResizerArn")) or mock_function
    if not outputs:
        notes.append(
            "ids are the mock runtime's placeholders: pass --outputs FILE "
            "(pulumi stack output --json) for the deployed stack's, or edit the "
            "dashboard's variables after import"
        )
    if fmt == "cloudwatch":
        # Exactly the body the stack deploys, with the deployed ids.
        (body,) = [r.inputs["dashboardBody"] for r in graph.descendants(component) if r.custom]
        if mock_id and distribution_id:
            body = body.replace(f'"{mock_id}"', f'"{distribution_id}"')
        if mock_function and function:
            body = body.replace(f'"us-east-1.{mock_function}"', f'"us-east-1.{function}"')
        return json.loads(body), notes
    panels = [Panel.from_json(p) for p in component.outputs["panels"]]
    scripts = graph.of_type(SCRIPT_TYPE)
    document = grafana.dashboard(
        graph.stack,
        panels,
        distribution_id=str(distribution_id),
        resizer_function=function,
        cloudflare_account=next((r.inputs.get("accountId") for r in scripts), None),
        workers_scripts=sorted(r.inputs["scriptName"] for r in scripts),
    )
    return document, notes


def run(args: argparse.Namespace) -> int:
    from edgekit_iac.program import run_program

    outputs = _deployed(args.outputs)
    document, notes = build(run_program(args.stack), args.format, outputs)
    text = json.dumps(document, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        count = len(document.get("panels") or document.get("widgets") or [])
        print(f"wrote {args.output} ({args.format}, {count} panels)")
    else:
        sys.stdout.write(text)
    for note in notes:
        print(f"edgekit dashboard: note: {note}", file=sys.stderr)
    return 0
