"""Reading the twin's log lines: `.edgekit/<stack>/logs/*.jsonl` (one JSON object a line).

Each file is one source: a distribution's real-time log (CloudFront field names:
`timestamp`, `sc-status`, `cs-method`, `cs-uri-stem`, `time-taken` in seconds,
`x-edge-result-type`, ...) or an edge function's own lines (`time`, `status`, `method`,
`path`, `duration_ms`, `traceparent`, ...). `LogEntry` gives both the same shape, so the
CLI (`edgekit logs`) and the status page filter and print them alike; the line itself is
kept whole (`fields`). `lambda.log` (what the functions print, in text) is read as text
lines (`lambda_tail`).

Filters: a status class or code list (`5xx`, `404`, `4xx,5xx`), a path prefix, a source.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgekit_iac.errors import UserError

LAMBDA_LOG = "lambda.log"
_STATUS_TOKEN = re.compile(r"^(?:[1-5]xx|[1-5][0-9]{2})$")
STATUS_ACCEPTED = "a status class (2xx, 3xx, 4xx, 5xx) or code (404), comma-separated"


@dataclass(frozen=True)
class LogEntry:
    source: str  # the file's stem: a distribution or Worker listener name
    at: float | None  # epoch seconds
    method: str
    path: str
    status: int | None
    result: str  # Hit | Miss | HIT | MISS | Error | ... | "-"
    duration_ms: float | None
    client: str
    traceparent: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "at": self.at, "method": self.method,
                "path": self.path, "status": self.status, "result": self.result,
                "duration_ms": self.duration_ms, "client": self.client,
                "traceparent": self.traceparent}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value in (None, "-", ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _first(fields: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = fields.get(name)
        if value not in (None, "-", ""):
            return value
    return None


def _at(fields: dict[str, Any]) -> float | None:
    value = _first(fields, "timestamp", "time")
    number = _number(value)
    if number is not None:
        return number
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def entry(source: str, fields: dict[str, Any]) -> LogEntry:
    """One parsed line, whichever edge wrote it."""
    status = _number(_first(fields, "sc-status", "status"))
    taken = _number(_first(fields, "time-taken"))
    duration = taken * 1000 if taken is not None else _number(_first(fields, "duration_ms"))
    return LogEntry(
        source=source,
        at=_at(fields),
        method=str(_first(fields, "cs-method", "method") or "-"),
        path=str(_first(fields, "cs-uri-stem", "path") or "-"),
        status=int(status) if status is not None else None,
        result=str(_first(fields, "x-edge-result-type", "cache", "result") or "-"),
        duration_ms=round(duration, 3) if duration is not None else None,
        client=str(_first(fields, "c-ip", "client_ip") or "-"),
        traceparent=str(_first(fields, "traceparent") or "-"),
        fields=fields,
    )


def trace_id_of(item: LogEntry) -> str | None:
    """The 32-hex trace id a line carries (`trace_id`, or inside `traceparent`)."""
    found = item.fields.get("trace_id")
    if isinstance(found, str) and found:
        return found.lower()
    parts = item.traceparent.split("-")
    return parts[1].lower() if len(parts) == 4 else None


def parse_status_filter(text: str | None) -> frozenset[str]:
    """`5xx`, `404`, `4xx,5xx` -> tokens; anything else is refused naming what is accepted."""
    if text is None:
        return frozenset()
    tokens = [token.strip().lower() for token in text.split(",") if token.strip()]
    bad = [token for token in tokens if not _STATUS_TOKEN.match(token)]
    if bad or not tokens:
        raise UserError(f"--status {text!r}: not a status filter; accepted: {STATUS_ACCEPTED}")
    return frozenset(tokens)


@dataclass(frozen=True)
class LogFilter:
    statuses: frozenset[str] = frozenset()
    path_prefix: str | None = None
    sources: frozenset[str] = frozenset()
    trace_id: str | None = None

    def matches(self, item: LogEntry) -> bool:
        if self.sources and item.source not in self.sources:
            return False
        if self.trace_id and self.trace_id != trace_id_of(item):
            return False
        if self.path_prefix and not item.path.startswith(self.path_prefix):
            return False
        if self.statuses:
            if item.status is None:
                return False
            code = str(item.status)
            return code in self.statuses or f"{code[0]}xx" in self.statuses
        return True


class LogFiles:
    """The .jsonl files of one logs directory, read incrementally (for --follow and the
    status page's tail): each `read_new()` returns the complete lines added since."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._offsets: dict[Path, int] = {}
        self.skipped = 0  # lines that were not JSON objects

    def paths(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir() if p.suffix == ".jsonl")
        except FileNotFoundError:
            return []

    def read_new(self) -> list[LogEntry]:
        found: list[LogEntry] = []
        for path in self.paths():
            offset = self._offsets.get(path, 0)
            try:
                with path.open("rb") as stream:
                    if os.fstat(stream.fileno()).st_size < offset:
                        offset = 0  # truncated or replaced: read it again from the start
                    stream.seek(offset)
                    data = stream.read()
            except FileNotFoundError:
                continue
            complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
            self._offsets[path] = offset + len(complete)
            found.extend(self._parse(path.stem, complete.decode("utf-8", "replace")))
        found.sort(key=lambda item: item.at or 0.0)
        return found

    def _parse(self, source: str, text: str) -> Iterator[LogEntry]:
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
            except json.JSONDecodeError:
                fields = None
            if not isinstance(fields, dict):
                self.skipped += 1
                continue
            yield entry(source, fields)


def lambda_tail(directory: Path, lines: int) -> list[str]:
    """The last `lines` lines of what the twin's Lambda@Edge functions printed and logged."""
    path = directory / LAMBDA_LOG
    try:
        with path.open("rb") as stream:
            size = stream.seek(0, os.SEEK_END)
            stream.seek(max(0, size - 64 * 1024))
            text = stream.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:] if lines > 0 else []


