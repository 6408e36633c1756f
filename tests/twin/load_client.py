"""A bounded loopback load client: `python load_client.py URL CLIENTS SECONDS TIMEOUT_S`.

CLIENTS connections open at once and each sends requests back to back on its own
keep-alive connection until SECONDS have passed; a request not answered within TIMEOUT_S
counts as a timeout. Prints one JSON line: requests, p50_s, p99_s, failures by kind.

It runs as its own small process so that the figures are the server's, not the pauses of
a test runner's large heap (its full garbage collections) or of its other threads.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections import Counter

import aiohttp


async def load(url: str, clients: int, seconds: float, timeout_s: float) -> dict:
    latencies: list[float] = []
    failures: Counter = Counter()
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        deadline = time.monotonic() + seconds

        async def client() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    async with session.get(url) as response:
                        await response.read()
                        if response.status != 200:
                            failures[f"status {response.status}"] += 1
                except TimeoutError:
                    failures["timeout"] += 1
                except aiohttp.ClientError as exc:
                    failures[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(client() for _ in range(clients)))
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_s": latencies[len(latencies) // 2] if latencies else None,
        "p99_s": latencies[int(len(latencies) * 0.99)] if latencies else None,
        "failures": dict(failures),
    }


def main(argv: list[str]) -> None:
    url, clients, seconds, timeout_s = argv[0], int(argv[1]), float(argv[2]), float(argv[3])
    gc.freeze()  # the client's own pauses are not the server's latency
    print(json.dumps(asyncio.run(load(url, clients, seconds, timeout_s))))


if __name__ == "__main__":
    main(sys.argv[1:])
