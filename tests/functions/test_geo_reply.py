"""The geo API's answer (functions/hello_geo/geo_reply.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit_iac.function_modules import load_function_module

# Located from the repository, not through the `functions` package: pytest may import
# tests/functions as a top-level package of that name.
FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "hello_geo"
geo = load_function_module(FUNCTION_DIR, "geo_reply.py")


@pytest.mark.parametrize(
    ("cf", "message", "expected"),
    [
        ({"country": "DE", "colo": "FRA", "city": "Berlin"}, None,
         {"message": "Hello from the edge", "country": "DE", "colo": "FRA", "city": "Berlin"}),
        ({"country": "NO"}, None,
         {"message": "Hello from the edge", "country": "NO", "colo": "unknown",
          "city": "unknown"}),
        ({}, "Hei", {"message": "Hei", "country": "unknown", "colo": "unknown",
                     "city": "unknown"}),
        ({"country": "", "colo": None, "city": 42}, "  ",
         {"message": "Hello from the edge", "country": "unknown", "colo": "unknown",
          "city": "unknown"}),
    ],
)
def test_get_answers_geo_json(cf, message, expected):
    reply = geo.reply("GET", cf, message)
    assert reply.status == 200
    assert json.loads(reply.body) == expected
    assert ("cache-control", "no-store") in reply.headers
    assert ("content-type", "application/json") in reply.headers


def test_head_answers_what_get_does_so_its_length_is_gets():
    # The runtime drops a HEAD answer's body and sends its length (RFC 9110 section 9.3.2).
    assert geo.reply("HEAD", {"country": "DE"}) == geo.reply("GET", {"country": "DE"})


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405_with_allow(method):
    reply = geo.reply(method, {"country": "DE"})
    assert reply.status == 405
    assert ("allow", "GET, HEAD") in reply.headers
    assert ("cache-control", "no-store") in reply.headers
    assert json.loads(reply.body)["error"] == "method_not_allowed"
