"""The edge rules, as pure functions over plain resource properties.

Each rule reads properties the way the Pulumi policy SDK hands them over: camelCase names
(`viewerProtocolPolicy`, `memorySize`), type tokens (`aws:lambda/function:Function`), plain
dicts and lists. Values the engine cannot know during a preview arrive as `UNKNOWN`; a rule
never fails a resource on a value it cannot see (the same policy runs again on `pulumi up`,
when the value is known), but an unknown value still counts as *present* (a web ACL whose
ARN is not yet known is still a web ACL).

Two kinds of rules:
- resource rules look at one resource's properties: `check(props) -> [message]`;
- stack rules need several resources at once (which functions a distribution runs, which
  access block belongs to which bucket): `check(resources) -> [(urn, message)]`, where each
  resource is a `StackResource` dict.

This module imports neither Pulumi nor edgekit: `policies/edge_policies.py` turns the rules
into CrossGuard policies for `pulumi preview --policy-pack policies`, and
`policies/evaluate.py` runs the same rules over the graph `edgekit preview` records.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

MANDATORY = "mandatory"
ADVISORY = "advisory"

# Where a rule applies: every stack, only prod, or everywhere but prod.
ALWAYS = "always"
PRODUCTION = "production"
NON_PRODUCTION = "non-production"
PRODUCTION_ENVIRONMENT = "prod"

LAMBDA_FUNCTION = "aws:lambda/function:Function"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CLOUDFRONT_FUNCTION = "aws:cloudfront/function:Function"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
IAM_POLICY_TYPES = (
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
    "aws:s3/bucketPolicy:BucketPolicy",
    *BUCKET_TYPES,
)
WORKERS_SCRIPT_TYPES = (
    "cloudflare:index/workersScript:WorkersScript",
    "cloudflare:index/workerScript:WorkerScript",
)

EDGE_REGION = "us-east-1"
EDGE_ARCHITECTURE = "x86_64"
HTTPS_POLICIES = ("redirect-to-https", "https-only")
PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
PYTHON_WORKERS_FLAG = "python_workers"
PYTHON_CONTENT_TYPE = "text/x-python"
# Resources whose deletion loses data: objects, the key that decrypts them, table rows.
DATA_HOLDING_TYPES = (
    *BUCKET_TYPES,
    "aws:kms/key:Key",
    "aws:dynamodb/table:Table",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:efs/fileSystem:FileSystem",
)


@dataclass(frozen=True)
class TriggerLimits:
    timeout_seconds: int
    memory_mb: int


# Lambda@Edge quotas per trigger (CloudFront developer guide, "Quotas on Lambda@Edge").
VIEWER_LIMITS = TriggerLimits(timeout_seconds=5, memory_mb=128)
ORIGIN_LIMITS = TriggerLimits(timeout_seconds=30, memory_mb=10_240)
TRIGGER_LIMITS = {
    "viewer-request": VIEWER_LIMITS,
    "viewer-response": VIEWER_LIMITS,
    "origin-request": ORIGIN_LIMITS,
    "origin-response": ORIGIN_LIMITS,
}
# Lambda's own defaults when a function does not set them.
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128

_TLS_VERSION = re.compile(r"^TLSv(\d+)\.(\d+)_(\d{4})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Unknown:
    """A value the engine cannot know during a preview (an ARN of a resource not yet made)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN = _Unknown()


def known(value: Any) -> bool:
    return value is not UNKNOWN


class StackResource(TypedDict):
    """One resource as a stack rule sees it (plain data, whoever recorded it)."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    dependencies: list[str]
    """URNs this resource depends on."""
    propertyDependencies: dict[str, list[str]]
    """Per property, the URNs its value came from (empty when not recorded)."""
    protect: NotRequired[bool]
    """The resource's `protect` option: Pulumi refuses to delete or replace it."""


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    level: str
    types: tuple[str, ...]
    check: Callable[[Mapping[str, Any]], list[str]]
    scope: str = ALWAYS


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    level: str
    check: Callable[[Sequence[StackResource]], list[tuple[str, str]]]
    scope: str = ALWAYS


