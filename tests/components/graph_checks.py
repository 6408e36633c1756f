"""Checks every component test applies to a recorded graph: policies, parents, names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from edgekit_iac.policies.rules import is_insecure_transport_deny

from edgekit_iac.program import ProgramGraph, RecordedResource

# Inputs that hold IAM-style policy documents (role trust, role/bucket/key policies).
POLICY_INPUTS = ("policy", "assumeRolePolicy")


def policy_documents(graph: ProgramGraph) -> Iterator[tuple[RecordedResource, str, dict]]:
    """Every policy document any resource in the graph declares, parsed."""
    for resource in graph.resources:
        for key in POLICY_INPUTS:
            text = resource.inputs.get(key)
            if isinstance(text, str):
                yield resource, key, json.loads(text)


def statement_values(statement: dict[str, Any], key: str) -> list[str]:
    value = statement.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def assert_no_wildcard_actions(graph: ProgramGraph) -> int:
    """No statement anywhere grants `*`, `service:*` or `service:Prefix*` (the TLS-only deny,
    which denies `s3:*`, is the one wildcard); returns how many documents were checked, so a
    test can also insist there were some."""
    checked = 0
    for resource, key, document in policy_documents(graph):
        checked += 1
        for statement in document["Statement"]:
            assert "NotAction" not in statement, (resource.name, key, statement)
            if is_insecure_transport_deny(statement):
                continue
            for action in statement_values(statement, "Action"):
                assert "*" not in action, f"{resource.name}.{key} grants {action!r}"
    return checked


def assert_children_named_after(graph: ProgramGraph, component_type: str, name: str) -> None:
    """Every resource below the component is parented to it and named f"{name}-..."."""
    (component,) = [r for r in graph.of_type(component_type) if r.name == name]
    descendants = list(graph.descendants(component))
    assert descendants
    assert all(child.parent == component.urn for child in descendants)
    assert all(child.name.startswith(f"{name}-") for child in descendants)


def depends_on(resource: RecordedResource, other: RecordedResource) -> bool:
    return other.urn in resource.dependencies
