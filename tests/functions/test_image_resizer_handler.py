"""The Lambda@Edge image resizer handler against moto S3, with real generated images.

Events follow AWS's documented origin-request shape (Records[0].cf.config + request). The
handler's own S3 client speaks HTTP, so moto runs as a server on 127.0.0.1 (one per module,
reset before each test), reached through AWS_ENDPOINT_URL_S3 as in the local twin.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from . import images

BUCKET = "edgekit-originals"
REGION = "us-east-1"
LIMIT = 1_000_000  # what the handler promises to stay under (Lambda@Edge allows 1 MB)


@pytest.fixture(scope="module")
def modules():
    with images.resizer_modules("handler", "resize") as loaded:
        yield loaded


@pytest.fixture
def handler(modules, monkeypatch):
    module = modules[0]
    monkeypatch.setattr(module, "_S3_CLIENTS", {})  # clients are per test, inside the mock
    return module


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(monkeypatch, moto_endpoint):
    for name in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310 (moto on 127.0.0.1)
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


def put(s3, key: str, data: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)


def origin_request(
    uri, querystring="", *, custom_headers=None, domain=None, region=REGION, path=""
):
    """A CloudFront origin-request event for an S3 origin, as Lambda@Edge receives it."""
    headers = {
        name: [{"key": name.title(), "value": value}]
        for name, value in (custom_headers or {}).items()
    }
    return {
        "Records": [
            {
                "cf": {
                    "config": {
                        "distributionDomainName": "d111111abcdef8.cloudfront.net",
                        "distributionId": "EDFDVBD6EXAMPLE",
                        "eventType": "origin-request",
                        "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
                    },
                    "request": {
                        "clientIp": "203.0.113.178",
                        "headers": {
                            "host": [{"key": "Host", "value": f"{BUCKET}.s3.amazonaws.com"}],
                            "user-agent": [{"key": "User-Agent", "value": "Amazon CloudFront"}],
                            "via": [
                                {"key": "Via", "value": "2.0 2afae0d4.cloudfront.net (CloudFront)"}
                            ],
                            "x-forwarded-for": [
                                {"key": "X-Forwarded-For", "value": "203.0.113.178"}
                            ],
                        },
                        "method": "GET",
                        "origin": {
                            "s3": {
                                "authMethod": "none",
                                "customHeaders": headers,
                                "domainName": domain or f"{BUCKET}.s3.{REGION}.amazonaws.com",
                                "path": path,
                                "region": region,
                            }
                        },
                        "querystring": querystring,
                        "uri": uri,
                    },
                }
            }
        ]
    }


def header(response, name):
    return response["headers"][name.lower()][0]["value"]


def served_image(response) -> Image.Image:
    """The image in a generated 200 response, checking what CloudFront requires of it."""
    assert response["status"] == "200", response.get("body")
    assert response["bodyEncoding"] == "base64"
    assert len(json.dumps(response)) <= LIMIT
    assert header(response, "Cache-Control") == "public, max-age=31536000, immutable"
    data = base64.b64decode(response["body"], validate=True)
    im = Image.open(io.BytesIO(data))
    assert header(response, "Content-Type") == Image.MIME[im.format]
    return im


def error_of(response, status, cache_control="public, max-age=60"):
    assert response["status"] == str(status), response
    assert header(response, "Content-Type") == "application/json"
    assert header(response, "Cache-Control") == cache_control
    assert response["bodyEncoding"] == "text"
    body = json.loads(response["body"])
    assert body["status"] == status
    return body["error"]


def stored(s3, key):
    obj = s3.get_object(Bucket=BUCKET, Key=key)
    return obj, obj["Body"].read()


def is_rewrite(result) -> bool:
    """An origin-request handler that returns the request (no `status`) forwards it."""
    return "status" not in result and "uri" in result


# ---------------------------------------------------------------- successes


def test_resizes_a_jpeg_and_stores_the_variant(handler, s3):
    put(s3, "photos/cat.jpg", images.small_jpeg((640, 480)))

    response = handler.handler(origin_request("/images/400x300/photos/cat.jpg"), None)

    im = served_image(response)
    assert (im.format, im.size) == ("JPEG", (400, 300))
    obj, data = stored(s3, "resized/photos/cat.jpg/400x300/original")
    assert obj["ContentType"] == "image/jpeg"
    assert obj["CacheControl"] == "public, max-age=31536000, immutable"
    assert data == base64.b64decode(response["body"])


def test_exif_orientation_6_is_applied(handler, s3):
    put(s3, "turned.jpg", images.oriented_jpeg((600, 400), orientation=6))

    im = served_image(handler.handler(origin_request("/images/400x300/turned.jpg"), None))

    assert im.size == (200, 300)  # stored landscape, shown portrait
    assert not im.getexif()  # metadata stripped


@pytest.mark.parametrize("output_format", ["png", "webp"])
def test_png_alpha_survives_in_formats_that_have_it(handler, s3, output_format):
    put(s3, "logo.png", images.alpha_png((500, 500)))

    response = handler.handler(
        origin_request("/images/150x150/logo.png", f"format={output_format}"), None
    )

    im = served_image(response)
    assert im.format == output_format.upper()
    assert im.convert("RGBA").getpixel((2, 2))[3] == 0
    assert im.convert("RGBA").getpixel((75, 75))[3] == 255


def test_mpo_from_a_phone_is_served_as_jpeg(handler, s3):
    """Issue 10: Pillow opens many phone photos as MPO, and the resizer answered 500."""
    put(s3, "phone.jpg", images.mpo((640, 480)))

    response = handler.handler(origin_request("/images/400x300/phone.jpg"), None)

    im = served_image(response)
    assert (im.format, im.size) == ("JPEG", (400, 300))
    assert header(response, "Content-Type") == "image/jpeg"
    assert im.getpixel((200, 150))[0] > 180  # the first (red) picture
    obj, _ = stored(s3, "resized/phone.jpg/400x300/original")
    assert obj["ContentType"] == "image/jpeg"


@pytest.mark.filterwarnings("ignore:Truncated File Read")  # Pillow on the cut IFD
@pytest.mark.parametrize("name", images.BROKEN_EXIF_SEEDS)
def test_photo_with_broken_exif_is_served(handler, s3, name):
    """Issue 10: truncated EXIF raised struct.error in Pillow's TIFF reader: a 500."""
    put(s3, "broken-exif.jpg", images.seed(name))
    response = handler.handler(origin_request("/images/150x150/broken-exif.jpg"), None)
    assert served_image(response).size == (96, 64)


