"""edgekit's components as a Pulumi component package, for TypeScript, Go, C#, Java and YAML.

`pulumi package add <repo>/provider` runs `provider/__main__.py` (runtime python, see
`provider/PulumiPlugin.yaml`), which calls `main()` here: a component provider over the same
classes Python programs import, with the package schema inferred from their typed Args by
Pulumi's own analyzer (`pulumi.provider.experimental`). The consumer's SDK is generated from
that schema; `construct` builds the real component, edge rules and bundling included.

Three things sit between our classes and Pulumi's analyzer, and are handled here rather than
by changing the classes:

- the modules use `from __future__ import annotations`, so annotations are strings; the
  analyzer reads them raw, so `_Analyzer` resolves them (`typing.get_type_hints`);
- the constructors take `args: XArgs | None = None`; the analyzer wants the Args type;
- some fields are Python-only (`artifact`: a prebuilt bundle, a live Python object);
  `PYTHON_ONLY` leaves them out of the schema, and the component then does what it does
  without them (bundles its own function code).

The analyzer hands `construct` a dict of Python-named values; `_Provider.map_inputs` builds
the component's Args dataclass (or model) from it, so the classes are called exactly as a
Python program calls them.

`python -m edgekit_iac.provider --schema` prints the schema; `provider/schema.json` is the
committed copy, and a test fails when the two drift apart.
"""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import inspect
import json
import sys
import types
import typing
from typing import Any

from edgekit_iac.components._args import PULUMI_FORWARD_NAMES

PACKAGE = "edgekit"
NAMESPACE = "edgekit"

# The components other languages get, by class name (edgekit_iac.components exports them).
COMPONENTS = (
    "EdgeImageResizer",
    "EdgeRateLimit",
    "EdgeLogPipeline",
    "EdgeAlarms",
    "EdgeDashboard",
    "EdgeWorker",
    "CachedWorker",
    "AuthWorker",
    "CloudflareRateLimit",
    "CloudflareLogpush",
    "EdgeCertificate",
    "EdgeDnsRecords",
    "SignedPaths",  # a key group for the trusted_key_groups of the user's own distribution
)

# Components a Python program can use but other languages are not offered yet, and why.
SET_ASIDE: dict[str, str] = {
    "EdgeFlags": "its flags are FlagSpec objects in a mapping (a default of any type); "
                 "construct does not build them from the engine's map yet",
}

# Args fields that only a Python program can fill: live Python objects with no schema type.
PYTHON_ONLY: dict[str, frozenset[str]] = {
    "EdgeImageResizerArgs": frozenset({"artifact"}),
    "WorkerDeploymentArgs": frozenset({"artifact"}),
    "EdgeWorkerArgs": frozenset({"artifact"}),
    "CachedWorkerArgs": frozenset({"artifact"}),
    "EdgeLogPipelineArgs": frozenset({"transform_artifact"}),
    "AuthWorkerArgs": frozenset({"artifact"}),
}


def component_classes() -> list[type]:
    from edgekit_iac import components

    return [getattr(components, name) for name in COMPONENTS]


def _class_hints(cls: type) -> dict[str, Any]:
    """The annotations `cls` itself declares, resolved where they were written
    (`typing.get_type_hints`, with pulumi.Input's own forward reference supplied)."""
    own = inspect.get_annotations(cls)
    if not own:
        return {}
    # Only `cls`'s own annotations: its bases (pulumi's own classes) may name what only a
    # type checker resolves.
    holder = type(cls.__name__, (), {"__annotations__": own, "__module__": cls.__module__})
    return typing.get_type_hints(
        holder, localns=PULUMI_FORWARD_NAMES, include_extras=True
    )


def _hints(typ: Any) -> dict[str, Any]:
    """The annotations of `typ` and its bases, resolved, minus the PYTHON_ONLY fields, class
    variables and `Annotated` wrappers (pydantic models and `Annotated[T, Doc(...)]` fields
    read the same as dataclasses)."""
    resolved: dict[str, Any] = {}
    for cls in reversed(getattr(typ, "__mro__", (typ,))):
        if cls is object or cls.__module__.split(".")[0] in ("pulumi", "pydantic"):
            continue
        for key, value in _class_hints(cls).items():
            if typing.get_origin(value) is typing.ClassVar:
                continue
            resolved[key] = _strip_annotated(value)
    skipped = PYTHON_ONLY.get(getattr(typ, "__name__", ""), frozenset())
    return {key: value for key, value in resolved.items() if key not in skipped}


