"""CloudFront Functions in the twin: the real function code, run in Node before the cache.

CloudFront runs a viewer-request function after choosing the cache behaviour and before
the cache lookup; what it returns (a changed request, or a response) is what the cache key
and the origin see (AWS, "CloudFront Functions event structure"). The twin does the same:
the distribution's `functionAssociations` name an `aws:cloudfront/function:Function` in the
graph, whose `code` input (exactly what would be deployed) runs in one long-lived Node
process (`cloudfront_function_host.mjs`): JSON lines over pipes, no sockets, each function
in a bare vm context, each run bounded by a timeout; a process that stops answering is
killed and started again on the next request.

Errors map to CloudFront's: a function that throws or times out is a 503
(FunctionExecutionError), a result that is neither a request nor a response a 502
(FunctionValidationError).

KeyValueStores: a function's `keyValueStoreAssociations` (one store, as CloudFront allows)
names an `aws:cloudfront/keyValueStore:KeyValueStore` in the graph; its code reaches it through
the runtime's `cloudfront` module (`cf.kvs()`), backed by the twin's persistent store file
`<state>/kvs/<store name>.json` (edgekit_iac.twin.flag_stores), which `edgekit flags set
--stack local` writes. The host reads that file on every get(), so a change is seen by the
next request, with no restart: the twin's propagation bound is 0 s. CloudFront's is not:
KeyValueStore data is replicated to the edge locations eventually (AWS gives no bound; expect
seconds), which is why the edge code must never depend on reading its own write.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import select
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit_iac.twin import flag_stores
from edgekit_iac.twin.aws.cloudfront_rules import cookie_pairs

log = logging.getLogger("edgekit.twin.cloudfront_functions")

HOST_SCRIPT = Path(__file__).with_name("cloudfront_function_host.mjs")
VIEWER_REQUEST = "viewer-request"
REPLY_TIMEOUT = 5.0  # seconds; the host's own vm timeout (1 s) normally answers first
START_TIMEOUT = 30.0


class FunctionExecutionError(Exception):
    """The function threw, timed out, or the runtime could not run it: a 503."""


class FunctionValidationError(Exception):
    """The function returned something that is neither a request nor a response: a 502."""


# --- the event and the result, in CloudFront Functions' shape --------------------------------


def _field_map(pairs: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """{name: {"value": first, "multiValue": [...] when repeated}}, as CloudFront shows them."""
    fields: dict[str, dict[str, Any]] = {}
    for name, value in pairs:
        if name in fields:
            entry = fields[name]
            entry.setdefault("multiValue", [{"value": entry["value"]}]).append({"value": value})
        else:
            fields[name] = {"value": value}
    return fields


def _query_pairs(query: str) -> list[tuple[str, str]]:
    # Values as the viewer sent them (still percent-encoded), in the viewer's order.
    pairs = []
    for item in query.split("&") if query else []:
        if item:
            name, _, value = item.partition("=")
            pairs.append((name, value))
    return pairs


def viewer_request_event(*, domain: str, distribution_id: str, request_id: str, client_ip: str,
                         method: str, uri: str, query: str,
                         headers: list[tuple[str, str]]) -> dict[str, Any]:
    """The event a viewer-request function receives: header names lower-case, cookies apart."""
    return {
        "version": "1.0",
        "context": {"distributionDomainName": domain, "distributionId": distribution_id,
                    "eventType": VIEWER_REQUEST, "requestId": request_id},
        "viewer": {"ip": client_ip},
        "request": {
            "method": method,
            "uri": uri,
            "querystring": _field_map(_query_pairs(query)),
            "headers": _field_map([(n.lower(), v) for n, v in headers
                                   if n.lower() != "cookie"]),
            "cookies": _field_map(cookie_pairs(headers)),
        },
    }


def _values(entry: Any, where: str) -> list[str]:
    if not isinstance(entry, dict) or "value" not in entry:
        raise FunctionValidationError(f"{where} must be an object with a value")
    many = entry.get("multiValue")
    items = [m.get("value") if isinstance(m, dict) else None for m in many] if many else [
        entry["value"]]
    if not all(isinstance(item, str | int | float) for item in items):
        raise FunctionValidationError(f"{where} has a value that is not a string")
    return [str(item) for item in items]


@dataclass(frozen=True)
class ChangedRequest:
    uri: str
    query: str
    headers: list[tuple[str, str]]


@dataclass(frozen=True)
class GeneratedResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def result_of(result: Any) -> ChangedRequest | GeneratedResponse:
    """The function's return value as the twin's request or response."""
    if not isinstance(result, dict):
        raise FunctionValidationError("the function returned no object")
    if "statusCode" in result:
        status = result["statusCode"]
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise FunctionValidationError(f"statusCode {status!r} is no HTTP status")
        headers = [(name, value) for name, entry in (result.get("headers") or {}).items()
                   for value in _values(entry, f"response header {name!r}")]
        body = result.get("body") or ""
        if isinstance(body, dict):
            body = body.get("data") or ""
        return GeneratedResponse(status, headers, str(body).encode())
    uri = result.get("uri")
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise FunctionValidationError(f"request uri {uri!r} does not start with /")
    query = "&".join(f"{name}={value}" for name, entry in
                     (result.get("querystring") or {}).items()
                     for value in _values(entry, f"query parameter {name!r}"))
    headers = [(name, value) for name, entry in (result.get("headers") or {}).items()
               for value in _values(entry, f"header {name!r}")]
    cookies = [f"{name}={value}" for name, entry in (result.get("cookies") or {}).items()
               for value in _values(entry, f"cookie {name!r}")]
    if cookies:
        headers.append(("cookie", "; ".join(cookies)))
    return ChangedRequest(uri, query, headers)


# --- KeyValueStores -------------------------------------------------------------------------


@dataclass(frozen=True)
class AssociatedStore:
    """The KeyValueStore a function is associated with: its id (the ARN's last part, what
    `cf.kvs(id)` may name) and its name (the twin's store file)."""

    id: str
    name: str | None


def associated_store(view: Any, function: Any) -> AssociatedStore | None:
    """The store `function` (a recorded aws:cloudfront/function:Function) is associated with.
    An ARN the graph does not hold is still an association: an empty store, as a store of
    another stack would look to this twin."""
    arns = (function.inputs.get("keyValueStoreAssociations") if function is not None
            else None) or []
    if not arns:
        return None
    arn = str(arns[0])
    store = next((s for s in view.graph.of_type(flag_stores.KEY_VALUE_STORE)
                  if s.outputs.get("arn") == arn), None)
    return AssociatedStore(arn.rsplit("/", 1)[-1], store.outputs.get("name") if store else None)


# --- the Node process ----------------------------------------------------------------------


class CloudFrontFunctionHost:
    """One Node process for every CloudFront Function of the twin, started on first use."""

    def __init__(self, node: str | None = None, state_root: Path | None = None) -> None:
        self._node = node
        self._state_root = state_root  # where the KeyValueStore files are (None: empty stores)
        self._process: subprocess.Popen | None = None
        self._loaded: set[str] = set()
        self._buffer = b""
        self._lock = threading.Lock()

    def run(self, code: str, event: dict[str, Any],
            store: AssociatedStore | None = None) -> ChangedRequest | GeneratedResponse:
        kvs = None
        if store is not None:
            file = (flag_stores.kvs_file(self._state_root, store.name)
                    if self._state_root is not None and store.name else None)
            kvs = {"id": store.id, "file": str(file) if file else None}
        key = hashlib.sha256(json.dumps([code, kvs]).encode()).hexdigest()
        with self._lock:
            reply = self._exchange(key, code, event, kvs)
            if reply.get("type") == "unknown-code":  # the host was restarted
                self._loaded.discard(key)
                reply = self._exchange(key, code, event, kvs)
        for line in reply.get("logs") or []:
            log.info("[cloudfront function] %s", line)
        if "error" in reply:
            if reply.get("type") == "validation":
                raise FunctionValidationError(reply["error"])
            raise FunctionExecutionError(reply["error"].splitlines()[0])
        return result_of(reply["result"])

    def _exchange(self, key: str, code: str, event: dict[str, Any],
                  kvs: dict[str, Any] | None) -> dict[str, Any]:
        process = self._ensure()
        message: dict[str, Any] = {"key": key, "event": event}
        if key not in self._loaded:
            message["code"], message["kvs"] = code, kvs
        try:
            process.stdin.write((json.dumps(message) + "\n").encode())
            process.stdin.flush()
            reply = self._receive(process, time.monotonic() + REPLY_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            self._stop()
            raise FunctionExecutionError(f"the CloudFront Functions runtime did not answer "
                                         f"({exc!r}); it restarts on the next request") from exc
        if "code" in message and reply.get("type") != "execution":
            self._loaded.add(key)
        return reply

    def _ensure(self) -> subprocess.Popen:
        if self._process is not None and self._process.poll() is None:
            return self._process
        if self._node is None:
            from edgekit_iac.twin.cloudflare.node_setup import NodeRuntimeError, find_node

            try:
                self._node, _ = find_node()
            except NodeRuntimeError as exc:
                raise FunctionExecutionError(str(exc)) from exc
        self._loaded.clear()
        self._buffer = b""
        self._process = subprocess.Popen(
            [self._node, str(HOST_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=None, bufsize=0, start_new_session=True,
            env={"PATH": os.environ.get("PATH", ""), "NODE_OPTIONS": "--max-old-space-size=128"},
        )
        return self._process

    def _receive(self, process: subprocess.Popen, deadline: float) -> dict[str, Any]:
        fd = process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer within the time limit")
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise OSError(f"the runtime exited (code {process.wait()})")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            stream.close()

    def close(self) -> None:
        with self._lock:
            self._stop()
