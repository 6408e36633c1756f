"""Run a Python Worker where Cloudflare runs it: Pyodide with the real ``workers`` SDK.

One ``WorkerIsolate`` is one Node process (``pyodide/host.mjs``) holding one warm Pyodide
isolate with one Worker's bundle loaded: the files the Pulumi program uploads, whose
``python_modules/`` carry the pinned Python Workers SDK (``workers-runtime-sdk``). Requests
cross the process boundary once each way (a length-prefixed JSON header plus raw body
bytes); the Cache API, bindings, Durable Objects and ``ctx.waitUntil`` live inside the
isolate, so a cache hit never leaves it. Many threads may call ``fetch`` at once: requests
interleave inside the isolate as they would on Cloudflare.

    isolate = WorkerIsolate.start(bundle, main_module="cache_worker.py",
                                  bindings=[{"type": "plain_text", "name": "ORIGIN_URL",
                                             "text": "http://127.0.0.1:8081"}],
                                  compatibility_date="2026-11-01", name="cache-wrapper")
    result = isolate.fetch("GET", "https://api.example/weather", cf={"country": "NO"})
    result.status, result.header("x-edge-cache"), result.body
    isolate.close()

``clock`` (epoch seconds, ``time.time`` unless given) is read for every request and is what
the Worker sees as ``Date.now()`` and what the Cache API expires entries by.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from edgekit_iac.errors import UserError
from edgekit_iac.twin.cloudflare import node_setup

log = logging.getLogger("edgekit.twin.workers")

# The Pyodide Cloudflare runs for python_workers with a compatibility date after
# 2025-09-29 (flag python_workers_20250116): workerd build/python_metadata.bzl.
PYODIDE_VERSION = "0.28.2"
# Cloudflare stopped bundling the SDK with the runtime on this date
# (enable_python_external_sdk): the Worker's bundle must vendor workers-runtime-sdk >= 1.9.
EXTERNAL_SDK_DATE = "2026-04-21"
# Python flags that follow from a compatibility date (workerd compatibility-date.capnp).
_DATED_PYTHON_FLAGS = {
    "python_request_headers_preserve_commas": ("2026-02-17",
                                               "disable_python_request_headers_preserve_commas"),
    "python_workflows_implicit_dependencies": ("2026-02-25",
                                               "no_python_workflows_implicit_dependencies"),
}
# Flags that select another Pyodide than the one pinned here.
_OTHER_PYODIDE_FLAGS = {
    "python_workers_20260610": "314.0.4 (CPython 3.14)",
    "python_workers_20260817": "314.0.5 (CPython 3.14)",
    "python_workers_development": "the development build",
}
SDK_MODULE = "python_modules/workers/__init__.py"
START_TIMEOUT = 180.0
FETCH_TIMEOUT = 60.0
_FRAME = struct.Struct(">II")


class WorkerLoadError(UserError):
    """The Worker could not be started or loaded; the message says why and what to change."""


@dataclass(frozen=True)
class WorkerResult:
    """What the Worker answered: status, headers (lower-case names, each Set-Cookie apart),
    body bytes, and the error text when it threw (the status is then 500, as on Cloudflare).
    ``worker_ms`` is the time spent inside the isolate, up to the body being read."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reason: str = ""
    error: str | None = None
    background_errors: list[str] = field(default_factory=list)
    worker_ms: float = 0.0

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitively; None when absent."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def python_compat_flags(compatibility_date: str, flags: Iterable[str] = ()) -> dict[str, bool]:
    """``_cloudflare_compat_flags`` for a Worker: the Python flags its date and flags turn on."""
    flags = set(flags)
    other = sorted(set(_OTHER_PYODIDE_FLAGS) & flags)
    if other:
        raise WorkerLoadError(
            f"compatibility flag {other[0]} selects Pyodide {_OTHER_PYODIDE_FLAGS[other[0]]}; "
            f"edgekit runs Workers on Pyodide {PYODIDE_VERSION} (python_workers_20250116, "
            "what Cloudflare runs for python_workers after 2025-09-29): remove the flag"
        )
    result = {}
    for name, (since, disable) in _DATED_PYTHON_FLAGS.items():
        result[name] = name in flags or (compatibility_date >= since and disable not in flags)
    return result


