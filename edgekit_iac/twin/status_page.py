"""The twin's control listener: a self-refreshing status page, its JSON, and a few controls.

    GET  /                          the status page (HTML; polls /status.json every second)
    GET  /status.json               endpoints, per-endpoint hit ratio, p50/p95 edge time,
                                    rate-limit blocks, recent requests, notes
    GET  /endpoints.json            the listeners, as in .edgekit/<stack>/endpoints.json
    POST /control/demo-origin/stop  stop the demo origin (see the cache wrapper serve STALE)
    POST /control/demo-origin/start start it again
    POST /control/clock/advance?seconds=N
                                    move the twin's clock forward: caches and rate windows
                                    age as if N seconds had passed
    POST /control/invalidate?distribution=NAME&path=/images/*
                                    a CloudFront invalidation (paths exact or ending in *;
                                    default /*), on one distribution or all
    POST /control/cloudflare-purge?prefix=host/path
                                    Cloudflare's purge by prefix on the Workers' caches

The page renders from the JSON with DOM text nodes only (request targets are user input).
Controls accept only requests addressed to the loopback listener itself (Host) and, when a
browser sends an Origin, from this page's own origin: another site open in the same
browser cannot drive the twin (cross-site requests, DNS rebinding).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from edgekit_iac.twin.aws.cloudfront import Distribution
from edgekit_iac.twin.clock import TwinClock
from edgekit_iac.twin.demo_origin import DemoOrigin
from edgekit_iac.twin.http_io import EdgeRequest, EdgeResponse, cross_site_refusal, text_response
from edgekit_iac.twin.stats import TwinStats

REFRESH_MS = 1000

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>edgekit twin: __STACK__</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border-bottom:1px solid #ddd;padding:.25em .7em;text-align:left}
th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}
.s4,.s5{color:#b00}.BLOCKED{color:#b00;font-weight:bold}.HIT{color:#070}
#notes li{color:#850}
</style></head>
<body>
<h1>edgekit local twin &mdash; stack <code>__STACK__</code></h1>
<p>Requests: <b id="total-requests">0</b> &middot; rate-limit blocks:
<b id="total-blocks">0</b> &middot; demo origin: <b id="origin-state">?</b>
&middot; clock offset: <b id="clock-offset">0</b> s
&middot; updated <span id="updated">never</span></p>
<p><button id="origin-stop">stop demo origin</button>
<button id="origin-start">start demo origin</button>
<button id="clock-advance">advance clock 60 s</button></p>
<h2>Endpoints</h2>
<table><thead><tr><th>name</th><th>url</th><th class="num">requests</th>
<th class="num">hit ratio</th><th class="num">p50 ms</th><th class="num">p95 ms</th>
<th class="num">blocks</th></tr></thead><tbody id="endpoints"></tbody></table>
<h2>Recent requests</h2>
<table><thead><tr><th>endpoint</th><th>method</th><th>target</th><th class="num">status</th>
<th>cache</th><th class="num">edge ms</th><th>client</th></tr></thead>
<tbody id="recent"></tbody></table>
<h2>Notes</h2><ul id="notes"></ul>
<noscript>This page needs JavaScript; the data is at <a href="/status.json">/status.json</a>.
</noscript>
<script id="initial" type="application/json">__INITIAL__</script>
<script>
"use strict";
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
}
function link(row, url) {
  const td = document.createElement("td"), a = document.createElement("a");
  a.href = url; a.textContent = url; td.appendChild(a); row.appendChild(td);
}
function render(s) {
  document.getElementById("total-requests").textContent = s.stats.total_requests;
  document.getElementById("total-blocks").textContent = s.stats.total_blocks;
  document.getElementById("origin-state").textContent = s.demo_origin;
  document.getElementById("clock-offset").textContent = s.clock_offset;
  document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  const eps = document.getElementById("endpoints"); eps.replaceChildren();
  for (const [name, url] of Object.entries(s.endpoints)) {
    const e = s.stats.endpoints[name] || {}, row = document.createElement("tr");
    row.dataset.endpoint = name;
    cell(row, name); link(row, url); cell(row, e.requests || 0, "num");
    cell(row, e.hit_ratio === null || e.hit_ratio === undefined ? "-" :
         (100 * e.hit_ratio).toFixed(1) + " %", "num hit-ratio");
    cell(row, e.p50_ms, "num p50"); cell(row, e.p95_ms, "num p95");
    cell(row, e.blocks || 0, "num blocks"); eps.appendChild(row);
  }
  const recent = document.getElementById("recent"); recent.replaceChildren();
  for (const r of s.stats.recent) {
    const row = document.createElement("tr");
    cell(row, r.endpoint); cell(row, r.method); cell(row, r.target);
    cell(row, r.status, "num s" + String(r.status)[0]); cell(row, r.cache, r.cache);
    cell(row, r.edge_ms.toFixed(2), "num"); cell(row, r.client_ip); recent.appendChild(row);
  }
  const notes = document.getElementById("notes"); notes.replaceChildren();
  for (const n of s.notes) { const li = document.createElement("li");
    li.textContent = n; notes.appendChild(li); }
}
async function refresh() {
  try {
    const r = await fetch("/status.json", {cache: "no-store"});
    if (r.ok) render(await r.json());
  } catch (e) { document.getElementById("updated").textContent = "twin unreachable"; }
}
function control(path) { fetch(path, {method: "POST"}).then(refresh); }
document.getElementById("origin-stop").onclick = () => control("/control/demo-origin/stop");
document.getElementById("origin-start").onclick = () => control("/control/demo-origin/start");
document.getElementById("clock-advance").onclick =
  () => control("/control/clock/advance?seconds=60");
render(JSON.parse(document.getElementById("initial").textContent));
setInterval(refresh, __REFRESH_MS__);
</script>
</body></html>
"""


