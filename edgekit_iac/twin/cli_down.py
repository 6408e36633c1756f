"""`python -m edgekit_iac down --stack local`: stop the stack's running twin and clean its state.

Signals the pid in .edgekit/<stack>/twin.pid (SIGTERM, the same clean stop as Ctrl-C) and
waits for the process to exit, not only for its lock to go; a twin that does not stop in
time is killed and its lock removed.
With no twin running it says so and succeeds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import time
from pathlib import Path

from edgekit_iac import paths
from edgekit_iac.twin import state


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="local", help="stack whose twin to stop")
    parser.add_argument("--state-dir", default=None,
                        help="the twin's state directory (default: .edgekit/<stack>)")
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="seconds to wait for a clean stop before killing (default: 20)")


def _clean(files: state.StateFiles) -> None:
    for path in (files.endpoints_file, files.pid_file):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def run(args: argparse.Namespace) -> int:
    files = state.StateFiles(Path(args.state_dir).resolve() if args.state_dir
                             else paths.state_dir(args.stack))
    record = state.read_lock(files)
    if record is None:
        print(f"edgekit down: no twin is running for stack {args.stack!r}")
        return 0
    pid = int(record.get("pid") or 0)
    if not pid or not state.pid_running(pid):
        _clean(files)
        print(f"edgekit down: the twin for stack {args.stack!r} (pid {pid}) was not running; "
              "removed its stale lock")
        return 0
    os.kill(pid, signal.SIGTERM)
    # Return only once the process is gone: its ports are free and its files final then
    # (the lock goes first, while the process still stops).
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and state.pid_running(pid):
        time.sleep(0.05)
    if state.pid_running(pid):
        os.kill(pid, signal.SIGKILL)
        _clean(files)
        print(f"edgekit down: the twin (pid {pid}) did not stop within {args.timeout:g} s; "
              "killed it")
        return 1
    print(f"edgekit down: stopped the twin for stack {args.stack!r} (pid {pid})")
    return 0
