"""The resizer's trace (functions/image_resizer/edge_trace.py) and the edges' shared log
schema: the resizer and the cache wrapper write the same field names."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from edgekit_iac.function_modules import load_function_module

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
edge_trace = load_function_module(FUNCTIONS / "image_resizer", "edge_trace.py")
policy = load_function_module(FUNCTIONS / "cache_wrapper", "cache_policy.py")
INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def counting_hex():
    digits = iter("0123456789abcdef" * 8)
    return lambda n: "".join(next(digits) for _ in range(2 * n))


def test_an_incoming_trace_continues_with_a_new_span():
    trace = edge_trace.start(INCOMING, counting_hex())
    assert trace.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace.parent_span_id == "00f067aa0ba902b7"
    assert trace.span_id == "0123456789abcdef" and trace.flags == "01"
    assert trace.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-0123456789abcdef-01"


def test_a_missing_or_invalid_traceparent_starts_a_trace():
    for bad in (None, "", "00-" + "0" * 32 + "-00f067aa0ba902b7-01", "ff-" + INCOMING[3:],
                INCOMING + "-extra", "00-4bf92f35-00f067aa0ba902b7-01"):
        trace = edge_trace.start(bad)
        assert trace.parent_span_id is None and len(trace.trace_id) == 32, bad
        assert edge_trace.parse(trace.traceparent) is not None


def test_server_timing_names_each_phase_in_milliseconds():
    value = edge_trace.server_timing({"decode": 12.345, "resize": 3.0, "encode": 20.06})
    assert value == "decode;dur=12.3, resize;dur=3.0, encode;dur=20.1"


def test_every_resizer_line_is_json_with_the_trace_and_both_edges_share_the_names():
    logger = logging.getLogger("test.edge_trace")
    logger.addFilter(edge_trace.JsonLines())
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)
    trace = edge_trace.start(INCOMING)
    token = edge_trace.begin(trace, method="GET", path="/images/400x300/a.jpg")
    try:
        logger.warning("S3 said %s", "SlowDown")
        logger.info("resized", extra={"edge_fields": {"status": 200, "cache": "generated",
                                                      "duration_ms": 41.5}})
    finally:
        edge_trace.end(token)
    warning, done = (json.loads(line) for line in seen)
    assert warning["message"] == "S3 said SlowDown" and warning["level"] == "warning"
    assert warning["trace_id"] == done["trace_id"] == trace.trace_id
    assert (done["status"], done["cache"], done["path"]) == (200, "generated",
                                                             "/images/400x300/a.jpg")
    worker = json.loads(policy.log_line(now=1.0, traceparent=INCOMING, method="GET",
                                        url="https://api.example.com/api/x?y=1", status=200,
                                        cache_status="HIT", duration_ms=3.21))
    assert list(done) == list(worker) == list(edge_trace.LOG_FIELDS) == list(policy.LOG_FIELDS)
    assert (worker["trace_id"], worker["path"], worker["edge"]) == (
        "4bf92f3577b34da6a3ce929d0e0e4736", "/api/x", "worker")


def test_outgoing_calls_carry_this_hops_span_only_inside_a_request():
    assert edge_trace.outgoing_headers() == {}
    trace = edge_trace.start(INCOMING, counting_hex())
    token = edge_trace.begin(trace, method="GET", path="/images/1x1/a.jpg")
    try:
        assert edge_trace.outgoing_headers() == {"traceparent": trace.traceparent}
    finally:
        edge_trace.end(token)
    assert edge_trace.outgoing_headers() == {}
