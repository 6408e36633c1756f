"""The status page in a real browser: it refreshes itself as requests go through the twin."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from .chromium import Chromium, find_chromium
from .client import request
from .conftest import RunningTwin

NUMBER = "Number(document.getElementById('{}').textContent)"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary, why = find_chromium()
    if binary is None:
        pytest.skip(f"LOUD SKIP: chromium is absent and could not be installed "
                    f"(scripts/ensure-chromium): {why}")
    chromium = Chromium(binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chromium
    finally:
        chromium.close()


def wait_for(chromium: Chromium, session: str, expression: str, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = chromium.evaluate(session, expression)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"the page never satisfied {expression}")


def test_numbers_on_the_status_page_change_as_requests_arrive(twin: RunningTwin,
                                                              browser: Chromium):
    session = browser.open(twin.url("status"))
    wait_for(browser, session, "document.readyState === 'complete' && "
                               "document.querySelectorAll('#endpoints tr').length > 0")
    rows = browser.evaluate(session, "[...document.querySelectorAll('#endpoints tr')]"
                                     ".map(r => r.dataset.endpoint)")
    assert set(twin.endpoints) <= set(rows)
    before = browser.evaluate(session, NUMBER.format("total-requests"))
    geo_before = browser.evaluate(
        session, "Number(document.querySelector('tr[data-endpoint=\"hello-geo-script\"]')"
                 ".children[2].textContent)")

    for _ in range(3):
        assert request(twin.url("hello-geo-script", "/")).status == 200
    image = twin.url("images-cdn", "/images/150x150/samples/portrait.jpg")
    request(image)
    request(image)

    # No reload: the page's own polling must bring the new numbers in.
    wait_for(browser, session, f"{NUMBER.format('total-requests')} >= {before + 5}")
    geo_after = browser.evaluate(
        session, "Number(document.querySelector('tr[data-endpoint=\"hello-geo-script\"]')"
                 ".children[2].textContent)")
    assert geo_after >= geo_before + 3
    recent = browser.evaluate(session, "document.getElementById('recent').textContent")
    assert "/images/150x150/samples/portrait.jpg" in recent and "HIT" in recent
    ratio = browser.evaluate(
        session, "document.querySelector('tr[data-endpoint=\"images-cdn\"] .hit-ratio')"
                 ".textContent")
    assert ratio.endswith("%")
    p95 = browser.evaluate(
        session, "document.querySelector('tr[data-endpoint=\"images-cdn\"] .p95').textContent")
    assert float(p95) > 0

    status = request(twin.url("status", "/status.json")).json()
    shown_blocks = browser.evaluate(session, NUMBER.format("total-blocks"))
    assert shown_blocks <= status["stats"]["total_blocks"]
