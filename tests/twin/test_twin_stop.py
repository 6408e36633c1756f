"""Stopping a real `edgekit up`: Ctrl-C is one line with no tracebacks, `down` returns when
the process is gone, and what the functions log stays in logs/lambda.log.

Each test starts its own twin (the session's twin serves the other tests), in its own
session so that a SIGINT to its process group is what a terminal's Ctrl-C sends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .client import request
from .conftest import REPO, edgekit, wait_until_up


@pytest.fixture
def own_twin(tmp_path) -> Iterator[tuple[subprocess.Popen, Path, dict]]:
    state_dir = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "edgekit_iac", "up", "--port-base", "0", "--state-dir",
         str(state_dir)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    endpoints = wait_until_up(process, state_dir, lambda: str(process.communicate()))
    try:
        yield process, state_dir, endpoints
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _cold_start(endpoints: dict) -> None:
    url = endpoints["images-cdn"] + "/images/400x300/samples/landscape.jpg"
    assert request(url).status == 200


def test_ctrl_c_stops_in_one_line_without_tracebacks(own_twin):
    process, state_dir, endpoints = own_twin
    _cold_start(endpoints)
    os.killpg(process.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole group
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    after_banner = [line for line in out[out.index("Function logs:"):].splitlines()[1:]
                    if line.strip()]  # the blank line puts it below the terminal's "^C"
    assert after_banner == ["edgekit up: stopping the twin for stack 'local' ... stopped"]
    # Cold-start INFO lines go to the log file, not the console.
    assert "Found credentials" not in out + err
    function_log = (state_dir / "logs" / "lambda.log").read_text()
    assert "edgekit.image_resizer.s3: Found credentials" in function_log
    assert not (state_dir / "twin.pid").exists()


def test_down_returns_once_the_twin_process_has_exited(own_twin):
    process, state_dir, endpoints = own_twin
    down = edgekit("down", "--stack", "local", "--state-dir", str(state_dir))
    exit_code = process.poll()  # reaps it if it has exited: no waiting here
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"stopped the twin for stack 'local' (pid {process.pid})" in down.stdout
    assert exit_code == 0, "down returned while the twin was still running"
    out, err = process.communicate(timeout=5)
    assert "Traceback" not in err
    assert out.rstrip().endswith("stopped")