def is_production(environment: str | None, stack: str | None) -> bool:
    """Prod is the stack whose `edgekit:environment` is "prod"; without it, the stack named so."""
    return (environment or stack) == PRODUCTION_ENVIRONMENT


def applies(scope: str, production: bool) -> bool:
    if scope == PRODUCTION:
        return production
    if scope == NON_PRODUCTION:
        return not production
    return True


# --- helpers --------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:g}"


def _as_list(value: Any) -> list[Any]:
    """A property that may hold one item or a list of them (IAM's Action, Statement)."""
    if value is None or not known(value):
        return []
    if isinstance(value, str | Mapping):
        return [value]
    return list(value)


def _behaviours(props: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(label, property name, behaviour) for the default behaviour and each ordered one."""
    default = props.get("defaultCacheBehavior")
    if isinstance(default, Mapping):
        yield "the default behaviour", "defaultCacheBehavior", default
    for behaviour in _as_list(props.get("orderedCacheBehaviors")):
        if isinstance(behaviour, Mapping):
            pattern = behaviour.get("pathPattern")
            yield f"behaviour {pattern!r}", "orderedCacheBehaviors", behaviour


# --- CloudFront -----------------------------------------------------------------------------


def cloudfront_https_only(props: Mapping[str, Any]) -> list[str]:
    problems = []
    for label, _, behaviour in _behaviours(props):
        policy = behaviour.get("viewerProtocolPolicy")
        if known(policy) and policy not in HTTPS_POLICIES:
            problems.append(
                f"{label} has viewerProtocolPolicy {policy!r}, which serves plain HTTP; "
                f"accepted: {' or '.join(HTTPS_POLICIES)}"
            )
    return problems


def is_modern_tls(version: str) -> bool:
    """TLSv1.2_2021 and every later policy (TLSv1.2_2025, TLSv1.3_2025, ...)."""
    match = _TLS_VERSION.match(version)
    if not match:
        return False
    major, minor, year = (int(part) for part in match.groups())
    return (major, minor) >= (1, 2) and year >= 2021


def cloudfront_modern_tls(props: Mapping[str, Any]) -> list[str]:
    certificate = props.get("viewerCertificate")
    if not isinstance(certificate, Mapping):
        return []
    # CloudFront's default *.cloudfront.net certificate has a fixed TLS floor nobody can set.
    if not (certificate.get("acmCertificateArn") or certificate.get("iamCertificateId")):
        return []
    version = certificate.get("minimumProtocolVersion")
    if not known(version) or (isinstance(version, str) and is_modern_tls(version)):
        return []
    shown = "not set (CloudFront then allows TLSv1)" if not version else repr(version)
    return [
        f"viewerCertificate.minimumProtocolVersion is {shown} with a custom certificate; "
        "accepted: TLSv1.2_2021 or newer (TLSv1.2_2025, TLSv1.3_2025)"
    ]


def cloudfront_trusted_key_groups(props: Mapping[str, Any]) -> list[str]:
    """Signed URLs and cookies are verified with trusted key groups, never root key pairs."""
    return [
        f"{label} trusts signers {behaviour.get('trustedSigners')!r} (root-account CloudFront "
        "key pairs, outside IAM); use trustedKeyGroups (e.g. SignedPaths' key_group_id)"
        for label, _, behaviour in _behaviours(props)
        if _as_list(behaviour.get("trustedSigners"))
    ]


# AWS, "Quotas on CloudFront Functions": 10 KB of code; "Associate a key value store with a
# function": one store per function; "Amazon CloudFront KeyValueStore": runtime 2.0 only.
CLOUDFRONT_FUNCTION_MAX_CODE_BYTES = 10 * 1024
KVS_RUNTIME = "cloudfront-js-2.0"


def cloudfront_function_limits(props: Mapping[str, Any]) -> list[str]:
    """Code within 10 KB; at most one KeyValueStore; a store (or cf.kvs()) needs runtime 2.0."""
    problems = []
    code, runtime = props.get("code"), props.get("runtime")
    stores = props.get("keyValueStoreAssociations")
    if known(code) and isinstance(code, str):
        size = len(code.encode("utf-8"))
        if size > CLOUDFRONT_FUNCTION_MAX_CODE_BYTES:
            problems.append(f"code is {size} bytes; CloudFront Functions accept at most "
                            f"{CLOUDFRONT_FUNCTION_MAX_CODE_BYTES}")
    count = len(_as_list(stores)) if known(stores) else 0
    if count > 1:
        problems.append(f"is associated with {count} KeyValueStores; CloudFront allows one per "
                        "function")
    reads_kvs = known(code) and isinstance(code, str) and "cf.kvs(" in code
    if (count or reads_kvs) and known(runtime) and runtime != KVS_RUNTIME:
        problems.append(f"uses a KeyValueStore with runtime {runtime!r}; accepted: {KVS_RUNTIME}")
    return problems


def cloudfront_protection(props: Mapping[str, Any]) -> list[str]:
    """A WAF web ACL in front, and real-time logs on every behaviour."""
    problems = []
    if not props.get("webAclId"):
        problems.append(
            "has no WAF web ACL (webAclId); attach one, e.g. EdgeRateLimit's web_acl_arn"
        )
    for label, _, behaviour in _behaviours(props):
        if not behaviour.get("realtimeLogConfigArn"):
            problems.append(
                f"{label} has no real-time log config (realtimeLogConfigArn); "
                "attach one, e.g. EdgeLogPipeline's realtime_log_config_arn"
            )
    return problems


# --- IAM ------------------------------------------------------------------------------------


def _policy_documents(props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(label, document) for `policy` and for each role inline policy."""
    if props.get("policy") is not None:
        yield "policy", props["policy"]
    for index, inline in enumerate(_as_list(props.get("inlinePolicies"))):
        if isinstance(inline, Mapping) and inline.get("policy") is not None:
            name = inline.get("name")
            label = f"inline policy {name!r}" if known(name) and name else f"inline policy #{index}"
            yield label, inline["policy"]


# The one statement allowed a wildcard action: deny everything without TLS (S3 User Guide,
# "Security best practices for Amazon S3": enforce encryption of data in transit).
TLS_CONDITION_KEY = "aws:securetransport"


def is_insecure_transport_deny(statement: Mapping[str, Any]) -> bool:
    """A Deny whose only condition is `Bool aws:SecureTransport "false"`."""
    if statement.get("Effect") != "Deny":
        return False
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping) or set(condition) != {"Bool"}:
        return False
    tests = condition["Bool"]
    if not isinstance(tests, Mapping) or [k.lower() for k in tests] != [TLS_CONDITION_KEY]:
        return False
    values = _as_list(next(iter(tests.values())))
    return [str(value).lower() for value in values] == ["false"]


