"""Run the Pulumi program in-process under Pulumi's mock runtime and record what it declares.

This is how edgekit works without the Pulumi CLI or a cloud account: `edgekit preview`
prints the recorded graph, the local twin serves it, tests assert on it. The program is
the real `__main__.py` with the stack's real config; only the engine is replaced, by a
monitor that records every registration (type, name, parent, inputs, dependencies) and
answers with the computed outputs a provider would return (see `edgekit_iac.mock_outputs`).
Nothing is deployed, and nothing here pretends otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import runpy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from edgekit_iac import mock_outputs
from edgekit_iac.release import artifacts, stack_files

PROJECT = "edgekit"
STACK_TYPE = "pulumi:pulumi:Stack"

log = logging.getLogger("edgekit.program")


@dataclass
class RecordedResource:
    """One registration the program made, as the engine would have seen it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    dependencies: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    """Resource options the engine acts on: protect, retainOnDelete, importId, ignoreChanges
    (when set)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "id": self.id,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "dependencies": self.dependencies,
            "options": self.options,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordedResource:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass
class ProgramGraph:
    """Every resource a stack's program declared, in registration order, and its exports."""

    stack: str
    resources: list[RecordedResource]
    exports: dict[str, Any]

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str) -> RecordedResource:
        found = self.of_type(type_token)
        if len(found) != 1:
            raise LookupError(f"expected one {type_token}, found {len(found)}")
        return found[0]

    def named(self, name: str) -> RecordedResource:
        for resource in self.resources:
            if resource.name == name:
                return resource
        raise LookupError(f"no resource named {name!r}")

    def by_urn(self, urn: str) -> RecordedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise LookupError(f"no resource with urn {urn!r}")

    def children(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def descendants(self, parent: RecordedResource) -> Iterator[RecordedResource]:
        for child in self.children(parent):
            yield child
            yield from self.descendants(child)

    def find_by_output(self, key: str, value: Any) -> RecordedResource | None:
        """The resource whose computed output `key` equals `value` (e.g. an id or an ARN)."""
        for resource in self.resources:
            if resource.outputs.get(key) == value:
                return resource
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "exports": self.exports,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProgramGraph:
        return cls(
            stack=data["stack"],
            resources=[RecordedResource.from_json(r) for r in data["resources"]],
            exports=dict(data.get("exports", {})),
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True, default=str))
        temporary.replace(path)


