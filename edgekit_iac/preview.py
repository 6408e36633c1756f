"""`edgekit preview --stack NAME`: the offline plan of a stack.

Runs `__main__.py` under Pulumi's mock runtime with the stack file's config and prints the
resource tree (type, name, key inputs), the bundles it would deploy, and the policy pack's
verdict on the recorded graph. Nothing is deployed: there is no engine and no cloud behind
it, and the output says so.
"""

from __future__ import annotations

import argparse
import json
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="local", help="stack name (stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--json", action="store_true", help="print the recorded graph as JSON")


def run(args: argparse.Namespace) -> int:
    graph = run_program(args.stack)
    violations = _policy_violations(graph)
    if args.json:
        document = graph.to_json()
        document["violations"] = [v.__dict__ for v in violations]
        print(json.dumps(document, indent=2, sort_keys=True, default=str))
    else:
        print(render(graph, violations))
    mandatory = [v for v in violations if v.level == "mandatory"]
    return 1 if mandatory else 0


def _policy_violations(graph: ProgramGraph) -> list[Any]:
    from edgekit_iac.policies.evaluate import evaluate

    return evaluate(graph.resources, graph.stack, environment=graph.exports.get("environment"))


def render(graph: ProgramGraph, violations: list[Any]) -> str:
    lines = [
        f"Offline plan of stack {graph.stack!r} (Pulumi mock runtime; nothing was deployed).",
        "",
    ]
    roots = [r for r in graph.resources if not _has_recorded_parent(graph, r)]
    for resource in roots:
        _render_tree(graph, resource, 0, lines)
    lines.append("")
    lines.append(f"{len(graph.resources)} resources.")
    bundles = _bundles(graph)
    if bundles:
        lines.append("")
        lines.append("Bundles:")
        lines.extend(f"  {line}" for line in bundles)
    if graph.exports:
        lines.append("")
        lines.append("Outputs:")
        for name, value in sorted(graph.exports.items()):
            lines.append(f"  {name}: {json.dumps(value, sort_keys=True, default=str)}")
    lines.append("")
    if violations:
        lines.append(f"Policy violations ({len(violations)}):")
        for violation in violations:
            lines.append(
                f"  [{violation.level}] {violation.policy}: {violation.resource}: "
                f"{violation.message}"
            )
    else:
        lines.append("Policy pack: no violations.")
    return "\n".join(lines)


def _has_recorded_parent(graph: ProgramGraph, resource: RecordedResource) -> bool:
    return any(r.urn == resource.parent for r in graph.resources)


def _render_tree(
    graph: ProgramGraph, resource: RecordedResource, depth: int, lines: list[str]
) -> None:
    details = _key_inputs(resource)
    suffix = f"  {details}" if details else ""
    lines.append(f"{'  ' * depth}{resource.type}  {resource.name}{suffix}")
    for child in graph.children(resource):
        _render_tree(graph, child, depth + 1, lines)


def _key_inputs(resource: RecordedResource) -> str:
    shown = []
    for key in KEY_INPUTS.get(resource.type, ()):
        if key in resource.inputs:
            shown.append(f"{key}={json.dumps(resource.inputs[key], default=str)}")
    return " ".join(shown)


def _bundles(graph: ProgramGraph) -> list[str]:
    """The artifacts the program deploys, from its `artifacts` stack output."""
    artifacts = graph.exports.get("artifacts") or {}
    return [
        f"{name} {pin.get('version')} {pin.get('bytes')} bytes sha256 {pin.get('sha256')}"
        for name, pin in sorted(artifacts.items())
    ]