def _is_wildcard_action(action: Any) -> bool:
    return isinstance(action, str) and (action.strip() == "*" or action.strip().endswith(":*"))


def wildcard_action_problems(label: str, document: Any) -> list[str]:
    """What in one IAM policy document allows every action of a service (or of AWS)."""
    if not known(document):
        return []
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as error:
            return [f"{label} is not valid JSON ({error.msg}), so its actions cannot be checked"]
    if not isinstance(document, Mapping):
        return [f"{label} is not a JSON object, so its actions cannot be checked"]
    problems = []
    for index, statement in enumerate(_as_list(document.get("Statement"))):
        if not isinstance(statement, Mapping):
            continue
        where = f"{label} statement {statement.get('Sid') or f'#{index}'}"
        wildcards = [a for a in _as_list(statement.get("Action")) if _is_wildcard_action(a)]
        if statement.get("Effect") == "Deny":
            # A wildcard Deny is right in one form only: the TLS-only deny on a bucket.
            if wildcards and not is_insecure_transport_deny(statement):
                problems.append(
                    f"{where} denies {', '.join(repr(a) for a in wildcards)}; a wildcard "
                    "action is accepted in a Deny only with the condition Bool "
                    "aws:SecureTransport \"false\" (the TLS-only deny); name the actions"
                )
            continue
        if statement.get("Effect", "Allow") != "Allow":
            continue
        if wildcards:
            problems.append(
                f"{where} allows {', '.join(repr(a) for a in wildcards)}; "
                "name the actions it needs (e.g. 's3:GetObject'), never '*' or 'service:*'"
            )
        if statement.get("NotAction") is not None:
            problems.append(
                f"{where} allows everything but its NotAction list; name the allowed actions"
            )
    return problems


