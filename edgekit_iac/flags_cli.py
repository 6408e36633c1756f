"""`edgekit flags list|get|set|unset --stack NAME`: read and flip a stack's feature flags.

A flag lives in two stores (components/edge_flags.py): the stack's Workers KV namespace and
its CloudFront KeyValueStore. `set` validates the value against the flag's declared type
(stack file, `edgekit:flags`), writes it to both stores, prints the old and new values and
records who changed what, and when, in `stacks/.history/<stack>-flags.json`. `unset` writes
the declared default back (the key stays: the program declared it, and ignores its value).

Where the stores are:
- `--stack local`: the running (or last) twin's files under its state directory
  (edgekit_iac.twin.flag_stores); history in `<state dir>/local-flags.json`, not in the
  repository. The twin's Workers see a change within their flag cache bound (5 s), its
  CloudFront format function (`auto_format`, read through cf.kvs()) on the next request.
- other stacks: the deployed stack's outputs `flagsNamespaceId` and `flagsKeyValueStoreArn`
  (`--outputs FILE` as `pulumi stack output --json` prints them, else the Pulumi backend).
  Cloudflare through its official Python SDK (`cloudflare`, token from
  CLOUDFLARE_API_TOKEN); CloudFront through boto3's `cloudfront-keyvaluestore` client, each
  write with the store's current ETag (IfMatch), retried on a conflict.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from edgekit_iac import flag_types
from edgekit_iac.errors import UserError
from edgekit_iac.flag_types import FlagSpec

LOCAL = "local"
ETAG_RETRIES = 3


class Store(Protocol):
    label: str

    def get(self, name: str) -> str | None: ...

    def put(self, name: str, text: str) -> None: ...


# --- the local twin's files ------------------------------------------------------------------


@dataclass
class LocalKv:
    path: Path
    label: str = "workers-kv (twin)"

    def get(self, name: str) -> str | None:
        from edgekit_iac.twin import flag_stores

        return flag_stores.read_kv(self.path).get(name)

    def put(self, name: str, text: str) -> None:
        from edgekit_iac.twin import flag_stores

        flag_stores.write_kv(self.path, name, text)


@dataclass
class LocalKvs:
    path: Path
    label: str = "cloudfront-kvs (twin)"

    def get(self, name: str) -> str | None:
        from edgekit_iac.twin import flag_stores

        return flag_stores.read_kvs(self.path)[1].get(name)

    def put(self, name: str, text: str) -> None:
        from edgekit_iac.twin import flag_stores

        etag, _ = flag_stores.read_kvs(self.path)
        flag_stores.write_kvs(self.path, name, text, etag)


# --- the clouds ------------------------------------------------------------------------------


@dataclass
class CloudflareKv:
    """Workers KV through the official SDK: GET/PUT .../storage/kv/namespaces/{id}/values/{key}."""

    client: Any  # cloudflare.Cloudflare
    account_id: str
    namespace_id: str
    label: str = "workers-kv"

    def get(self, name: str) -> str | None:
        import cloudflare

        try:
            response = self.client.kv.namespaces.values.get(
                name, account_id=self.account_id, namespace_id=self.namespace_id)
        except cloudflare.NotFoundError:
            return None
        return response.text()

    def put(self, name: str, text: str) -> None:
        self.client.kv.namespaces.values.update(
            name, account_id=self.account_id, namespace_id=self.namespace_id,
            # The SDK sends `value` as a file part: bytes, not str (it refuses a str).
            value=text.encode("utf-8"))


@dataclass
class CloudFrontKvs:
    """A KeyValueStore through boto3 `cloudfront-keyvaluestore`: GetKey, DescribeKeyValueStore
    for the ETag, PutKey with IfMatch (a stale ETag is retried with a fresh one)."""

    client: Any  # boto3 client("cloudfront-keyvaluestore")
    arn: str
    label: str = "cloudfront-kvs"

    def get(self, name: str) -> str | None:
        try:
            return self.client.get_key(KvsARN=self.arn, Key=name)["Value"]
        except self.client.exceptions.ResourceNotFoundException:
            return None

    def put(self, name: str, text: str) -> None:
        for attempt in range(ETAG_RETRIES):
            etag = self.client.describe_key_value_store(KvsARN=self.arn)["ETag"]
            try:
                self.client.put_key(KvsARN=self.arn, Key=name, Value=text, IfMatch=etag)
                return
            except self.client.exceptions.ConflictException:
                if attempt == ETAG_RETRIES - 1:
                    raise UserError(f"{self.label} {self.arn}: the store kept changing under "
                                    f"{ETAG_RETRIES} writes (ETag conflict); try again") from None


# --- the stack -------------------------------------------------------------------------------


@dataclass
class StackFlags:
    stack: str
    specs: dict[str, FlagSpec]
    stores: list[Store]
    history: Path


def declared_settings(stack: str) -> Any:
    """The stack file's `edgekit:` settings, validated (edgekit_iac.config)."""
    from edgekit_iac.config import NAMESPACE, parse_settings
    from edgekit_iac.release import stack_files

    config = stack_files.read_config(stack)
    values = {key.partition(":")[2]: value for key, value in config.items()
              if key.startswith(f"{NAMESPACE}:")}
    return parse_settings(values, str(stack_files.stack_file(stack)))


