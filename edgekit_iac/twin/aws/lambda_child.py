"""One Lambda execution environment: a child process that imports a handler and runs events.

Started by `edgekit_iac.twin.aws.lambda_runtime` as
`python -m edgekit_iac.twin.aws.lambda_child` with its working directory at the function's
unpacked code (Lambda's /var/task), so the function's own modules come first on sys.path,
as on Lambda. The first line on stdin says which
handler to import and whether to add the vendored packages' folder; then each line is one
invocation `{"event", "context"}` answered by one line `{"result"}` or `{"error"}`.

The protocol owns the original stdout; the function's prints and logs go to stderr, which
the twin copies into its log.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any


class Context:
    """The attributes and method of Lambda's Python context object."""

    def __init__(self, info: dict[str, Any], deadline: float) -> None:
        self.function_name = info["function_name"]
        self.function_version = info["function_version"]
        self.invoked_function_arn = info["invoked_function_arn"]
        self.memory_limit_in_mb = info["memory_limit_in_mb"]
        self.aws_request_id = info["aws_request_id"]
        self.log_group_name = info["log_group_name"]
        self.log_stream_name = info["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(kind: str, exc: BaseException) -> dict[str, Any]:
    return {"error": {
        "errorType": kind or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }}


def _load(setup: dict[str, Any]):
    if setup.get("vendor_dir"):
        sys.path.insert(1, setup["vendor_dir"])
    module_name, _, function_name = setup["handler"].rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # print() in the function goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[%(levelname)s] %(name)s: %(message)s")
    setup = json.loads(sys.stdin.readline())
    try:
        handler, init_error = _load(setup), None
    except BaseException as exc:  # an init failure fails every invocation, as on Lambda
        handler, init_error = None, _error("Runtime.ImportModuleError", exc)
    protocol.write(json.dumps(init_error or {"ready": True}) + "\n")
    for line in sys.stdin:
        message = json.loads(line)
        if init_error is not None:
            protocol.write(json.dumps(init_error) + "\n")
            continue
        context = Context(message["context"], time.monotonic() + message["timeout"])
        try:
            result = handler(message["event"], context)
            reply = json.dumps({"result": result})
        except Exception as exc:
            reply = json.dumps(_error("", exc), default=str)
        protocol.write(reply + "\n")


if __name__ == "__main__":
    main()