def test_png_without_format_stays_png(handler, s3):
    put(s3, "logo.png", images.alpha_png((500, 500)))
    im = served_image(handler.handler(origin_request("/images/150x150/logo.png"), None))
    assert (im.format, im.mode) == ("PNG", "RGBA")


def test_large_photo_to_a_thumbnail(handler, s3):
    put(s3, "big.jpg", images.large_photo_jpeg())

    response = handler.handler(origin_request("/images/400x300/big.jpg", "format=webp"), None)

    im = served_image(response)
    assert (im.format, im.size) == ("WEBP", (400, 300))


def test_other_query_parameters_are_ignored(handler, s3):
    put(s3, "cat.jpg", images.small_jpeg())
    response = handler.handler(
        origin_request("/images/150x150/cat.jpg", "utm_source=mail&format=png&x=1"), None
    )
    assert served_image(response).format == "PNG"


def test_percent_encoded_keys_name_the_decoded_s3_key(handler, s3):
    put(s3, "summer 2024/café.jpg", images.small_jpeg())
    response = handler.handler(origin_request("/images/150x150/summer%202024/caf%C3%A9.jpg"), None)
    assert served_image(response).size == (150, 113)
    stored(s3, "resized/summer 2024/café.jpg/150x150/original")


def test_settings_come_from_the_origin_custom_headers(handler, s3):
    put(s3, "cat.jpg", images.small_jpeg((800, 600)))
    headers = {"x-edgekit-allowed-sizes": "64x64", "x-edgekit-quality": "30"}

    refused = handler.handler(
        origin_request("/images/400x300/cat.jpg", custom_headers=headers), None
    )
    served = handler.handler(origin_request("/images/64x64/cat.jpg", custom_headers=headers), None)

    assert "accepted sizes: 64x64" in error_of(refused, 400)
    assert served_image(served).size == (64, 48)


