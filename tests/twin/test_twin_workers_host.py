"""The Workers host gives up on a Worker call that overruns, and stops it too."""

from __future__ import annotations

import base64
import hashlib

from edgekit_iac.bundle.build import build_function, worker_modules
from edgekit_iac.program import RecordedResource
from edgekit_iac.twin.clock import TwinClock
from edgekit_iac.twin.cloudflare.workers_host import CfDefaults, WorkersHost, script_modules
from edgekit_iac.twin.graph_view import WORKERS_SCRIPT
from edgekit_iac.twin.stats import TwinStats

SLOW_WORKER = '''
import asyncio

from workers import Response, WorkerEntrypoint

cancelled = []


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/cancelled"):
            return Response(str(len(cancelled)))
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(request.url)
            raise
        return Response("late")
'''


def recorded_script(modules: dict[str, str], main: str) -> RecordedResource:
    files = {
        path: {"contentBase64": base64.b64encode(text.encode()).decode(),
               "contentSha256": hashlib.sha256(text.encode()).hexdigest()}
        for path, text in modules.items() if path != main
    }
    inputs = {"scriptName": "slow", "mainModule": main, "content": modules[main],
              "files": files, "compatibilityDate": "2026-11-01",
              "compatibilityFlags": ["python_workers"], "bindings": []}
    return RecordedResource(urn="urn:pulumi:test::edgekit::slow", type=WORKERS_SCRIPT,
                            name="slow", parent=None, custom=True, inputs=inputs)


def test_a_call_that_overruns_is_cancelled_not_left_running():
    sdk = {path: text for path, text in worker_modules(build_function("hello_geo")).items()
           if path.startswith("python_modules/")}
    script = recorded_script({"slow.py": SLOW_WORKER, **sdk}, "slow.py")
    assert set(script_modules(script.inputs)) == {"slow.py", *sdk}
    host = WorkersHost(None, TwinClock(), TwinStats(), CfDefaults())
    try:
        isolate = host.isolate_for(script)
        overran = isolate.fetch("GET", "https://slow.example/", timeout=0.2)
        assert overran.status == 504
        assert "cancelled" in overran.error
        assert isolate.fetch("GET", "https://slow.example/cancelled").text == "1"
    finally:
        host.close()
