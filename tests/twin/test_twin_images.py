"""The image resizer end to end: CloudFront -> Lambda@Edge (the bundled zip) -> moto S3."""

from __future__ import annotations

import io

from PIL import Image

from .client import request
from .conftest import RunningTwin

CDN = "images-cdn"


def image_of(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def test_resized_image_fits_the_box_and_the_second_request_is_a_cache_hit(twin: RunningTwin):
    url = twin.url(CDN, "/images/400x300/samples/landscape.jpg")
    first = request(url)
    assert first.status == 200, first.body[:300]
    assert first.header("content-type") == "image/jpeg"
    assert first.header("x-cache") == "Miss from cloudfront"
    image = image_of(first.body)
    assert image.format == "JPEG"
    assert image.width <= 400 and image.height <= 300
    assert (image.width, image.height) == (400, 250)  # 1600x1000 fitted, aspect kept

    second = request(url)
    assert second.status == 200
    assert second.header("x-cache") == "Hit from cloudfront"
    assert second.header("age") is not None
    assert second.body == first.body


def test_exif_orientation_is_applied_and_format_query_converts(twin: RunningTwin):
    portrait = image_of(request(twin.url(CDN, "/images/300x200/samples/portrait.jpg")).body)
    assert portrait.height == 200 and portrait.width < portrait.height  # stored sideways

    webp = request(twin.url(CDN, "/images/150x150/samples/logo.png?format=webp"))
    assert webp.status == 200
    assert webp.header("content-type") == "image/webp"
    assert image_of(webp.body).format == "WEBP"


def test_unknown_size_is_400_and_missing_key_is_404(twin: RunningTwin):
    unknown = request(twin.url(CDN, "/images/401x300/samples/landscape.jpg"))
    assert unknown.status == 400
    assert "400x300" in unknown.json()["error"]  # says which sizes are accepted

    missing = request(twin.url(CDN, "/images/400x300/samples/no-such-photo.jpg"))
    assert missing.status == 404
    assert missing.header("content-type") == "application/json"


def test_originals_are_not_served_as_they_are(twin: RunningTwin):
    assert request(twin.url(CDN, "/samples/landscape.jpg")).status == 400


def test_a_stored_variant_is_refused_not_resized_into_a_nested_one(twin: RunningTwin):
    variant = "resized/samples/landscape.jpg/400x300/original"
    nested = request(twin.url(CDN, f"/images/400x300/{variant}"))
    assert nested.status == 400
    assert "must not be under 'resized/'" in nested.json()["error"]


def test_after_an_invalidation_the_stored_variant_comes_from_s3(twin: RunningTwin):
    """A second miss for a variant is rewritten by the function to resized/..., which
    CloudFront then reads from the bucket with its Origin Access Control."""
    url = twin.url(CDN, "/images/800x600/samples/landscape.jpg")
    generated = request(url)
    assert generated.status == 200
    invalidated = request(twin.url("status", "/control/invalidate?distribution=images-cdn"
                                             "&path=/images/800x600/*"), method="POST")
    assert invalidated.json()["invalidated"] == {"images-cdn": 1}

    from_s3 = request(url)
    assert from_s3.status == 200
    assert from_s3.header("x-cache") == "Miss from cloudfront"
    assert from_s3.header("server") == "AmazonS3"  # the origin answered, not the function
    assert from_s3.body == generated.body


def test_http_viewers_are_redirected_to_https(twin: RunningTwin):
    reply = request(twin.url(CDN, "/images/400x300/samples/landscape.jpg"),
                    headers={"X-Forwarded-Proto": "http"})
    primary = next(r for r in twin.graph()["resources"] if r["name"] == CDN)  # not its staging
    domain = primary["outputs"]["domainName"]
    assert reply.status == 301
    assert reply.header("location") == f"https://{domain}/images/400x300/samples/landscape.jpg"


def test_head_gets_the_headers_of_get_without_a_body(twin: RunningTwin):
    url = twin.url(CDN, "/images/150x150/samples/landscape.jpg")
    get = request(url)
    head = request(url, method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.header("content-length") == str(len(get.body))
    assert head.header("x-cache") == "Hit from cloudfront"  # GET and HEAD share the entry


def test_format_negotiation_keeps_at_most_three_variants_per_url(twin: RunningTwin):
    """The image_format CloudFront Function runs before the cache: Chrome, Safari and curl
    get AVIF, WebP and the original's format from one URL, in three cache entries."""
    url = twin.url(CDN, "/images/300x200/samples/logo.png")
    browsers = {
        "chrome": ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
                   "image/avif"),
        "safari14": ("image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5",
                     "image/webp"),
        "curl": ("*/*", "image/png"),
        "firefox": ("image/avif,image/webp,*/*", "image/avif"),
        "safari17": ("image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,"
                     "video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
                     "image/avif"),
    }
    seen = {}
    for name, (accept, expected) in browsers.items():
        reply = request(url, headers={"Accept": accept})
        assert reply.status == 200, (name, reply.body[:300])
        assert reply.header("content-type") == expected, name
        assert "Accept" in (reply.header("vary") or ""), name
        seen[name] = reply.header("x-cache")
    assert seen == {"chrome": "Miss from cloudfront", "safari14": "Miss from cloudfront",
                    "curl": "Miss from cloudfront", "firefox": "Hit from cloudfront",
                    "safari17": "Hit from cloudfront"}
    assert image_of(request(url, headers={"Accept": "*/*"}).body).format == "PNG"


def test_url_parameters_reach_the_resizer_through_the_cache_key(twin: RunningTwin):
    # dpr doubles the allow-listed box; cover crops to it exactly; the entropy window and a
    # quality preset are parts of the variant; the answer says the size it served.
    url = twin.url(CDN, "/images/400x300/samples/landscape.jpg?dpr=2&fit=cover"
                        "&gravity=entropy&q=75")
    first = request(url)
    assert first.status == 200, first.body[:300]
    assert first.header("x-edgekit-size") == "800x600"
    assert image_of(first.body).size == (800, 600)
    second = request(url)
    assert second.header("x-cache") == "Hit from cloudfront"
    assert second.body == first.body

    # contain pads the 400x250 fit to the whole box with the asked colour.
    padded = request(twin.url(CDN, "/images/400x300/samples/landscape.jpg?fit=contain"
                                   "&bg=ff0000&format=png"))
    assert padded.status == 200, padded.body[:300]
    image = image_of(padded.body).convert("RGB")
    assert image.size == (400, 300)
    assert image.getpixel((200, 2)) == (255, 0, 0)


def test_bad_url_parameters_are_400s_that_say_what_is_accepted(twin: RunningTwin):
    path = "/images/400x300/samples/landscape.jpg"
    for query, accepted in [("dpr=4", "1, 2, 3"), ("fit=crop", "cover"),
                            ("gravity=north", "fit=cover"), ("q=50", "75"),
                            ("fit=contain&bg=red", "RRGGBB"), ("frames=2", "1")]:
        reply = request(twin.url(CDN, f"{path}?{query}"))
        assert reply.status == 400, (query, reply.status, reply.body[:300])
        assert accepted in reply.json()["error"], (query, reply.json())
