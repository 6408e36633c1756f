"""The geo API's answer, as a pure function (stdlib only: CPython 3.11+ and Pyodide).

``GET``/``HEAD`` -> 200 JSON ``{"message", "country", "colo", "city"}`` from the
request's ``cf`` fields, ``"unknown"`` where a field is absent or empty; HEAD answers
exactly what GET does: the runtime sends no body for HEAD but reports its length, the
Content-Length GET would carry (RFC 9110 section 9.3.2). Any other method -> 405 with
``Allow: GET, HEAD``. Every answer is ``Cache-Control: no-store``: it depends on where
the client is.

The optional plain-text binding ``MESSAGE`` replaces the default message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_MESSAGE = "Hello from the edge"
UNKNOWN = "unknown"
GEO_FIELDS = ("country", "colo", "city")
ALLOWED_METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: str | None


def reply(method: str, cf: Mapping[str, object], message: object = None) -> Reply:
    """The answer to ``method`` for a request whose ``cf`` holds these geo fields."""
    headers = [("content-type", "application/json"), ("cache-control", "no-store")]
    if method not in ALLOWED_METHODS:
        headers.append(("allow", ", ".join(ALLOWED_METHODS)))
        error = {"error": "method_not_allowed", "allowed": list(ALLOWED_METHODS)}
        return Reply(405, headers, json.dumps(error))
    document = {"message": _text(message) or DEFAULT_MESSAGE}
    document.update({name: _text(cf.get(name)) or UNKNOWN for name in GEO_FIELDS})
    return Reply(200, headers, json.dumps(document))


def _text(value: object) -> str:
    """A usable string, or "" (JS null/undefined, numbers and blanks are not names)."""
    return value.strip() if isinstance(value, str) else ""