def iam_no_wildcard_actions(props: Mapping[str, Any]) -> list[str]:
    problems = []
    for label, document in _policy_documents(props):
        problems.extend(wildcard_action_problems(label, document))
    return problems


# --- Cloudflare Workers ---------------------------------------------------------------------


def _valid_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def workers_compatibility_date(props: Mapping[str, Any]) -> list[str]:
    date = props.get("compatibilityDate")
    if not known(date):
        return []
    if not date:
        return [
            "has no compatibilityDate; pin one (YYYY-MM-DD) so runtime changes arrive only "
            "when you move the date"
        ]
    if not isinstance(date, str) or not _valid_date(date):
        return [f"compatibilityDate {date!r} is not a date; accepted: YYYY-MM-DD, e.g. 2026-11-01"]
    return []


def is_python_worker(props: Mapping[str, Any]) -> bool:
    main_module = props.get("mainModule")
    return props.get("contentType") == PYTHON_CONTENT_TYPE or (
        isinstance(main_module, str) and main_module.endswith(".py")
    )


def python_workers_flag(props: Mapping[str, Any]) -> list[str]:
    if not is_python_worker(props):
        return []
    flags = props.get("compatibilityFlags")
    if not known(flags) or PYTHON_WORKERS_FLAG in _as_list(flags):
        return []
    return [
        f"is a Python Worker (mainModule {props.get('mainModule')!r}) without the "
        f"{PYTHON_WORKERS_FLAG!r} compatibility flag; add it to compatibilityFlags"
    ]


# --- Lambda@Edge (stack rule: a function is "edge" because a distribution runs it) ---------


def _function_for_arn(arn: str, functions: Sequence[StackResource]) -> StackResource | None:
    """The function an association's ARN names: its qualified ARN, or any version of it."""
    for function in functions:
        props = function["props"]
        if arn == props.get("qualifiedArn"):
            return function
        unqualified = props.get("arn")
        if isinstance(unqualified, str) and (
            arn == unqualified or arn.startswith(unqualified + ":")
        ):
            return function
    return None


def edge_triggers(resources: Sequence[StackResource]) -> dict[str, set[str | None]]:
    """URN of each function a distribution associates -> its trigger events.

    Associations name functions by ARN. When the ARN is not known yet (a preview of a new
    function), the behaviour's property dependencies say which functions it came from; if
    those cannot be told apart the trigger is recorded as None (limits then checked at the
    origin maximum, and precisely on `pulumi up`).
    """
    functions = [r for r in resources if r["type"] == LAMBDA_FUNCTION]
    function_urns = {f["urn"] for f in functions}
    triggers: dict[str, set[str | None]] = {}
    for distribution in (r for r in resources if r["type"] == DISTRIBUTION):
        for _, prop, behaviour in _behaviours(distribution["props"]):
            associations = [
                a
                for a in _as_list(behaviour.get("lambdaFunctionAssociations"))
                if isinstance(a, Mapping)
            ]
            matched: set[str] = set()
            unknown_events: set[str | None] = set()
            for association in associations:
                event = association.get("eventType")
                event = event if known(event) else None
                arn = association.get("lambdaArn")
                if isinstance(arn, str):
                    function = _function_for_arn(arn, functions)
                    if function is not None:
                        triggers.setdefault(function["urn"], set()).add(event)
                        matched.add(function["urn"])
                elif not known(arn):
                    unknown_events.add(event)
            if not unknown_events:
                continue
            sources = distribution["propertyDependencies"].get(prop) or distribution["dependencies"]
            candidates = [u for u in sources if u in function_urns and u not in matched]
            event = next(iter(unknown_events)) if len(unknown_events) == 1 else None
            for urn in candidates:
                triggers.setdefault(urn, set()).add(event)
    return triggers


