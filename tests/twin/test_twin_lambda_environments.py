"""Lambda@Edge execution environments: one that died while idle is replaced, not reused."""

from __future__ import annotations

import zipfile

import pytest

from edgekit_iac.program import RecordedResource
from edgekit_iac.twin.aws.lambda_runtime import EdgeFunction, LambdaExecutionError

HANDLER = "def handler(event, context):\n    return {'echo': event['n']}\n"


@pytest.fixture
def function(tmp_path):
    code = tmp_path / "fn.zip"
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", HANDLER)
    resource = RecordedResource(
        urn="urn:fn", type="aws:lambda/function:Function", name="fn", parent=None,
        custom=True, inputs={"code": {"path": str(code)}, "handler": "index.handler",
                             "timeout": 10},
        outputs={"version": "1", "name": "fn"},
    )
    edge_function = EdgeFunction(resource, tmp_path / "work", {}, max_environments=1)
    yield edge_function
    edge_function.close()


def test_an_environment_that_died_while_idle_fails_one_call_and_is_replaced(function):
    assert function.invoke({"n": 1}) == {"echo": 1}
    idle = function._all[0]
    idle.process.kill()
    idle.process.wait()

    with pytest.raises(LambdaExecutionError, match="execution environment"):
        function.invoke({"n": 2})

    assert function.invoke({"n": 3}) == {"echo": 3}
    assert idle not in function._all and function.cold_starts == 2
