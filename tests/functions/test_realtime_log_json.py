"""The Firehose transform (functions/realtime_log_json): CloudFront's tab-separated records
into typed JSON documents, and the index template PUT, SigV4-signed, to a loopback server."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edgekit_iac.function_modules import load_function_module

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "realtime_log_json"
transform = load_function_module(FUNCTION_DIR, "transform.py")
FIELDS = ["timestamp", "c-ip", "sc-status", "sc-bytes", "cs-method", "cs-uri-stem",
          "time-taken", "x-edge-result-type", "cs-user-agent"]


def record(*values: str) -> dict:
    return {"recordId": values[0], "data": base64.b64encode("\t".join(values).encode()).decode()}


def test_records_become_typed_documents_and_misfits_go_to_the_backup():
    good = record("1764644645.123", "192.0.2.1", "200", "5120", "GET", "/images/a.jpg",
                  "0.042", "Miss", "-")
    short = record("1764644645.2", "192.0.2.1", "200")
    garbled = {"recordId": "x", "data": "not base64!"}
    bad_number = record("1764644645.3", "192.0.2.1", "200", "many", "GET", "/", "0.1", "Hit",
                        "-")
    answered = transform.transform(FIELDS, [good, short, garbled, bad_number])
    assert [a["result"] for a in answered] == ["Ok", "ProcessingFailed", "ProcessingFailed",
                                                "ProcessingFailed"]
    assert [a["recordId"] for a in answered] == [good["recordId"], short["recordId"], "x",
                                                  bad_number["recordId"]]
    document = json.loads(base64.b64decode(answered[0]["data"]))
    assert document == {"timestamp": "2025-12-02T03:04:05.123Z", "c-ip": "192.0.2.1",
                        "sc-status": "200", "sc-bytes": 5120, "cs-method": "GET",
                        "cs-uri-stem": "/images/a.jpg", "time-taken": 0.042,
                        "x-edge-result-type": "Miss"}
    assert answered[1]["data"] == short["data"]  # the backup keeps the record as it came


def test_the_template_types_time_status_and_time_taken():
    mapping = transform.index_template(FIELDS, "cloudfront-realtime")
    assert mapping["index_patterns"] == ["cloudfront-realtime*"]
    properties = mapping["template"]["mappings"]["properties"]
    assert properties["timestamp"]["type"] == "date"
    assert properties["sc-status"]["type"] == "keyword"
    assert properties["time-taken"]["type"] == "float"
    assert properties["c-ip"]["type"] == "ip"
    assert mapping["template"]["mappings"]["dynamic"] == "false"


@pytest.fixture
def search_endpoint():
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"path": self.path, "headers": dict(self.headers),
                         "body": json.loads(body)})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_the_deploy_invocation_puts_the_template_signed_for_the_service(
        search_endpoint, monkeypatch):
    url, seen = search_endpoint
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("EDGEKIT_ENDPOINT", url)
    monkeypatch.setenv("EDGEKIT_SIGNING_SERVICE", "aoss")
    monkeypatch.setenv("EDGEKIT_FIELDS", ",".join(FIELDS))
    answer = transform.handler({"edgekit": "put-index-template", "index_name": "cf"}, None)
    assert answer == {"status": 200, "template": "edgekit-cloudfront-realtime"}
    (put,) = seen
    assert put["path"] == "/_index_template/edgekit-cloudfront-realtime"
    authorization = put["headers"]["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/aoss/aws4_request" in authorization
    assert put["body"]["index_patterns"] == ["cf*"]

    monkeypatch.setenv("EDGEKIT_ENDPOINT", "ftp://search.example")
    with pytest.raises(ValueError, match="https://"):
        transform.handler({"edgekit": "put-index-template", "index_name": "cf"}, None)