def format_time(at: float | None) -> str:
    if at is None:
        return "-" * 23
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def format_line(item: LogEntry) -> str:
    """One line a person reads: when, where, who, what, how it ended, how long."""
    status = str(item.status) if item.status is not None else "-"
    duration = f"{item.duration_ms:.1f} ms" if item.duration_ms is not None else "-"
    trace = f"  trace {item.traceparent.split('-')[1]}" if item.traceparent.count("-") == 3 \
        else ""
    return (f"{format_time(item.at)}  {item.source:<24} {item.client:<15} "
            f"{item.method:<6} {status:>3} {item.result:<8} {duration:>10}  {item.path}{trace}")


def select(items: Iterable[LogEntry], log_filter: LogFilter) -> list[LogEntry]:
    return [item for item in items if log_filter.matches(item)]


class FunctionLogLines(logging.Handler):
    """Copies the edge functions' JSON log lines (the shared schema: a `trace_id` key) from
    the twin's Lambda and Workers loggers into `<logs>/<function>.jsonl`, beside the
    real-time logs, so `edgekit logs` and the status page follow a trace across both edges.
    Other lines (botocore's, the twin's own) stay in lambda.log and the console only."""

    def __init__(self, directory: Path) -> None:
        super().__init__(logging.INFO)
        self.directory = directory
        self._write = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            start = message.find('{"')
            fields = json.loads(message[start:]) if start >= 0 else None
            if not isinstance(fields, dict) or "trace_id" not in fields:
                return
            source = self._source(record)
            line = json.dumps(fields, separators=(",", ":")) + "\n"
            with self._write, (self.directory / f"{source}.jsonl").open("a") as out:
                out.write(line)
        except (ValueError, OSError):
            self.handleError(record)

    @staticmethod
    def _source(record: logging.LogRecord) -> str:
        # Lambda lines: log.info("[%s] %s", "lambda <function>:<version>", line).
        label = str(record.args[0]) if isinstance(record.args, tuple) and record.args else ""
        match = re.fullmatch(r"lambda (\S+?)(?::\S+)?", label)
        if match:
            return match[1]
        return re.sub(r"[^A-Za-z0-9_.-]", "-", record.name.rsplit(".", 1)[-1])
