"""The twin's files under `.edgekit/<stack>/`, and the lock that allows one twin per stack.

    twin.pid         {"pid", "stack", "status"}: held while a twin runs (created exclusively)
    endpoints.json   {"<logical name>": "http://127.0.0.1:PORT", ..., "s3": ...}
    graph.json       the recorded resource graph with computed outputs
    logs/            real-time log lines, one .jsonl per distribution
    lambda/          the unpacked Lambda@Edge bundles the twin runs; lambda/canary/<function>/
                     the resizer bundles recorded for the CloudFront canary
    workers/<script>/ what Workers keep: Durable Object storage, KV (survives down/up)
    canary.json, canary-counts.json, local-canary.json
                     the local canary (twin/canary_split.py): its split, what each version
                     served during the run, and the history of `edgekit canary --stack local`
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit_iac.errors import UserError


class TwinAlreadyRunning(UserError):
    """Another twin holds this stack's state directory."""


@dataclass(frozen=True)
class StateFiles:
    root: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "twin.pid"

    @property
    def endpoints_file(self) -> Path:
        return self.root / "endpoints.json"

    @property
    def graph_file(self) -> Path:
        return self.root / "graph.json"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def lambda_dir(self) -> Path:
        return self.root / "lambda"

    @property
    def workers_dir(self) -> Path:
        return self.root / "workers"

    def write_json(self, path: Path, document: Any) -> None:
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def pid_running(pid: int) -> bool:
    """Alive and not merely a zombie: a twin that exited but was not reaped yet by its
    parent (a shell, a test) has stopped, whatever `kill -0` says. On Linux the process's
    leader thread shows as a zombie while its other threads are still being torn down, so
    every thread must be gone or a zombie."""
    if not pid_alive(pid):
        return False
    tasks = Path(f"/proc/{pid}/task")
    if not Path("/proc/self/task").is_dir():
        return True  # no /proc (macOS): kill -0 is all there is
    try:
        threads = list(tasks.iterdir())
    except FileNotFoundError:
        return False  # reaped between the two looks
    for thread in threads:
        try:
            state = (thread / "stat").read_text().rpartition(")")[2].split()[:1]
        except FileNotFoundError:
            continue  # this thread has just gone
        if state not in (["Z"], ["X"]):
            return True
    return False


def read_lock(files: StateFiles) -> dict[str, Any] | None:
    """The running twin's record, or None (no lock file, or an unreadable one)."""
    try:
        return json.loads(files.pid_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def acquire(files: StateFiles, stack: str) -> None:
    """Take the stack's lock for this process, or say which twin holds it."""
    files.root.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            descriptor = os.open(files.pid_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_lock(files) or {}
            pid = int(holder.get("pid") or 0)
            if pid and pid != os.getpid() and pid_alive(pid):
                where = f", status page {holder['status']}" if holder.get("status") else ""
                raise TwinAlreadyRunning(
                    f"a twin for stack {stack!r} is already running (pid {pid}{where}); stop "
                    f"it with `python -m edgekit_iac down --stack {stack}` or use it as it is"
                ) from None
            files.pid_file.unlink(missing_ok=True)  # left behind by a twin that died
            continue
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"pid": os.getpid(), "stack": stack}, out)
        return
    raise TwinAlreadyRunning(f"could not take the lock {files.pid_file}")


def update_lock(files: StateFiles, **fields: Any) -> None:
    record = read_lock(files) or {}
    record.update(fields)
    files.write_json(files.pid_file, record)


def release(files: StateFiles) -> None:
    """Remove what only a running twin should leave: the lock and the endpoints."""
    record = read_lock(files) or {}
    if record.get("pid") not in (None, os.getpid()):
        return  # another twin's lock: not ours to remove
    for path in (files.endpoints_file, files.pid_file):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
