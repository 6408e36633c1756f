"""The policy pack's rules over a recorded graph, without the Pulumi CLI.

`edgekit preview` runs `__main__.py` under the mock runtime (`edgekit_iac.program.run_program`)
and hands the recorded resources here, so the violations `pulumi preview --policy-pack
policies` would report show on machines without the CLI. The rules are the same objects the
pack is built from (`policies/rules.py`); resource rules see a resource's inputs, as the
SDK's resource policies do, and stack rules see its inputs plus the computed identities
(ids, ARNs, bucket names) that tie resources together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from edgekit_iac.policies import rules

# Computed outputs stack rules match resources by (an association's ARN, a block's bucket).
IDENTITY_OUTPUTS = ("id", "arn", "qualifiedArn", "bucket")


class GraphResource(Protocol):
    """What `edgekit_iac.program.RecordedResource` provides."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    """"mandatory" (blocks `pulumi up`) or "advisory" (a warning)."""
    resource: str
    """The logical name of the resource in violation (the stack name for stack-wide ones)."""
    urn: str
    message: str


def _stack_resource(resource: GraphResource) -> rules.StackResource:
    props = dict(resource.inputs)
    recorded_id = getattr(resource, "id", None)
    if recorded_id is not None:
        props.setdefault("id", recorded_id)
    for key in IDENTITY_OUTPUTS:
        if key in resource.outputs:
            props.setdefault(key, resource.outputs[key])
    return {
        "type": resource.type,
        "name": resource.name,
        "urn": resource.urn,
        "props": props,
        "dependencies": list(getattr(resource, "dependencies", None) or []),
        "propertyDependencies": {},
        "protect": bool((getattr(resource, "options", None) or {}).get("protect")),
    }


def evaluate(
    resources: Iterable[GraphResource], stack: str, *, environment: str | None = None
) -> list[Violation]:
    """Every violation of the pack's rules in `resources`, rule by rule.

    `environment` is the stack's `edgekit:environment`; without it the stack name decides
    whether prod-only rules apply (see `rules.is_production`).
    """
    resources = list(resources)
    production = rules.is_production(environment, stack)
    violations: list[Violation] = []
    for rule in rules.RESOURCE_RULES:
        if not rules.applies(rule.scope, production):
            continue
        for resource in resources:
            if resource.type in rule.types:
                violations.extend(
                    Violation(rule.name, rule.level, resource.name, resource.urn, message)
                    for message in rule.check(resource.inputs)
                )
    records = [_stack_resource(r) for r in resources]
    names = {record["urn"]: record["name"] for record in records}
    for rule in rules.STACK_RULES:
        if not rules.applies(rule.scope, production):
            continue
        violations.extend(
            Violation(rule.name, rule.level, names.get(urn, stack), urn, message)
            for urn, message in rule.check(records)
        )
    return violations
