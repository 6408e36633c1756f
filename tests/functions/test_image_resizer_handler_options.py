"""Issue 14 through the Lambda@Edge handler against moto S3: dpr, fit, format=auto, q presets,
animation, on_error. Small generated images only (the pure resize has its own tests)."""

from __future__ import annotations

import base64
import io
import json
import logging

import pytest
from PIL import Image

from . import images
from . import test_image_resizer_handler as base
from .test_image_resizer_handler import (
    BUCKET,
    error_of,
    header,
    is_rewrite,
    origin_request,
    put,
    served_image,
    stored,
)

# The handler module and moto S3 (its server on loopback), as the handler's own tests set
# them up.
modules, handler, s3, moto_endpoint = base.modules, base.handler, base.s3, base.moto_endpoint

FALLBACK = {"x-edgekit-on-error": "fallback", "x-edgekit-fallback-key": "placeholders/none.png"}


def ask(handler, uri, querystring="", headers=None):
    return handler.handler(origin_request(uri, querystring, custom_headers=headers), None)


def variants(s3, key):
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"resized/{key}/").get("Contents", [])
    return sorted(item["Key"] for item in listed)


@pytest.mark.parametrize(
    ("querystring", "served", "descriptor"),
    [
        ("dpr=2", (300, 225), "original.dpr2"),  # 150x150 x2, fitted
        ("dpr=3", (450, 338), "original.dpr3"),
        ("dpr=3&fit=cover", (450, 450), "original.dpr3.cover"),
        ("fit=cover&gravity=entropy", (150, 150), "original.cover-entropy"),
        ("fit=contain&bg=ff0000", (150, 150), "original.contain-ff0000"),
        ("fit=fill", (150, 150), "original.fill"),
    ],
)
def test_the_box_and_fit_make_the_served_size_and_the_variant(
    handler, s3, querystring, served, descriptor
):
    put(s3, "cat.jpg", images.small_jpeg((640, 480)))
    response = ask(handler, "/images/150x150/cat.jpg", querystring)
    im = served_image(response)
    assert im.size == served
    assert header(response, "X-Edgekit-Size") == f"{served[0]}x{served[1]}"
    assert "vary" not in response["headers"]
    assert variants(s3, "cat.jpg") == [f"resized/cat.jpg/150x150/{descriptor}"]
    obj, _ = stored(s3, f"resized/cat.jpg/150x150/{descriptor}")
    assert obj["Metadata"] == {"edgekit-size": f"{served[0]}x{served[1]}"}
    # The next miss is rewritten to the stored variant, not resized again.
    again = ask(handler, "/images/150x150/cat.jpg", querystring)
    assert is_rewrite(again) and again["uri"] == f"/resized/cat.jpg/150x150/{descriptor}"


def test_dpr_never_enlarges_beyond_the_original(handler, s3):
    put(s3, "small.jpg", images.small_jpeg((200, 150)))
    response = ask(handler, "/images/150x150/small.jpg", "dpr=3&fit=cover")
    assert served_image(response).size == (150, 150)  # 450x450 asked, the original is 200x150
    assert header(response, "X-Edgekit-Size") == "150x150"


def test_negotiated_formats_vary_on_accept_and_share_the_explicit_variant(handler, s3):
    put(s3, "cat.jpg", images.small_jpeg((640, 480)))
    response = ask(handler, "/images/150x150/cat.jpg", "format=auto&accept=webp")
    assert served_image(response).format == "WEBP"
    assert header(response, "Vary") == "Accept"
    assert variants(s3, "cat.jpg") == ["resized/cat.jpg/150x150/webp"]

    original = ask(handler, "/images/150x150/cat.jpg", "format=auto&accept=original")
    assert served_image(original).format == "JPEG"
    assert header(original, "Vary") == "Accept"
    explicit = ask(handler, "/images/150x150/cat.jpg", "format=webp")
    assert is_rewrite(explicit) and explicit["uri"] == "/resized/cat.jpg/150x150/webp"


def test_q_takes_only_the_stacks_presets(handler, s3):
    put(s3, "cat.jpg", images.small_jpeg((640, 480)))
    presets = {"x-edgekit-quality-presets": "30,90"}
    low = ask(handler, "/images/150x150/cat.jpg", "q=30", presets)
    high = ask(handler, "/images/150x150/cat.jpg", "q=90", presets)
    assert len(base64.b64decode(low["body"])) < len(base64.b64decode(high["body"]))
    assert variants(s3, "cat.jpg") == [
        "resized/cat.jpg/150x150/original.q30",
        "resized/cat.jpg/150x150/original.q90",
    ]
    refused = ask(handler, "/images/150x150/cat.jpg", "q=75", presets)
    assert "q '75' is not supported; accepted: 30, 90" in error_of(refused, 400)


@pytest.mark.parametrize(
    ("querystring", "reason"),
    [
        ("dpr=4", "accepted: 1, 2, 3"),
        ("fit=crop", "accepted: inside, cover, contain, fill"),
        ("gravity=entropy", "only with fit=cover"),
        ("fit=contain&bg=red", "RRGGBB"),
        ("frames=2", "accepted: 1"),
        ("accept=webp", "only by the edge together with format=auto"),
    ],
)
def test_bad_values_are_400_before_the_original_is_read(handler, querystring, reason):
    # No S3 here at all: a bad URL is refused before the bucket is asked anything.
    assert reason in error_of(ask(handler, "/images/150x150/absent.jpg", querystring), 400)