def _limits_for(events: set[str | None]) -> tuple[TriggerLimits, str]:
    """The strictest limits among the events, and the event they come from."""
    named = sorted(e for e in events if e in TRIGGER_LIMITS)
    if not named:
        return ORIGIN_LIMITS, "origin (trigger not known yet)"
    strictest = min(named, key=lambda e: TRIGGER_LIMITS[e].timeout_seconds)
    return TRIGGER_LIMITS[strictest], strictest


def lambda_edge_problems(props: Mapping[str, Any], events: set[str | None]) -> list[str]:
    """Why a function a distribution runs cannot run (or should not run) at the edge."""
    problems = []
    region = props.get("region")
    if not region:
        problems.append(
            f"sets no region, so it follows the provider's default; Lambda@Edge functions "
            f"live in {EDGE_REGION}: set region={EDGE_REGION!r}"
        )
    elif known(region) and region != EDGE_REGION:
        problems.append(f"is in region {region!r}; Lambda@Edge needs {EDGE_REGION!r}")
    publish = props.get("publish")
    if known(publish) and publish is not True:
        problems.append("is not published (publish=true); CloudFront runs numbered versions only")
    architectures = props.get("architectures")
    if known(architectures) and architectures and list(architectures) != [EDGE_ARCHITECTURE]:
        problems.append(f"runs on {list(architectures)}; Lambda@Edge runs {EDGE_ARCHITECTURE} only")
    environment = props.get("environment")
    variables = environment.get("variables") if isinstance(environment, Mapping) else None
    if variables:
        names = ", ".join(sorted(variables)) if isinstance(variables, Mapping) else "unknown"
        problems.append(
            f"has environment variables ({names}); Lambda@Edge has none: pass settings "
            "another way, e.g. as origin custom headers"
        )
    if _as_list(props.get("layers")):
        problems.append("uses layers; Lambda@Edge does not support them")
    limits, trigger = _limits_for(events)
    timeout = props.get("timeout")
    timeout = DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout
    if known(timeout) and timeout > limits.timeout_seconds:
        problems.append(
            f"has timeout {_number(timeout)} s, over the {limits.timeout_seconds} s limit "
            f"of {trigger} triggers"
        )
    memory = props.get("memorySize")
    memory = DEFAULT_MEMORY_MB if memory is None else memory
    if known(memory) and memory > limits.memory_mb:
        problems.append(
            f"has memorySize {_number(memory)} MB, over the {limits.memory_mb} MB limit "
            f"of {trigger} triggers"
        )
    return problems


def _unqualified_associations(
    resources: Sequence[StackResource],
) -> Iterator[tuple[str, str]]:
    """Associations that name a function without a numbered version ($LATEST or none)."""
    for distribution in (r for r in resources if r["type"] == DISTRIBUTION):
        for label, _, behaviour in _behaviours(distribution["props"]):
            for association in _as_list(behaviour.get("lambdaFunctionAssociations")):
                arn = association.get("lambdaArn") if isinstance(association, Mapping) else None
                if isinstance(arn, str) and not re.search(r":function:[^:]+:\d+$", arn):
                    yield (
                        distribution["urn"],
                        (
                            f"{label} associates {arn!r}, which is not a numbered version; use "
                            "the function's qualified ARN (qualifiedArn of a published function)"
                        ),
                    )


def lambda_edge_functions(resources: Sequence[StackResource]) -> list[tuple[str, str]]:
    by_urn = {r["urn"]: r for r in resources}
    found = []
    for urn, events in edge_triggers(resources).items():
        for problem in lambda_edge_problems(by_urn[urn]["props"], events):
            found.append((urn, f"Lambda@Edge function {by_urn[urn]['name']!r} {problem}"))
    found.extend(_unqualified_associations(resources))
    return found