def test_bucket_region_comes_from_the_domain_when_the_event_has_none(handler, s3):
    s3_west = boto3.client("s3", region_name="eu-west-1")
    s3_west.create_bucket(
        Bucket="my.photos", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3_west.put_object(Bucket="my.photos", Key="cat.jpg", Body=images.small_jpeg())

    event = origin_request(
        "/images/150x150/cat.jpg", region="", domain="my.photos.s3.eu-west-1.amazonaws.com"
    )
    served_image(handler.handler(event, None))

    assert set(handler._S3_CLIENTS) == {"eu-west-1"}


def test_origin_path_prefixes_originals_and_variants(handler, s3):
    put(s3, "media/cat.jpg", images.small_jpeg())

    served_image(handler.handler(origin_request("/images/150x150/cat.jpg", path="/media"), None))
    again = handler.handler(origin_request("/images/150x150/cat.jpg", path="/media"), None)

    stored(s3, "media/resized/cat.jpg/150x150/original")
    # CloudFront prepends the origin path itself, so the rewritten URI must not repeat it.
    assert again["uri"] == "/resized/cat.jpg/150x150/original"


# ---------------------------------------------------------------- stored variants, 1 MB


def test_result_over_the_generated_limit_is_served_from_s3(handler, s3):
    put(s3, "big.jpg", images.large_photo_jpeg())

    result = handler.handler(origin_request("/images/1920x1080/big.jpg", "format=png"), None)

    assert is_rewrite(result)
    assert result["uri"] == "/resized/big.jpg/1920x1080/png"
    assert result["querystring"] == ""
    obj, data = stored(s3, "resized/big.jpg/1920x1080/png")
    assert obj["ContentType"] == "image/png"
    assert len(base64.b64encode(data)) > LIMIT  # really would not have fitted
    assert Image.open(io.BytesIO(data)).size == (1440, 1080)


def test_stored_variant_is_served_without_resizing_again(handler, s3, modules, monkeypatch):
    put(s3, "cat.jpg", images.small_jpeg())
    first = handler.handler(origin_request("/images/400x300/cat.jpg", "format=webp"), None)
    served_image(first)

    client = handler.s3_client(REGION)
    calls = []
    monkeypatch.setattr(client, "put_object", lambda **kw: calls.append(("put", kw["Key"])))
    monkeypatch.setattr(client, "get_object", lambda **kw: calls.append(("get", kw["Key"])))
    monkeypatch.setattr(modules[1], "resize", lambda *a, **kw: calls.append(("resize",)))

    again = handler.handler(origin_request("/images/400x300/cat.jpg", "format=webp"), None)

    assert calls == []  # one HEAD, no download, no resize, no second put
    assert is_rewrite(again)
    assert again["uri"] == "/resized/cat.jpg/400x300/webp"


NO_PILLOW_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import handler
answers = [handler.handler(event, None).get("status", "rewrite")
           for event in json.loads(sys.argv[2])]
print(json.dumps({"answers": answers, "pillow": "PIL.Image" in sys.modules}))
"""


def test_requests_that_do_not_resize_never_import_pillow(handler, s3):
    # A fresh process (this one has Pillow loaded): a 400 and a stored variant need no pixels.
    put(s3, "cat.jpg", images.small_jpeg())
    served_image(handler.handler(origin_request("/images/400x300/cat.jpg", "format=webp"), None))
    events = [origin_request("/images/401x300/cat.jpg"),
              origin_request("/images/400x300/cat.jpg", "format=webp")]
    done = subprocess.run(
        [sys.executable, "-c", NO_PILLOW_PROBE, str(images.RESIZER_DIR), json.dumps(events)],
        capture_output=True, text=True, check=True, env=os.environ.copy(),
    )
    assert json.loads(done.stdout) == {"answers": ["400", "rewrite"], "pillow": False}


def test_variant_uri_is_percent_encoded(handler, s3):
    put(s3, "big photo?.jpg", images.large_photo_jpeg())
    result = handler.handler(
        origin_request("/images/1920x1080/big%20photo%3F.jpg", "format=png"), None
    )
    assert result["uri"] == "/resized/big%20photo%3F.jpg/1920x1080/png"


def test_small_result_is_still_served_when_storing_fails(handler, s3, monkeypatch):
    put(s3, "cat.jpg", images.small_jpeg())
    client = handler.s3_client(REGION)
    monkeypatch.setattr(client, "put_object", raising(slow_down("PutObject")))

    served_image(handler.handler(origin_request("/images/150x150/cat.jpg"), None))


def test_large_result_that_cannot_be_stored_is_an_uncached_503(handler, s3, monkeypatch):
    put(s3, "big.jpg", images.large_photo_jpeg())
    client = handler.s3_client(REGION)
    monkeypatch.setattr(client, "put_object", raising(slow_down("PutObject")))

    response = handler.handler(origin_request("/images/1920x1080/big.jpg", "format=png"), None)

    assert "could not be stored" in error_of(response, 503, "no-store")


# ---------------------------------------------------------------- client errors


@pytest.mark.parametrize(
    ("uri", "querystring", "reason"),
    [
        ("/images/401x300/cat.jpg", "", "size 401x300 is not allowed"),
        ("/images/cat.jpg", "", "WIDTHxHEIGHT"),
        ("/images/400x300/../secret.jpg", "", "'..'"),
        ("/images/400x300//etc/passwd", "", "relative"),
        ("/images/400x300/cat%0d%0a.jpg", "", "control characters"),
        ("/images/400x300/cat.jpg", "format=tiff", "accepted: "),
    ],
)
def test_bad_requests_are_400_and_cached_briefly(handler, s3, uri, querystring, reason):
    put(s3, "cat.jpg", images.small_jpeg())
    assert reason in error_of(handler.handler(origin_request(uri, querystring), None), 400)


def test_a_stored_variant_is_never_resized_again(handler, s3):
    """Issue 11: each level of /resized/ nesting resized a variant and stored a new one."""
    put(s3, "samples/landscape.jpg", images.small_jpeg())
    served_image(handler.handler(origin_request("/images/400x300/samples/landscape.jpg"), None))

    nested = "/images/400x300/resized/samples/landscape.jpg/400x300/original"
    response = handler.handler(origin_request(nested), None)

    assert "must not be under 'resized/'" in error_of(response, 400)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="resized/")["Contents"]
    assert [item["Key"] for item in listed] == ["resized/samples/landscape.jpg/400x300/original"]


def test_avif_request_without_an_encoder_says_what_is_accepted(handler, s3, modules, monkeypatch):
    monkeypatch.setattr(modules[1], "encodable_formats", lambda: frozenset({"jpeg", "png", "webp"}))
    response = handler.handler(origin_request("/images/400x300/cat.jpg", "format=avif"), None)
    assert error_of(response, 400).endswith("accepted: jpeg, png, webp, auto")


def test_missing_original_is_404(handler, s3):
    response = handler.handler(origin_request("/images/400x300/nope.jpg"), None)
    assert "no original image at 'nope.jpg'" in error_of(response, 404)


def test_not_an_image_is_415(handler, s3):
    put(s3, "report.jpg", images.not_an_image())
    response = handler.handler(origin_request("/images/400x300/report.jpg"), None)
    assert "not an image" in error_of(response, 415)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (images.corrupt_jpeg, "the JPEG image header is malformed"),
        (images.truncated_png, "the PNG image cannot be decoded"),
    ],
)
def test_corrupt_image_is_422(handler, s3, make, expected):
    put(s3, "broken", make())
    response = handler.handler(origin_request("/images/400x300/broken"), None)
    assert expected in error_of(response, 422)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # RuntimeError from Pillow's AVIF decoder: "Decoding of color planes failed".
        ("avif-colour-planes-runtime-error.avif", "the AVIF image cannot be decoded"),
        # struct.error from a cut BigTIFF header in an eXIf chunk, then broken pixel data.
        ("png-exif-struct-error.png", "the PNG image cannot be decoded"),
    ],
)
def test_files_the_fuzzer_found_answering_500_are_422(handler, s3, name, expected):
    """Found by tests/functions/fuzz_resizer.py on the code before issue 10's fix."""
    put(s3, "found", images.seed(f"found/{name}"))
    response = handler.handler(origin_request("/images/400x300/found", "format=png"), None)
    assert expected in error_of(response, 422)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((100_000, 100_000), "too large to decode safely"),  # Pillow's own guard fires first
        ((10_000, 10_000), "over the limit of 50000000 pixels"),
    ],
)
def test_decompression_bomb_is_422_without_decoding(handler, s3, size, expected):
    put(s3, "bomb.png", images.png_bomb(*size))
    response = handler.handler(origin_request("/images/400x300/bomb.png"), None)
    assert expected in error_of(response, 422)
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix="resized/").get("Contents")


