"""The edge counter Worker and its Durable Object, on Pyodide with the real SDK."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import COMPATIBILITY_DATE, start_isolate

URL = "https://counter.example/counters"
COUNTERS = [{"type": "durable_object_namespace", "name": "COUNTERS", "class_name": "Counter"}]


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("counter-state")


@pytest.fixture(scope="module")
def counter(state_dir):
    """One isolate for the module (Pyodide takes seconds to start): each test its own names."""
    isolate = start_isolate("edge_counter", "counter_worker.py", bindings=COUNTERS,
                            state_dir=str(state_dir))
    yield isolate
    isolate.close()


def test_post_increments_and_get_reads(counter):
    assert counter.fetch("POST", f"{URL}/likes").json() == {"name": "likes", "value": 1}
    assert counter.fetch("POST", f"{URL}/likes?by=41").json() == {"name": "likes", "value": 42}
    read = counter.fetch("GET", f"{URL}/likes")
    assert read.json() == {"name": "likes", "value": 42}
    assert read.header("cache-control") == "no-store"
    assert counter.fetch("GET", f"{URL}/never-touched").json()["value"] == 0


def test_each_name_is_its_own_object(counter):
    counter.fetch("POST", f"{URL}/a?by=5")
    counter.fetch("POST", f"{URL}/b?by=7")
    assert counter.info["durableClasses"] == ["Counter"]
    assert [counter.fetch("GET", f"{URL}/{n}").json()["value"] for n in "ab"] == [5, 7]


def test_bad_requests_get_a_json_400_and_change_nothing(counter):
    refused = counter.fetch("POST", f"{URL}/no%20spaces?by=3")
    too_much = counter.fetch("POST", f"{URL}/x?by=1001")

    assert (refused.status, refused.json()["error"]) == (400, "invalid_name")
    assert (too_much.status, too_much.json()["error"]) == (400, "invalid_by")
    assert counter.fetch("GET", f"{URL}/x").json()["value"] == 0


def test_concurrent_increments_of_one_name_are_never_lost(counter):
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda _: counter.fetch("POST", f"{URL}/hot").status,
                                 range(200)))

    assert statuses == [200] * 200
    assert counter.fetch("GET", f"{URL}/hot").json()["value"] == 200


def test_storage_survives_a_new_isolate_on_the_same_state(counter, state_dir):
    counter.fetch("POST", f"{URL}/kept?by=9")

    again = start_isolate("edge_counter", "counter_worker.py", bindings=COUNTERS,
                          state_dir=str(state_dir))
    try:
        assert again.fetch("GET", f"{URL}/kept").json()["value"] == 9
    finally:
        again.close()


def test_without_the_binding_the_worker_fails_loudly(tmp_path):
    isolate = start_isolate("edge_counter", "counter_worker.py", state_dir=str(tmp_path))
    try:
        result = isolate.fetch("POST", f"{URL}/x")
        assert result.status == 500
        assert "COUNTERS" in result.error
    finally:
        isolate.close()


def test_the_compatibility_date_is_the_one_the_components_pin():
    from edgekit_iac.components.worker import DEFAULT_COMPATIBILITY_DATE

    assert COMPATIBILITY_DATE == DEFAULT_COMPATIBILITY_DATE