def declared_flags(stack: str) -> tuple[dict[str, FlagSpec], Any]:
    """The stack file's flags and settings, refused when it declares none."""
    from edgekit_iac.config import NAMESPACE
    from edgekit_iac.release import stack_files

    settings = declared_settings(stack)
    if not settings.flags:
        raise UserError(f"stack {stack!r} declares no flags; declare them under "
                        f"{NAMESPACE}:flags in {stack_files.stack_file(stack)}")
    return settings.flag_specs, settings


def _local_stack(args: argparse.Namespace, specs: dict[str, FlagSpec]) -> StackFlags:
    from edgekit_iac import paths
    from edgekit_iac.program import ProgramGraph, run_program
    from edgekit_iac.twin import flag_stores

    root = Path(args.state_dir).resolve() if args.state_dir else paths.state_dir(LOCAL)
    graph_file = root / "graph.json"
    graph = (ProgramGraph.from_json(json.loads(graph_file.read_text()))
             if graph_file.is_file() else run_program(LOCAL))
    flag_stores.seed(graph, root)  # as `edgekit up` does: defaults where a key is absent
    stores: list[Store] = []
    for namespace in graph.of_type(flag_stores.KV_NAMESPACE):
        stores.append(LocalKv(flag_stores.kv_file(root, namespace.id)))
    for store in graph.of_type(flag_stores.KEY_VALUE_STORE):
        stores.append(LocalKvs(flag_stores.kvs_file(root, store.outputs["name"])))
    return StackFlags(LOCAL, specs, stores, root / f"{LOCAL}-flags.json")


def _cloud_stack(args: argparse.Namespace, specs: dict[str, FlagSpec], settings: Any,
                 make_clients: Callable[[], tuple[Any, Any]]) -> StackFlags:
    from edgekit_iac.paths import project_root
    from edgekit_iac.release import stack_outputs

    outputs = stack_outputs.read_outputs(args.stack, Path(args.outputs) if args.outputs else None)
    cloudflare_client, kvs_client = make_clients()
    stores: list[Store] = []
    namespace_id = outputs.get("flagsNamespaceId")
    if settings.cloudflare is not None:
        if not namespace_id:
            raise UserError(f"stack {args.stack!r}: its outputs have no flagsNamespaceId; "
                            "deploy the flags first (pulumi up)")
        stores.append(CloudflareKv(cloudflare_client(), settings.cloudflare.account_id,
                                   namespace_id))
    arn = outputs.get("flagsKeyValueStoreArn")
    if not arn:
        raise UserError(f"stack {args.stack!r}: its outputs have no flagsKeyValueStoreArn; "
                        "deploy the flags first (pulumi up)")
    stores.append(CloudFrontKvs(kvs_client(), arn))
    history = project_root() / "stacks" / ".history" / f"{args.stack}-flags.json"
    return StackFlags(args.stack, specs, stores, history)