def test_pixel_limit_comes_from_the_origin_header(handler, s3):
    put(s3, "cat.jpg", images.small_jpeg((640, 480)))
    event = origin_request(
        "/images/150x150/cat.jpg", custom_headers={"x-edgekit-max-pixels": "100000"}
    )
    assert "over the limit of 100000 pixels" in error_of(handler.handler(event, None), 422)


def test_oversized_original_is_refused_before_downloading(handler, s3, monkeypatch):
    put(s3, "cat.jpg", images.small_jpeg())
    monkeypatch.setattr(handler, "MAX_ORIGINAL_BYTES", 1000)
    response = handler.handler(origin_request("/images/150x150/cat.jpg"), None)
    assert "over the limit of 1000 bytes" in error_of(response, 422)


def test_an_original_streamed_past_its_content_length_is_still_refused(handler, s3, monkeypatch):
    client = handler.s3_client(REGION)
    real_get = client.get_object

    def without_length(**kwargs):  # a server that sends no (or a wrong) Content-Length
        return {**real_get(**kwargs), "ContentLength": None}

    put(s3, "cat.jpg", images.small_jpeg())
    monkeypatch.setattr(client, "get_object", without_length)
    monkeypatch.setattr(handler, "MAX_ORIGINAL_BYTES", 1000)
    response = handler.handler(origin_request("/images/150x150/cat.jpg"), None)
    assert "the original is over the limit of 1000 bytes" in error_of(response, 422)


