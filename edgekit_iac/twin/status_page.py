"""The twin's control listener: a self-refreshing status page, its JSON, and a few controls.

    GET  /                          the status page (HTML; polls /status.json every second)
    GET  /status.json               endpoints, per-endpoint hit ratio, p50/p95 edge time
                                    (all, HIT, MISS), status codes, rate limits and blocks,
                                    requests/s and p95 per second, recent requests, S3 and
                                    demo-origin request counts, the log tail and the Lambda's
                                    log lines, notes
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

The page renders from the JSON with DOM text nodes only (request targets are user input),
draws its charts as inline SVG (no scripts from elsewhere), and keeps its filter (endpoint,
status class, path prefix) in the URL fragment: the one-second refresh redraws the tables,
never the filter.
Controls accept only requests addressed to the loopback listener itself (Host) and, when a
browser sends an Origin, from this page's own origin: another site open in the same
browser cannot drive the twin (cross-site requests, DNS rebinding).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from edgekit_iac.twin import log_reader
from edgekit_iac.twin.aws.cloudfront import Distribution
from edgekit_iac.twin.clock import TwinClock
from edgekit_iac.twin.demo_origin import DemoOrigin
from edgekit_iac.twin.http_io import EdgeRequest, EdgeResponse, cross_site_refusal, text_response
from edgekit_iac.twin.stats import TwinStats

REFRESH_MS = 1000
LOG_TAIL = 40  # log lines kept for the page (all sources)
LAMBDA_TAIL = 25  # lambda.log lines shown

PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>edgekit twin: __STACK__</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border-bottom:1px solid #ddd;padding:.25em .7em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}
.s4,.s5{color:#b00}.BLOCKED{color:#b00;font-weight:bold}.HIT,.Hit{color:#070}
.none{color:#888}#notes li{color:#850}
.charts{display:flex;gap:2em;flex-wrap:wrap}figure{margin:0}
figcaption{font-size:12px;color:#555}svg{background:#fafafa;border:1px solid #ddd}
svg polyline{fill:none;stroke-width:1.5}#chart-rps polyline{stroke:#1565c0}
#chart-p95 polyline{stroke:#c62828}
#filter{background:#f4f4f4;padding:.5em;display:inline-block}
#filter label{margin-right:1em}pre{background:#fafafa;border:1px solid #ddd;padding:.5em;
max-height:14em;overflow:auto;font-size:12px}
</style></head>
<body>
<h1>edgekit local twin &mdash; stack <code>__STACK__</code></h1>
<p>Requests: <b id="total-requests">0</b> &middot; rate-limit blocks:
<b id="total-blocks">0</b> &middot; demo origin: <b id="origin-state">?</b>
&middot; clock offset: <b id="clock-offset">0</b> s
&middot; updated <span id="updated">never</span></p>
<p>What reached the origins: S3 <b id="s3-requests">0</b> requests &middot; demo origin
<b id="origin-requests">0</b> requests</p>
<p><button id="origin-stop">stop demo origin</button>
<button id="origin-start">start demo origin</button>
<button id="clock-advance">advance clock 60 s</button></p>
<h2>Traffic, last __SERIES__ s</h2>
<div class="charts">
<figure><figcaption>requests/s (max <span id="rps-max">0</span>)</figcaption>
<svg id="chart-rps" width="360" height="80" viewBox="0 0 360 80" role="img"
aria-label="requests per second"></svg></figure>
<figure><figcaption>p95 edge time, ms (max <span id="p95-max">0</span>)</figcaption>
<svg id="chart-p95" width="360" height="80" viewBox="0 0 360 80" role="img"
aria-label="p95 edge time per second"></svg></figure>
</div>
<h2>Endpoints</h2>
<table><thead><tr><th>name</th><th>url</th><th class="num">requests</th><th>status codes</th>
<th class="num">hit ratio</th><th class="num">p50 ms</th><th class="num">p95 ms</th>
<th class="num">HIT p50 / p95</th><th class="num">MISS p50 / p95</th>
<th class="num">blocks</th><th>rate limit</th></tr></thead>
<tbody id="endpoints"></tbody></table>
<form id="filter" onsubmit="return false">
<label>endpoint <select id="f-endpoint"><option value="">all</option></select></label>
<label>status <select id="f-status"><option value="">all</option><option>2xx</option>
<option>3xx</option><option>4xx</option><option>5xx</option></select></label>
<label>path prefix <input id="f-path" placeholder="/images/" size="16"></label>
<button type="button" id="f-clear">clear</button> <span id="f-shown"></span></form>
<h2>Recent requests</h2>
<table><thead><tr><th>time</th><th>endpoint</th><th>method</th><th>target</th>
<th class="num">status</th><th>cache</th><th class="num">edge ms</th><th>client</th></tr>
</thead><tbody id="recent"></tbody></table>
<h2>Log tail <small>(.edgekit/__STACK__/logs/)</small></h2>
<table><thead><tr><th>time</th><th>log</th><th>method</th><th>path</th>
<th class="num">status</th><th>result</th><th class="num">ms</th><th>trace</th></tr></thead>
<tbody id="log-tail"></tbody></table>
<h3>Lambda@Edge log (lambda.log)</h3><pre id="lambda-log"></pre>
<h2>Notes</h2><ul id="notes"></ul>
<noscript>This page needs JavaScript; the data is at <a href="/status.json">/status.json</a>.
</noscript>
<script id="initial" type="application/json">__INITIAL__</script>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const filter = {endpoint: "", status: "", path: ""};
let last = null;
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
function clock(at) {
  if (at === null || at === undefined) return "-";
  const d = new Date(at * 1000);
  return d.toLocaleTimeString([], {hour12: false}) + "." +
    String(d.getMilliseconds()).padStart(3, "0");
}
function pair(a, b) { return (a === null || a === undefined ? "-" : a) + " / " +
                             (b === null || b === undefined ? "-" : b); }
function statuses(byStatus) {
  const parts = Object.entries(byStatus || {}).map(([code, n]) => code + "\u00d7" + n);
  return parts.length ? parts.join(" ") : "-";
}
function keep(endpoint, status, path) {
  if (filter.endpoint && endpoint !== filter.endpoint) return false;
  if (filter.status && (status === null || String(status)[0] !== filter.status[0])) return false;
  if (filter.path && !String(path || "").startsWith(filter.path)) return false;
  return true;
}
function chart(id, points, key) {
  const svg = document.getElementById(id), w = 360, h = 80;
  const values = points.map(p => p[key] === null ? 0 : p[key]);
  const max = Math.max(1, ...values);
  svg.replaceChildren();
  const line = document.createElementNS(SVG, "polyline");
  const step = values.length > 1 ? w / (values.length - 1) : w;
  line.setAttribute("points", values.map((v, i) =>
    (i * step).toFixed(1) + "," + (h - 2 - (v / max) * (h - 6)).toFixed(1)).join(" "));
  const title = document.createElementNS(SVG, "title");
  title.textContent = id + ": max " + max;
  svg.appendChild(title); svg.appendChild(line);
  return Math.round(max * 100) / 100;
}
function endpointOptions(names) {
  const select = document.getElementById("f-endpoint");
  const have = [...select.options].map(o => o.value).slice(1).join("\n");
  if (have === names.join("\n")) return;
  for (const name of names) {
    if ([...select.options].some(o => o.value === name)) continue;
    const option = document.createElement("option");
    option.value = name; option.textContent = name; select.appendChild(option);
  }
  select.value = filter.endpoint;
}
function render(s) {
  last = s;
  document.getElementById("total-requests").textContent = s.stats.total_requests;
  document.getElementById("total-blocks").textContent = s.stats.total_blocks;
  document.getElementById("origin-state").textContent = s.demo_origin;
  document.getElementById("clock-offset").textContent = s.clock_offset;
  document.getElementById("s3-requests").textContent = s.origins.s3;
  document.getElementById("origin-requests").textContent = s.origins.demo_origin;
  document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  document.getElementById("rps-max").textContent = chart("chart-rps", s.stats.series,
                                                        "requests");
  document.getElementById("p95-max").textContent = chart("chart-p95", s.stats.series,
                                                        "p95_ms");
  endpointOptions(Object.keys(s.endpoints));
  const eps = document.getElementById("endpoints"); eps.replaceChildren();
  for (const [name, url] of Object.entries(s.endpoints)) {
    const e = s.stats.endpoints[name] || {}, row = document.createElement("tr");
    row.dataset.endpoint = name;
    cell(row, name); link(row, url); cell(row, e.requests || 0, "num");
    cell(row, statuses(e.by_status), "statuses");
    cell(row, e.hit_ratio === null || e.hit_ratio === undefined ? "-" :
         (100 * e.hit_ratio).toFixed(1) + " %", "num hit-ratio");
    cell(row, e.p50_ms, "num p50"); cell(row, e.p95_ms, "num p95");
    cell(row, pair(e.hit_p50_ms, e.hit_p95_ms), "num hit-latency");
    cell(row, pair(e.miss_p50_ms, e.miss_p95_ms), "num miss-latency");
    cell(row, e.blocks || 0, "num blocks");
    const limits = s.rate_limits[name];
    cell(row, limits === undefined ? "not an edge listener" :
         (limits.length ? limits.join("; ") : "none"),
         "rate-limit" + (limits && limits.length ? "" : " none"));
    eps.appendChild(row);
  }
  const recent = document.getElementById("recent"); recent.replaceChildren();
  let shown = 0;
  for (const r of s.stats.recent) {
    if (!keep(r.endpoint, r.status, r.target)) continue;
    const row = document.createElement("tr"); row.dataset.endpoint = r.endpoint; shown++;
    cell(row, clock(r.at), "time"); cell(row, r.endpoint); cell(row, r.method);
    cell(row, r.target);
    cell(row, r.status, "num status s" + String(r.status)[0]); cell(row, r.cache, r.cache);
    cell(row, r.edge_ms.toFixed(2), "num"); cell(row, r.client_ip); recent.appendChild(row);
  }
  document.getElementById("f-shown").textContent =
    shown + " of " + s.stats.recent.length + " recent requests shown";
  const tail = document.getElementById("log-tail"); tail.replaceChildren();
  for (const l of s.log_tail) {
    if (!keep(l.source, l.status, l.path)) continue;
    const row = document.createElement("tr"); row.dataset.endpoint = l.source;
    cell(row, clock(l.at), "time"); cell(row, l.source); cell(row, l.method);
    cell(row, l.path); cell(row, l.status, "num status s" + String(l.status)[0]);
    cell(row, l.result, l.result);
    cell(row, l.duration_ms === null ? null : l.duration_ms.toFixed(1), "num");
    cell(row, l.traceparent === "-" ? "-" : l.traceparent.split("-")[1]);
    tail.appendChild(row);
  }
  document.getElementById("lambda-log").textContent = s.lambda_tail.join("\n");
  const notes = document.getElementById("notes"); notes.replaceChildren();
  for (const n of s.notes) { const li = document.createElement("li");
    li.textContent = n; notes.appendChild(li); }
}
function readFilter() {
  const params = new URLSearchParams(location.hash.slice(1));
  filter.endpoint = params.get("endpoint") || "";
  filter.status = params.get("status") || "";
  filter.path = params.get("path") || "";
  document.getElementById("f-endpoint").value = filter.endpoint;
  document.getElementById("f-status").value = filter.status;
  document.getElementById("f-path").value = filter.path;
}
function filterChanged() {
  filter.endpoint = document.getElementById("f-endpoint").value;
  filter.status = document.getElementById("f-status").value;
  filter.path = document.getElementById("f-path").value;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v) params.set(k, v);
  history.replaceState(null, "", "#" + params.toString());  // survives a reload too
  if (last) render(last);
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
for (const id of ["f-endpoint", "f-status"])
  document.getElementById(id).addEventListener("change", filterChanged);
document.getElementById("f-path").addEventListener("input", filterChanged);
document.getElementById("f-clear").onclick = () => {
  location.hash = ""; readFilter(); filterChanged(); };
const initial = JSON.parse(document.getElementById("initial").textContent);
endpointOptions(Object.keys(initial.endpoints));
readFilter();
render(initial);
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
                 distributions: Mapping[str, Distribution] | None = None,
                 logs_dir: Path | None = None,
                 rate_limits: Mapping[str, list[str]] | None = None) -> None:
        self.stack = stack
        self.distributions = dict(distributions or {})
        self.endpoints = endpoints  # filled in by the supervisor as listeners start
        self.stats = stats
        self.clock = clock
        self.demo_origin = demo_origin
        self.s3: Any = None  # the twin's LocalS3, once started (its request count)
        self.logs_dir = logs_dir
        self.rate_limits = rate_limits if rate_limits is not None else {}
        self._notes = notes
        self._log_files = log_reader.LogFiles(logs_dir) if logs_dir is not None else None
        self._log_tail: deque[dict[str, Any]] = deque(maxlen=LOG_TAIL)
        self._log_lock = threading.Lock()
        self.workers: Any = None  # the WorkersHost, set by the supervisor

    def _logs(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The newest log lines (all sources, oldest first) and lambda.log's last lines."""
        if self._log_files is None or self.logs_dir is None:
            return [], []
        with self._log_lock:  # incremental reads: one reader at a time
            self._log_tail.extend(entry.to_json() for entry in self._log_files.read_new())
            tail = list(self._log_tail)
        return tail, log_reader.lambda_tail(self.logs_dir, LAMBDA_TAIL)

    def status(self) -> dict[str, Any]:
        origin = "absent" if self.demo_origin is None else (
            "running" if self.demo_origin.running else "stopped")
        log_tail, lambda_tail = self._logs()
        return {
            "stack": self.stack,
            "endpoints": self.endpoints,
            "stats": self.stats.snapshot(now=self.clock()),
            "demo_origin": origin,
            "origins": {
                "s3": self.s3.requests if self.s3 is not None else None,
                "demo_origin": self.demo_origin.api.served if self.demo_origin else None,
            },
            "rate_limits": dict(self.rate_limits),
            "log_tail": list(reversed(log_tail)),
            "lambda_tail": lambda_tail,
            "clock_offset": self.clock.offset,
            "notes": self._notes(),
        }

    def page(self) -> str:
        initial = json.dumps(self.status()).replace("</", "<\\/")  # no early </script>
        return (PAGE.replace("__STACK__", self.stack).replace("__REFRESH_MS__", str(REFRESH_MS))
                .replace("__SERIES__", str(self.stats.series_seconds))
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
