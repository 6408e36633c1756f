"""A local canary over HTTP: two recorded versions of the geo Worker, split by the
X-Edgekit-Canary header and by a sticky weight, driven by `edgekit canary --stack local`."""

from __future__ import annotations

import json

from edgekit_iac.twin.cloudflare import versions

from .client import request
from .conftest import RunningTwin, edgekit

GEO = "hello-geo-script"


def canary(twin: RunningTwin, *args: str) -> str:
    done = edgekit("canary", *args, "--stack", "local", "--state-dir", str(twin.state_dir))
    assert done.returncode == 0, done.stderr
    return done.stdout


def record_older_version(twin: RunningTwin) -> tuple[str, str]:
    """An earlier geo Worker (its answers carry "build": "stable") recorded before the one
    the twin runs; (stable id, current id)."""
    recorded = next(r for r in twin.graph()["resources"] if r["name"] == GEO)
    script = twin.state_dir / "workers" / recorded["inputs"]["scriptName"]
    current = versions.history(script)[-1]
    modules, spawn = versions.load(script, current)
    reply = modules["geo_reply.py"].decode()
    older = reply.replace(
        "return Reply(200, headers, json.dumps(document))",
        'return Reply(200, headers, json.dumps({**document, "build": "stable"}))')
    assert older != reply
    stable = versions.record(script, {**modules, "geo_reply.py": older.encode()}, spawn)
    (script / "versions" / "index.json").write_text(json.dumps([stable, current]))
    return stable, current


def test_a_local_canary_splits_by_header_and_by_sticky_weight(twin: RunningTwin):
    stable, current = record_older_version(twin)
    url = twin.url(GEO, "/")
    try:
        assert "answers 0%" in canary(twin, "start", "--weight", "0")
        old = request(url)
        assert old.json()["build"] == "stable"
        assert old.header("x-edgekit-version") == stable[:12]
        new = request(url, headers={"X-Edgekit-Canary": "1"})
        assert "build" not in new.json() and new.header("x-edgekit-version") == current[:12]

        canary(twin, "start", "--weight", "50")
        sides = {}
        for n in range(24):
            ip = {"X-Edgekit-Client-Ip": f"198.51.100.{n}"}
            first, again = request(url, headers=ip), request(url, headers=ip)
            assert first.header("x-edgekit-version") == again.header("x-edgekit-version")
            sides[n] = first.header("x-edgekit-version")
        assert set(sides.values()) == {stable[:12], current[:12]}

        canary(twin, "abort")
        assert request(url, headers={"X-Edgekit-Canary": "1"}).json()["build"] == "stable"
    finally:
        canary(twin, "promote")
    assert "build" not in request(url).json()
    assert request(url).header("x-edgekit-version") == current[:12]
