"""The counter API's rules (functions/edge_counter/counter_rules.py), on CPython."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit_iac.function_modules import load_function_module

# Located from the repository, not through the `functions` package: pytest may import
# tests/functions as a top-level package of that name.
rules = load_function_module(Path(__file__).resolve().parents[2] / "functions" / "edge_counter",
                             "counter_rules.py")
URL = "https://counter.example/counters/"


@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        ("POST", "likes", rules.Operation("likes", 1)),
        ("POST", "likes?by=1000", rules.Operation("likes", 1000)),
        ("POST", "quota.user-42_x?by=7", rules.Operation("quota.user-42_x", 7)),
        ("GET", "likes", rules.Operation("likes", 0)),
        ("HEAD", "A" * 64, rules.Operation("A" * 64, 0)),
    ],
)
def test_valid_requests(method, target, expected):
    assert rules.parse(method, URL + target) == expected


@pytest.mark.parametrize(
    ("method", "url", "status", "error"),
    [
        ("POST", URL + "", 400, "invalid_name"),
        ("POST", URL + "A" * 65, 400, "invalid_name"),
        ("POST", URL + "-leading-dash", 400, "invalid_name"),
        ("POST", URL + "a%2Fb", 400, "invalid_name"),
        ("POST", URL + "sp%20ace", 400, "invalid_name"),
        ("POST", URL + "caf%C3%A9", 400, "invalid_name"),
        ("POST", URL + "x?by=0", 400, "invalid_by"),
        ("POST", URL + "x?by=1001", 400, "invalid_by"),
        ("POST", URL + "x?by=-1", 400, "invalid_by"),
        ("POST", URL + "x?by=1.5", 400, "invalid_by"),
        ("POST", URL + "x?by=%EF%BC%95", 400, "invalid_by"),  # a full-width digit 5
        ("POST", URL + "x?by=1&by=2", 400, "invalid_by"),
        ("POST", URL + "x?step=2", 400, "invalid_query"),
        ("GET", URL + "x?by=2", 400, "invalid_query"),
        ("DELETE", URL + "x", 405, "method_not_allowed"),
        ("GET", "https://counter.example/other", 404, "not_found"),
    ],
)
def test_refusals_say_what_is_accepted(method, url, status, error):
    refusal = rules.parse(method, url)
    assert isinstance(refusal, rules.Refusal)
    assert (refusal.status, refusal.error) == (status, error)
    assert json.loads(refusal.body())["detail"]
    assert ("allow", "GET, HEAD, POST") in refusal.headers() or status != 405


def test_apply_counts_from_zero_and_ignores_what_is_not_a_count():
    assert rules.apply(None, rules.Operation("x", 3)) == 3
    assert rules.apply(41, rules.Operation("x", 1)) == 42
    assert rules.apply(True, rules.Operation("x", 1)) == 1
    assert rules.apply(5, rules.Operation("x")) == 5
