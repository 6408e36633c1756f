"""The twin's S3 listener (moto) obeys only requests addressed to it from this machine.

moto reflects any Origin in Access-Control-Allow-Origin and accepts multipart form
uploads, so without a guard a page open in the developer's browser could upload objects,
read listings and wipe every bucket with POST /moto-api/reset.
"""

from __future__ import annotations

import http.client
import uuid

import pytest

from edgekit_iac.twin.aws.s3_local import LocalS3
from edgekit_iac.twin.http_io import cross_site_refusal

BUCKET = "guarded-bucket"
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def s3():
    local = LocalS3(0)
    local.client.create_bucket(Bucket=BUCKET)
    local.client.put_object(Bucket=BUCKET, Key="kept.txt", Body=b"kept")
    yield local
    local.close()


def _send(s3: LocalS3, method: str, target: str, headers: dict[str, str],
          body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", s3.port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()},
                response.read())
    finally:
        connection.close()


def _keys(s3: LocalS3) -> list[str]:
    return [o["Key"] for o in s3.client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def _form_upload(key: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [('name="key"', key.encode()),
             ('name="file"; filename="x.txt"', b"planted by another site")]
    body = b"".join(
        f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n".encode()
        + value + b"\r\n" for disposition, value in parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_moto_listens_on_loopback_only(s3):
    assert s3._server.get_host_and_port()[0] == "127.0.0.1"
    assert s3.url.startswith("http://127.0.0.1:")


def test_a_cross_site_form_upload_is_refused_and_writes_nothing(s3):
    body, content_type = _form_upload("planted.txt")
    host = f"127.0.0.1:{s3.port}"

    status, headers, answer = _send(s3, "POST", f"/{BUCKET}", {
        "Host": host, "Origin": EVIL, "Content-Type": content_type}, body)

    assert status == 403, answer
    assert b"evil.example" in answer and "access-control-allow-origin" not in headers
    assert "planted.txt" not in _keys(s3)


def test_the_same_upload_from_this_machine_still_works(s3):
    # The guard is what refused above, not moto: without an Origin the form POST is taken.
    body, content_type = _form_upload("local-form.txt")
    status, _, answer = _send(s3, "POST", f"/{BUCKET}", {
        "Host": f"127.0.0.1:{s3.port}", "Content-Type": content_type}, body)

    assert status in (200, 201, 204), answer
    assert "local-form.txt" in _keys(s3)


def test_a_cross_site_listing_is_refused_without_cors_headers(s3):
    status, headers, answer = _send(s3, "GET", f"/{BUCKET}?list-type=2", {
        "Host": f"127.0.0.1:{s3.port}", "Origin": EVIL})

    assert status == 403
    assert b"kept.txt" not in answer and "access-control-allow-origin" not in headers


def test_a_dns_rebound_host_is_refused(s3):
    status, _, answer = _send(s3, "GET", f"/{BUCKET}?list-type=2",
                              {"Host": f"evil.example:{s3.port}"})

    assert status == 403 and b"kept.txt" not in answer


@pytest.mark.parametrize("target", ["/moto-api/reset", "/moto-api/data.json",
                                    "/moto-api/%72eset"])
def test_motos_management_api_is_refused_even_from_this_machine(s3, target):
    method = "GET" if target.endswith(".json") else "POST"
    status, _, answer = _send(s3, method, target, {"Host": f"127.0.0.1:{s3.port}"})

    assert status == 403 and b"moto-api" in answer
    assert "kept.txt" in _keys(s3)  # nothing was reset


def test_boto3_from_this_machine_is_served(s3):
    s3.client.put_object(Bucket=BUCKET, Key="a b/ü.txt", Body=b"x")
    assert s3.client.get_object(Bucket=BUCKET, Key="a b/ü.txt")["Body"].read() == b"x"


@pytest.mark.parametrize(("host", "origin", "allowed"), [
    ("127.0.0.1:8701", None, True),
    ("localhost:8701", "http://localhost:8701", True),
    ("[::1]:8701", None, True),
    ("127.0.0.1:8701", "http://127.0.0.1:9999", False),  # another local port is another site
    ("127.0.0.1:8701", "null", False),  # sandboxed frames, file: pages
    ("127.0.0.1.evil.example:8701", None, False),
    ("[::1].evil:8701", None, False),
    (None, None, False),
])
def test_the_guard_in_detail(host, origin, allowed):
    assert (cross_site_refusal(host, origin) is None) is allowed
