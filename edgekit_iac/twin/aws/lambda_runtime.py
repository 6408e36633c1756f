"""Run a recorded Lambda@Edge function version: execution environments as child processes.

Each `aws:lambda/function:Function` a distribution associates is unpacked from the zip its
`code` input names and run in up to `max_environments` child processes
(`edgekit_iac.twin.aws.lambda_child`), one invocation at a time each, as Lambda does: a fresh
interpreter per environment, the function's module imported once (cold start), the
timeout enforced (the environment is killed and replaced), and an environment of the
reserved variables Lambda sets plus the standard AWS endpoint settings pointing at the
twin's S3. The twin's own process environment is never changed.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgekit_iac.program import RecordedResource
from edgekit_iac.twin.aws import lambda_bundle

log = logging.getLogger("edgekit.twin.lambda")

DEFAULT_TIMEOUT = 3  # Lambda's default when a function sets none
START_TIMEOUT = 60  # seconds an environment may take to import the handler
# Variables the twin must not pass on: they would point boto3 at real accounts or profiles.
_SCRUBBED_PREFIXES = ("AWS_",)


class LambdaExecutionError(Exception):
    """The function threw, timed out or could not start: CloudFront answers 503."""


def vendored_decisions(unpacked: lambda_bundle.UnpackedFunction, function_label: str,
                       supported=None) -> tuple[bool, list[str]]:
    """Whether the vendored folder can go on sys.path here, and what to tell the user."""
    supported = lambda_bundle.supported_tags() if supported is None else supported
    notes, loadable = [], True
    for dist in unpacked.vendored:
        reason = lambda_bundle.incompatibility(dist, supported)
        if reason is None:
            continue
        loadable = False
        here = lambda_bundle.local_version(dist.name)
        python = f"CPython {sys.version_info.major}.{sys.version_info.minor}"
        replacement = (f"using {dist.name} {here} from the twin's own environment instead"
                       if here else f"and {dist.name} is not installed here either: "
                       "imports of it will fail")
        notes.append(f"{function_label}: vendored {dist.name} {dist.version} is {reason} and "
                     f"cannot load in {python} on this machine; {replacement}")
    return loadable, notes


def function_environment(function: RecordedResource, code_dir: Path,
                         aws_endpoints: Mapping[str, str],
                         base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: the twin's, without AWS settings, plus what Lambda sets."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    region = function.inputs.get("region") or "us-east-1"
    name = function.outputs.get("name") or function.name
    package_root = str(Path(__file__).resolve().parents[2])
    env.update({
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "twin-local",
        "AWS_SECRET_ACCESS_KEY": "twin-local",  # a dummy: moto accepts any
        "AWS_SESSION_TOKEN": "twin-local",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": f"{region}.{name}",
        "AWS_LAMBDA_FUNCTION_VERSION": str(function.outputs.get("version", "$LATEST")),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(int(function.inputs.get("memorySize") or 128)),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.inputs.get('runtime', 'python3.13')}",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (base.get("PYTHONPATH"), package_root) if p),
    })
    env.update(aws_endpoints)
    return env


class _Environment:
    """One child process running the handler."""

    def __init__(self, label: str, setup: dict[str, Any], cwd: Path, env: dict[str, str]):
        self.label = label
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edgekit_iac.twin.aws.lambda_child"],
            cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, bufsize=0,
            # Its own session: Ctrl-C on the terminal reaches the twin, which stops its
            # environments itself, instead of killing them mid-start with a traceback.
            start_new_session=True,
        )
        self._buffer = b""
        threading.Thread(target=self._copy_logs, daemon=True, name=f"{label}-logs").start()
        try:
            self._send(setup)
            ready = self._receive(time.monotonic() + START_TIMEOUT)
        except (OSError, TimeoutError, LambdaExecutionError) as exc:
            self.kill()
            raise LambdaExecutionError(f"{label}: the execution environment did not start "
                                       f"({exc!r})") from exc
        if "error" in ready:
            self.init_error = ready["error"]
            log.error("%s: init failed: %s: %s", label, ready["error"]["errorType"],
                      ready["error"]["errorMessage"])
        else:
            self.init_error = None

    def _copy_logs(self) -> None:
        for line in self.process.stderr:
            log.info("[%s] %s", self.label, line.decode(errors="replace").rstrip())

    def _send(self, message: dict[str, Any]) -> None:
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def _receive(self, deadline: float) -> dict[str, Any]:
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise LambdaExecutionError(
                        f"{self.label}: the execution environment exited "
                        f"(code {self.process.wait()})"
                    )
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def invoke(self, event: dict[str, Any], context: dict[str, Any], timeout: float) -> Any:
        self._send({"event": event, "context": context, "timeout": timeout})
        reply = self._receive(time.monotonic() + timeout)
        if "error" in reply:
            error = reply["error"]
            log.error("%s: %s: %s\n%s", self.label, error["errorType"], error["errorMessage"],
                      "".join(error.get("stackTrace") or []))
            raise LambdaExecutionError(f"{self.label}: {error['errorType']}: "
                                       f"{error['errorMessage']}")
        return reply["result"]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


class EdgeFunction:
    """A published function version the twin can invoke."""

    def __init__(self, function: RecordedResource, work_dir: Path,
                 aws_endpoints: Mapping[str, str], max_environments: int = 4) -> None:
        self.resource = function
        self.qualified_arn = function.outputs.get("qualifiedArn", "")
        self.name = function.outputs.get("name") or function.name
        self.version = str(function.outputs.get("version", "$LATEST"))
        self.timeout = float(function.inputs.get("timeout") or DEFAULT_TIMEOUT)
        self.label = f"lambda {function.name}:{self.version}"
        code = (function.inputs.get("code") or {}).get("path")
        if not code or not Path(code).is_file():
            raise LambdaExecutionError(
                f"{function.name}: its code input names no zip the twin can read ({code!r}); "
                "the twin runs the bundle the program deploys"
            )
        self.zip_path = Path(code)
        self.unpacked = lambda_bundle.unpack(self.zip_path, work_dir)
        use_vendored, self.notes = vendored_decisions(self.unpacked, function.name)
        self._setup = {
            "handler": function.inputs.get("handler") or "index.handler",
            "vendor_dir": str(self.unpacked.vendor_dir) if use_vendored else None,
        }
        self._env = function_environment(function, self.unpacked.code_dir, aws_endpoints)
        self._idle: queue.LifoQueue[_Environment] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max_environments)
        self._all: list[_Environment] = []
        self._lock = threading.Lock()
        self.invocations = 0
        self.cold_starts = 0

    def _context(self) -> dict[str, Any]:
        region = self.resource.inputs.get("region") or "us-east-1"
        return {
            "function_name": f"{region}.{self.name}",
            "function_version": self.version,
            "invoked_function_arn": self.qualified_arn,
            "memory_limit_in_mb": str(int(self.resource.inputs.get("memorySize") or 128)),
            "aws_request_id": str(uuid.uuid4()),
            "log_group_name": f"/aws/lambda/us-east-1.{self.name}",
            "log_stream_name": time.strftime("%Y/%m/%d/[") + f"{self.version}]twin",
        }

    def _take(self) -> _Environment:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        environment = _Environment(self.label, self._setup, self.unpacked.code_dir, self._env)
        with self._lock:
            self._all.append(environment)
            self.cold_starts += 1
        return environment

    def _discard(self, environment: _Environment) -> None:
        environment.kill()
        with self._lock:
            if environment in self._all:
                self._all.remove(environment)

    def prewarm(self) -> None:
        """Start one environment now, so the first request does not pay the import."""
        try:
            with self._slots:
                self._idle.put(self._take())
        except LambdaExecutionError as exc:  # requests will say so too; keep the twin up
            log.error("%s", exc)

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._slots:
            environment = self._take()
            self.invocations += 1
            try:
                result = environment.invoke(event, self._context(), self.timeout)
            except TimeoutError:
                self._discard(environment)
                raise LambdaExecutionError(
                    f"{self.label}: timed out after {self.timeout:g} s"
                ) from None
            except (OSError, ValueError) as exc:  # died between calls, or garbled the reply
                self._discard(environment)
                raise LambdaExecutionError(f"{self.label}: the execution environment "
                                           f"failed ({exc!r})") from exc
            except LambdaExecutionError:
                if environment.process.poll() is not None:
                    self._discard(environment)
                else:
                    self._idle.put(environment)
                raise
            self._idle.put(environment)
            return result

    def close(self) -> None:
        with self._lock:
            environments, self._all = self._all, []
        for environment in environments:
            environment.kill()