def test_an_animated_gif_stays_animated_and_frames_1_is_its_first_frame(handler, s3):
    put(s3, "spin.gif", images.animation("GIF", frames=4, size=(120, 80)))
    moving = ask(handler, "/images/150x150/spin.gif", "dpr=2")
    im = served_image(moving)
    assert (im.format, im.n_frames, im.size) == ("GIF", 4, (120, 80))  # never enlarged
    still = served_image(ask(handler, "/images/150x150/spin.gif", "frames=1&format=webp"))
    assert getattr(still, "n_frames", 1) == 1
    assert variants(s3, "spin.gif") == [
        "resized/spin.gif/150x150/original.dpr2",
        "resized/spin.gif/150x150/webp.frames1",
    ]


def test_too_many_frames_is_a_422_even_with_a_fallback(handler, s3):
    put(s3, "long.gif", images.animation("GIF", frames=5, size=(20, 20)))
    put(s3, "placeholders/none.png", images.alpha_png((100, 100)))
    capped = {"x-edgekit-max-frames": "4"}
    response = ask(handler, "/images/150x150/long.gif", "", capped | FALLBACK)
    assert "5 frames, over the limit of 4 frames" in error_of(response, 422)
    assert served_image(
        ask(handler, "/images/150x150/long.gif", "frames=1", capped)
    )


def test_on_error_redirect_sends_viewers_to_the_original(handler, s3):
    redirect = {"x-edgekit-on-error": "redirect"}
    put(s3, "photos/text.jpg", b"not an image")
    put(s3, "photos/broken.jpg", images.corrupt_jpeg())
    for key in ("photos/absent.jpg", "photos/text.jpg", "photos/broken.jpg"):
        response = ask(handler, f"/images/150x150/{key}", "", redirect)
        assert response["status"] == "302", response
        assert header(response, "Location") == f"/{key}"
        assert header(response, "Cache-Control") == "public, max-age=60"


@pytest.mark.parametrize("original", [None, images.corrupt_jpeg()])
def test_on_error_fallback_serves_the_placeholder_resized_and_briefly(handler, s3, original):
    if original is not None:
        put(s3, "cat.jpg", original)
    put(s3, "placeholders/none.png", images.alpha_png((300, 300)))
    response = ask(handler, "/images/150x150/cat.jpg", "format=webp&fit=cover", FALLBACK)
    assert response["status"] == "200"
    assert header(response, "X-Edgekit-Fallback") == "1"
    assert header(response, "Cache-Control") == "public, max-age=60"
    im = Image.open(io.BytesIO(base64.b64decode(response["body"])))
    assert (im.format, im.size) == ("WEBP", (150, 150))
    assert header(response, "X-Edgekit-Size") == "150x150"
    # Not stored: the original may arrive, and its variant must then be made.
    assert variants(s3, "cat.jpg") == [] and variants(s3, "placeholders/none.png") == []


def test_a_missing_fallback_answers_the_original_failure(handler, s3):
    response = ask(handler, "/images/150x150/cat.jpg", "", FALLBACK)
    assert "no original image at 'cat.jpg'" in error_of(response, 404)


def test_on_error_status_is_the_default(handler, s3):
    assert "no original image" in error_of(ask(handler, "/images/150x150/cat.jpg"), 404)


def test_a_malformed_on_error_header_is_a_500_naming_it(handler, s3):
    response = ask(handler, "/images/150x150/cat.jpg", "", {"x-edgekit-on-error": "retry"})
    assert "x-edgekit-on-error='retry'" in error_of(response, 500, "no-store")


def _lines(caplog) -> list[dict]:
    return [json.loads(record.getMessage()) for record in caplog.records
            if record.name == "edgekit.image_resizer"]


def test_generated_answers_time_their_phases_and_log_what_they_were(handler, s3, caplog):
    """Server-Timing and the JSON line's `cache` on the new options paths (observe, issue 17)."""
    caplog.set_level(logging.INFO, logger="edgekit.image_resizer")
    put(s3, "photos/cat.jpg", images.small_jpeg())
    put(s3, "placeholders/none.png", images.alpha_png((300, 300)))
    generated = ask(handler, "/images/150x150/photos/cat.jpg", "fit=cover")
    fallback = ask(handler, "/images/150x150/absent.jpg", "", FALLBACK)
    redirect = ask(handler, "/images/150x150/absent.jpg", "", {"x-edgekit-on-error": "redirect"})
    for response in (generated, fallback):
        timing = header(response, "Server-Timing")
        assert [part.split(";")[0] for part in timing.split(", ")] == [
            "decode", "resize", "encode", "resizer"], timing
    assert "server-timing" not in redirect["headers"]
    outcomes = [line["cache"] for line in _lines(caplog) if line["status"] is not None]
    assert outcomes == ["generated", "fallback", "redirect"]
    assert len({line["trace_id"] for line in _lines(caplog)}) == 3  # one trace per request


def test_a_png_s_decode_is_timed_as_decode_not_resize(handler, s3):
    """Pillow decodes a PNG to read its EXIF orientation (its eXIf chunk may follow the pixel
    data); Server-Timing's decode must cover that decode, not leave it under resize."""
    put(s3, "photos/cat.png", images.encode(images.photo((600, 400)), "PNG"))
    response = ask(handler, "/images/150x150/photos/cat.png")
    assert response["status"] == "200"
    parts = (part.split(";dur=") for part in header(response, "Server-Timing").split(", "))
    timing = {name: float(duration) for name, duration in parts}
    assert timing["decode"] > 0, timing
    # The phases lie inside the resizer's total (each value is rounded to 0.1 ms).
    phases = timing["decode"] + timing["resize"] + timing["encode"]
    assert phases <= timing["resizer"] + 0.15, timing