# --- S3 -------------------------------------------------------------------------------------


def _targets_bucket(block: StackResource, bucket: StackResource) -> bool:
    target = block["props"].get("bucket")
    if isinstance(target, str) and target:
        names = {bucket["props"].get("bucket"), bucket["props"].get("id")}
        return target in names - {None}
    sources = block["propertyDependencies"].get("bucket") or block["dependencies"]
    return bucket["urn"] in sources


def s3_public_access_blocked(resources: Sequence[StackResource]) -> list[tuple[str, str]]:
    blocks = [r for r in resources if r["type"] == PUBLIC_ACCESS_BLOCK]
    found = []
    for bucket in (r for r in resources if r["type"] in BUCKET_TYPES):
        own = [block for block in blocks if _targets_bucket(block, bucket)]
        if not own:
            found.append(
                (
                    bucket["urn"],
                    f"bucket {bucket['name']!r} has no BucketPublicAccessBlock; add one with "
                    f"{', '.join(PUBLIC_ACCESS_FLAGS)} all true",
                )
            )
        for block in own:
            off = [
                flag
                for flag in PUBLIC_ACCESS_FLAGS
                if known(block["props"].get(flag)) and block["props"].get(flag) is not True
            ]
            if off:
                found.append(
                    (
                        block["urn"],
                        f"public access block {block['name']!r} of bucket {bucket['name']!r} "
                        f"leaves {', '.join(off)} off; all four must be true",
                    )
                )
    return found


BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def _document(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, Mapping) else None


def _denies_insecure_transport(document: Mapping[str, Any]) -> bool:
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, Mapping) or not is_insecure_transport_deny(statement):
            continue
        principal = statement.get("Principal")
        everyone = principal == "*" or (
            isinstance(principal, Mapping) and _as_list(principal.get("AWS")) == ["*"]
        )
        actions = {str(a).strip() for a in _as_list(statement.get("Action"))}
        resources = [str(r) for r in _as_list(statement.get("Resource"))]
        covers_objects = any(r.endswith("/*") for r in resources)
        covers_bucket = any(not r.endswith("*") for r in resources)
        if everyone and actions & {"*", "s3:*"} and covers_objects and covers_bucket:
            return True
    return False


def s3_tls_only(resources: Sequence[StackResource]) -> list[tuple[str, str]]:
    """Every bucket's policy denies every S3 action without TLS (aws:SecureTransport)."""
    policies = [r for r in resources if r["type"] == BUCKET_POLICY]
    found = []
    fix = (
        'a Deny of "s3:*" on the bucket and its objects for Principal "*" with the condition '
        'Bool aws:SecureTransport "false" (edgekit: deny_insecure_transport)'
    )
    for bucket in (r for r in resources if r["type"] in BUCKET_TYPES):
        own = [policy for policy in policies if _targets_bucket(policy, bucket)]
        if not own:
            found.append((bucket["urn"], f"bucket {bucket['name']!r} has no bucket policy; "
                          f"add one with {fix}"))
            continue
        for policy in own:
            value = policy["props"].get("policy")
            if not known(value):
                continue  # known on `pulumi up`, checked then
            document = _document(value)
            if document is None or not _denies_insecure_transport(document):
                found.append((policy["urn"], f"policy {policy['name']!r} of bucket "
                              f"{bucket['name']!r} lets requests without TLS through; add {fix}"))
    return found


# --- stateful resources ---------------------------------------------------------------------


def data_resources_protected(resources: Sequence[StackResource]) -> list[tuple[str, str]]:
    """In prod, what holds data carries `protect`: destroy and replacement stop before it.

    Without it `pulumi destroy` (or a replacement of the bucket) tears down the distribution
    and then stops on BucketNotEmpty, leaving prod half torn down.
    """
    return [
        (
            resource["urn"],
            f"{resource['name']!r} ({resource['type']}) holds data but is not protected; "
            "set edgekit:protectData true (Pulumi protect + retain_on_delete), or "
            "ResourceOptions(protect=True, retain_on_delete=True) on the resource",
        )
        for resource in resources
        if resource["type"] in DATA_HOLDING_TYPES and resource.get("protect") is not True
    ]


