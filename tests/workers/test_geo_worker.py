"""The geo API Worker end to end on Pyodide with the workers SDK."""

from __future__ import annotations

import pytest

URL = "https://geo.example/"


def test_geo_json_comes_from_the_given_cf(geo_worker):
    result = geo_worker().fetch(
        "GET", URL, cf={"country": "NO", "colo": "OSL", "city": "Oslo", "asn": 2119})

    assert result.status == 200
    assert result.json() == {"message": "Hello from the edge", "country": "NO", "colo": "OSL",
                             "city": "Oslo"}
    assert result.header("content-type") == "application/json"
    assert result.header("cache-control") == "no-store"


def test_absent_fields_and_absent_cf_are_unknown(geo_worker):
    worker = geo_worker()

    partial = worker.fetch("GET", URL, cf={"colo": "AMS"}).json()
    outside_the_edge = worker.fetch("GET", URL).json()  # request.cf is None

    assert (partial["country"], partial["colo"], partial["city"]) == ("unknown", "AMS", "unknown")
    assert {outside_the_edge[k] for k in ("country", "colo", "city")} == {"unknown"}


def test_message_binding_replaces_the_greeting(geo_worker):
    assert geo_worker(MESSAGE="Hei fra kanten").fetch("GET", URL).json()["message"] == (
        "Hei fra kanten")


def test_head_answers_headers_without_body(geo_worker):
    result = geo_worker().fetch("HEAD", URL, cf={"country": "DE"})

    assert (result.status, result.body) == (200, b"")
    assert result.header("cache-control") == "no-store"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405_with_allow(geo_worker, method):
    result = geo_worker().fetch(method, URL, body=b"{}")

    assert result.status == 405
    assert result.header("allow") == "GET, HEAD"
    assert result.json()["error"] == "method_not_allowed"
