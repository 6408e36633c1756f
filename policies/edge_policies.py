"""The edge rules as CrossGuard policies: what `pulumi preview --policy-pack policies` runs.

`POLICIES` holds one policy per rule in `rules.py`: a `ResourceValidationPolicy` for rules
about one resource, a `StackValidationPolicy` for rules that need several (a function is a
Lambda@Edge function because a distribution associates it; a bucket is private because an
access block elsewhere says so). This module only adapts: it turns the SDK's arguments into
plain data, asks the rule, and reports what the rule says.

Prod-only rules: a policy's enforcement level is fixed, so "mandatory in prod, advisory in
staging" is two policies over the same check, each reporting only where it applies. Prod
is the stack whose config `edgekit:environment` is "prod" (every edgekit stack file sets
it), or, without that key, the stack named "prod".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pulumi
from edgekit_iac.policies import rules
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as sdk_proxy
from pulumi_policy.proxy import _DictProxy, _ListProxy
from pulumi_policy.secret import Secret

# The engine's placeholders for values a preview cannot know, one per kind of value.
UNKNOWN_PLACEHOLDERS = frozenset(
    getattr(sdk_proxy, name) for name in dir(sdk_proxy) if re.fullmatch(r"UNKNOWN_\w+_VALUE", name)
)
LEVELS = {rules.MANDATORY: EnforcementLevel.MANDATORY, rules.ADVISORY: EnforcementLevel.ADVISORY}


def plain(value: Any) -> Any:
    """The SDK's properties as plain data, with values unknown during preview as UNKNOWN.

    The SDK wraps properties in proxies that raise as soon as an unknown value is read; the
    rules instead decide what an unknown means (an ARN not known yet is still present), so
    the raw values are unwrapped here.
    """
    if isinstance(value, _DictProxy | _ListProxy):
        value = value["__target"]
    if isinstance(value, Secret):
        value = value.value
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, str) and value in UNKNOWN_PLACEHOLDERS:
        return rules.UNKNOWN
    return value


def _config_environment() -> str | None:
    try:
        return pulumi.Config("edgekit").get("environment")
    except Exception:  # no config means "decide by the stack name"
        return None


def _stack_name() -> str | None:
    try:
        return pulumi.get_stack()
    except Exception:  # not configured by the engine: not prod
        return None


def in_production() -> bool:
    return rules.is_production(_config_environment(), _stack_name())


def stack_resource(resource: PolicyResource) -> rules.StackResource:
    return {
        "type": resource.resource_type,
        "name": resource.name,
        "urn": resource.urn,
        "props": plain(resource.props),
        "dependencies": [d.urn for d in resource.dependencies],
        "propertyDependencies": {
            key: [d.urn for d in deps] for key, deps in resource.property_dependencies.items()
        },
        "protect": bool(resource.opts.protect),
    }


def resource_policy(rule: rules.ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.types or not rules.applies(rule.scope, in_production()):
            return
        for message in rule.check(plain(args.props)):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=LEVELS[rule.level],
    )


def stack_policy(rule: rules.StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        if not rules.applies(rule.scope, in_production()):
            return
        for urn, message in rule.check([stack_resource(r) for r in args.resources]):
            report_violation(message, urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=LEVELS[rule.level],
    )


POLICIES: list[Policy] = [
    *(resource_policy(rule) for rule in rules.RESOURCE_RULES),
    *(stack_policy(rule) for rule in rules.STACK_RULES),
]
