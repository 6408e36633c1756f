"""Feature flags end to end on the twin: `edgekit flags set` flips what the Workers do,
through the KV file they share, with nothing restarted."""

from __future__ import annotations

import time

from .client import request
from .conftest import RunningTwin, edgekit

CACHE = "api-cache-worker-script"
GEO = "hello-geo-script"
BOUND = 5.0  # functions/_shared/edge_flags.py CACHE_SECONDS
SLACK = 10.0  # what a loaded 2-core machine may add around the bound (not a speed claim)


def flags(twin: RunningTwin, *args: str) -> str:
    done = edgekit("flags", *args, "--stack", "local", "--state-dir", str(twin.state_dir))
    assert done.returncode == 0, done.stderr
    return done.stdout


def flip(twin: RunningTwin, *args: str) -> None:
    """`edgekit flags ... --stack local` in this process (the CLI's code, without another
    interpreter's start-up)."""
    from edgekit_iac import cli

    assert cli.main(["flags", *args, "--stack", "local", "--state-dir", str(twin.state_dir)]) == 0


def first_answer(url: str, want, deadline: float):
    """Requests `url` until `want(reply)`; the reply and how many requests it took."""
    tries = 0
    while True:
        reply, tries = request(url), tries + 1
        if want(reply) or time.monotonic() > deadline:
            return reply, tries
        time.sleep(0.25)


def test_cache_enabled_false_makes_every_request_bypass_within_the_bound(twin: RunningTwin):
    url = twin.url(CACHE, "/api/forecast?city=Lima")
    request(url)
    assert request(url).header("x-edge-cache") == "HIT"
    printed = flags(twin, "set", "cache_enabled", "false", "--who", "test")
    assert "cache_enabled: true -> false" in printed
    flipped = time.monotonic()
    try:
        reply, _ = first_answer(url, lambda r: r.header("x-edge-cache") == "BYPASS",
                                flipped + BOUND + SLACK)
        assert reply.header("x-edge-cache") == "BYPASS", reply.headers
        assert reply.header("x-edge-cache-reason") == "cache-disabled"
        assert request(url).header("x-edge-cache") == "BYPASS"  # every request, not one
    finally:
        flags(twin, "unset", "cache_enabled")
    reply, _ = first_answer(url, lambda r: r.header("x-edge-cache") == "HIT",
                            time.monotonic() + BOUND + SLACK)
    assert reply.header("x-edge-cache") == "HIT"


def test_geo_message_flag_replaces_the_geo_apis_message(twin: RunningTwin):
    url = twin.url(GEO, "/")
    flags(twin, "set", "geo_message", "Hei fra kanten")
    try:
        reply, _ = first_answer(url, lambda r: r.json()["message"] == "Hei fra kanten",
                                time.monotonic() + BOUND + SLACK)
        assert reply.json()["message"] == "Hei fra kanten"
    finally:
        flags(twin, "unset", "geo_message")
    # Back to the default before the next test reads the message (the twin is shared).
    reply, _ = first_answer(url, lambda r: r.json()["message"] == "Hello from the edge",
                            time.monotonic() + BOUND + SLACK)
    assert reply.json()["message"] == "Hello from the edge"
    listed = flags(twin, "list")
    assert 'geo_message (string, default "Hello from the edge"): "Hello from the edge"' in listed


def test_auto_format_false_stops_format_negotiation_on_the_next_request(twin: RunningTwin):
    """The image_format CloudFront Function reads `auto_format` from the stack's
    KeyValueStore, which the twin's runtime reads from the file `flags set` writes: the very
    next request sees it (bound 0 s in the twin; CloudFront's replication takes seconds). A
    URL no later test requests, so their cache expectations are untouched."""
    url = twin.url("images-cdn", "/images/150x150/samples/portrait.jpg?format=auto")
    modern = {"Accept": "image/avif,image/webp"}
    before = request(url, headers=modern)
    assert (before.status, before.header("content-type")) == (200, "image/avif")
    flip(twin, "set", "auto_format", "false", "--who", "test")
    try:
        off = request(url, headers=modern)
        assert (off.status, off.header("content-type")) == (200, "image/jpeg")
        # Its own cache entry (accept=original), not the AVIF one negotiated while on.
        assert off.header("x-cache") == "Miss from cloudfront"
    finally:
        flip(twin, "unset", "auto_format")
    after = request(url, headers=modern)
    assert after.header("content-type") == "image/avif"
    assert after.header("x-cache") == "Hit from cloudfront"  # the entry from before the flip
