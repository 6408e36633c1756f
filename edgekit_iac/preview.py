"""`edgekit preview --stack NAME`: the offline plan of a stack, laid out like `pulumi preview`.

Runs `__main__.py` under Pulumi's mock runtime with the stack file's config and prints the
resource tree with a `+` per resource to create, a "N to create" summary, the bundles it
would deploy, the stack outputs and the policy pack's verdict on the recorded graph.
Nothing is deployed: there is no engine and no cloud behind it, and the first line says so;
the program's warnings (`pulumi.log.warn`) come right after that line.

The text is stable (siblings in name order, so two runs print the same bytes) and fits the
terminal (`COLUMNS`, else the terminal's width): long inputs such as ARNs and lifecycle
rules are elided with "…" (`--show-inputs` prints every input in full, folded over lines),
outputs are folded, never cut; `--json` prints the whole plan for machines.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from edgekit_iac.program import ProgramGraph, RecordedResource, run_program

# The inputs worth a glance per resource type, in the order shown.
KEY_INPUTS: dict[str, tuple[str, ...]] = {
    "aws:lambda/function:Function": (
        "region", "runtime", "handler", "publish", "architectures", "memorySize", "timeout",
    ),
    "aws:cloudfront/distribution:Distribution": (
        "priceClass", "aliases", "httpVersion", "isIpv6Enabled", "webAclId",
    ),
    "aws:s3/bucket:Bucket": ("forceDestroy",),
    "aws:wafv2/webAcl:WebAcl": ("scope", "region"),
    "aws:kinesis/stream:Stream": ("region", "streamModeDetails", "shardCount"),
    "aws:cloudfront/realtimeLogConfig:RealtimeLogConfig": ("samplingRate", "fields"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("rules",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "metricName", "extendedStatistic", "statistic", "threshold", "treatMissingData",
    ),
    "cloudflare:index/workersScript:WorkersScript": (
        "scriptName", "mainModule", "compatibilityDate", "compatibilityFlags",
    ),
    "cloudflare:index/workersRoute:WorkersRoute": ("pattern",),
    "cloudflare:index/workersCustomDomain:WorkersCustomDomain": ("hostname",),
    "cloudflare:index/ruleset:Ruleset": ("kind", "phase"),
}

HEADER = "Previewing stack {stack!r} offline (Pulumi mock runtime; nothing was deployed)."
MIN_WIDTH = 40
MIN_TYPE, MIN_NAME, MIN_DETAILS = 20, 12, 16
ELLIPSIS = "…"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="local", help="stack name (stacks/Pulumi.<stack>.yaml)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help="print the plan as JSON: resources, outputs, violations, warnings")
    output.add_argument("--show-inputs", action="store_true",
                        help="print every input of every resource in full")


def run(args: argparse.Namespace) -> int:
    with _captured_warnings() as warnings:
        graph = run_program(args.stack)
    violations = _policy_violations(graph)
    if args.json:
        print(json.dumps(to_document(graph, violations, warnings), indent=2, sort_keys=True,
                         default=str))
    else:
        print(render(graph, violations, warnings, width=terminal_width(),
                     show_inputs=args.show_inputs))
    mandatory = [v for v in violations if v.level == "mandatory"]
    return 1 if mandatory else 0


def terminal_width() -> int:
    """COLUMNS when set, else the terminal's width (100 when output is not a terminal)."""
    return max(MIN_WIDTH, shutil.get_terminal_size((100, 24)).columns)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _captured_warnings() -> Iterator[list[str]]:
    """The program's `pulumi.log.warn` messages: the mock engine logs them to the root
    logger, which would print them before the header; keep them for after it."""
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    try:
        yield collect.messages
    finally:
        root.removeHandler(collect)


def _policy_violations(graph: ProgramGraph) -> list[Any]:
    from edgekit_iac.policies.evaluate import evaluate

    return evaluate(graph.resources, graph.stack, environment=graph.exports.get("environment"))


def ordered(graph: ProgramGraph) -> list[tuple[int, bool, RecordedResource]]:
    """(depth, is last sibling, resource) in tree order, siblings sorted by name then type.

    Registration order depends on when Outputs resolve; names do not, so this is stable."""
    recorded = {r.urn for r in graph.resources}
    children: dict[str | None, list[RecordedResource]] = {}
    for resource in graph.resources:
        parent = resource.parent if resource.parent in recorded else None
        children.setdefault(parent, []).append(resource)
    out: list[tuple[int, bool, RecordedResource]] = []

    def walk(parent: str | None, depth: int) -> None:
        siblings = sorted(children.get(parent, []), key=lambda r: (r.name, r.type))
        for index, resource in enumerate(siblings):
            out.append((depth, index == len(siblings) - 1, resource))
            walk(resource.urn, depth + 1)

    walk(None, 0)
    return out


def display_type(token: str) -> str:
    """`aws:s3/bucketPolicy:BucketPolicy` -> `aws:s3:BucketPolicy`, as the Pulumi CLI shows it."""
    parts = token.split(":")
    if len(parts) == 3:
        return f"{parts[0]}:{parts[1].split('/')[0]}:{parts[2]}"
    return token


def elide(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + ELLIPSIS


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)


def _key_inputs(resource: RecordedResource) -> str:
    keys = KEY_INPUTS.get(resource.type, ())
    return " ".join(f"{key}={_compact(resource.inputs[key])}"
                    for key in keys if key in resource.inputs)