class _ProviderMocks(pulumi_mocks.Mocks):
    """Answers registrations and invokes with what the real providers would compute."""

    def __init__(self, stack: str) -> None:
        self.stack = stack

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        if not args.custom:
            return None, {}
        return mock_outputs.computed(args.typ, args.name, args.inputs, self.stack)

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list | None]:
        return mock_outputs.invoke(args.token, args.args), []


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also keeps what the engine is told: parents, dependencies."""

    def __init__(self, mocks: _ProviderMocks) -> None:
        super().__init__(mocks)
        self.recorded: dict[str, RecordedResource] = {}

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            return response
        registration = self.resources.get(response.urn)
        self.recorded[response.urn] = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            inputs=_wire_plain(request.object),
            outputs=_plain(registration.state) if registration else {},
            id=registration.id if registration else None,
            dependencies=sorted(set(request.dependencies)),
            options=_options(request),
        )
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802 - gRPC method name
        recorded = self.recorded.get(request.urn)
        if recorded is not None and not recorded.custom:
            recorded.outputs = _wire_plain(request.outputs)
        return super().RegisterResourceOutputs(request)


def _options(request: Any) -> dict[str, Any]:
    """The options a registration asked the engine for (only those that are set)."""
    options: dict[str, Any] = {}
    if request.protect:
        options["protect"] = True
    if request.retainOnDelete:
        options["retainOnDelete"] = True
    if request.importId:
        options["importId"] = request.importId
    if request.ignoreChanges:
        options["ignoreChanges"] = list(request.ignoreChanges)
    if request.hooks.on_error:
        options["onErrorHooks"] = list(request.hooks.on_error)
    return options


def _wire_plain(struct: Any) -> Any:
    """Properties as sent on the wire, read without lifting: a secret nested in a list hides
    only itself (deserializing would mark the whole list secret and hide its plain parts)."""
    return _plain(json_format.MessageToDict(struct))


def _plain(value: Any) -> Any:
    """JSON-safe copy of deserialized properties; secrets stay marked, not revealed."""
    if isinstance(value, Mapping):
        signature = value.get(rpc._special_sig_key)
        if signature == rpc._special_secret_sig:
            return {"secret": True}
        if signature in (rpc._special_archive_sig, rpc._special_asset_sig):
            return {key: value[key] for key in ("path", "text", "uri") if key in value}
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire carries every number as a double, as the engine does
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return {"path": str(value.path)}
    return str(value)


def _resolve_export(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    if _sync_await(output.is_secret()):
        return {"secret": True}
    return _plain(_sync_await(output.future()))


def _unretrieved_quietly(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A refused program leaves the SDK's futures of the failed registration unretrieved
    (its error has already propagated from run_program). asyncio reports each one when the
    garbage collector frees it, at any later moment, formatting its traceback; on CPython
    3.11 that formatting parses source (the `^^^` markers), and when the moment falls inside
    another parse (an import, pydoc) the AST parser fails with "SystemError: AST constructor
    recursion depth mismatch". Such futures are logged in one line instead."""
    if "never retrieved" not in str(context.get("message", "")):
        loop.default_exception_handler(context)
        return
    log.debug("%s: %r", context.get("message"), context.get("exception"))


def default_program_path() -> Path:
    """The project's `__main__.py`: in the project root if there is one, else beside edgekit."""
    from edgekit_iac.paths import project_root

    for candidate in (project_root(), Path(__file__).resolve().parent.parent):
        if (candidate / "Pulumi.yaml").is_file() and (candidate / "__main__.py").is_file():
            return candidate / "__main__.py"
    raise FileNotFoundError("no Pulumi project (Pulumi.yaml and __main__.py) found")


def run_program(
    stack: str,
    *,
    program: Callable[[], None] | None = None,
    config: Mapping[str, Any] | None = None,
    config_overrides: Mapping[str, Any] | None = None,
    declare_only: bool = False,
) -> ProgramGraph:
    """Run a Pulumi program for `stack` under the mock runtime and return what it declared.

    `program` defaults to the project's `__main__.py`; `config` defaults to the stack file
    `stacks/Pulumi.<stack>.yaml`, with `config_overrides` applied on top (keys like
    "edgekit:images"). Errors the program raises (a bad config key, say) propagate.
    `declare_only` describes the function bundles instead of building them (nothing is
    built or written; see edgekit_iac.bundle.declared): a graph to check, never to serve.
    """
    if config is None:
        config = stack_files.read_config(stack)
    values = dict(config)
    values.update(config_overrides or {})
    plain, secret_keys = stack_files.to_runtime_config(values)

    settings.ROOT.set(None)
    runtime_config.set_all_config(plain, secret_keys)
    monitor = _RecordingMonitor(_ProviderMocks(stack))
    pulumi.runtime.set_mocks(
        monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor
    )
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()

    if program is None:
        program_path = default_program_path()

        def program() -> None:
            runpy.run_path(str(program_path), run_name="__main__")

    _ensure_event_loop().set_exception_handler(_unretrieved_quietly)
    with artifacts.declaring_only() if declare_only else contextlib.nullcontext():
        _sync_await(run_pulumi_func(program))
    root = settings.get_root_resource()
    exports = {
        name: _resolve_export(value) for name, value in getattr(root, "outputs", {}).items()
    }
    return ProgramGraph(stack=stack, resources=list(monitor.recorded.values()), exports=exports)
