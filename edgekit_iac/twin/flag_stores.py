"""The twin's feature-flag stores: Workers KV namespaces and CloudFront KeyValueStores as files.

    <state>/kv/<namespace id>.json   a KV namespace, in the Workers host's PersistentMap format
                                     ([[key, {"value": <base64>}], ...], shim/store.mjs), shared
                                     by every Worker bound to it and re-read by the isolates
                                     when the file changes (no restart)
    <state>/kvs/<store name>.json    a KeyValueStore: {"etag": ..., "items": {key: value}}; every
                                     write needs the current ETag, as the real API's IfMatch

Both survive `edgekit down` / `edgekit up`. When the twin starts, `seed` writes each key the
program declares (`cloudflare.WorkersKv`, `aws.cloudfront.KeyvaluestoreKey`) only where it is
absent: what the real stacks get from `ignore_changes=["value"]` (components/edge_flags.py).
`edgekit flags --stack local` reads and writes the same files.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from edgekit_iac.errors import UserError
from edgekit_iac.program import ProgramGraph

KV_NAMESPACE = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
KV_PAIR = "cloudflare:index/workersKv:WorkersKv"
KEY_VALUE_STORE = "aws:cloudfront/keyValueStore:KeyValueStore"
KVS_KEY = "aws:cloudfront/keyvaluestoreKey:KeyvaluestoreKey"


class EtagMismatch(UserError):
    """The KeyValueStore changed since its ETag was read (someone else wrote it)."""


def safe_name(text: str) -> str:
    """The file name for an id or name, as shim/bindings.mjs `safeName` makes it."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(text))[:120] or "_"


def kv_file(state_root: Path, namespace_id: str) -> Path:
    return state_root / "kv" / f"{safe_name(namespace_id)}.json"


def kvs_file(state_root: Path, store_name: str) -> Path:
    return state_root / "kvs" / f"{safe_name(store_name)}.json"


def _write_atomically(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    temporary.write_text(json.dumps(document), encoding="utf-8")
    os.chmod(temporary, 0o600)
    temporary.replace(path)


# --- Workers KV ------------------------------------------------------------------------------


def read_kv(path: Path) -> dict[str, str]:
    """{key: text value} of a KV namespace file (absent file: empty)."""
    if not path.is_file():
        return {}
    pairs = json.loads(path.read_text(encoding="utf-8"))
    return {key: base64.b64decode(entry["value"]).decode("utf-8") for key, entry in pairs}


def write_kv(path: Path, key: str, value: str | None) -> None:
    """Put (or with None delete) one key, keeping the others and their metadata."""
    pairs = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    entries = dict(pairs)
    if value is None:
        entries.pop(key, None)
    else:
        entries[key] = {"value": base64.b64encode(value.encode("utf-8")).decode("ascii")}
    _write_atomically(path, sorted(entries.items()))


# --- CloudFront KeyValueStore ---------------------------------------------------------------


def read_kvs(path: Path) -> tuple[str, dict[str, str]]:
    """(etag, {key: value}) of a KeyValueStore file (absent file: a fresh, empty store)."""
    if not path.is_file():
        return "E0", {}
    document = json.loads(path.read_text(encoding="utf-8"))
    return document["etag"], dict(document["items"])


def write_kvs(path: Path, key: str, value: str | None, if_match: str) -> str:
    """Put (or with None delete) one key if the store's ETag is still `if_match`; the new
    ETag. A stale ETag raises EtagMismatch, as PutKey/DeleteKey answer 409/412."""
    etag, items = read_kvs(path)
    if etag != if_match:
        raise EtagMismatch(f"KeyValueStore {path.stem}: ETag {if_match} is stale (now {etag}); "
                           "read it again and retry")
    if value is None:
        items.pop(key, None)
    else:
        items[key] = value
    new_etag = f"E{int(etag[1:]) + 1}"
    _write_atomically(path, {"etag": new_etag, "items": dict(sorted(items.items()))})
    return new_etag


# --- what the program declares ---------------------------------------------------------------


def seed(graph: ProgramGraph, state_root: Path) -> list[str]:
    """Write each declared key where it is absent; the keys written, as "store/key"."""
    written = []
    for pair in graph.of_type(KV_PAIR):
        inputs = pair.inputs
        path = kv_file(state_root, inputs["namespaceId"])
        if inputs["keyName"] not in read_kv(path):
            write_kv(path, inputs["keyName"], inputs["value"])
            written.append(f"kv:{inputs['namespaceId']}/{inputs['keyName']}")
    stores = {store.outputs.get("arn"): store.outputs.get("name")
              for store in graph.of_type(KEY_VALUE_STORE)}
    for key in graph.of_type(KVS_KEY):
        inputs = key.inputs
        name = stores.get(inputs["keyValueStoreArn"])
        if name is None:
            continue
        path = kvs_file(state_root, name)
        etag, items = read_kvs(path)
        if inputs["key"] not in items:
            write_kvs(path, inputs["key"], inputs["value"], etag)
            written.append(f"kvs:{name}/{inputs['key']}")
    return written
