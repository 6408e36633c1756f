"""The image resizer's request parsing and settings (functions/image_resizer/resize_request.py)."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from . import images

SIZES = ((150, 150), (400, 300), (1920, 1080))
FORMATS = frozenset({"jpeg", "png", "webp", "avif"})


@pytest.fixture(scope="module")
def rr():
    with images.resizer_modules("resize_request") as (module,):
        yield module


def parse(rr, uri, querystring="", formats=FORMATS):
    return rr.parse_request(uri, querystring, SIZES, formats)


# ---------------------------------------------------------------- accepted requests


@pytest.mark.parametrize(
    ("uri", "querystring", "expected"),
    [
        ("/images/400x300/photos/cat.jpg", "", (400, 300, "photos/cat.jpg", None)),
        ("/images/150x150/a.png", "format=webp", (150, 150, "a.png", "webp")),
        ("/images/150x150/a.png", "format=AVIF", (150, 150, "a.png", "avif")),
        # Other query parameters are ignored (the cache policy does not forward them anyway).
        ("/images/150x150/a.png", "utm_source=x&format=png&v=2", (150, 150, "a.png", "png")),
        # Percent-encoded keys are decoded to the S3 key they name.
        (
            "/images/1920x1080/my%20caf%C3%A9/%C3%A9t%C3%A9.jpg",
            "",
            (1920, 1080, "my café/été.jpg", None),
        ),
        ("/images/400x300/a+b.jpg", "", (400, 300, "a+b.jpg", None)),  # '+' is literal in paths
        ("/images/400x300/photo..final.jpg", "", (400, 300, "photo..final.jpg", None)),
        # Only keys under resized/ are variants; names that merely start so are originals.
        ("/images/400x300/resized.jpg", "", (400, 300, "resized.jpg", None)),
        ("/images/400x300/resized-2024/a.jpg", "", (400, 300, "resized-2024/a.jpg", None)),
        ("/images/400x300/photos/resized/a.jpg", "", (400, 300, "photos/resized/a.jpg", None)),
    ],
)
def test_valid_requests_are_parsed(rr, uri, querystring, expected):
    asked = parse(rr, uri, querystring)
    assert isinstance(asked, rr.ResizeRequest), asked
    assert (asked.width, asked.height, asked.key, asked.format) == expected


# ---------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("uri", "querystring", "reason"),
    [
        ("/images/401x300/cat.jpg", "", "size 401x300 is not allowed; accepted sizes: 150x150"),
        ("/images/0400x300/cat.jpg", "", "WIDTHxHEIGHT"),  # one spelling per size
        ("/images/400X300/cat.jpg", "", "WIDTHxHEIGHT"),
        ("/images/400x300", "", "WIDTHxHEIGHT"),
        ("/images/400x300/", "", "key is empty"),
        ("/images/cat.jpg", "", "WIDTHxHEIGHT"),
        ("/photos/cat.jpg", "", "path must look like /images/WIDTHxHEIGHT/KEY"),
        ("", "", "path must look like"),
        ("/images/400x300//etc/passwd", "", "must be relative"),
        ("/images/400x300/%2Fetc/passwd", "", "must be relative"),
        ("/images/400x300/a/../../secret.jpg", "", "'..' path segments"),
        ("/images/400x300/a/%2e%2e/secret.jpg", "", "'..' path segments"),
        ("/images/400x300/a/./b.jpg", "", "'.'"),
        ("/images/400x300/a//b.jpg", "", "empty"),
        ("/images/400x300/a%0Ab.jpg", "", "control characters"),
        ("/images/400x300/a%00.jpg", "", "control characters"),
        ("/images/400x300/a%7F.jpg", "", "control characters"),
        ("/images/400x300/a%FF.jpg", "", "not valid UTF-8"),
        ("/images/400x300/" + "k" * 961, "", "longer than 960 bytes"),
        # A stored variant is not an original: resizing it stores a variant of a variant.
        (
            "/images/400x300/resized/400x300/original/samples/landscape.jpg",
            "",
            "must not be under 'resized/', where resized variants are stored",
        ),
        ("/images/150x150/resized%2F400x300/webp/cat.jpg", "", "under 'resized/'"),
        ("/images/400x300/cat.jpg", "format=gif", "format 'gif' is not supported; accepted: avif"),
        ("/images/400x300/cat.jpg", "format=", "format '' is not supported"),
        ("/images/400x300/cat.jpg", "format=png&format=webp", "format query parameter once"),
    ],
)
def test_bad_requests_are_rejected_with_a_reason(rr, uri, querystring, reason):
    rejected = parse(rr, uri, querystring)
    assert isinstance(rejected, rr.Rejection), rejected
    assert reason in rejected.reason


def test_avif_is_refused_when_this_build_cannot_encode_it(rr):
    rejected = parse(rr, "/images/400x300/cat.jpg", "format=avif", {"jpeg", "png", "webp"})
    assert rejected == rr.Rejection(
        "format 'avif' is not supported; accepted: jpeg, png, webp, auto"
    )


# ---------------------------------------------------------------- issue 14 parameters

CAT = "/images/400x300/cat.jpg"


@pytest.mark.parametrize(
    ("querystring", "expected"),
    [
        # format: explicit wins; auto negotiates from the edge-written `accept`.
        ("format=webp", {"format": "webp"}),
        ("format=auto&accept=avif", {"format": "avif", "negotiated": True}),
        ("format=AUTO&accept=webp", {"format": "webp", "negotiated": True}),
        ("format=auto&accept=original", {"negotiated": True}),
        ("format=auto", {"negotiated": True}),  # edge function bypassed: original's format
        # dpr multiplies the box; 1 is the default.
        ("dpr=2", {"dpr": 2}),
        ("dpr=3", {"dpr": 3}),
        ("dpr=1", {}),
        # fit, and gravity only with cover, bg only with contain.
        ("fit=inside", {}),
        ("fit=fill", {"fit": "fill"}),
        ("fit=cover", {"fit": "cover"}),
        ("fit=cover&gravity=entropy", {"fit": "cover", "gravity": "entropy"}),
        ("fit=COVER&gravity=SouthWest", {"fit": "cover", "gravity": "southwest"}),
        ("fit=cover&gravity=center", {"fit": "cover"}),
        ("fit=contain", {"fit": "contain"}),
        ("fit=contain&bg=FFaa00", {"fit": "contain", "background": "ffaa00"}),
        # q: a preset; the stack's default quality is the same as no q.
        ("q=75", {"quality": 75}),
        ("q=80", {}),
        ("frames=1", {"frames": 1}),
        # Parameters outside the contract are ignored.
        ("v=3&utm_source=x&w=100", {}),
    ],
)
def test_each_parameter_is_normalised(rr, querystring, expected):
    asked = rr.parse_request(
        CAT, querystring, SIZES, FORMATS, quality_presets=(60, 75, 80, 90), default_quality=80
    )
    assert asked == rr.ResizeRequest(400, 300, "cat.jpg", **expected)


@pytest.mark.parametrize(
    ("querystring", "reason"),
    [
        ("format=gif", "format 'gif' is not supported; accepted: avif, jpeg, png, webp, auto"),
        ("format=auto&accept=gif", "accept 'gif' is not supported; accepted: avif, webp, original"),
        ("accept=webp", "accept is set only by the edge together with format=auto"),
        ("format=png&accept=webp", "accept is set only by the edge"),
        ("dpr=4", "dpr '4' is not supported; accepted: 1, 2, 3"),
        ("dpr=1.5", "dpr '1.5' is not supported; accepted: 1, 2, 3"),
        ("dpr=", "dpr '' is not supported"),
        ("dpr=2&dpr=3", "give the dpr query parameter once"),
        ("fit=crop", "fit 'crop' is not supported; accepted: inside, cover, contain, fill"),
        ("fit=cover&gravity=top", "gravity 'top' is not supported; accepted: center, north"),
        ("gravity=north", "gravity applies only with fit=cover (got fit='inside')"),
        ("fit=contain&gravity=north", "gravity applies only with fit=cover"),
        ("fit=contain&bg=fff", "bg 'fff' is not a colour; accepted: six hex digits RRGGBB"),
        ("fit=contain&bg=%23ffffff", "bg '#ffffff' is not a colour"),
        ("fit=contain&bg=gggggg", "not a colour"),
        ("bg=ffffff", "bg applies only with fit=contain"),
        ("fit=cover&bg=ffffff", "bg applies only with fit=contain (got fit='cover')"),
        ("q=50", "q '50' is not supported; accepted: 60, 75, 90"),
        ("q=075", "q '075' is not supported"),
        ("q=high", "q 'high' is not supported"),
        ("frames=2", "frames '2' is not supported; accepted: 1"),
        ("frames=0", "frames '0' is not supported; accepted: 1"),
    ],
)
def test_each_bad_value_is_refused_naming_what_is_accepted(rr, querystring, reason):
    rejected = rr.parse_request(CAT, querystring, SIZES, FORMATS, quality_presets=(60, 75, 90))
    assert isinstance(rejected, rr.Rejection), rejected
    assert reason in rejected.reason


def test_a_negotiated_format_this_build_cannot_encode_is_the_originals(rr):
    asked = parse(rr, CAT, "format=auto&accept=avif", {"jpeg", "png", "webp"})
    assert asked == rr.ResizeRequest(400, 300, "cat.jpg", None, negotiated=True)


def test_equivalent_urls_share_one_variant(rr):
    presets = {"quality_presets": (75, 80), "default_quality": 80}
    spellings = [
        "format=webp&dpr=2&fit=cover&gravity=entropy&q=75",
        "q=75&gravity=ENTROPY&fit=cover&dpr=2&format=webp&utm=1",
        "format=auto&accept=webp&dpr=2&fit=cover&gravity=entropy&q=75",
    ]
    keys = {rr.variant_key(rr.parse_request(CAT, q, SIZES, FORMATS, **presets)) for q in spellings}
    assert keys == {"resized/cat.jpg/400x300/webp.dpr2.cover-entropy.q75"}
    defaults = {
        rr.variant_key(rr.parse_request(CAT, q, SIZES, FORMATS, **presets))
        for q in ("", "dpr=1&fit=inside&q=80", "format=auto", "format=auto&accept=original")
    }
    assert defaults == {"resized/cat.jpg/400x300/original"}


def test_long_garbage_is_shown_shortened_in_the_reason(rr):
    rejected = parse(rr, "/" + "\x01" * 500)
    assert isinstance(rejected, rr.Rejection)
    assert len(rejected.reason) < 200 and "\x01" not in rejected.reason


# ---------------------------------------------------------------- keys and URIs


def test_variant_key_names_size_and_format(rr):
    asked = rr.ResizeRequest(400, 300, "photos/cat.jpg", "webp")
    assert rr.variant_key(asked) == "resized/photos/cat.jpg/400x300/webp"
    unformatted = rr.ResizeRequest(400, 300, "photos/cat.jpg", None)
    assert rr.variant_key(unformatted) == "resized/photos/cat.jpg/400x300/original"


@pytest.mark.parametrize(
    ("origin_path", "key", "expected"),
    [
        ("", "a/b.jpg", "a/b.jpg"),
        ("/media", "a/b.jpg", "media/a/b.jpg"),
        ("/media/", "a.jpg", "media/a.jpg"),
    ],
)
def test_object_key_follows_the_origin_path(rr, origin_path, key, expected):
    assert rr.object_key(origin_path, key) == expected


def test_uri_for_encodes_what_s3_keys_allow_but_uris_do_not(rr):
    assert rr.uri_for("resized/400x300/png/my café?.jpg") == (
        "/resized/400x300/png/my%20caf%C3%A9%3F.jpg"
    )


# ---------------------------------------------------------------- settings


def test_settings_default_when_headers_are_absent(rr):
    settings = rr.parse_settings({})
    assert settings.allowed_sizes == (
        (150, 150),
        (300, 200),
        (400, 300),
        (800, 600),
        (1200, 800),
        (1920, 1080),
    )
    assert (settings.quality, settings.max_pixels) == (80, 50_000_000)


def test_settings_are_read_from_the_component_headers(rr):
    settings = rr.parse_settings(
        {
            "x-edgekit-allowed-sizes": "64x64, 640x480",
            "x-edgekit-quality": "55",
            "x-edgekit-max-pixels": "40000000",
        }
    )
    assert settings == rr.ResizerSettings(((64, 64), (640, 480)), 55, 40_000_000)


def test_issue_14_settings_are_read_from_the_component_headers(rr):
    settings = rr.parse_settings(
        {
            "x-edgekit-quality-presets": "90, 60,75",
            "x-edgekit-on-error": "fallback",
            "x-edgekit-fallback-key": "placeholders/missing.png",
            "x-edgekit-max-frames": "50",
        }
    )
    assert settings.quality_presets == (60, 75, 90)
    assert (settings.on_error, settings.fallback_key) == ("fallback", "placeholders/missing.png")
    assert settings.max_frames == 50
    defaults = rr.parse_settings({})
    assert (defaults.quality_presets, defaults.on_error, defaults.max_frames) == (
        (60, 75, 90),
        "status",
        200,
    )


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"x-edgekit-on-error": "fallback"}, "disagree"),
        ({"x-edgekit-fallback-key": "a.png"}, "disagree"),
        (
            {"x-edgekit-on-error": "fallback", "x-edgekit-fallback-key": "../a.png"},
            "x-edgekit-fallback-key='../a.png': the image key must not contain",
        ),
    ],
)
def test_the_fallback_key_comes_with_on_error_fallback_and_is_a_key(rr, headers, message):
    with pytest.raises(rr.SettingsError, match="origin header") as raised:
        rr.parse_settings(headers)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("x-edgekit-allowed-sizes", "", "WIDTHxHEIGHT sizes such as"),
        ("x-edgekit-allowed-sizes", "400x300,big", "x-edgekit-allowed-sizes='400x300,big'"),
        ("x-edgekit-quality", "0", "integers from 1 to 100"),
        ("x-edgekit-quality", "101", "over 100"),
        ("x-edgekit-quality", "high", "integers from 1 to 100"),
        ("x-edgekit-quality-presets", "60,,90", "integers from 1 to 100"),
        ("x-edgekit-quality-presets", "60,190", "over 100"),
        ("x-edgekit-on-error", "ignore", "expected one of status, redirect, fallback"),
        ("x-edgekit-max-frames", "0", "a positive frame count"),
        ("x-edgekit-max-pixels", "-5", "a positive pixel count"),
        ("x-edgekit-max-pixels", "١٢٣", "a positive pixel count"),  # non-ASCII digits
    ],
)
def test_malformed_settings_headers_name_the_header_and_the_form(rr, header, value, message):
    with pytest.raises(rr.SettingsError, match="origin header") as raised:
        rr.parse_settings({header: value})
    assert message in str(raised.value)


# ---------------------------------------------------------------- properties


@given(uri=st.text(), querystring=st.text())
def test_any_input_gives_a_request_or_a_reason(rr, uri, querystring):
    result = parse(rr, uri, querystring)
    assert isinstance(result, rr.ResizeRequest | rr.Rejection)
    if isinstance(result, rr.Rejection):
        assert result.reason


@given(uri=st.text(alphabet=st.sampled_from("/images0123456789x%2e.ABC\x00\n"), max_size=40))
def test_near_miss_uris_never_crash(rr, uri):
    parse(rr, uri)


@given(
    uri=st.builds(
        lambda size, rest: f"/images/{size}/{rest}",
        st.sampled_from(["400x300", "150x150", "1920x1080"]),
        st.text(),
    )
)
def test_accepted_keys_are_always_safe(rr, uri):
    asked = parse(rr, uri)
    if isinstance(asked, rr.ResizeRequest):
        assert (asked.width, asked.height) in SIZES
        assert not asked.key.startswith("/")
        assert not set(asked.key.split("/")) & {"", ".", ".."}
        assert not asked.key.startswith("resized/")  # never a stored variant
        assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in asked.key)
        assert rr.variant_key(asked).startswith("resized/")
        # The stored variant's URI leads CloudFront back to exactly that key.
        assert unquote(rr.uri_for(rr.variant_key(asked)), errors="strict") == (
            "/" + rr.variant_key(asked)
        )


safe_segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/"),
    min_size=1,
    max_size=20,
).filter(lambda s: s not in (".", ".."))


@given(
    segments=st.lists(safe_segment, min_size=1, max_size=5),
    size=st.sampled_from(SIZES),
    output_format=st.sampled_from(sorted(FORMATS) + [None]),
)
def test_encoded_keys_round_trip(rr, segments, size, output_format):
    assume(segments[0] != "resized" or len(segments) == 1)  # under resized/: refused above
    key = "/".join(segments)
    uri = f"/images/{size[0]}x{size[1]}/{quote(key)}"
    querystring = f"format={output_format}" if output_format else ""
    assert parse(rr, uri, querystring) == rr.ResizeRequest(size[0], size[1], key, output_format)


@pytest.mark.parametrize(
    "spelled", ["%70rivate/cat.jpg", "private%2Fcat.jpg", "%70rivate%2fcat.jpg"]
)
def test_private_keys_spelled_otherwise_are_refused(rr, spelled):
    # Percent-encoded, the path would miss CloudFront's signed behaviour /images/*/private/*.
    result = parse(rr, f"/images/400x300/{spelled}")
    assert isinstance(result, rr.Rejection) and "spelled literally" in result.reason


def test_private_keys_spelled_literally_are_parsed(rr):
    result = parse(rr, "/images/400x300/private/cat%20one.jpg")
    assert not isinstance(result, rr.Rejection) and result.key == "private/cat one.jpg"
