"""A bounded load test on loopback: the running twin holds 200 concurrent clients for 10 s.

200 keep-alive connections open at once (the listen backlog must take them all) and each
asks the status listener for its endpoints, back to back, for 10 s, giving up on a request
after 5 s. The bound is behavioural: every request answered, none timed out, p99 under a
second. Throughput figures live in `bench/` (twin_http, twin_throughput), never in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import RunningTwin

CLIENTS = 200
SECONDS = 10
REQUEST_TIMEOUT_S = 5
P99_BOUND_S = 1.0
LOAD_CLIENT = Path(__file__).with_name("load_client.py")


def test_two_hundred_concurrent_clients_for_ten_seconds(twin: RunningTwin):
    done = subprocess.run(
        [sys.executable, str(LOAD_CLIENT), twin.url("status", "/endpoints.json"),
         str(CLIENTS), str(SECONDS), str(REQUEST_TIMEOUT_S)],
        capture_output=True, text=True, timeout=SECONDS + 60, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])

    summary = (f"{figures['requests']} requests from {CLIENTS} clients in {SECONDS} s: "
               f"p50 {figures['p50_s'] * 1000:.0f} ms, p99 {figures['p99_s'] * 1000:.0f} ms, "
               f"failures {figures['failures']}")
    print(summary)
    assert not figures["failures"], summary
    assert figures["requests"] >= CLIENTS * 2, summary  # every client answered, repeatedly
    assert figures["p99_s"] < P99_BOUND_S, summary