def _tree_prefix(depth: int, last: bool, open_levels: list[bool], glyphs: dict[str, str]) -> str:
    if depth == 0:
        return ""
    rails = "".join(glyphs["rail"] if open_level else "   " for open_level in open_levels[1:])
    return rails + (glyphs["last"] if last else glyphs["branch"])


def _glyphs() -> dict[str, str]:
    fancy = {"rail": "│  ", "branch": "├─ ", "last": "└─ "}
    try:
        "".join(fancy.values()).encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return {"rail": "|  ", "branch": "|- ", "last": "`- "}
    return fancy


def render(graph: ProgramGraph, violations: list[Any], warnings: list[str] | None = None,
           *, width: int = 100, show_inputs: bool = False) -> str:
    width = max(MIN_WIDTH, width)
    lines = [elide(HEADER.format(stack=graph.stack), width), ""]
    for message in warnings or []:
        lines.extend(_fold(f"warning: {message}", width, indent="    "))
    if warnings:
        lines.append("")

    rows = ordered(graph)
    glyphs = _glyphs()
    labels: list[str] = []
    open_levels: list[bool] = []
    for depth, last, resource in rows:
        del open_levels[depth:]
        labels.append(_tree_prefix(depth, last, open_levels, glyphs)
                      + display_type(resource.type))
        open_levels.append(not last)
    type_width, name_width = _column_widths(labels, [r.name for _, _, r in rows], width)
    lines.append(elide(f" {'':3} {'Type'.ljust(type_width)}  {'Name'.ljust(name_width)}  Plan",
                       width))
    for label, (depth, _, resource) in zip(labels, rows, strict=True):
        row = (f" +   {elide(label, type_width).ljust(type_width)}  "
               f"{elide(resource.name, name_width).ljust(name_width)}  create")
        details = _key_inputs(resource)
        if details and not show_inputs and width - len(row) - 2 >= MIN_DETAILS:
            row = f"{row}  {details}"
        lines.append(elide(row, width))
        if show_inputs:
            lines.extend(_input_lines(resource, width, indent=" " * (5 + 3 * depth + 3)))

    lines += ["", "Resources:", f"    + {len(rows)} to create"]
    bundles = _bundles(graph)
    if bundles:
        lines += ["", "Bundles:"]
        lines.extend(elide(f"    {line}", width) for line in bundles)
    if graph.exports:
        lines += ["", "Outputs:"]
        key_width = max(len(name) for name in graph.exports)
        for name, value in sorted(graph.exports.items()):
            # Outputs are the stack's interface (DNS records to create, ARNs to hand on):
            # folded over lines, never elided, as `pulumi preview` shows them whole.
            text = f"    {name.ljust(key_width)}: {_compact(value)}"
            lines.extend(_fold(text, width, indent=" " * (6 + key_width)))
    lines.append("")
    if violations:
        lines.append(f"Policy violations ({len(violations)}):")
        for v in violations:
            lines.extend(_fold(f"    [{v.level}] {v.policy}: {v.resource}: {v.message}",
                               width, indent="        "))
    else:
        lines.append("Policy pack: no violations.")
    return "\n".join(lines)


def _column_widths(labels: list[str], names: list[str], width: int) -> tuple[int, int]:
    """Type and name columns as wide as their longest entry, the wider one narrowed first
    until a row's fixed part fits the width; the key inputs get what is left."""
    type_width = max((len(label) for label in labels), default=4)
    name_width = max((len(name) for name in names), default=4)
    fixed = len(" +   ") + 2 + 2 + len("create")
    while type_width + name_width > width - fixed and (
            type_width > MIN_TYPE or name_width > MIN_NAME):
        if type_width >= name_width and type_width > MIN_TYPE or name_width <= MIN_NAME:
            type_width -= 1
        else:
            name_width -= 1
    return type_width, name_width


def _fold(text: str, width: int, indent: str) -> list[str]:
    """Wrap a long line; pieces that cannot break (an ARN) are cut to fit."""
    wrapped = textwrap.wrap(text, width=width, subsequent_indent=indent,
                            break_long_words=True, break_on_hyphens=False)
    return wrapped or [""]


def _input_lines(resource: RecordedResource, width: int, indent: str) -> list[str]:
    """Every input in full, as indented JSON folded to the width (nothing elided)."""
    lines = []
    for key, value in sorted(resource.inputs.items()):
        text = json.dumps(value, indent=2, sort_keys=True, default=str)
        first, *rest = text.splitlines()
        lines.extend(_fold(f"{indent}{key}: {first}", width, indent + "    "))
        for line in rest:
            lines.extend(_fold(f"{indent}{line}", width, indent + "    "))
    return lines


def _bundles(graph: ProgramGraph) -> list[str]:
    """The artifacts the program deploys, from its `artifacts` stack output."""
    artifacts = graph.exports.get("artifacts") or {}
    return [
        f"{name} {pin.get('version')} {pin.get('bytes'):,} bytes sha256 {pin.get('sha256')}"
        if isinstance(pin.get("bytes"), int)
        else f"{name} {pin.get('version')} sha256 {pin.get('sha256')}"
        for name, pin in sorted(artifacts.items())
    ]


def to_document(graph: ProgramGraph, violations: list[Any],
                warnings: list[str] | None = None) -> dict[str, Any]:
    """The plan for machines: every resource with its inputs, in the text's order."""
    rows = ordered(graph)
    return {
        "stack": graph.stack,
        "deployed": False,
        "resources": [{**resource.to_json(), "op": "create"} for _, _, resource in rows],
        "outputs": graph.exports,
        "violations": [dict(v.__dict__) for v in violations],
        "warnings": list(warnings or []),
        "summary": {"create": len(rows)},
    }
