"""The status page in a real browser: it refreshes itself as requests go through the twin."""

from __future__ import annotations

import re
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


def screenshot(chromium: Chromium, session: str, path) -> bytes:
    """The whole page as PNG (DevTools Page.captureScreenshot), written to `path`."""
    import base64

    chromium.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1500, "height": 1900, "deviceScaleFactor": 1, "mobile": False},
                  session)
    data = base64.b64decode(chromium.send(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
        session)["data"])
    path.write_bytes(data)
    return data


def test_the_status_page_is_a_debugging_tool(twin: RunningTwin, browser: Chromium, tmp_path):
    import os
    import shutil

    image = twin.url("images-cdn", "/images/1920x1080/samples/landscape.jpg")
    assert request(image).status == 200 and request(image).status == 200  # a MISS, a HIT
    missing = request(twin.url("images-cdn", "/images/150x150/samples/nothing-here.jpg"))
    assert 400 <= missing.status < 500
    assert request(twin.url("api-cache-worker-script", "/api/forecast?city=Toronto")).status == 200

    # The filter comes from the URL fragment, as a shared link or a reload would bring it.
    session = browser.open(twin.url("status") + "#endpoint=images-cdn&status=4xx")
    wait_for(browser, session, "document.readyState === 'complete' && "
                               "document.querySelectorAll('#endpoints tr').length > 0")
    before = browser.evaluate(session, "document.getElementById('updated').textContent")
    wait_for(browser, session, f"document.getElementById('updated').textContent !== "
                               f"{before!r}")  # at least one refresh went by
    wait_for(browser, session, "document.querySelectorAll('#recent tr').length > 0")
    shown = browser.evaluate(session, """[...document.querySelectorAll('#recent tr')].map(r =>
        [r.dataset.endpoint, r.querySelector('.status').textContent,
         r.querySelector('.time').textContent])""")
    assert shown and all(e == "images-cdn" and s.startswith("4") for e, s, _ in shown), shown
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", t) for _, _, t in shown), shown
    assert browser.evaluate(session, "[document.getElementById('f-endpoint').value, "
                                     "document.getElementById('f-status').value]") == [
        "images-cdn", "4xx"]

    # A path prefix typed in: still applied after the next refreshes.
    browser.evaluate(session, """(() => { const p = document.getElementById('f-path');
        p.value = '/images/150x150/samples/nothing'; p.dispatchEvent(new Event('input'));
        document.getElementById('f-status').value = '';
        document.getElementById('f-status').dispatchEvent(new Event('change')); })()""")
    before = browser.evaluate(session, "document.getElementById('updated').textContent")
    wait_for(browser, session, f"document.getElementById('updated').textContent !== "
                               f"{before!r}")
    targets = browser.evaluate(session, "[...document.querySelectorAll('#recent tr')]"
                                        ".map(r => r.children[3].textContent)")
    assert targets and all(t.startswith("/images/150x150/samples/nothing") for t in targets)
    assert "nothing" in browser.evaluate(session, "location.hash")
    assert browser.evaluate(session, "document.querySelectorAll('#log-tail tr').length") >= 1

    row = "document.querySelector('tr[data-endpoint=\"images-cdn\"] {}').textContent"
    codes = browser.evaluate(session, row.format(".statuses"))
    assert "200\u00d7" in codes and f"{missing.status}\u00d7" in codes
    for split in (".hit-latency", ".miss-latency"):
        assert re.fullmatch(r"[\d.]+ / [\d.]+", browser.evaluate(session, row.format(split)))
    assert "WAF" in browser.evaluate(session, row.format(".rate-limit"))
    limits = browser.evaluate(session, "[...document.querySelectorAll('#endpoints .rate-limit')]"
                                       ".map(c => c.textContent)")
    assert any(text in ("none", "not an edge listener") for text in limits)
    assert any("per" in text for text in limits if text not in ("none",))

    points = browser.evaluate(session, "[...document.querySelectorAll('svg polyline')]"
                                       ".map(p => p.getAttribute('points').split(' ').length)")
    assert points == [180, 180]
    peak = browser.evaluate(session, "Number(document.getElementById('rps-max').textContent)")
    assert peak >= 1
    assert browser.evaluate(session, NUMBER.format("s3-requests")) >= 1
    assert browser.evaluate(session, NUMBER.format("origin-requests")) >= 1
    assert browser.evaluate(session, "document.getElementById('lambda-log').textContent")
    assert not browser.evaluate(session, "[...document.scripts].some(s => s.src)")  # no CDN

    picture = screenshot(browser, session, tmp_path / "status-page.png")
    assert picture.startswith(b"\x89PNG\r\n\x1a\n") and len(picture) > 20_000
    keep = os.environ.get("EDGEKIT_SCREENSHOT_DIR")
    if keep:
        shutil.copy(tmp_path / "status-page.png", keep)
