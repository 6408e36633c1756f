"""The Workers host gives up on a Worker call that overruns, and stops it too."""

from __future__ import annotations

import asyncio
import threading

import pytest

from edgekit_iac.twin.clock import TwinClock
from edgekit_iac.twin.cloudflare.workers_host import CfDefaults, WorkersHost
from edgekit_iac.twin.stats import TwinStats


def test_a_call_that_overruns_is_cancelled_not_left_running():
    host = WorkersHost(None, TwinClock(), TwinStats(), CfDefaults())
    cancelled = threading.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    try:
        with pytest.raises(TimeoutError):
            host.run(stuck(), timeout=0.05)
        assert cancelled.wait(5)
    finally:
        host.close()
