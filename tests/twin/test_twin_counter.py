"""The edge counter's Durable Objects over HTTP against the twin: serialised, and persistent.

This module runs its own twin (two `edgekit up` on one state directory), since it stops it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from .client import request
from .conftest import RunningTwin, launch, stop

_clients = iter(range(1, 60_000))


def client(number: int | None = None) -> dict[str, str]:
    """A distinct client each time: the zone's rate limit counts per client IP, and the
    local stack allows 100 requests a minute to each."""
    number = next(_clients) if number is None else number
    return {"X-Edgekit-Client-Ip": f"198.18.{number // 250}.{number % 250 + 1}"}


class Holder:
    """The module's twin; the restart test swaps in the relaunched one (tests run in any order)."""

    twin: RunningTwin


@pytest.fixture(scope="module")
def holder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Holder]:
    state_dir = tmp_path_factory.mktemp("counter-twin-state")
    held = Holder()
    held.twin = launch(state_dir, state_dir.parent / "counter-twin-output.log")
    try:
        yield held
    finally:
        if held.twin.process.poll() is None:
            stop(held.twin)


@pytest.fixture
def counter_twin(holder: Holder) -> RunningTwin:
    return holder.twin


def counter_url(twin: RunningTwin, target: str) -> str:
    names = [name for name in twin.endpoints if "counter" in name]
    assert len(names) == 1, f"one counter listener expected in {sorted(twin.endpoints)}"
    return twin.url(names[0], target)


def test_concurrent_increments_of_one_name_are_serialised(counter_twin: RunningTwin):
    url = counter_url(counter_twin, "/counters/likes")
    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(lambda number: request(url, method="POST",
                                                       headers=client(10_000 + number)),
                                range(200)))

    assert [reply.status for reply in replies] == [200] * 200
    # Each increment saw its own value: no two requests read the same count.
    assert sorted(reply.json()["value"] for reply in replies) == list(range(1, 201))
    assert request(url, headers=client()).json() == {"name": "likes", "value": 200}


def test_a_bad_name_is_a_json_400(counter_twin: RunningTwin):
    reply = request(counter_url(counter_twin, "/counters/not%20ok?by=2"), method="POST",
                    headers=client())
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_name"


def test_counters_survive_edgekit_down_and_up(holder: Holder):
    first = holder.twin
    kept = request(counter_url(first, "/counters/quota-42?by=7"), method="POST",
                   headers=client())
    assert kept.status == 200, kept.body
    stop(first)
    stored = list((first.state_dir / "workers").rglob("*.json"))
    assert stored, "Durable Object storage should be in the twin's state directory"

    holder.twin = launch(first.state_dir, first.output.with_suffix(".again.log"))
    reply = request(counter_url(holder.twin, "/counters/quota-42?by=3"), method="POST",
                    headers=client())
    assert json.loads(reply.body) == {"name": "quota-42", "value": 10}
