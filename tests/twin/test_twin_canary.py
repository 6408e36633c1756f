"""A local canary over HTTP, driven by `edgekit canary --stack local`: two recorded versions
of the geo Worker, and the image distribution's staging copy running a candidate resizer
bundle, split by the X-Edgekit-Canary header and by a sticky weight; promote guarded by the
twin's per-version counts (the local stack's canary: minRequests 5, maxErrorRate 20)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from edgekit_iac.twin import canary_split
from edgekit_iac.twin.cloudflare import versions

from .client import request
from .conftest import RunningTwin, edgekit

GEO = "hello-geo-script"
CDN = "images-cdn"


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
    script = twin.state_dir / "workers" / "hello-geo-local"
    url = twin.url(GEO, "/")
    try:
        assert "answer 0%" in canary(twin, "start", "--weight", "0")
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
        canary(twin, "promote")  # the candidate served enough, without errors: the guard passes
    assert "build" not in request(url).json()
    assert request(url).header("x-edgekit-version") == current[:12]
    # Later canaries in this twin see one geo version again.
    (script / "versions" / "index.json").write_text(json.dumps([current]))


def refused(twin: RunningTwin, *args: str) -> str:
    done = edgekit("canary", *args, "--stack", "local", "--state-dir", str(twin.state_dir))
    assert done.returncode != 0, done.stdout
    return done.stderr


def candidate_bundle(deployed: Path, into: Path, broken: bool) -> Path:
    """The deployed resizer bundle with one more file (same behaviour, another hash), or
    with a handler that throws (every request it serves is a 503)."""
    made = into / ("broken.zip" if broken else "candidate.zip")
    with zipfile.ZipFile(deployed) as source, zipfile.ZipFile(made, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if broken and info.filename == "handler.py":
                data += b"\n\ndef handler(event, context):\n    raise RuntimeError('broken')\n"
            target.writestr(info, data)
        if not broken:
            target.writestr("CANDIDATE.txt", "a candidate\n")
    return made


def test_the_image_canary_runs_the_candidate_behind_the_primary_and_promote_is_guarded(
        twin: RunningTwin, tmp_path: Path):
    [bundles] = (twin.state_dir / "lambda" / "canary").iterdir()
    index = bundles / "versions" / "index.json"
    recorded = index.read_text()
    deployed = canary_split.history(bundles)[-1]
    viewer = {"X-Edgekit-Client-Ip": "203.0.113.7"}
    asks = {**viewer, "X-Edgekit-Canary": "1"}
    cached: dict[str, str | None] = {}  # path -> the last answer's X-Cache

    def served(path: str, headers: dict[str, str]) -> tuple[int, str]:
        # Originals that do not exist: a 404 from either resizer, nothing stored in S3.
        reply = request(twin.url(CDN, f"/images/150x150/samples/canary-{path}.jpg"),
                        headers=headers)
        [version] = reply.all("x-edgekit-version")
        cached[path] = reply.header("x-cache")
        return reply.status, version

    try:
        good = candidate_bundle(bundles / "versions" / f"{deployed}.zip", tmp_path, False)
        canary(twin, "start", "--weight", "0", "--candidate", str(good))
        candidate = canary_split.history(bundles)[-1]
        assert served("a", viewer) == (404, deployed[:12])  # the primary keeps the stable
        assert served("a", asks) == (404, candidate[:12])  # the staging copy, by the header
        assert "served 1 requests since `canary start`, fewer than 5" in refused(twin, "promote")
        for n in range(4):
            assert served(f"b{n}", asks)[1] == candidate[:12]
        assert "promoted" in canary(twin, "promote")
        assert served("c", viewer) == (404, candidate[:12])  # the primary runs it now
        # The primary's copy of "a" (404s are kept 60 s) was made by the stable bundle:
        # a hit names the bundle that produced it, not the one the primary runs now.
        assert served("a", viewer) == (404, deployed[:12])
        assert cached["a"] == "Hit from cloudfront"

        # A candidate that fails: a sticky 15 % of viewers get it, and the guard says no.
        broken = candidate_bundle(bundles / "versions" / f"{deployed}.zip", tmp_path, True)
        canary(twin, "start", "--weight", "15", "--candidate", str(broken))
        failing = canary_split.history(bundles)[-1]
        sides = {}
        for n in range(40):
            ip = {"X-Edgekit-Client-Ip": f"198.51.100.{n}"}
            first, again = served("d", ip), served("d", ip)
            assert first == again
            sides[n] = first
        assert set(sides.values()) == {(404, candidate[:12]), (503, failing[:12])}
        assert 1 <= list(sides.values()).count((503, failing[:12])) <= 12
        for n in range(3):  # with the header too: enough requests, all of them 5xx
            assert served(f"e{n}", asks) == (503, failing[:12])
        assert "error rate 100.00% is over 20.0%" in refused(twin, "promote")
        canary(twin, "abort")
        assert served("f", asks) == (404, candidate[:12])
        assert "FORCED" in canary(twin, "promote", "--force")
        entry = json.loads((twin.state_dir / "local-canary.json").read_text())[-1]
        assert entry["forced"] is True and entry["readings"][0]["errorRatePercent"] == 100
    finally:
        canary_split.write_canary(twin.state_dir, None)
        index.write_text(recorded)  # the deployed resizer again, for the tests after this one
    assert served("g", viewer) == (404, deployed[:12])
