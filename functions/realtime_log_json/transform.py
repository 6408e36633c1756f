"""CloudFront real-time log records into OpenSearch documents, and their index template.

Two events reach this function:

- Firehose's data transformation: `{"records": [{"recordId", "data"}]}`, each `data` one
  base64 record as CloudFront wrote it into Kinesis: the RealtimeLogConfig's fields,
  tab-separated, in CloudFront's order, "-" for no value. Each becomes one JSON document
  named by CloudFront's field names, typed as the index template maps them (time as an
  ISO 8601 date, status as a keyword, time-taken as a float), "-" left out. A record that
  does not have one value per field is answered `ProcessingFailed`, so Firehose writes it
  to the S3 backup instead of the index.
- The deploy's `{"edgekit": "put-index-template"}` (a Pulumi `aws.lambda_.Invocation`):
  PUT the composable index template to the collection or domain, signed with SigV4 as
  this function's role. Pure standard library and botocore (in the Lambda runtime).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import urllib.request
from datetime import UTC, datetime
from typing import Any

TEMPLATE_NAME = "edgekit-cloudfront-realtime"
# Field types. Numbers CloudFront writes as digits; the rest stays a keyword unless listed.
DATE_FIELDS = frozenset({"timestamp"})
FLOAT_FIELDS = frozenset({"time-taken", "time-to-first-byte", "origin-fbl", "origin-lbl"})
LONG_FIELDS = frozenset({"sc-bytes", "cs-bytes", "sc-content-len", "sc-range-start",
                         "sc-range-end", "c-port", "cs-headers-count", "asn"})
IP_FIELDS = frozenset({"c-ip", "x-forwarded-for-first"})
TEXT_FIELDS = frozenset({"cs-user-agent", "cs-uri-query", "cs-headers", "cs-cookie",
                         "cs-referer"})


class RecordError(ValueError):
    """A record that is not one value per configured field."""


def field_type(name: str) -> dict[str, Any]:
    """The OpenSearch mapping of one CloudFront field."""
    if name in DATE_FIELDS:
        return {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
    if name in FLOAT_FIELDS:
        return {"type": "float"}
    if name in LONG_FIELDS:
        return {"type": "long"}
    if name in IP_FIELDS:
        return {"type": "ip"}
    if name in TEXT_FIELDS:
        return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}}
    return {"type": "keyword", "ignore_above": 1024}


def index_template(fields: list[str], index_name: str) -> dict[str, Any]:
    """The composable index template for `index_name*`: exact types, no guessing."""
    return {
        "index_patterns": [f"{index_name}*"],
        "template": {
            "mappings": {
                "dynamic": "false",
                "properties": {name: field_type(name) for name in fields},
            }
        },
        "priority": 100,
        "_meta": {"managed_by": "edgekit EdgeLogPipeline"},
    }


def _value(name: str, text: str) -> Any:
    if name in DATE_FIELDS:
        seconds = float(text)
        moment = datetime.fromtimestamp(seconds, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if name in FLOAT_FIELDS:
        return float(text)
    if name in LONG_FIELDS:
        return int(text)
    return text


def to_document(fields: list[str], record: str) -> dict[str, Any]:
    """One tab-separated record as a document; raises RecordError if it does not fit."""
    values = record.rstrip("\r\n").split("\t")
    if len(values) != len(fields):
        raise RecordError(f"{len(values)} values for {len(fields)} fields")
    document: dict[str, Any] = {}
    for name, text in zip(fields, values, strict=True):
        if text in ("-", ""):
            continue
        try:
            document[name] = _value(name, text)
        except (ValueError, OverflowError) as error:
            raise RecordError(f"{name}: {text!r} is not a {field_type(name)['type']}") from error
    return document


def transform(fields: list[str], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Firehose's response records, one per input record, in order."""
    answered = []
    for record in records:
        try:
            text = base64.b64decode(record["data"], validate=True).decode("utf-8")
            document = to_document(fields, text)
        except (RecordError, binascii.Error, UnicodeDecodeError):
            answered.append({"recordId": record["recordId"], "result": "ProcessingFailed",
                             "data": record["data"]})
            continue
        data = (json.dumps(document, separators=(",", ":")) + "\n").encode()
        answered.append({"recordId": record["recordId"], "result": "Ok",
                         "data": base64.b64encode(data).decode()})
    return answered


def put_index_template(endpoint: str, service: str, region: str,
                       template: dict[str, Any]) -> int:
    """PUT the template, SigV4-signed with the function's credentials; the HTTP status."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import Session

    if not endpoint.startswith(("https://", "http://127.0.0.1:")):
        raise ValueError(f"EDGEKIT_ENDPOINT {endpoint!r}: accepted: an https:// endpoint")
    url = f"{endpoint.rstrip('/')}/_index_template/{TEMPLATE_NAME}"
    body = json.dumps(template).encode()
    request = AWSRequest("PUT", url, data=body, headers={"Content-Type": "application/json"})
    credentials = Session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials to sign the index template request with")
    SigV4Auth(credentials.get_frozen_credentials(), service, region).add_auth(request)
    prepared = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=body, method="PUT", headers=dict(request.headers.items())
    )
    with urllib.request.urlopen(prepared, timeout=20) as response:  # noqa: S310
        return response.status


def _fields() -> list[str]:
    return [name for name in os.environ.get("EDGEKIT_FIELDS", "").split(",") if name]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("edgekit") == "put-index-template":
        status = put_index_template(
            os.environ["EDGEKIT_ENDPOINT"],
            os.environ["EDGEKIT_SIGNING_SERVICE"],
            os.environ["AWS_REGION"],
            index_template(_fields(), event["index_name"]),
        )
        return {"status": status, "template": TEMPLATE_NAME}
    return {"records": transform(_fields(), event.get("records", []))}
