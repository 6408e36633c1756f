"""EdgeWorker: any Python Worker from `functions/`, deployed as a Cloudflare Workers script.

`EdgeWorker("geo", EdgeWorkerArgs(account_id=..., script_name="hello-geo", function="hello_geo",
route_pattern="geo.example.com/*", zone_id=...))` bundles functions/hello_geo (or takes a
pinned artifact), uploads it as one Workers script and routes traffic to it.

The Python Workers rules live here, not with the caller: `content_type="text/x-python"`,
the main module named by the bundle's manifest, the `python_workers` compatibility flag, a
pinned compatibility date (a real date, not in the future), and observability on. Callers
choose names, routing, settings (plain-text bindings) and secrets (secret_text bindings,
kept Pulumi secrets); they cannot switch the rules off.

Multi-module upload: pulumi-cloudflare v6 `WorkersScript` sends the main module as
`content` and every other file of the bundle through `files` (one multipart part per
module, named by its path in the bundle, which is how the Python runtime imports it:
`cache_policy.py` -> `import cache_policy`, vendored packages under `python_modules/`).
Modules go as base64 with their sha256, so the state depends only on the bundle's bytes,
not on where it was built. (This follows pulumi-cloudflare 6.23.1's schema and docs for
`files`; the Pulumi CLI is not available here, so it has not been run against the live API.)

Which release runs is visible on Cloudflare: each upload's annotations carry the tag
`<version>+<sha256[:12]>` (`workers/tag`, at most 100 bytes) and a message naming the
function, its version and the bundle's full sha256.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
from edgekit_iac.components import canary, durable_objects
from edgekit_iac.components._args import (
    ArgsError,
    check_cloudflare_id,
    documented,
    provider_module,
)
from edgekit_iac.components._component import EdgeComponent
from edgekit_iac.components.canary import WorkerCanaryArgs
from edgekit_iac.components.durable_objects import DurableObjectMigration

if TYPE_CHECKING:
    import pulumi_cloudflare as cloudflare
else:
    cloudflare = provider_module("pulumi_cloudflare")

# A runtime import (cheap: no provider SDK), so that the Args' annotations resolve
# (`typing.get_type_hints`) for the stack config and the component package schema.
from edgekit_iac.bundle.build import Artifact  # noqa: E402
from edgekit_iac.bundle.declared import is_declared  # noqa: E402

TYPE_TOKEN = "edgekit:cloudflare:EdgeWorker"

# Python Workers facts (see DESIGN.md).
WORKER_KIND = "python-worker"
PYTHON_CONTENT_TYPE = "text/x-python"
PYTHON_WORKERS_FLAG = "python_workers"
# The runtime behaviour the Workers were tested against; bump deliberately, never "today".
DEFAULT_COMPATIBILITY_DATE = "2026-11-01"
# Non-Python files of a bundle are uploaded as text modules (worker_modules yields text).
MODULE_CONTENT_TYPES = {".py": PYTHON_CONTENT_TYPE}
TEXT_MODULE_CONTENT_TYPE = "text/plain"
# Cloudflare's limits on a version's annotations.
WORKERS_TAG_LIMIT = 100
WORKERS_MESSAGE_LIMIT = 1000
# Cloudflare's limits on environment variables (bindings of type plain_text/secret_text):
# 5 KB each, 64 per Worker on Workers Free and 128 on Workers Paid
# (developers.cloudflare.com/workers/platform/limits/#environment-variables).
BINDING_VALUE_LIMIT = 5 * 1024
BINDINGS_PER_WORKER = 64

# What a script upload may not change while a canary runs (the deployment decides).
CANARY_FROZEN = ["content", "files", "main_module", "bindings", "annotations"]
# Workers script names: a letter first, then letters, digits, '-' or '_', at most 63.
_SCRIPT_NAME = re.compile(r"^[a-z]([a-z0-9_-]{0,61}[a-z0-9])?$")
_HOSTNAME = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_BINDING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FLAG = re.compile(r"^[a-z0-9_]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class WorkerArgsError(ArgsError):
    """A Worker argument is wrong; the message names it and what is accepted."""

    owner = "EdgeWorkerArgs"


@documented
@dataclass(kw_only=True, frozen=True)
class WorkerDeploymentArgs:
    """Where and how a Python Worker is deployed: shared by EdgeWorker and CachedWorker."""

    account_id: pulumi.Input[str]
    """Cloudflare account id (32 hex characters). Required."""

    script_name: str
    """Workers script name: lowercase letters, digits, '-' and '_', a letter first, at most
    63 characters. Required."""

    zone_id: pulumi.Input[str] | None = None
    """Zone id (32 hex characters); needed with `route_pattern`, passed along with
    `custom_domain`. Default: None."""

    route_pattern: str | None = None
    """A `WorkersRoute` pattern on the zone, "host/path" with an optional leading "*" on the
    host and a trailing "*" on the path, e.g. "api.example.com/*". Excludes `custom_domain`.
    Default: None."""

    custom_domain: str | None = None
    """A hostname served by a `WorkersCustomDomain` (Cloudflare creates its DNS record and
    certificate), e.g. "geo.example.com". Excludes `route_pattern`. Default: None (with
    neither, the script is deployed without routing)."""

    artifact: Artifact | None = None
    """A prebuilt (pinned) python-worker bundle. Default: None, which bundles the function
    with `edgekit_iac.bundle.build.build_function`."""

    compatibility_date: str = DEFAULT_COMPATIBILITY_DATE
    """Pinned Workers compatibility date, YYYY-MM-DD, a real date not in the future.
    Default: "2026-11-01"."""

    compatibility_flags: Sequence[str] = ()
    """Extra compatibility flags; `python_workers` is always set. Default: none."""

    secret_bindings: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Secrets as `secret_text` bindings, name -> value (e.g. `config.require_secret(...)`);
    every value is made a Pulumi secret. Default: none."""

    observability_sampling_rate: float = 1.0
    """Share of requests that Workers observability logs, 0 < rate <= 1 (logs are always
    on). Default: 1.0."""

    kv_namespaces: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Workers KV namespace bindings, binding name -> namespace id (e.g. {"FLAGS":
    flags.namespace_id}, see EdgeFlags). Default: none."""

    canary: WorkerCanaryArgs | None = None
    """A gradual deployment (components/canary.py): the bundle becomes a candidate
    WorkerVersion that serves `canary.percent` % next to `canary.stable_version_id`.
    Default: None (the upload deploys to 100 %)."""

    logpush: bool = False
    """Send this script's trace events to Workers Logpush (the script's `logpush` flag).
    A `workers_trace_events` job (e.g. CloudflareLogpush) receives nothing from a script
    without it. Default: False."""


@documented
@dataclass(kw_only=True, frozen=True)
class EdgeWorkerArgs(WorkerDeploymentArgs):
    """Any Python Worker from `functions/`: the deployment plus its name and settings."""

    function: str | None = None
    """Folder under functions/ to bundle when `artifact` is None; must equal the artifact's
    name when both are given. Default: None (the artifact's name)."""

    plain_text_bindings: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Settings as `plain_text` bindings, name -> text (e.g. {"MESSAGE": "Hello"}).
    Default: none."""

    durable_objects: Mapping[str, str] = field(default_factory=dict)
    """Durable Object namespace bindings of the script's own classes, binding name -> class
    name (e.g. {"COUNTERS": "Counter"}); each class must be defined by the main module and
    created by `migrations`. Default: none."""

    migrations: Sequence[DurableObjectMigration] = ()
    """The script's whole Durable Object migration history, oldest first; see
    components/durable_objects.py for the checks that keep stored data safe. Default: none."""

    applied_migration_tag: str | None = None
    """The last migration tag already applied to this script in this stack (what Cloudflare
    reports); later migrations are sent with it as old_tag. Default: None (first deploy)."""


@dataclass(frozen=True)
class ScriptParts:
    """What the WorkersScript uploads: the main module inline, the other modules as files."""

    main_module: str
    main_source: str
    files: dict[str, dict[str, str]]


# --- validation: pure, runs before anything is declared ------------------------------------


def fail(owner: str, arg: str, problem: str, accepted: str) -> WorkerArgsError:
    """The error for one field of an args class: what was wrong, where, what is accepted."""
    return WorkerArgsError(arg, problem, accepted, owner=owner)


def check_hostname(owner: str, arg: str, value: Any) -> str:
    """A lower-cased DNS name without a trailing dot, or an error naming `owner.arg`."""
    text = value.strip().lower().rstrip(".") if isinstance(value, str) else value
    if not isinstance(text, str) or not _HOSTNAME.match(text):
        raise fail(owner, arg, f"got {value!r}", 'a DNS name such as "api.example.com"')
    return text


def _check_id(owner: str, arg: str, value: Any, *, required: bool) -> Any:
    """Plain ids are checked; Outputs (another resource's id) are trusted as typed."""
    if value is None and not required:
        return None
    if isinstance(value, pulumi.Output):
        return value
    return check_cloudflare_id(WorkerArgsError, arg, value, owner=owner)


def check_compatibility_date(owner: str, value: Any, today: dt.date) -> str:
    """A pinned date: YYYY-MM-DD, a real calendar date, and not after `today`."""
    accepted = f"a date YYYY-MM-DD no later than today ({today.isoformat()}), e.g. '2026-11-01'"
    if not isinstance(value, str) or not _DATE.match(value):
        raise fail(owner, "compatibility_date", f"got {value!r}", accepted)
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise fail(
            owner, "compatibility_date", f"{value!r} is not a calendar date", accepted
        ) from None
    if date > today:
        raise fail(
            owner,
            "compatibility_date",
            f"{value} is in the future (Cloudflare refuses it)",
            accepted,
        )
    return value


def normalize_flags(owner: str, flags: Any) -> tuple[str, ...]:
    """`python_workers` first, then the extra flags in the given order, each once."""
    accepted = 'a list of flag names such as ["nodejs_compat"] (python_workers is implied)'
    if isinstance(flags, str) or not isinstance(flags, Sequence):
        raise fail(owner, "compatibility_flags", f"got {flags!r}, not a list", accepted)
    ordered = [PYTHON_WORKERS_FLAG]
    for flag in flags:
        if not isinstance(flag, str) or not _FLAG.match(flag):
            raise fail(owner, "compatibility_flags", f"bad flag {flag!r}", accepted)
        if flag not in ordered:
            ordered.append(flag)
    return tuple(ordered)


def check_route_pattern(owner: str, arg: str, value: Any) -> str:
    """A route pattern "host/path": "*" may lead the host and end the path, nowhere else."""
    accepted = (
        '"host/path" without scheme or query, e.g. "api.example.com/*" or "*.example.com/v1/*"'
    )
    if not isinstance(value, str) or "://" in value or "?" in value or "#" in value:
        raise fail(owner, arg, f"got {value!r}", accepted)
    host, slash, path = value.strip().partition("/")
    bare_host = host.removeprefix("*.").removeprefix("*").lower()
    if not slash or "*" in path[:-1] or not _HOSTNAME.match(bare_host):
        raise fail(owner, arg, f"got {value!r}", accepted)
    return f"{host.lower()}/{path}"


def _normalize_bindings(owner: str, arg: str, bindings: Any) -> dict[str, Any]:
    accepted = "a mapping of binding names (letters, digits, '_', not a digit first) to text"
    if not isinstance(bindings, Mapping):
        raise fail(owner, arg, f"got {bindings!r}, not a mapping", accepted)
    for name, value in bindings.items():
        if not isinstance(name, str) or not _BINDING_NAME.match(name):
            raise fail(owner, arg, f"bad binding name {name!r}", accepted)
        if value is None or not isinstance(value, str | pulumi.Output):
            # A value's type, never the value: secret bindings carry secrets.
            raise fail(owner, arg, f"{name} has a {type(value).__name__} value", accepted)
        if isinstance(value, str) and len(value.encode()) > BINDING_VALUE_LIMIT:
            raise fail(
                owner,
                arg,
                f"{name} is {len(value.encode())} bytes",
                f"at most {BINDING_VALUE_LIMIT} bytes (5 KB, Cloudflare's limit per variable)",
            )
    return dict(sorted(bindings.items()))


def _check_routing(owner: str, args: WorkerDeploymentArgs) -> tuple[str | None, str | None]:
    if args.route_pattern is not None and args.custom_domain is not None:
        raise fail(
            owner,
            "custom_domain",
            "given together with route_pattern",
            "one of route_pattern or custom_domain, or neither (no routing)",
        )
    pattern = domain = None
    if args.route_pattern is not None:
        pattern = check_route_pattern(owner, "route_pattern", args.route_pattern)
        if args.zone_id is None:
            raise fail(
                owner, "zone_id", "missing for route_pattern", "the id of the pattern's zone"
            )
    if args.custom_domain is not None:
        domain = check_hostname(owner, "custom_domain", args.custom_domain)
    return pattern, domain


def validate_args(
    args: EdgeWorkerArgs, today: dt.date | None = None, owner: str = "EdgeWorkerArgs"
) -> EdgeWorkerArgs:
    """Check every field of `args` and return them normalized (the only values the `_create_*`
    steps read), or raise naming the field.

    `owner` names the args class in messages (CachedWorker passes its own fields through).
    """
    today = today or dt.datetime.now(dt.UTC).date()
    if not isinstance(args.script_name, str) or not _SCRIPT_NAME.match(args.script_name):
        raise fail(
            owner,
            "script_name",
            f"got {args.script_name!r}",
            "lowercase letters, digits, '-' and '_', a letter first, at most 63 characters",
        )
    if args.function is None and args.artifact is None:
        raise fail(owner, "function", "neither function nor artifact given", "one, or both")
    if args.function is not None and not isinstance(args.function, str):
        raise fail(owner, "function", f"got {args.function!r}", "a folder name under functions/")
    pattern, domain = _check_routing(owner, args)
    plain = _normalize_bindings(owner, "plain_text_bindings", args.plain_text_bindings)
    secret = _normalize_bindings(owner, "secret_bindings", args.secret_bindings)
    kv = _normalize_bindings(owner, "kv_namespaces", args.kv_namespaces)
    both = sorted(plain.keys() & secret.keys())
    taken = sorted(kv.keys() & (plain.keys() | secret.keys()))
    if taken:
        raise fail(owner, "kv_namespaces", f"{taken} are also text bindings", "each name once")
    if len(plain) + len(secret) > BINDINGS_PER_WORKER:
        raise fail(
            owner,
            "plain_text_bindings",
            f"{len(plain) + len(secret)} bindings with secret_bindings",
            f"at most {BINDINGS_PER_WORKER} (Workers Free; Paid allows 128)",
        )
    if both:
        raise fail(owner, "secret_bindings", f"{both} are also plain-text", "each name once")
    rate = args.observability_sampling_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise fail(owner, "observability_sampling_rate", f"got {rate!r}", "0 < rate <= 1")
    if not isinstance(args.logpush, bool):
        raise fail(owner, "logpush", f"got {args.logpush!r}", "True or False")
    return replace(
        args,
        account_id=_check_id(owner, "account_id", args.account_id, required=True),
        zone_id=_check_id(owner, "zone_id", args.zone_id, required=False),
        route_pattern=pattern,
        custom_domain=domain,
        compatibility_date=check_compatibility_date(owner, args.compatibility_date, today),
        compatibility_flags=normalize_flags(owner, args.compatibility_flags),
        plain_text_bindings=plain,
        secret_bindings=secret,
        observability_sampling_rate=float(rate),
        kv_namespaces=kv,
        canary=canary.validate_worker(owner, args.canary) if args.canary else None,
    )


def check_artifact(owner: str, artifact: Artifact, function: str | None) -> Artifact:
    """A python-worker bundle with a main module, of `function`, whose bytes match its hash."""
    main_module = (artifact.manifest or {}).get("main_module")
    if artifact.kind != WORKER_KIND or not isinstance(main_module, str):
        raise fail(
            owner,
            "artifact",
            f"{artifact.name} is a {artifact.kind} bundle with main_module {main_module!r}",
            f'a {WORKER_KIND} bundle whose function.toml names main_module = "<module>.py"',
        )
    if function is not None and artifact.name != function:
        raise fail(
            owner, "artifact", f"built from {artifact.name}, not {function}", f"a {function} bundle"
        )
    if is_declared(artifact):
        return artifact  # described, not built: there is no zip to check (a check-only run)
    zip_path = Path(artifact.path)
    if not zip_path.is_file():
        raise fail(
            owner, "artifact", f"zip {zip_path} does not exist", "a built bundle (edgekit bundle)"
        )
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    if digest != artifact.sha256:
        raise fail(
            owner,
            "artifact",
            f"{zip_path} hashes to {digest}, but the artifact records {artifact.sha256}",
            "the zip the artifact describes (rebuild it, or fetch the pinned one again)",
        )
    return artifact


# --- pure decisions the resources are built from ------------------------------------------


def module_content_type(path: str) -> str:
    return MODULE_CONTENT_TYPES.get(Path(path).suffix, TEXT_MODULE_CONTENT_TYPE)


def script_parts(owner: str, modules: Mapping[str, str], main_module: str) -> ScriptParts:
    """Split a bundle's modules into the inline main module and the extra `files` parts."""
    if main_module not in modules:
        raise fail(
            owner,
            "artifact",
            f"main module {main_module!r} is not in the bundle (it has {sorted(modules)})",
            "a bundle that contains the main module its manifest names",
        )
    files = {}
    for path, source in sorted(modules.items()):
        if path == main_module:
            continue
        data = source.encode("utf-8")
        files[path] = {
            "content_type": module_content_type(path),
            "content_base64": base64.b64encode(data).decode("ascii"),
            "content_sha256": hashlib.sha256(data).hexdigest(),
        }
    return ScriptParts(main_module=main_module, main_source=modules[main_module], files=files)


def version_tag(artifact: Artifact, owner: str = "EdgeWorkerArgs") -> str:
    """`<version>+<sha256[:12]>`: the semantic version and the exact bundle, as SemVer build."""
    tag = f"{artifact.version}+{artifact.sha256[:12]}"
    if len(tag.encode()) > WORKERS_TAG_LIMIT:
        raise fail(
            owner,
            "artifact",
            f"version tag {tag!r} is longer than {WORKERS_TAG_LIMIT} bytes",
            "a shorter version in function.toml",
        )
    return tag


def version_message(artifact: Artifact) -> str:
    message = f"{artifact.name} {artifact.version} (bundle sha256 {artifact.sha256})"
    return message.encode()[:WORKERS_MESSAGE_LIMIT].decode(errors="ignore")


def bindings(settings: EdgeWorkerArgs) -> list[dict[str, Any]]:
    """Plain-text settings, then secrets (always Pulumi secrets), each sorted by name."""
    plain = [
        {"name": name, "type": "plain_text", "text": text}
        for name, text in settings.plain_text_bindings.items()
    ]
    secret = [
        {"name": name, "type": "secret_text", "text": pulumi.Output.secret(text)}
        for name, text in settings.secret_bindings.items()
    ]
    kv = [
        {"name": name, "type": "kv_namespace", "namespace_id": namespace_id}
        for name, namespace_id in settings.kv_namespaces.items()
    ]
    return plain + secret + kv


def observability(rate: float) -> dict[str, Any]:
    """Workers Logs on, invocation logs included, sampled at `rate`."""
    return {
        "enabled": True,
        "head_sampling_rate": rate,
        "logs": {"enabled": True, "invocation_logs": True, "head_sampling_rate": rate},
    }


def _default_artifact(function: str) -> Artifact:
    from edgekit_iac.bundle.build import build_function

    return build_function(function)


@dataclass(frozen=True)
class PreparedWorker:
    """Everything an EdgeWorker declares, checked: settings, bundle and upload parts."""

    settings: EdgeWorkerArgs
    artifact: Artifact
    parts: ScriptParts
    durable: durable_objects.DurablePlan = durable_objects.DurablePlan()


def prepare(
    args: EdgeWorkerArgs, today: dt.date | None = None, owner: str = "EdgeWorkerArgs"
) -> PreparedWorker:
    """Validate `args`, build or verify the bundle, and split it for upload; declares nothing."""
    from edgekit_iac.bundle.declared import modules

    settings = validate_args(args, today, owner)
    function = settings.function
    artifact = args.artifact or _default_artifact(function or "")
    check_artifact(owner, artifact, function)
    parts = script_parts(owner, modules(artifact), artifact.manifest["main_module"])
    version_tag(artifact, owner)
    durable = durable_objects.plan(owner, getattr(args, "durable_objects", {}),
                                   getattr(args, "migrations", ()),
                                   getattr(args, "applied_migration_tag", None),
                                   parts.main_source, parts.main_module)
    return PreparedWorker(settings=settings, artifact=artifact, parts=parts, durable=durable)


def migrations_input(plan: durable_objects.DurablePlan
                     ) -> cloudflare.WorkersScriptMigrationsArgs | None:
    """The pending migrations in pulumi-cloudflare v6's schema; None when nothing is pending."""
    if not plan.steps:
        return None
    return cloudflare.WorkersScriptMigrationsArgs(
        old_tag=plan.old_tag,
        new_tag=plan.new_tag,
        steps=[
            cloudflare.WorkersScriptMigrationsStepArgs(
                new_sqlite_classes=list(step.new_sqlite_classes) or None,
                renamed_classes=[
                    cloudflare.WorkersScriptMigrationsStepRenamedClassArgs(from_=old, to=new)
                    for old, new in dict(step.renamed_classes).items()
                ] or None,
                deleted_classes=list(step.deleted_classes) or None,
            )
            for step in plan.steps
        ],
    )


# --- the component ---------------------------------------------------------------------------


class EdgeWorker(EdgeComponent):
    """A Python Workers script from a functions/ bundle, with its route or custom domain."""

    TYPE_TOKEN = TYPE_TOKEN

    script_name: pulumi.Output[str]
    routes: pulumi.Output[list[str]]
    hostnames: pulumi.Output[list[str]]
    bundle_sha256: pulumi.Output[str]
    version: pulumi.Output[str]
    version_tag: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: EdgeWorkerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Everything that can be wrong is checked before the first registration.
        prepared = prepare(args)
        super().__init__(name, opts)
        self._settings = prepared.settings
        self._artifact = prepared.artifact
        self._parts = prepared.parts
        self._durable = prepared.durable
        # Children wait for what the component waits for (e.g. CachedWorker's origin DNS),
        # explicitly, so the graph shows it and not only the SDK's registration order.
        self._child = pulumi.ResourceOptions(
            parent=self, depends_on=opts.depends_on if opts else None
        )

        self._create_script()
        self._create_canary()
        self._create_routing()

        self.set_outputs(
            script_name=self.script.script_name,
            routes=pulumi.Output.from_input(
                [self._settings.route_pattern] if self._settings.route_pattern else []
            ),
            hostnames=pulumi.Output.from_input(
                [self._settings.custom_domain] if self._settings.custom_domain else []
            ),
            bundle_sha256=pulumi.Output.from_input(self._artifact.sha256),
            version=pulumi.Output.from_input(self._artifact.version),
            version_tag=pulumi.Output.from_input(version_tag(self._artifact)),
        )

    def _create_script(self) -> None:
        settings, parts, artifact = self._settings, self._parts, self._artifact
        self.script = cloudflare.WorkersScript(
            self.child_name("script"),
            account_id=settings.account_id,
            script_name=settings.script_name,
            content=parts.main_source,
            main_module=parts.main_module,
            files=parts.files or None,
            content_type=PYTHON_CONTENT_TYPE,
            compatibility_date=settings.compatibility_date,
            compatibility_flags=list(settings.compatibility_flags),
            bindings=bindings(settings) + self._durable.binding_inputs(),
            migrations=migrations_input(self._durable),
            observability=observability(settings.observability_sampling_rate),
            logpush=settings.logpush,
            annotations={
                "workers_tag": version_tag(artifact),
                "workers_message": version_message(artifact),
            },
            # During a canary the upload would deploy the candidate to 100 %: the script keeps
            # the code it has, and the deployment below decides what serves.
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(
                ignore_changes=CANARY_FROZEN)) if settings.canary else self._child,
        )

    def _create_canary(self) -> None:
        settings, parts, artifact = self._settings, self._parts, self._artifact
        self.candidate = self.deployment = None
        if settings.canary is None:
            return
        main = {"name": parts.main_module, "content_type": PYTHON_CONTENT_TYPE,
                "content_base64": base64.b64encode(parts.main_source.encode()).decode("ascii")}
        others = [{"name": path, **{k: v for k, v in part.items() if k != "content_sha256"}}
                  for path, part in parts.files.items()]
        self.candidate = cloudflare.WorkerVersion(
            self.child_name("candidate"),
            account_id=settings.account_id,
            worker_id=self.script.script_name,
            main_module=parts.main_module,
            modules=[main, *others],
            compatibility_date=settings.compatibility_date,
            compatibility_flags=list(settings.compatibility_flags),
            bindings=bindings(settings) + self._durable.binding_inputs(),
            annotations={"workers_tag": version_tag(artifact),
                         "workers_message": version_message(artifact)},
            opts=self._child,
        )
        self.deployment = cloudflare.WorkersDeployment(
            self.child_name("deployment"),
            account_id=settings.account_id,
            script_name=self.script.script_name,
            strategy="percentage",
            versions=canary.deployment_versions(settings.canary.stable_version_id,
                                                self.candidate.id, settings.canary.percent),
            annotations={"workers_message": f"canary {settings.canary.percent}%: "
                                            f"{version_message(artifact)}"[:1000]},
            opts=self._child,
        )

    def _create_routing(self) -> None:
        settings = self._settings
        self.route: cloudflare.WorkersRoute | None = None
        self.domain: cloudflare.WorkersCustomDomain | None = None
        if settings.route_pattern is not None:
            self.route = cloudflare.WorkersRoute(
                self.child_name("route"),
                zone_id=settings.zone_id,
                pattern=settings.route_pattern,
                script=self.script.script_name,
                opts=self._child,
            )
        if settings.custom_domain is not None:
            self.domain = cloudflare.WorkersCustomDomain(
                self.child_name("domain"),
                account_id=settings.account_id,
                zone_id=settings.zone_id,
                hostname=settings.custom_domain,
                service=self.script.script_name,
                opts=self._child,
            )
