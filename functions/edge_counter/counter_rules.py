"""The counter API's rules, as pure functions (stdlib only: CPython 3.11+ and Pyodide).

``POST /counters/{name}`` adds 1, or ``?by=N`` with N a whole number from 1 to 1000;
``GET``/``HEAD /counters/{name}`` reads. Names are 1-64 characters of letters, digits,
``_``, ``.`` and ``-``, starting with a letter or digit (so a name is also a safe storage
key and log field). Anything else gets a JSON error naming what was wrong and what is
accepted: 400 (bad name or ``by``), 404 (another path), 405 (another method, with Allow).
Every answer is ``Cache-Control: no-store``: a counter changes under any cache.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

PREFIX = "/counters/"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
NAME_RULE = "1-64 characters of letters, digits, '_', '.' and '-', a letter or digit first"
MIN_STEP, MAX_STEP = 1, 1000
ALLOWED_METHODS = ("GET", "HEAD", "POST")
HEADERS = [("content-type", "application/json"), ("cache-control", "no-store")]


@dataclass(frozen=True)
class Operation:
    """A valid request: read (by == 0) or add ``by`` to counter ``name``."""

    name: str
    by: int = 0


@dataclass(frozen=True)
class Refusal:
    status: int
    error: str
    detail: str

    def headers(self) -> list[tuple[str, str]]:
        extra = [("allow", ", ".join(ALLOWED_METHODS))] if self.status == 405 else []
        return HEADERS + extra

    def body(self) -> str:
        return json.dumps({"error": self.error, "detail": self.detail})


def parse(method: str, url: str) -> Operation | Refusal:
    """What ``method url`` asks of the counters, or why it is refused."""
    parts = urlsplit(url)
    if not parts.path.startswith(PREFIX):
        return Refusal(404, "not_found", f"counters live at {PREFIX}{{name}}")
    name = unquote(parts.path[len(PREFIX):])
    if not NAME.fullmatch(name):
        return Refusal(400, "invalid_name", f"counter name {name!r} is not {NAME_RULE}")
    if method not in ALLOWED_METHODS:
        return Refusal(405, "method_not_allowed",
                       f"{method} is not allowed; use GET to read or POST to increment")
    query = parse_qsl(parts.query, keep_blank_values=True)
    unknown = sorted({key for key, _ in query} - {"by"})
    if unknown:
        return Refusal(400, "invalid_query", f"unknown parameter(s) {unknown}; only 'by' is "
                                             "accepted, with POST")
    steps = [value for key, value in query if key == "by"]
    if steps and method != "POST":
        return Refusal(400, "invalid_query", "'by' is only accepted with POST")
    if method != "POST":
        return Operation(name)
    if len(steps) > 1:
        return Refusal(400, "invalid_by", "give 'by' once")
    text = steps[0] if steps else "1"
    if not (text.isascii() and text.isdigit()) or not MIN_STEP <= int(text) <= MAX_STEP:
        return Refusal(400, "invalid_by", f"by={text!r} is not a whole number from "
                                          f"{MIN_STEP} to {MAX_STEP}")
    return Operation(name, int(text))


def apply(current: object, operation: Operation) -> int:
    """The counter's value after ``operation``; a missing counter counts from 0."""
    value = current if isinstance(current, int) and not isinstance(current, bool) else 0
    return value + operation.by


def answer(name: str, value: int) -> str:
    return json.dumps({"name": name, "value": value})