def _strip_annotated(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        return _strip_annotated(typing.get_args(annotation)[0])
    return annotation


def field_doc(typ: type, name: str) -> str | None:
    """A field's documentation where a typed model keeps it: pydantic's `description`, or a
    `Doc` (typing_extensions) in `Annotated[...]`."""
    info = (getattr(typ, "model_fields", None) or {}).get(name)
    if info is not None and getattr(info, "description", None):
        return info.description
    for cls in getattr(typ, "__mro__", ()):
        if cls is object or name not in inspect.get_annotations(cls):
            continue
        annotation = _class_hints(cls)[name]
        if typing.get_origin(annotation) is typing.Annotated:
            for extra in typing.get_args(annotation)[1:]:
                text = getattr(extra, "documentation", None)
                if isinstance(text, str):
                    return text
    return None


def args_type(component: type) -> type:
    """The Args class of a component's `__init__(self, name, args: XArgs | None, opts)`."""
    annotation = typing.get_type_hints(component.__init__, localns=PULUMI_FORWARD_NAMES).get(
        "args"
    )
    if annotation is None:
        raise TypeError(f"{component.__name__}.__init__ has no resolvable `args` annotation")
    members = [a for a in typing.get_args(annotation) if a is not type(None)]
    return members[0] if members else annotation


def _analyzer_class() -> type:
    from pulumi.provider.experimental.analyzer import Analyzer, ComponentDefinition

    class _Analyzer(Analyzer):
        """Pulumi's analyzer, reading resolved annotations instead of PEP 563 strings."""

        def analyze_component(self, component: type) -> ComponentDefinition:
            args = args_type(component)
            inputs, inputs_mapping = self.analyze_type(args, is_component_output=False)
            outputs, outputs_mapping = self.analyze_type(component, is_component_output=True)
            return ComponentDefinition(
                name=component.__name__,
                description=component.__doc__.strip() if component.__doc__ else None,
                inputs=inputs,
                inputs_mapping=inputs_mapping,
                outputs=outputs,
                outputs_mapping=outputs_mapping,
                module=component.__module__,
            )

        def analyze_type(self, typ: type, *, is_component_output: bool):
            from pulumi.provider.experimental.analyzer import camel_case

            hints = {k: v for k, v in _hints(typ).items() if not k.startswith("_")}
            optional = _optional_fields(typ)
            properties = {
                camel_case(key): self.analyze_property(
                    value, typ, key,
                    can_be_plain=not is_component_output,
                    is_component_output=is_component_output,
                    optional=True if key in optional else None,
                )
                for key, value in hints.items()
            }
            return properties, {camel_case(key): key for key in hints}

        def get_docstring(self, typ: type, name: str) -> str | None:
            text = super().get_docstring(typ, name) or field_doc(typ, name)
            return inspect.cleandoc(text) if text else text

    return _Analyzer


def _optional_fields(typ: type) -> set[str]:
    """Fields with a default may be left out: a dataclass's or a pydantic model's."""
    if dataclasses.is_dataclass(typ):
        return {f.name for f in dataclasses.fields(typ)
                if f.default is not dataclasses.MISSING
                or f.default_factory is not dataclasses.MISSING}
    model_fields = getattr(typ, "model_fields", None)
    if isinstance(model_fields, dict):
        return {name for name, info in model_fields.items() if not info.is_required()}
    return set()


def _provider_class() -> type:
    from pulumi.provider.experimental.component import ComponentProvider
    from pulumi.provider.experimental.schema import generate_schema
    from pulumi.provider.provider import Provider

    class _Provider(ComponentProvider):
        """Pulumi's component provider, with our analyzer and our Args classes."""

        def __init__(self, components: list[type], name: str, namespace: str | None,
                     version: str) -> None:
            self._name = name
            self.analyzer = _analyzer_class()(name)
            result = self.analyzer.analyze(components)
            self._components = {component.__name__: component for component in components}
            self._args = {component.__name__: args_type(component) for component in components}
            self._component_defs = result["component_definitions"]
            self._type_defs = result["type_definitions"]
            self._external_enum_types = result["external_enum_types"]
            self._dependencies = sorted(result["dependencies"],
                                        key=lambda d: f"{d.name}{d.version}")
            self.package_schema = generate_schema(name, version, namespace, self._component_defs,
                                          self._type_defs, self._dependencies).to_json()
            Provider.__init__(self, version, json.dumps(self.package_schema))

        def map_inputs(self, inputs, component_def):
            mapped = super().map_inputs(inputs, component_def)
            return self._args[component_def.name](**_typed(mapped, self._args[
                component_def.name]))

    return _Provider


def _typed(values: dict[str, Any], args: type) -> dict[str, Any]:
    """Values as the Args annotations want them. Nested objects arrive as dicts: build the
    dataclass the field is annotated with. Numbers arrive as floats (the wire has only
    doubles): make whole ones int where the field is an int, or a sequence of ints
    (pulumi 3.272's own conversion is overwritten a line later, and misses lists)."""
    hints = _hints(args)
    return {key: _coerce(value, hints.get(key)) for key, value in values.items()}


def _coerce(value: Any, annotation: Any) -> Any:
    members = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = members[0] if len(members) == 1 else annotation
    is_model = dataclasses.is_dataclass(annotation) or hasattr(annotation, "model_fields")
    if is_model and isinstance(annotation, type) and isinstance(value, dict):
        return annotation(**_typed(value, annotation))
    if annotation is int and isinstance(value, float) and value.is_integer():
        return int(value)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, collections.abc.Sequence) and isinstance(value, list):
        (item,) = typing.get_args(annotation)[:1] or (Any,)
        return [_coerce(element, item) for element in value]
    return value


def version() -> str:
    from edgekit_iac.cli import version as edgekit_version

    return edgekit_version()


def provider(version_: str | None = None):
    """The component provider over `COMPONENTS` (`.package_schema` is its schema)."""
    return _provider_class()(component_classes(), PACKAGE, NAMESPACE, version_ or version())


def schema(version_: str = "0.0.0") -> dict[str, Any]:
    """The inferred package schema. The committed copy uses version 0.0.0 so that it changes
    only when the components' interface does; the running provider reports the real one."""
    return provider(version_).package_schema


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--schema"]:
        sys.stdout.write(schema_text())
        return
    if not argv or argv[0] in ("-h", "--help"):
        parser = argparse.ArgumentParser(
            prog="python -m edgekit_iac.provider",
            description="Pulumi component provider for edgekit's components. The Pulumi CLI "
                        "starts it with the engine's address; --schema prints the schema.")
        parser.add_argument("engine", nargs="?", help="the Pulumi engine's address")
        parser.add_argument("--schema", action="store_true", help="print the package schema")
        parser.parse_args(argv)
        return
    from pulumi.provider.server import main as serve

    serve(provider(), argv)


if __name__ == "__main__":
    main()
