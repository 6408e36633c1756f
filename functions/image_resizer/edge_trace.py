"""The resizer's part of a trace: W3C ``traceparent``, ``Server-Timing`` and JSON log lines.

- ``start(incoming)``: the viewer's trace continues (same trace id, this hop a new span
  whose parent is the incoming one) when CloudFront forwarded a valid ``traceparent`` (the
  component's origin request policy forwards it); otherwise a new trace starts here.
- ``server_timing(timings)``: ``decode;dur=..., resize;dur=..., encode;dur=...`` in ms.
- ``JsonLines``: a logging filter that turns every record of the resizer's logger into
  one JSON object with the trace on it. The field names are the edge's shared log schema:
  the cache wrapper Worker writes the same names (functions/cache_wrapper/cache_policy.py
  ``LOG_FIELDS``), so one query on ``trace_id`` follows a request through either edge.

Standard library only; the current trace is a context variable, set per invocation.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EDGE = "lambda@edge"
FUNCTION = "image_resizer"
# The log schema both edges write (keep in step with cache_policy.LOG_FIELDS).
LOG_FIELDS = (
    "time",
    "level",
    "edge",
    "function",
    "trace_id",
    "span_id",
    "parent_span_id",
    "traceparent",
    "method",
    "path",
    "status",
    "cache",
    "duration_ms",
    "message",
)
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


@dataclass(frozen=True)
class Trace:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    flags: str

    @property
    def traceparent(self) -> str:
        """What this hop sends on: its own span as the parent of the next."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def parse(value: str | None) -> tuple[str, str, str] | None:
    """(trace id, parent span id, flags) of a valid traceparent, else None."""
    match = _TRACEPARENT.fullmatch((value or "").strip().lower())
    if not match:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    if version == "00" and rest is not None:
        return None
    return trace_id, parent_id, flags


def start(incoming: str | None, random_hex: Callable[[int], str] = secrets.token_hex) -> Trace:
    """Continue the incoming trace with a new span, or start one (sampled flag off)."""
    parsed = parse(incoming)
    if parsed is None:
        return Trace(random_hex(16), random_hex(8), None, "00")
    trace_id, parent_id, flags = parsed
    return Trace(trace_id, random_hex(8), parent_id, flags)


def server_timing(timings: dict[str, float]) -> str:
    """``Server-Timing`` for the phases measured, in milliseconds."""
    return ", ".join(f"{name};dur={ms:.1f}" for name, ms in timings.items())


_CURRENT: contextvars.ContextVar[tuple[Trace, dict[str, Any]] | None] = contextvars.ContextVar(
    "edgekit_trace", default=None
)


def begin(trace: Trace, **request: Any) -> contextvars.Token:
    """Make `trace` (and the request's method, path) the one every log line carries."""
    return _CURRENT.set((trace, dict(request)))


def end(token: contextvars.Token) -> None:
    _CURRENT.reset(token)


def current() -> Trace | None:
    state = _CURRENT.get()
    return state[0] if state else None


def record_timings(timings: dict[str, float]) -> None:
    """The phases the resize measured, for this request's Server-Timing."""
    state = _CURRENT.get()
    if state is not None:
        state[1].setdefault("timings", {}).update(timings)


def timings() -> dict[str, float]:
    state = _CURRENT.get()
    return dict(state[1].get("timings", {})) if state else {}


def log_record(level: str, message: str, **fields: Any) -> dict[str, Any]:
    """One log line in the shared schema, with the current trace and request on it."""
    state = _CURRENT.get()
    trace, request = state if state else (None, {})
    line: dict[str, Any] = {
        "time": round(time.time(), 3),
        "level": level,
        "edge": EDGE,
        "function": FUNCTION,
        "trace_id": trace.trace_id if trace else None,
        "span_id": trace.span_id if trace else None,
        "parent_span_id": trace.parent_span_id if trace else None,
        "traceparent": trace.traceparent if trace else None,
        "method": request.get("method"),
        "path": request.get("path"),
        "status": None,
        "cache": None,
        "duration_ms": None,
        "message": message,
    }
    line.update({key: value for key, value in fields.items() if key in LOG_FIELDS})
    return line


class JsonLines(logging.Filter):
    """Rewrites each record's message as one JSON line in the shared schema. Fields given
    with ``extra={"edge_fields": {...}}`` (status, cache, duration_ms) go into the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "edge_json", False):
            return True  # already a JSON line (a reloaded module added a second filter)
        record.edge_json = True
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        fields = getattr(record, "edge_fields", None) or {}
        record.msg = json.dumps(log_record(record.levelname.lower(), message, **fields))
        record.args = ()
        return True


def outgoing_headers() -> dict[str, str]:
    """Headers a call this hop makes carries (the S3 client's `extra_headers`): the current
    traceparent, so S3 sees the resizer's span as the parent."""
    trace = current()
    return {"traceparent": trace.traceparent} if trace is not None else {}
