"""Just enough of IAM policy evaluation to read a bucket the way CloudFront does. Pure.

The twin reads an S3 origin as the distribution: principal `cloudfront.amazonaws.com` with
`AWS:SourceArn` = the distribution's ARN when the origin has an Origin Access Control, or
anonymously without one; over TLS (`aws:SecureTransport` true). Whether the read is
allowed comes from the bucket policy the program declared, so a policy that forgets the
distribution is a 403 locally as it would be in AWS.

Covered: Effect Allow/Deny (an explicit Deny wins), Principal "*" / {"Service": ...} /
{"AWS": ...}, Action and Resource with `*`/`?` wildcards, and the condition operators
StringEquals, StringNotEquals, StringLike, StringNotLike, ArnEquals, ArnLike,
ArnNotEquals, ArnNotLike and Bool (keys case-insensitive, `...IfExists` variants).
Every request that reaches the twin's S3 stands for one made over TLS (boto3 and CloudFront
use HTTPS; the twin's moto listens on plain HTTP only because it is on loopback), so
`over_tls` drops the statements that apply only without TLS (`aws:SecureTransport`
"false", the TLS-only deny every edgekit bucket has) before moto sees the policy: moto
treats a statement whose condition it cannot evaluate as a denial, and would refuse every
upload to such a bucket.

Not covered: NotPrincipal/NotAction/NotResource (such statements never match), policy
variables, numeric/date/IP operators, and the caller's identity policies (the twin has no
IAM: the resizer's role is trusted as declared).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ALLOW, DENY, NOT_ALLOWED = "allow", "deny", "implicit-deny"


@dataclass(frozen=True)
class Principal:
    service: str | None = None  # e.g. "cloudfront.amazonaws.com"
    arn: str | None = None  # an IAM principal's ARN
    context: Mapping[str, str] = field(default_factory=dict)  # condition keys -> values


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _principal_matches(statement_principal: Any, principal: Principal) -> bool:
    if statement_principal == "*":
        return True
    if not isinstance(statement_principal, Mapping):
        return False
    services = _as_list(statement_principal.get("Service", []))
    arns = _as_list(statement_principal.get("AWS", []))
    if principal.service and principal.service in services:
        return True
    return "*" in arns or (principal.arn is not None and principal.arn in arns)


_STRING_OPERATORS = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringLike": (lambda p, v: _wildcard(p, v), False),
    "StringNotLike": (lambda p, v: _wildcard(p, v), True),
    "ArnEquals": (lambda p, v: p == v, False),
    "ArnLike": (lambda p, v: _wildcard(p, v), False),
    "ArnNotEquals": (lambda p, v: p == v, True),
    "ArnNotLike": (lambda p, v: _wildcard(p, v), True),
    "Bool": (lambda p, v: str(p).lower() == str(v).lower(), False),
}


def _condition_holds(operator: str, tests: Mapping[str, Any],
                     context: Mapping[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in _STRING_OPERATORS:
        return False  # unknown operators never grant (and never deny) here
    compare, negated = _STRING_OPERATORS[base]
    lowered = {key.lower(): value for key, value in context.items()}
    for key, expected in tests.items():
        actual = lowered.get(key.lower())
        if actual is None:
            if if_exists or negated:
                continue
            return False
        matched = any(compare(str(pattern), actual) for pattern in _as_list(expected))
        if matched == negated:
            return False
    return True


def _statement_matches(statement: Mapping[str, Any], principal: Principal, action: str,
                       resource: str) -> bool:
    if {"NotPrincipal", "NotAction", "NotResource"} & statement.keys():
        return False
    if not _principal_matches(statement.get("Principal"), principal):
        return False
    if not any(_wildcard(pattern, action, case_sensitive=False)
               for pattern in _as_list(statement.get("Action", []))):
        return False
    if not any(_wildcard(pattern, resource) for pattern in _as_list(statement.get("Resource", []))):
        return False
    conditions = statement.get("Condition") or {}
    return all(_condition_holds(op, tests, principal.context) for op, tests in conditions.items())


def evaluate(policy: Mapping[str, Any] | None, principal: Principal, action: str,
             resource: str) -> str:
    """ALLOW, DENY (an explicit Deny matched) or NOT_ALLOWED (nothing allowed it)."""
    verdict = NOT_ALLOWED
    for statement in _as_list((policy or {}).get("Statement", [])):
        if not isinstance(statement, Mapping):
            continue
        if _statement_matches(statement, principal, action, resource):
            if statement.get("Effect") == "Deny":
                return DENY
            if statement.get("Effect") == "Allow":
                verdict = ALLOW
    return verdict


def _only_without_tls(statement: Mapping[str, Any]) -> bool:
    """A statement that applies only to requests without TLS (aws:SecureTransport false)."""
    condition = statement.get("Condition") or {}
    if set(condition) != {"Bool"} or not isinstance(condition["Bool"], Mapping):
        return False
    tests = {key.lower(): value for key, value in condition["Bool"].items()}
    values = _as_list(tests.get("aws:securetransport"))
    return set(tests) == {"aws:securetransport"} and [str(v).lower() for v in values] == ["false"]


def over_tls(policy: Mapping[str, Any]) -> dict[str, Any]:
    """`policy` as it applies to requests made over TLS: without the statements that match
    only requests without it."""
    statements = [statement for statement in _as_list(policy.get("Statement", []))
                  if not (isinstance(statement, Mapping) and _only_without_tls(statement))]
    return {**policy, "Statement": statements}
