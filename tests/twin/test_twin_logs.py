"""Real-time logs: one JSON line per request with the fields the RealtimeLogConfig declares."""

from __future__ import annotations

import json

from .client import request
from .conftest import RunningTwin


def test_one_log_line_per_request_with_the_declared_fields(twin: RunningTwin):
    config = twin.resource("aws:cloudfront/realtimeLogConfig:RealtimeLogConfig")["inputs"]
    assert config["samplingRate"] == 100
    fields = config["fields"]
    log_file = twin.state_dir / "logs" / "images-cdn.jsonl"
    before = log_file.read_text().splitlines() if log_file.exists() else []

    targets = ["/images/150x150/samples/logo.png", "/images/300x200/samples/logo.png",
               "/images/999x999/samples/logo.png"]
    statuses = [request(twin.url("images-cdn", target),
                        headers={"X-Edgekit-Client-Ip": "192.0.2.44"}).status
                for target in targets]

    after = log_file.read_text().splitlines()
    lines = [json.loads(line) for line in after[len(before):]]
    assert len(lines) == len(targets)
    for line, target, status in zip(lines, targets, statuses, strict=True):
        assert list(line) == fields
        if "c-ip" in fields:
            assert line["c-ip"] == "192.0.2.44"
        if "cs-uri-stem" in fields:
            assert line["cs-uri-stem"] == target
        if "sc-status" in fields:
            assert line["sc-status"] == status
