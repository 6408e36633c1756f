"""``make cache-tests``: the public HTTP cache test suite against the cache wrapper in the twin.

The suite is npm's ``http-cache-tests`` 0.4.5 (cache-tests.fyi, pinned in
``bench/cache-tests/package.json`` + ``package-lock.json``). Its own test server is the
origin: started on a free loopback port (``loopback.cjs`` keeps it off other interfaces),
the twin serves the ``local`` stack with ``origin_url`` pointing the cache wrapper at it
(``edgekit up --origin-url``), and the suite's command-line client runs every test against
the wrapper's listener, as its README says to test a reverse proxy
(``npm run cli --base=http://proxy:port``); ``run.mjs`` is that client with fewer tests
at once.

Two settings differ from the local stack, both for the suite's sake: the zone rate limit
is off (the suite sends a few thousand requests from one address), and FORWARD_HEADERS
lists the suite's bookkeeping request headers (``Req-Num``, ``Test-ID``, ``Test-Name``,
response-neutral for its server, which the client reads back to tell a cached answer from
a fresh one). Everything else is the wrapper's defaults.

Writes ``bench/cache-tests/results.json`` (the suite's raw results), then counts the
required tests the way cache-tests.fyi shows them (``summary.mjs``) into
``bench/cache-tests/summary.json`` and the "HTTP cache test suite" section of
``bench/RESULTS.md``. ``--id TEST`` runs one test and prints the suite's dump of it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SUITE_HOME = BENCH_DIR / "cache-tests"
SUITE_DIR = SUITE_HOME / "node_modules" / "http-cache-tests"
RESULTS_FILE = SUITE_HOME / "results.json"
SUMMARY_FILE = SUITE_HOME / "summary.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
SUITE_HEADERS = ("Req-Num", "Test-ID", "Test-Name")
START_MARK, END_MARK = "<!-- cache-tests: start -->", "<!-- cache-tests: end -->"
CLIENT_TIMEOUT_S = 900
# Tests run at once (the suite's cli.mjs runs 100; see run.mjs for why not here).
BATCH = 10

# Published required-test results (passed, failed) the issue compares against: the current
# cache-tests.fyi figures, and this cut's own results/*.json counted by summary.mjs.
PUBLISHED = [("Apache", 131, 12), ("Squid", 122, 17), ("Caddy", 121, 10), ("Varnish", 119, 17),
             ("nginx", 99, 33), ("Fastly", 96, 37)]
THIS_CUT = ("apache", "squid", "varnish", "nginx", "trafficserver", "fastly", "nuster")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the suite's server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the suite's server did not listen on 127.0.0.1:{port}")


def suite_config(forward_headers: tuple[str, ...]) -> dict[str, Any]:
    from edgekit_iac.release import stack_files

    config = stack_files.read_config("local")
    wrapper = config["edgekit:cloudflare"]["cacheWrapper"]
    if forward_headers:
        wrapper["forwardHeaders"] = list(forward_headers)
    limits = config.setdefault("edgekit:rateLimits", {})
    limits.setdefault("cloudflare", {})["enabled"] = False
    return config


def run_suite(test_id: str, forward_headers: tuple[str, ...]) -> str:
    """The suite client's stdout (JSON results, or one test's dump with ``test_id``)."""
    from edgekit_iac.twin.supervisor import TwinOptions, start_twin

    node = shutil.which("node")
    if node is None or not SUITE_DIR.is_dir():
        raise SystemExit("needs node and the pinned suite: run `make cache-tests` "
                         "(npm ci in bench/cache-tests)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="edgekit-cache-tests-") as work:
        env = {**os.environ, "npm_config_port": str(port), "npm_config_protocol": "http",
               "npm_config_pidfile": str(Path(work) / "server.pid")}
        server = subprocess.Popen(
            [node, "--require", str(SUITE_HOME / "loopback.cjs"), "server/server.mjs"],
            cwd=SUITE_DIR, env=env, stdout=subprocess.DEVNULL)
        twin = None
        try:
            wait_for_port(port, server)
            twin = start_twin(TwinOptions(stack="local", state_dir=Path(work) / "state",
                                          port_base=0, config=suite_config(forward_headers),
                                          origin_url=f"http://127.0.0.1:{port}"),
                              say=lambda line: print(line, file=sys.stderr))
            base = twin.endpoints["api-cache-worker-script"]
            print(f"cache-tests: suite server 127.0.0.1:{port}, cache wrapper {base}",
                  file=sys.stderr)
            if test_id:  # the suite's own client, which dumps one test's exchange
                command = [node, "--no-warnings", "cli.mjs"]
                cwd = SUITE_DIR
            else:
                command = [node, "--no-warnings", "run.mjs", base, str(BATCH)]
                cwd = SUITE_HOME
            client = subprocess.run(
                command, cwd=cwd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S,
                env={**os.environ, "npm_config_base": base, "npm_config_id": test_id,
                     "npm_package_config_id": ""})
            if client.returncode != 0:
                raise RuntimeError(f"the suite client failed: {client.stderr[-2000:]}")
            return client.stdout
        finally:
            if twin is not None:
                twin.stop()
            server.terminate()
            server.wait(timeout=10)


def summarize(results_file: Path, listing: bool = False) -> tuple[dict[str, int], list[str]]:
    """Required-test counts (pass, fail, setup, dependency, ...) and the non-passing rows."""
    command = ["node", "summary.mjs", str(results_file.resolve())] + (["--list"] if listing
                                                                       else [])
    output = subprocess.run(command, cwd=SUITE_HOME, capture_output=True, text=True,
                            check=True).stdout.splitlines()
    return json.loads(output[0]), output[1:]


def this_cut_counts() -> dict[str, dict[str, int]]:
    return {name: summarize(SUITE_DIR / "results" / f"{name}.json")[0] for name in THIS_CUT}


def section(summary: dict[str, Any]) -> str:
    """The RESULTS.md section: counts beside the published ones, then every non-pass."""
    counts = summary["counts"]
    required = sum(counts.values())
    failed = counts.get("fail", 0) + counts.get("setup", 0)
    lines = [
        START_MARK,
        "## HTTP cache test suite",
        "",
        f"`make cache-tests` on {summary['date']}: npm `http-cache-tests` "
        f"{summary['suite_version']} (cache-tests.fyi) against the cache wrapper in the twin, "
        "the suite's own server as the origin (see `bench/cache_tests.py`). "
        f"{required} required tests; \"failed\" counts conformance and setup failures, "
        "\"cannot run\" those whose prerequisite (often an optional test) did not pass.",
        "",
        "| cache | passed | failed | cannot run |",
        "|---|---|---|---|",
    ]
    for label, figures in summary["runs"]:
        lines.append(f"| {label} | {figures.get('pass', 0)} | "
                     f"{figures.get('fail', 0) + figures.get('setup', 0)} | "
                     f"{figures.get('dependency', 0) + figures.get('untested', 0)} |")
    lines += ["", "Published results for the same suite (required tests), as the issue "
              "quotes them from cache-tests.fyi:", "",
              "| cache | passed | failed |", "|---|---|---|"]
    lines += [f"| {name} | {passed} | {failed_} |" for name, passed, failed_ in PUBLISHED]
    lines += ["", "The same caches' results shipped in this cut (`results/*.json`), counted "
              "the same way:", "", "| cache | passed | failed | cannot run |",
              "|---|---|---|---|"]
    for name, figures in summary["this_cut"].items():
        lines.append(f"| {name} | {figures.get('pass', 0)} | "
                     f"{figures.get('fail', 0) + figures.get('setup', 0)} | "
                     f"{figures.get('dependency', 0) + figures.get('untested', 0)} |")
    lines += ["", f"Edgekit now: {counts.get('pass', 0)} passed, {failed} failed.", ""]
    reasons = summary.get("reasons", {})
    lines += ["Every required test that does not pass, with the reason:", "",
              "| test | result | reason |", "|---|---|---|"]
    for row in summary["not_passing"]:
        test, kind, message = (row.split("\t") + ["", ""])[:3]
        reason = reasons.get(test) or reasons.get(re.sub(r"-[^-]+$", "-*", test)) or message
        lines.append(f"| `{test}` | {kind} | {reason.replace('|', '/')} |")
    lines += ["", END_MARK]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = RESULTS_MD) -> None:
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if START_MARK in current and END_MARK in current:
        head, _, rest = current.partition(START_MARK)
        _, _, tail = rest.partition(END_MARK + "\n")
        current = head + text + tail
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache_tests",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--id", default="", help="run one test and print its dump")
    parser.add_argument("--label", default="edgekit cache wrapper",
                        help="row label of this run in RESULTS.md")
    parser.add_argument("--before", type=Path, default=None,
                        help="a results.json of an earlier run to show as its own row")
    parser.add_argument("--no-forward-headers", action="store_true",
                        help="do not set FORWARD_HEADERS (for wrappers older than it)")
    parser.add_argument("--summarize-only", action="store_true",
                        help="count the last run's results.json again, run nothing")
    args = parser.parse_args(argv)
    if not args.summarize_only:
        forward = () if args.no_forward_headers else SUITE_HEADERS
        output = run_suite(args.id, forward)
        if args.id:
            print(output)
            return 0
        results = json.loads(output)
        RESULTS_FILE.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    counts, rows = summarize(RESULTS_FILE, listing=True)
    runs = []
    if args.before is not None:
        runs.append(("edgekit before (b02d09d, this runner, no forwardHeaders)",
                     summarize(args.before)[0]))
    runs.append((args.label, counts))
    version = json.loads((SUITE_DIR / "package.json").read_text())["version"]
    reasons_file = SUITE_HOME / "reasons.json"
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "suite_version": version, "counts": counts, "runs": runs,
        "this_cut": this_cut_counts(), "not_passing": rows,
        "reasons": json.loads(reasons_file.read_text()) if reasons_file.exists() else {},
        "runtime": "the twin (CPython Workers stand-in, its Cache API stand-in)",
    }
    SUMMARY_FILE.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    write_section(section(summary))
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
