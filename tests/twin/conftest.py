"""The local twin, started once per session as users start it: `python -m edgekit_iac up`.

It serves the real local stack (__main__.py, stacks/Pulumi.local.yaml) on free loopback
ports with its state in a temporary directory, and is stopped with `python -m edgekit_iac down`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 240  # a fresh clone vendors Pillow for the resizer bundle first
CF = {"country": "NO", "colo": "OSL", "city": "Oslo"}


@dataclass
class RunningTwin:
    process: subprocess.Popen
    state_dir: Path
    output: Path
    endpoints: dict[str, str]

    def graph(self) -> dict:
        return json.loads((self.state_dir / "graph.json").read_text())

    def resource(self, type_token: str) -> dict:
        found = [r for r in self.graph()["resources"] if r["type"] == type_token]
        assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
        return found[0]

    def url(self, endpoint: str, target: str = "/") -> str:
        return self.endpoints[endpoint] + target


def edgekit(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgekit_iac", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, **kwargs)


def wait_until_up(process: subprocess.Popen, state_dir: Path,
                  printed: Callable[[], str]) -> dict[str, str]:
    """The endpoints once `up` wrote them; fails with what it printed if it exits first."""
    endpoints_file = state_dir / "endpoints.json"
    deadline = time.monotonic() + START_TIMEOUT
    while not endpoints_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the twin did not come up:\n{printed()}")
        time.sleep(0.1)
    return json.loads(endpoints_file.read_text())


@pytest.fixture(scope="session")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTwin]:
    state_dir = tmp_path_factory.mktemp("twin-state")
    output = state_dir.parent / "twin-output.log"
    with output.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "edgekit_iac", "up", "--stack", "local", "--port-base", "0",
             "--state-dir", str(state_dir), "--cf-country", CF["country"],
             "--cf-colo", CF["colo"], "--cf-city", CF["city"]],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )
    endpoints = wait_until_up(process, state_dir, output.read_text)
    running = RunningTwin(process, state_dir, output, endpoints)
    try:
        yield running
    finally:
        down = edgekit("down", "--stack", "local", "--state-dir", str(state_dir))
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        assert down.returncode == 0, down.stdout + down.stderr