def check_bundle(bundle: Mapping[str, Any], compatibility_date: str, name: str) -> None:
    if compatibility_date >= EXTERNAL_SDK_DATE and SDK_MODULE not in bundle:
        raise WorkerLoadError(
            f"Worker {name!r}: its bundle has no {SDK_MODULE}. Since {EXTERNAL_SDK_DATE} "
            "(enable_python_external_sdk) Cloudflare no longer provides the `workers` SDK; "
            "pin workers-runtime-sdk in the function's requirements.txt so the bundler "
            "vendors it under python_modules/"
        )


def _encode(part: str | bytes) -> str:
    return base64.b64encode(part.encode("utf-8") if isinstance(part, str) else part).decode()


class WorkerIsolate:
    """One Worker in one Pyodide isolate in one Node process; see the module docstring."""

    def __init__(self, name: str, process: subprocess.Popen, clock: Callable[[], float]):
        self.name = name
        self.clock = clock
        self.info: dict[str, Any] = {}
        self._process = process
        self._ids = itertools.count(1)
        self._waiting: dict[int, Future] = {}
        self._write_lock = threading.Lock()
        self._closed = False
        self._logger = log.getChild(name)
        self._reader = threading.Thread(target=self._read_frames, daemon=True,
                                        name=f"isolate-{name}")
        self._reader.start()
        threading.Thread(target=self._read_log, daemon=True, name=f"isolate-log-{name}").start()

    # ------------------------------------------------------------------ start

    @classmethod
    def spawn(cls, bundle: Mapping[str, str | bytes], *, main_module: str,
              bindings: Iterable[Mapping[str, Any]] = (), compatibility_date: str,
              compatibility_flags: Iterable[str] = (), name: str,
              clock: Callable[[], float] = time.time, state_dir: str | None = None,
              allow_run: bool = False) -> tuple[WorkerIsolate, Future]:
        """Start the process and send the bundle; the Future resolves when it is loaded."""
        flags = python_compat_flags(compatibility_date, compatibility_flags)
        if main_module not in bundle:
            raise WorkerLoadError(f"Worker {name!r}: main module {main_module!r} is not in its "
                                  f"bundle ({', '.join(sorted(bundle)) or 'empty'})")
        check_bundle(bundle, compatibility_date, name)
        runtime = node_setup.ensure()
        command = runtime.command(*(["--allow-run"] if allow_run else []))
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        isolate = cls(name, process, clock)
        files = json.dumps({path: _encode(part) for path, part in bundle.items()}).encode()
        loaded = isolate._send({
            "op": "load", "mainModule": main_module, "bindings": list(bindings),
            "compatFlags": flags, "stateDir": state_dir, "scriptName": name,
        }, files)
        return isolate, loaded

    @classmethod
    def interpreter(cls, name: str = "python313") -> WorkerIsolate:
        """A Node process with a bare Pyodide and no Worker, for ``run_python`` (tests)."""
        runtime = node_setup.ensure()
        process = subprocess.Popen(runtime.command("--allow-run"), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return cls(name, process, time.time)

    @classmethod
    def start(cls, bundle: Mapping[str, str | bytes], *, timeout: float = START_TIMEOUT,
              **options: Any) -> WorkerIsolate:
        isolate, loaded = cls.spawn(bundle, **options)
        isolate.wait_loaded(loaded, timeout)
        return isolate

    def wait_loaded(self, loaded: Future, timeout: float = START_TIMEOUT) -> WorkerIsolate:
        try:
            self.info = self._answer(loaded, timeout, "start")
        except BaseException:
            self.close()
            raise
        for note in self.info.get("notes") or []:
            self._logger.warning("%s", note)
        return self

    # ------------------------------------------------------------------ requests

    def fetch(self, method: str, url: str, *,
              headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
              body: bytes | None = None, cf: Mapping[str, Any] | None = None,
              timeout: float = FETCH_TIMEOUT) -> WorkerResult:
        """One request through the Worker's ``Default.fetch`` (and its waitUntil work).

        A request still running after ``timeout`` seconds is cancelled inside the isolate
        and answered 504 (``error`` says so)."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        method = method.upper()
        future = self._send({
            "op": "fetch", "method": method, "url": url,
            "headers": [[str(k), str(v)] for k, v in pairs],
            "cf": dict(cf) if cf is not None else None, "now": self.clock() * 1000,
            "timeoutMs": timeout * 1000,
        }, body or b"")
        header, payload = self._answer(future, timeout + 30, f"{method} {url}", with_body=True)
        return WorkerResult(header["status"], [(k, v) for k, v in header["headers"]],
                            payload, header.get("statusText") or "", header.get("error"),
                            list(header.get("backgroundErrors") or []),
                            float(header.get("workerMs") or 0.0))

    def reset(self, bindings: Iterable[Mapping[str, Any]]) -> None:
        """Empty the Cache API and bind anew, keeping the warm interpreter (for tests)."""
        self._answer(self._send({"op": "reset", "bindings": list(bindings)}), FETCH_TIMEOUT,
                     "reset")

    def purge_prefixes(self, prefixes: Iterable[str]) -> int:
        """Cloudflare's purge by prefix on this isolate's Cache API; how many entries went."""
        reply = self._answer(self._send({"op": "purge", "prefixes": list(prefixes)}),
                             FETCH_TIMEOUT, "purge")
        return int(reply.get("removed") or 0)

    def run_python(self, code: str, timeout: float = START_TIMEOUT) -> str | None:
        """Run code in the Worker's interpreter, or a bare one (only with allow_run)."""
        return self._answer(self._send({"op": "run", "code": code}), timeout, "run")["result"]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._process.stdin:
                self._process.stdin.close()
            self._process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait(timeout=5)
        self._fail_waiting("the Worker's isolate was closed")

    @property
    def alive(self) -> bool:
        return not self._closed and self._process.poll() is None

    # ------------------------------------------------------------------ protocol

    def _send(self, header: dict[str, Any], body: bytes = b"") -> Future:
        future: Future = Future()
        request_id = next(self._ids)
        header["id"] = request_id
        head = json.dumps(header, separators=(",", ":")).encode()
        frame = _FRAME.pack(4 + len(head) + len(body), len(head)) + head + body
        self._waiting[request_id] = future
        try:
            with self._write_lock:
                self._process.stdin.write(frame)  # type: ignore[union-attr]
                self._process.stdin.flush()  # type: ignore[union-attr]
        except (OSError, ValueError) as exc:
            self._waiting.pop(request_id, None)
            raise WorkerLoadError(f"Worker {self.name!r}: its isolate is gone ({exc})") from None
        return future

    def _answer(self, future: Future, timeout: float, what: str, *, with_body: bool = False):
        try:
            header, body = future.result(timeout)
        except FutureTimeout:
            raise TimeoutError(f"Worker {self.name!r}: no answer to {what} within "
                               f"{timeout:g} s") from None
        if not header.get("ok"):
            raise WorkerLoadError(f"Worker {self.name!r}: {what} failed: {header.get('error')}")
        return (header, body) if with_body else header

    def _read_frames(self) -> None:
        stream = self._process.stdout
        try:
            while True:
                prefix = _read_exactly(stream, 8)
                if prefix is None:
                    break
                length, head_length = _FRAME.unpack(prefix)
                rest = _read_exactly(stream, length - 4)
                if rest is None:
                    break
                header = json.loads(rest[:head_length])
                future = self._waiting.pop(header.get("id"), None)
                if future is not None:
                    future.set_result((header, bytes(rest[head_length:])))
        finally:
            code = self._process.poll()
            self._fail_waiting(f"the Worker's isolate exited (code {code}); see the log above")

    def _read_log(self) -> None:
        levels = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
                  "error": logging.ERROR}
        for raw in self._process.stderr:  # type: ignore[union-attr]
            line = raw.decode("utf-8", errors="replace").rstrip()
            try:
                record = json.loads(line)
                level, message = levels.get(record.get("level"), logging.INFO), record["message"]
            except (ValueError, KeyError, AttributeError, TypeError):
                level, message = logging.WARNING, line
            if message:
                self._logger.log(level, "%s", message)

    def _fail_waiting(self, reason: str) -> None:
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_result(({"ok": False, "error": reason}, b""))


def _read_exactly(stream, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