# ---------------------------------------------------------------- the original's spool file


def files_open_under(folder) -> list[str]:
    """This process's open files under `folder` (an unnamed temp file shows there too)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed while listing (the listing's own fd)
        if target.startswith(str(folder)):
            found.append(target)
    return found


@pytest.fixture
def spool_dir(handler, monkeypatch, tmp_path):
    """Originals over 100 bytes spool to a file under tmp_path (tempfile's folder)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs Linux's /proc/self/fd to see open files")
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(handler, "SPOOL_IN_MEMORY_BYTES", 100)
    monkeypatch.setattr(handler, "DOWNLOAD_CHUNK_BYTES", 64)
    return tmp_path


@pytest.mark.parametrize(
    ("original", "status"),
    [(images.small_jpeg, 200), (images.truncated_png, 422), (images.corrupt_jpeg, 422)],
    ids=["resized", "decode-error", "header-error"],
)
def test_the_originals_temp_file_is_gone_after_the_request(
    handler, modules, s3, monkeypatch, spool_dir, original, status
):
    resize_module = modules[1]
    real_resize, open_while_resizing = resize_module.resize, []

    def resize_recording(data, *args, **kwargs):
        open_while_resizing.extend(files_open_under(spool_dir))
        return real_resize(data, *args, **kwargs)

    monkeypatch.setattr(resize_module, "resize", resize_recording)
    put(s3, "photo", original())
    response = handler.handler(origin_request("/images/150x150/photo", "format=png"), None)
    assert response["status"] == str(status), response.get("body")
    assert len(open_while_resizing) == 1  # the original went through a file...
    assert files_open_under(spool_dir) == []  # ...closed, which frees an unnamed file
    assert list(spool_dir.iterdir()) == []  # and none was ever left with a name


def test_the_originals_temp_file_is_gone_when_the_download_breaks(
    handler, s3, monkeypatch, spool_dir
):
    import s3 as s3_module  # the resizer's S3 client (on sys.path with the handler)

    open_when_broken = []

    class BreakingBody:  # S3 stops answering half-way through the original (a read timeout)
        sent = 0

        def read(self, amt=None):
            if self.sent >= 1000:
                open_when_broken.extend(files_open_under(spool_dir))
                raise s3_module.TransportError("reading the object body failed: timed out")
            self.sent += amt
            return b"x" * amt

        def close(self):
            pass

    client = handler.s3_client(REGION)
    monkeypatch.setattr(client, "head_object", raising(lambda error, _: error(
        404, "404", "", "HeadObject")))
    monkeypatch.setattr(client, "get_object", lambda **kw: {
        "ContentLength": 2000, "Body": BreakingBody()})
    response = handler.handler(origin_request("/images/150x150/photo.png"), None)
    assert "image storage is unavailable" in error_of(response, 503, "no-store")
    assert len(open_when_broken) == 1
    assert files_open_under(spool_dir) == []
    assert list(spool_dir.iterdir()) == []


# ---------------------------------------------------------------- S3 failures and guard


def slow_down(operation):
    """What the S3 client raises once S3 kept answering SlowDown (its retries exhausted)."""
    return lambda client_error, transport_error: client_error(
        503, "SlowDown", "Please reduce your rate.", operation
    )


def raising(failure):
    """A stand-in S3 call raising `failure(ClientError, TransportError)` of the S3 client."""

    def fail(**kwargs):
        import s3 as s3_module  # the resizer's S3 client (on sys.path with the handler)

        raise failure(s3_module.ClientError, s3_module.TransportError)

    return fail


@pytest.mark.parametrize(
    "failure",
    [
        slow_down("HeadObject"),
        lambda client_error, _: client_error(
            500, "InternalError", "We encountered an error", "HeadObject"
        ),
        lambda _, transport_error: transport_error("connection refused"),
        lambda _, transport_error: transport_error("read timeout"),
    ],
    ids=["slow-down", "internal-error", "unreachable", "timeout"],
)
def test_s3_throttling_or_outage_is_an_uncached_503(handler, s3, monkeypatch, failure):
    client = handler.s3_client(REGION)
    monkeypatch.setattr(client, "head_object", raising(failure))
    response = handler.handler(origin_request("/images/400x300/cat.jpg"), None)
    assert "image storage is unavailable" in error_of(response, 503, "no-store")


def test_s3_failure_while_reading_the_original_is_an_uncached_503(handler, s3, monkeypatch):
    client = handler.s3_client(REGION)
    monkeypatch.setattr(client, "get_object", raising(slow_down("GetObject")))
    response = handler.handler(origin_request("/images/400x300/cat.jpg"), None)
    assert "SlowDown" in error_of(response, 503, "no-store")


def test_missing_bucket_is_an_uncached_502(handler, s3):
    event = origin_request(
        "/images/400x300/cat.jpg", domain=f"no-such-bucket.s3.{REGION}.amazonaws.com"
    )
    response = handler.handler(event, None)
    assert "NoSuchBucket" in error_of(response, 502, "no-store")


def test_malformed_settings_header_is_an_uncached_500_naming_it(handler, s3):
    event = origin_request("/images/400x300/cat.jpg", custom_headers={"x-edgekit-quality": "best"})
    assert "x-edgekit-quality" in error_of(handler.handler(event, None), 500, "no-store")


def test_non_s3_origin_domain_is_an_uncached_500(handler, s3):
    event = origin_request("/images/400x300/cat.jpg", domain="example.com")
    assert "not an S3 bucket domain" in error_of(handler.handler(event, None), 500, "no-store")


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": [{"cf": {}}]}, None])
def test_malformed_events_do_not_raise(handler, event):
    assert error_of(handler.handler(event, None), 500, "no-store")


def test_unexpected_failure_is_a_logged_500_not_a_crash(handler, s3, modules, monkeypatch, caplog):
    put(s3, "cat.jpg", images.small_jpeg())

    def broken(*args, **kwargs):
        raise RuntimeError("pillow exploded")

    monkeypatch.setattr(modules[1], "resize", broken)
    response = handler.handler(origin_request("/images/400x300/cat.jpg"), None)

    assert error_of(response, 500, "no-store") == "internal error while resizing the image"
    assert "pillow exploded" in caplog.text


def test_error_bodies_are_short_json_text(handler, s3):
    for uri in ("/images/150x150/none.jpg", "/bad", "/images/150x150/" + "%01" * 5000):
        response = handler.handler(origin_request(uri), None)
        assert response["bodyEncoding"] == "text"
        assert len(response["body"]) < 400
        assert set(json.loads(response["body"])) == {"error", "status"}