# --- the pack -------------------------------------------------------------------------------

RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(
        name="cloudfront-https-only",
        description="Every CloudFront behaviour redirects HTTP to HTTPS or accepts HTTPS only.",
        level=MANDATORY,
        types=(DISTRIBUTION,),
        check=cloudfront_https_only,
    ),
    ResourceRule(
        name="cloudfront-modern-tls",
        description="Distributions with a custom certificate require TLSv1.2_2021 or newer.",
        level=MANDATORY,
        types=(DISTRIBUTION,),
        check=cloudfront_modern_tls,
    ),
    ResourceRule(
        name="cloudfront-prod-protection",
        description="In prod, distributions have a WAF web ACL and real-time logs on every "
        "behaviour.",
        level=MANDATORY,
        types=(DISTRIBUTION,),
        check=cloudfront_protection,
        scope=PRODUCTION,
    ),
    ResourceRule(
        name="cloudfront-protection-advisory",
        description="Outside prod, distributions should have a WAF web ACL and real-time logs "
        "on every behaviour (advisory: prod enforces it).",
        level=ADVISORY,
        types=(DISTRIBUTION,),
        check=cloudfront_protection,
        scope=NON_PRODUCTION,
    ),
    ResourceRule(
        name="cloudfront-trusted-key-groups",
        description="Behaviours that require signed URLs or cookies trust key groups, never "
        "root-account key pairs (trustedSigners).",
        level=MANDATORY,
        types=(DISTRIBUTION,),
        check=cloudfront_trusted_key_groups,
    ),
    ResourceRule(
        name="cloudfront-function-limits",
        description="CloudFront Functions: code within 10 KB, at most one KeyValueStore, and "
        "KeyValueStore reads only on runtime cloudfront-js-2.0.",
        level=MANDATORY,
        types=(CLOUDFRONT_FUNCTION,),
        check=cloudfront_function_limits,
    ),
    ResourceRule(
        name="iam-no-wildcard-actions",
        description="IAM and bucket policies allow named actions only, never '*' or 'service:*'.",
        level=MANDATORY,
        types=IAM_POLICY_TYPES,
        check=iam_no_wildcard_actions,
    ),
    ResourceRule(
        name="workers-compatibility-date",
        description="Workers scripts pin a compatibility date (YYYY-MM-DD).",
        level=MANDATORY,
        types=WORKERS_SCRIPT_TYPES,
        check=workers_compatibility_date,
    ),
    ResourceRule(
        name="python-workers-flag",
        description="Python Workers carry the python_workers compatibility flag.",
        level=MANDATORY,
        types=WORKERS_SCRIPT_TYPES,
        check=python_workers_flag,
    ),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        name="lambda-edge-functions",
        description="Functions a CloudFront distribution runs are in us-east-1, published, "
        "x86_64, without environment variables or layers, within their trigger's timeout and "
        "memory limits, and associated by a numbered version.",
        level=MANDATORY,
        check=lambda_edge_functions,
    ),
    StackRule(
        name="prod-data-protected",
        description="In prod, buckets, KMS keys and other data-holding resources are "
        "protected (Pulumi protect), so destroy or replacement cannot delete their data.",
        level=MANDATORY,
        check=data_resources_protected,
        scope=PRODUCTION,
    ),
    StackRule(
        name="s3-public-access-blocked",
        description="Every S3 bucket has a public access block with all four flags true.",
        level=MANDATORY,
        check=s3_public_access_blocked,
    ),
    StackRule(
        name="s3-tls-only",
        description="Every S3 bucket's policy denies every request without TLS "
        "(aws:SecureTransport false).",
        level=MANDATORY,
        check=s3_tls_only,
    ),
)
