"""The fuzz test's other process: the real resizer handler against moto S3, one call at a time.

``python -m tests.functions.fuzz_worker`` (from the repository root) reads requests on stdin
and answers on stdout, each a 4-byte length and a pickle (the parent is our own test, so
pickle is safe here). A request is an original's bytes, a box, an output format and a pixel
limit; the worker stores the bytes in moto S3, calls ``handler.handler`` with a CloudFront
origin-request event for it, and answers with the status, what the handler logged as an
unexpected failure (its traceback), the served image checked (decodes, fits the box, is
the format it says), and the call's CPU seconds and peak memory.

A process of its own, so that a hang can be killed at a deadline, a crash in Pillow's C code
is seen as a dead worker rather than a dead test run, and peak memory is this call's alone:
before each call the worker resets its VmHWM (writing 5 to /proc/self/clear_refs, Linux 4.0
and later) and reads it afterwards.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import pickle
import struct
import sys
import time
import traceback
import warnings

BUCKET = "edgekit-originals"
REGION = "us-east-1"
KEY = "fuzz/original"


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


class _Failures(logging.Handler):
    """Keeps the tracebacks the handler logs when it answers 500 for an unexpected error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


def origin_of(exc: BaseException) -> str:
    """Where an exception was raised: 'file.py:function' of its innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{os.path.basename(last.filename)}:{last.name}"


def check_served(data: bytes, box: tuple[int, int], content_type: str, wanted: str | None):
    """Problems with a served image ("kind: detail"), or []. `wanted`: the asked format."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
            im.load()
    except Exception as exc:
        return [f"does not decode: {type(exc).__name__}: {exc}"]
    problems = []
    if im.width > box[0] or im.height > box[1]:
        problems.append(f"does not fit: {im.width}x{im.height} in {box[0]}x{box[1]}")
    if Image.MIME.get(im.format) != content_type:
        problems.append(f"mislabelled: {im.format} as {content_type}")
    if wanted is not None and im.format != wanted.upper():
        problems.append(f"wrong format: asked for {wanted}, got {im.format}")
    if im.format not in ("JPEG", "PNG", "WEBP", "AVIF", "GIF"):  # GIF: a GIF original
        problems.append(f"not a web format: {im.format}")
    return problems


def main() -> None:
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the code under test prints must not corrupt the channel
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION
    )
    warnings.simplefilter("ignore")  # Pillow warns about every corrupt file; noise here

    import boto3
    from moto.server import ThreadedMotoServer

    # The handler's S3 client speaks HTTP: moto as a server on 127.0.0.1, as in the twin.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL_S3"] = f"http://{host}:{port}"

    from tests.functions import images
    from tests.functions.test_image_resizer_handler import origin_request

    sys.path.insert(0, str(images.RESIZER_DIR))
    import handler

    failures = _Failures()
    logging.getLogger("edgekit.image_resizer").addHandler(failures)
    resettable = _reset_peak()

    def send(message) -> None:
        payload = pickle.dumps(message)
        channel.write(struct.pack(">I", len(payload)) + payload)
        channel.flush()

    try:
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        send({"ready": True, "peak_resettable": resettable})
        while header := sys.stdin.buffer.read(4):
            (length,) = struct.unpack(">I", header)
            request = pickle.loads(sys.stdin.buffer.read(length))  # noqa: S301 (our parent)
            send(_serve(s3, handler, failures, request, origin_request))
    finally:
        server.stop()


def _serve(s3, handler, failures, request, origin_request) -> dict:
    box, wanted = request["box"], request["format"]
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=request["data"])
    event = origin_request(
        f"/images/{box[0]}x{box[1]}/{KEY}",
        f"format={wanted}" if wanted else "",
        custom_headers={
            "x-edgekit-max-pixels": str(request["max_pixels"]),
            "x-edgekit-allowed-sizes": f"{box[0]}x{box[1]}",
        },
    )
    failures.records.clear()
    _reset_peak()
    rss_before = _status_kib("VmRSS")
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    response = handler.handler(event, None)
    cpu_seconds = time.process_time() - cpu_started
    wall_seconds = time.perf_counter() - wall_started
    peak = _status_kib("VmHWM")

    status = response.get("status", "rewrite")
    problems: list[str] = []
    if status == "200":
        served = base64.b64decode(response["body"])
        content_type = response["headers"]["content-type"][0]["value"]
        problems = check_served(served, box, content_type, wanted)
    elif status == "rewrite":
        obj = s3.get_object(Bucket=BUCKET, Key=response["uri"].lstrip("/"))
        problems = check_served(obj["Body"].read(), box, obj["ContentType"], wanted)
        status = "200"
    unexpected = [
        {
            "type": record.exc_info[0].__name__,
            "origin": origin_of(record.exc_info[1]),
            "traceback": "".join(traceback.format_exception(*record.exc_info))[-3000:],
        }
        for record in failures.records
    ]
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    if listed:
        s3.delete_objects(
            Bucket=BUCKET, Delete={"Objects": [{"Key": item["Key"]} for item in listed]}
        )
    return {
        "status": status,
        "error": response.get("body", "")[:300] if status != "200" else "",
        "unexpected": unexpected,
        "problems": problems,
        "cpu_seconds": cpu_seconds,
        "wall_seconds": wall_seconds,
        "peak_growth_kib": max(0, peak - rss_before),
    }


if __name__ == "__main__":
    main()