def _json(status: int, document: Any) -> EdgeResponse:
    return EdgeResponse(status, [("Content-Type", "application/json"),
                                 ("Cache-Control", "no-store")],
                        json.dumps(document, indent=1).encode())


class StatusPage:
    """The control listener's app."""

    def __init__(self, stack: str, endpoints: dict[str, str], stats: TwinStats,
                 clock: TwinClock, demo_origin: DemoOrigin | None,
                 notes: Callable[[], list[str]],
                 distributions: Mapping[str, Distribution] | None = None) -> None:
        self.stack = stack
        self.distributions = dict(distributions or {})
        self.endpoints = endpoints  # filled in by the supervisor as listeners start
        self.stats = stats
        self.clock = clock
        self.demo_origin = demo_origin
        self._notes = notes
        self.workers: Any = None  # the WorkersHost, set by the supervisor

    def status(self) -> dict[str, Any]:
        origin = "absent" if self.demo_origin is None else (
            "running" if self.demo_origin.running else "stopped")
        return {
            "stack": self.stack,
            "endpoints": self.endpoints,
            "stats": self.stats.snapshot(),
            "demo_origin": origin,
            "clock_offset": self.clock.offset,
            "notes": self._notes(),
        }

    def page(self) -> str:
        initial = json.dumps(self.status()).replace("</", "<\\/")  # no early </script>
        return (PAGE.replace("__STACK__", self.stack).replace("__REFRESH_MS__", str(REFRESH_MS))
                .replace("__INITIAL__", initial))

    def __call__(self, request: EdgeRequest) -> EdgeResponse:
        path = request.path
        if request.method in ("GET", "HEAD"):
            if path == "/":
                return text_response(200, self.page(), "text/html; charset=utf-8",
                                     [("Cache-Control", "no-store")])
            if path == "/status.json":
                return _json(200, self.status())
            if path == "/endpoints.json":
                return _json(200, self.endpoints)
            return _json(404, {"error": f"no page {path}"})
        if request.method == "POST":
            refusal = cross_site_refusal(request.header("host"), request.header("origin"))
            if refusal is not None:
                return _json(403, {"error": f"controls accept requests from this page only: "
                                            f"{refusal}"})
            return self._control(path, request.query)
        return _json(405, {"error": "use GET for pages, POST for /control/..."})

    def _control(self, path: str, query: str) -> EdgeResponse:
        if path in ("/control/demo-origin/stop", "/control/demo-origin/start"):
            if self.demo_origin is None:
                return _json(404, {"error": "this twin runs no demo origin"})
            (self.demo_origin.stop if path.endswith("stop") else self.demo_origin.start)()
            return _json(200, {"demo_origin": "running" if self.demo_origin.running
                               else "stopped"})
        if path == "/control/clock/advance":
            try:
                seconds = float(parse_qs(query).get("seconds", ["60"])[0])
                self.clock.advance(seconds)
            except ValueError as exc:
                return _json(400, {"error": str(exc)})
            return _json(200, {"clock_offset": self.clock.offset})
        if path == "/control/invalidate":
            return self._invalidate(parse_qs(query))
        if path == "/control/cloudflare-purge":
            prefixes = parse_qs(query).get("prefix") or []
            if not prefixes or any("://" in p or not p.strip() for p in prefixes):
                return _json(400, {"error": "give prefix=host/path (no scheme), one or more"})
            purged = self.workers.purge_prefixes(prefixes) if self.workers else {}
            return _json(200, {"purged": purged, "prefixes": prefixes})
        return _json(404, {"error": f"no control {path}"})

    def _invalidate(self, query: dict[str, list[str]]) -> EdgeResponse:
        names = query.get("distribution") or list(self.distributions)
        unknown = sorted(set(names) - set(self.distributions))
        if unknown:
            return _json(404, {"error": f"no distribution {unknown}",
                               "distributions": sorted(self.distributions)})
        paths = query.get("path") or ["/*"]
        if not all(p.startswith("/") and "*" not in p[:-1] for p in paths):
            return _json(400, {"error": "paths start with / and may end with * only"})
        removed = {name: self.distributions[name].invalidate(paths) for name in names}
        return _json(200, {"invalidated": removed, "paths": paths})
