"""CloudFront real-time logs, locally: one JSON line per request with the declared fields.

In AWS a `RealtimeLogConfig` sends the chosen fields, tab-separated, to a Kinesis stream. The
twin writes the same fields, by their CloudFront names, as one JSON object per line to
`.edgekit/<stack>/logs/<distribution>.jsonl`: the stand-in for the stream. Sampling follows
the config's `samplingRate` (percent). A field the twin has no value for is "-", as in
CloudFront's own logs.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

EDGE_LOCATION = "LCL50-C1"  # the twin's one "POP"


@dataclass(frozen=True)
class RequestFacts:
    """What the twin knows about one request when it has answered it."""

    timestamp: float  # epoch seconds (with milliseconds) when the request arrived
    client_ip: str
    client_port: int
    method: str
    host: str
    target: str  # path and query as the viewer sent them
    protocol: str  # viewer scheme: https or http
    status: int
    response_bytes: int
    request_bytes: int
    content_type: str
    time_taken: float  # seconds
    result_type: str  # Hit | Miss | Error | ...
    request_id: str
    distribution_id: str
    distribution_domain: str
    path_pattern: str
    country: str
    headers: Sequence[tuple[str, str]] = field(default_factory=tuple)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def _or_dash(value: Any) -> Any:
    return "-" if value in (None, "") else value


# CloudFront real-time log field -> how the twin fills it.
FIELDS: dict[str, Callable[[RequestFacts], Any]] = {
    "timestamp": lambda f: round(f.timestamp, 3),
    "c-ip": lambda f: f.client_ip,
    "c-ip-version": lambda f: "IPv6" if ":" in f.client_ip else "IPv4",
    "c-port": lambda f: f.client_port,
    "time-to-first-byte": lambda f: round(f.time_taken, 3),
    "time-taken": lambda f: round(f.time_taken, 3),
    "sc-status": lambda f: f.status,
    "sc-bytes": lambda f: f.response_bytes,
    "sc-content-type": lambda f: f.content_type,
    "sc-content-len": lambda f: f.response_bytes,
    "cs-method": lambda f: f.method,
    "cs-protocol": lambda f: f.protocol,
    "cs-protocol-version": lambda f: "HTTP/1.1",
    "cs-host": lambda f: f.distribution_domain,
    "x-host-header": lambda f: f.host,
    "cs-uri-stem": lambda f: urlsplit(f.target).path,
    "cs-uri-query": lambda f: urlsplit(f.target).query,
    "cs-bytes": lambda f: f.request_bytes,
    "cs-user-agent": lambda f: f.header("user-agent"),
    "cs-referer": lambda f: f.header("referer"),
    "cs-cookie": lambda f: f.header("cookie"),
    "cs-accept": lambda f: f.header("accept"),
    "cs-accept-encoding": lambda f: f.header("accept-encoding"),
    "cs-headers": lambda f: "%0A".join(f"{k}:{v}" for k, v in f.headers),
    "cs-header-names": lambda f: "%0A".join(k for k, _ in f.headers),
    "cs-headers-count": lambda f: len(f.headers),
    "x-forwarded-for": lambda f: f.header("x-forwarded-for"),
    "x-edge-location": lambda f: EDGE_LOCATION,
    "x-edge-request-id": lambda f: f.request_id,
    "x-edge-result-type": lambda f: f.result_type,
    "x-edge-response-result-type": lambda f: f.result_type,
    "x-edge-detailed-result-type": lambda f: f.result_type,
    "c-country": lambda f: f.country,
    "cache-behavior-path-pattern": lambda f: f.path_pattern,
    "primary-distribution-id": lambda f: f.distribution_id,
    "primary-distribution-dns-name": lambda f: f.distribution_domain,
}


def log_record(field_names: Sequence[str], facts: RequestFacts) -> dict[str, Any]:
    """The declared fields, in the declared order, for one request."""
    return {name: _or_dash(FIELDS[name](facts)) if name in FIELDS else "-"
            for name in field_names}


class RealtimeLog:
    """Appends sampled records for one distribution to its .jsonl file."""

    def __init__(self, path: Path, config_inputs: Mapping[str, Any],
                 sample: Callable[[], float] = random.random) -> None:
        self.path = path
        self.fields = [str(name) for name in config_inputs.get("fields") or []]
        self.sampling_rate = float(config_inputs.get("samplingRate") or 100)
        self._sample = sample
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, facts: RequestFacts) -> None:
        if self._sample() * 100 >= self.sampling_rate:
            return
        line = json.dumps(log_record(self.fields, facts), separators=(",", ":")) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)