def default_clients() -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Factories for the real clients (called only for the stores a stack has)."""

    def cloudflare_client() -> Any:
        import cloudflare

        token = os.environ.get("CLOUDFLARE_API_TOKEN")
        if not token:
            raise UserError("CLOUDFLARE_API_TOKEN is not set: a Cloudflare API token with "
                            "Workers KV Storage:Edit on the stack's account is needed")
        return cloudflare.Cloudflare(api_token=token)

    def kvs_client() -> Any:
        import boto3

        return boto3.client("cloudfront-keyvaluestore", region_name="us-east-1")

    return cloudflare_client, kvs_client


def open_stack(args: argparse.Namespace, make_clients=default_clients) -> StackFlags:
    specs, settings = declared_flags(args.stack)
    if args.stack == LOCAL:
        return _local_stack(args, specs)
    return _cloud_stack(args, specs, settings, make_clients)


# --- the actions -----------------------------------------------------------------------------


def _shown(spec: FlagSpec, text: str | None) -> str:
    if text is None:
        return "(absent)"
    try:
        return flag_types.encode(flag_types.decode(spec, text))
    except flag_types.FlagError:
        return f"{text!r} (not a {spec.type})"


def _values(flags: StackFlags, spec: FlagSpec) -> list[tuple[str, str]]:
    return [(store.label, _shown(spec, store.get(spec.name))) for store in flags.stores]


def _one_line(values: list[tuple[str, str]]) -> str:
    distinct = {value for _, value in values}
    if len(distinct) == 1:
        return distinct.pop()
    return ", ".join(f"{label}={value}" for label, value in values)


def _record(flags: StackFlags, action: str, spec: FlagSpec, old: str, new: str,
            who: str | None, reason: str | None) -> None:
    from edgekit_iac.release.history import now
    from edgekit_iac.release.pins import write_atomically

    entries = json.loads(flags.history.read_text()) if flags.history.is_file() else []
    entries.append({
        "at": now(), "who": who or os.environ.get("GITHUB_ACTOR") or getpass.getuser(),
        "action": action, "flag": spec.name, "old": old, "new": new,
        "stores": [store.label for store in flags.stores],
        **({"reason": reason} if reason else {}),
    })
    write_atomically(flags.history, json.dumps(entries, indent=2) + "\n")


def run_action(args: argparse.Namespace, flags: StackFlags, out: Callable[[str], None]) -> int:
    if args.action == "list":
        for name, spec in sorted(flags.specs.items()):
            out(f"{name} ({spec.type}, default {flag_types.encode(spec.default)}): "
                f"{_one_line(_values(flags, spec))}")
        return 0
    spec = flag_types.lookup(flags.specs, args.name)
    if args.action == "get":
        out(f"{spec.name}: {_one_line(_values(flags, spec))}")
        return 0
    if args.action == "set":
        if args.value is None:
            raise UserError(f"flags set {spec.name}: give a value; accepted: {spec.accepted}")
        value = flag_types.parse_text(spec, args.value)
    else:  # unset: the declared default
        value = spec.default
    old = _one_line(_values(flags, spec))
    text = flag_types.stored(spec, value)
    for store in flags.stores:
        store.put(spec.name, text)
    new = _one_line(_values(flags, spec))
    _record(flags, args.action, spec, old, new, args.who, args.reason)
    out(f"{spec.name}: {old} -> {new}  ({', '.join(s.label for s in flags.stores)}; "
        f"history: {flags.history})")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "get", "set", "unset"))
    parser.add_argument("name", nargs="?", help="the flag (get, set, unset)")
    parser.add_argument("value", nargs="?", help="the new value (set)")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--state-dir", help="the local twin's state directory (--stack local)")
    parser.add_argument("--outputs", help="the stack's outputs as `pulumi stack output --json` "
                                          "prints them (other stacks)")
    parser.add_argument("--who", help="who is changing it, for the history (default: "
                                      "$GITHUB_ACTOR or the login name)")
    parser.add_argument("--reason", help="why, for the history")


def run(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.name:
        raise UserError(f"flags {args.action}: name the flag (edgekit flags list --stack "
                        f"{args.stack} shows them)")
    if args.action != "set" and args.value is not None:
        raise UserError(f"flags {args.action}: takes no value (only set does)")
    return run_action(args, open_stack(args), print)
