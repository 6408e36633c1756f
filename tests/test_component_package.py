"""edgekit's components as a Pulumi component package for other languages.

The schema is inferred from the components' typed Args by Pulumi's analyzer and committed as
provider/schema.json (what `pulumi package add` turns into a TypeScript/Go/YAML SDK); it must
not drift from the code. The provider's construct path, the one the engine calls for a
TypeScript program's `new edgekit.EdgeImageResizer(...)`, runs here under the mock runtime.
What needs the Pulumi CLI (starting the plugin, SDK generation) is not run here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, ClassVar, Optional

import pulumi
import pytest
import yaml
from pulumi.errors import InputPropertyError
from pulumi.provider.server import ComponentInitError
from pydantic import BaseModel, ConfigDict
from typing_extensions import Doc

from edgekit_iac import provider as package
from edgekit_iac.program import run_program

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "provider" / "schema.json"


# The shape the typed Args are moving to (frozen pydantic models, docs in Annotated): the
# provider must infer and construct them as it does the dataclasses.
class SampleSize(BaseModel):
    model_config = ConfigDict(frozen=True)

    width: Annotated[int, Doc("Pixels wide, 1..4096. Required.")]


class SampleArgs(BaseModel):
    model_config = ConfigDict(frozen=True)
    KIND: ClassVar[str] = "sample"

    quality: Annotated[int, Doc("Encoder quality, 1..100. Default: 80.")] = 80
    sizes: Annotated[list[SampleSize], Doc("Sizes served. Default: none.")] = []
    label: Annotated[Optional[str], Doc("A label. Default: None.")] = None  # noqa: UP045


RECEIVED: list[SampleArgs] = []


class SampleComponent(pulumi.ComponentResource):
    """A component with pydantic Args."""

    quality: pulumi.Output[int]

    def __init__(self, name: str, args: SampleArgs | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        args = args or SampleArgs()
        super().__init__("edgekit:test:SampleComponent", name, None, opts)
        RECEIVED.append(args)
        self.quality = pulumi.Output.from_input(args.quality)
        self.register_outputs({"quality": self.quality})


@pytest.fixture(scope="module")
def schema() -> dict:
    return package.schema()


def test_the_committed_schema_is_the_inferred_one(schema):
    committed = json.loads(SCHEMA.read_text())
    assert committed == schema, (
        "provider/schema.json is stale: regenerate it with "
        "`.venv/bin/python -m edgekit_iac.provider --schema > provider/schema.json`")
    assert SCHEMA.read_text() == package.schema_text()  # byte for byte, as generated


def test_every_component_is_in_the_schema_with_its_outputs(schema):
    resources = schema["resources"]
    assert sorted(resources) == sorted(f"edgekit:index:{n}" for n in package.COMPONENTS)
    resizer = resources["edgekit:index:EdgeImageResizer"]
    assert resizer["isComponent"] is True
    assert {"domainName", "distributionId", "functionQualifiedArn"} <= set(resizer["properties"])
    assert resizer["inputProperties"]["quality"]["type"] == "integer"
    assert resizer["inputProperties"]["allowedSizes"]["type"] == "array"
    # Inputs typed pulumi.Input accept another component's outputs (not plain)...
    assert "plain" not in resizer["inputProperties"]["webAclArn"]
    # ...and field docs travel into the generated SDKs.
    assert "1..100" in resizer["inputProperties"]["quality"]["description"]
    worker = resources["edgekit:index:EdgeWorker"]
    assert set(worker["requiredInputs"]) == {"accountId", "scriptName"}
    cached = resources["edgekit:index:CachedWorker"]
    assert cached["inputProperties"]["originDns"]["$ref"] == "#/types/edgekit:index:OriginDnsRecord"
    assert schema["types"]["edgekit:index:OriginDnsRecord"]["required"] == ["content", "name"]


def test_python_only_fields_stay_out_of_the_schema(schema):
    for resource in schema["resources"].values():
        assert "artifact" not in resource.get("inputProperties", {})


def test_the_plugin_manifest_runs_this_provider():
    manifest = yaml.safe_load((REPO / "provider" / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    main = (REPO / "provider" / "__main__.py").read_text()
    assert "from edgekit_iac.provider import main" in main


def _construct(type_name: str, inputs: dict) -> tuple[object, dict]:
    """Run one construct call as the engine would, under the mock runtime."""
    provider = package.provider("0.0.0")
    result = {}

    def program() -> None:
        constructed = provider.construct("images", f"edgekit:index:{type_name}", inputs, None)
        result["state"] = constructed.state
        pulumi.export("state", constructed.state)

    graph = run_program("local", program=program, config={})
    return graph, result["state"]


def test_construct_builds_the_real_component_with_its_edge_rules():
    # Numbers arrive from the engine as floats, names in camelCase.
    graph, state = _construct("EdgeImageResizer", {
        "priceClass": "PriceClass_200", "quality": 70.0, "allowedSizes": ["320x240"]})
    function = graph.one("aws:lambda/function:Function")
    assert function.inputs["region"] == "us-east-1"
    assert function.inputs["architectures"] == ["x86_64"] and function.inputs["publish"] is True
    distribution = graph.one("aws:cloudfront/distribution:Distribution")
    assert distribution.inputs["priceClass"] == "PriceClass_200"
    headers = {h["name"]: h["value"] for o in distribution.inputs["origins"]
               for h in o.get("customHeaders") or []}
    assert headers["x-edgekit-allowed-sizes"] == "320x240"
    assert headers["x-edgekit-quality"] == "70"
    assert graph.exports["state"]["domainName"].endswith(".cloudfront.net")
    assert set(state) >= {"domainName", "distributionId", "functionQualifiedArn"}


def test_construct_builds_nested_types_from_their_schema_objects():
    graph, _ = _construct("CachedWorker", {
        "accountId": "0123456789abcdef0123456789abcdef", "scriptName": "edge-cache-test",
        "zoneId": "fedcba9876543210fedcba9876543210",
        "originUrl": "https://origin.example.com/api",
        "originDns": {"name": "origin.example.com", "content": "203.0.113.7", "type": "A"},
        # Whole numbers arrive as floats, in lists too; the Args want ints.
        "defaultTtl": 60.0, "cacheableStatuses": [200.0, 404.0],
    })
    record = graph.one("cloudflare:index/dnsRecord:DnsRecord")
    assert record.inputs["type"] == "A" and record.inputs["content"] == "203.0.113.7"


def test_construct_names_a_missing_required_input():
    with pytest.raises(InputPropertyError, match="Missing required input 'accountId'"):
        _construct("EdgeWorker", {"scriptName": "x"})


def test_construct_reports_the_components_own_validation():
    with pytest.raises(ComponentInitError, match="quality"):
        _construct("EdgeImageResizer", {"quality": 0.0})


def test_pydantic_args_with_annotated_docs_are_inferred_and_constructed():
    sample = package._provider_class()([SampleComponent], "edgekit", "edgekit", "0.0.0")
    resource = sample.package_schema["resources"]["edgekit:index:SampleComponent"]
    inputs = resource["inputProperties"]
    assert set(inputs) == {"quality", "sizes", "label"}  # no ClassVar, no pydantic internals
    assert inputs["quality"]["description"] == "Encoder quality, 1..100. Default: 80."
    assert inputs["sizes"]["items"]["$ref"] == "#/types/edgekit:index:SampleSize"
    assert "requiredInputs" not in resource or resource["requiredInputs"] == []
    size = sample.package_schema["types"]["edgekit:index:SampleSize"]
    assert size["required"] == ["width"]
    assert size["properties"]["width"]["description"] == "Pixels wide, 1..4096. Required."

    built = {}

    def program() -> None:
        result = sample.construct("s", "edgekit:index:SampleComponent",
                                  {"quality": 70.0, "sizes": [{"width": 320.0}]}, None)
        built["state"] = result.state

    run_program("local", program=program, config={})
    assert set(built["state"]) == {"quality"}
    received = RECEIVED[-1]
    assert isinstance(received, SampleArgs) and received.quality == 70
    assert received.sizes == [SampleSize(width=320)] and type(received.sizes[0].width) is int


def test_the_plugin_entry_point_serves_the_schema_over_grpc():
    """What the Pulumi CLI does first with the plugin: start provider/__main__.py with the
    engine's address, read its port from stdout, ask for the schema (no engine is needed
    for that; the address given is a closed port)."""
    import subprocess
    import sys

    import grpc
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    plugin = subprocess.Popen([sys.executable, "provider/__main__.py", "127.0.0.1:9"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        port = int(plugin.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = provider_pb2_grpc.ResourceProviderStub(channel).GetSchema(
                provider_pb2.GetSchemaRequest(version=0), timeout=120)
    finally:
        plugin.terminate()
        plugin.wait(timeout=30)
    served = json.loads(reply.schema)
    assert served["version"] == package.version()
    assert {**served, "version": "0.0.0"} == json.loads(SCHEMA.read_text())


def test_every_exported_component_is_offered_or_set_aside_with_a_reason():
    from edgekit_iac import components

    exported = {name for name in components.__all__
                if isinstance(getattr(components, name), type)
                and issubclass(getattr(components, name), pulumi.ComponentResource)}
    assert exported == set(package.COMPONENTS) | set(package.SET_ASIDE)
    assert not set(package.COMPONENTS) & set(package.SET_ASIDE)
    assert all(len(reason) > 20 for reason in package.SET_ASIDE.values())


def test_construct_builds_signed_paths_for_another_languages_distribution(schema):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    signed = schema["resources"]["edgekit:index:SignedPaths"]
    assert signed["requiredInputs"] == ["publicKeys"]
    assert {"keyGroupId", "publicKeyIds"} <= set(signed["properties"])
    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    graph, state = _construct("SignedPaths", {"publicKeys": {"2026-12": pem}})
    key = graph.one("aws:cloudfront/publicKey:PublicKey")
    assert key.inputs["encodedKey"] == pem
    group = graph.one("aws:cloudfront/keyGroup:KeyGroup")
    assert group.inputs["items"] == [key.id]
    assert set(state) >= {"keyGroupId", "publicKeyIds"}
    with pytest.raises(ComponentInitError, match="public_keys"):
        _construct("SignedPaths", {"publicKeys": {"2026-12": "not a key"}})
