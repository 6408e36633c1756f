"""The image resizer's pure resize (functions/image_resizer/resize.py) on real images."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from PIL import Image, ImageChops, ImageStat, JpegImagePlugin

from . import images


@pytest.fixture(scope="module")
def resize():
    with images.resizer_modules("resize") as (module,):
        yield module


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / len(a.getbands())


# ---------------------------------------------------------------- geometry


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        ((4000, 3000), (400, 300), (400, 300)),  # same aspect: fills the box
        ((4000, 2000), (400, 300), (400, 200)),  # wide: width-bound
        ((1000, 3000), (400, 300), (100, 300)),  # tall: height-bound
        ((640, 480), (1920, 1080), (640, 480)),  # never enlarged
        ((10000, 1), (150, 150), (150, 1)),  # never collapses to zero
    ],
)
def test_fit_within_keeps_aspect_and_never_enlarges(resize, size, box, expected):
    assert resize.fit_within(size, box) == expected


def test_large_jpeg_is_fitted_and_stays_jpeg(resize):
    result = resize.resize(images.large_photo_jpeg(), (400, 300))

    out = images.decode(result.data)
    assert (out.format, out.size, out.mode) == ("JPEG", (400, 300), "RGB")
    assert (result.format, result.content_type) == ("jpeg", "image/jpeg")
    assert (result.width, result.height) == (400, 300)
    assert (result.source_format, result.source_width, result.source_height) == ("jpeg", 4000, 3000)


def test_small_image_is_not_upscaled(resize):
    result = resize.resize(images.small_jpeg((640, 480)), (1920, 1080))
    assert images.decode(result.data).size == (640, 480)


@pytest.mark.parametrize(
    ("output_format", "pil_format", "content_type"),
    [
        ("jpeg", "JPEG", "image/jpeg"),
        ("png", "PNG", "image/png"),
        ("webp", "WEBP", "image/webp"),
        ("avif", "AVIF", "image/avif"),
    ],
)
def test_each_output_format_is_what_it_says(resize, output_format, pil_format, content_type):
    if output_format not in resize.encodable_formats():
        pytest.skip(f"this Pillow cannot encode {output_format}")
    result = resize.resize(images.small_jpeg((800, 600)), (300, 200), output_format)

    out = images.decode(result.data)
    assert (out.format, out.size) == (pil_format, (267, 200))
    assert result.content_type == content_type


def test_encodable_formats_cover_the_web_formats(resize):
    assert {"jpeg", "png", "webp"} <= resize.encodable_formats()


def test_encodable_formats_are_the_savers_pillow_registers(resize):
    # encodable_formats() looks for Pillow's extensions without importing Image; what Pillow
    # itself registers once the plugins are imported must be the same list.
    image = resize._pillow()
    registered = {
        name for name in resize.OUTPUT_FORMATS if resize._OUTPUTS[name][0] in image.SAVE
    }
    assert resize.encodable_formats() == registered


def test_unknown_output_format_is_refused_naming_the_accepted_ones(resize):
    with pytest.raises(ValueError, match="accepted: .*jpeg.*png.*webp"):
        resize.resize(images.small_jpeg(), (150, 150), "gif")


def test_original_format_is_kept_by_default(resize):
    webp = images.encode(images.photo((600, 400)), "WEBP")
    result = resize.resize(webp, (300, 200))
    assert (result.format, images.decode(result.data).format) == ("webp", "WEBP")


# ---------------------------------------------------------------- draft decoding


@pytest.fixture
def decoded_sizes(monkeypatch):
    """The sizes JPEG (and MPO) originals are decoded at, in order."""
    sizes = []
    original_load = JpegImagePlugin.JpegImageFile.load

    def recording_load(self):
        sizes.append(self.size)
        return original_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", recording_load)
    return sizes


def test_jpeg_decodes_at_the_smallest_scale_still_covering_the_target(resize, decoded_sizes):
    resize.resize(images.large_photo_jpeg(), (400, 300))
    resize.resize(images.large_photo_jpeg(), (1200, 800))

    # 4000x3000 at 1/8 is 500x375 >= 400x300; for 1200x800, 1/2 (2000x1500) is the limit.
    assert list(dict.fromkeys(decoded_sizes)) == [(500, 375), (2000, 1500)]


def test_draft_decoding_looks_like_a_full_decode(resize):
    """Reduced-scale decoding must not cost visible quality against full-size Lanczos."""
    data = images.large_photo_jpeg()
    reference = images.decode(data).resize((400, 300), Image.Resampling.LANCZOS)
    ours = images.decode(resize.resize(data, (400, 300), quality=95).data)
    assert mean_difference(ours, reference) < 3.0  # out of 255


def test_mpo_decodes_at_reduced_scale_like_jpeg(resize, decoded_sizes):
    """Issue 11: MPO originals took the full decode because draft was gated on format JPEG.

    ``python -m bench.decode_memory``: a 50 MP MPO to 400x300 grew peak RSS by 194 MiB with
    the full decode, by 5 MiB (as a plain JPEG does) with draft.
    """
    result = resize.resize(images.mpo((4000, 3000)), (400, 300))

    assert (result.width, result.height) == (400, 300)
    assert set(decoded_sizes) == {(500, 375)}  # 1/8 scale, as for a JPEG


# ---------------------------------------------------------------- photos from phones (MPO)


@pytest.mark.parametrize("output_format", [None, "jpeg", "webp"])
def test_mpo_resizes_like_a_jpeg_from_its_first_picture(resize, output_format):
    data = images.mpo((640, 480), second=(160, 120))
    assert Image.open(io.BytesIO(data)).format == "MPO"  # what phones' files open as

    result = resize.resize(data, (400, 300), output_format)

    out = images.decode(result.data)
    expected = (output_format or "jpeg").upper()
    assert (out.format, out.size) == (expected, (400, 300))
    assert result.format == (output_format or "jpeg")
    assert (result.source_format, result.source_width, result.source_height) == ("jpeg", 640, 480)
    red, green, blue = out.convert("RGB").getpixel((200, 150))
    assert red > 180 and blue < 60  # the red first picture, not the blue depth map
    assert "mp" not in out.info and getattr(out, "n_frames", 1) == 1  # one picture only


def test_mpo_seed_keeps_its_orientation(resize):
    out = images.decode(resize.resize(images.seed("photo.mpo"), (400, 300)).data)
    assert (out.format, out.size) == ("JPEG", (64, 96))  # 96x64 stored, EXIF orientation 6


# ---------------------------------------------------------------- broken metadata


@pytest.mark.filterwarnings("ignore:Truncated File Read")  # Pillow on the cut IFD
@pytest.mark.parametrize("name", images.BROKEN_EXIF_SEEDS)
def test_broken_exif_is_ignored_and_the_image_served(resize, name):
    """Issue 10: truncated or corrupt EXIF answered 500 (struct.error in Pillow's TIFF
    reader) or 422; the pixels are fine, so they are served."""
    result = resize.resize(images.seed(name), (400, 300), "jpeg")
    out = images.decode(result.data)
    assert out.format == "JPEG"
    # Served as stored: Pillow drops a whole IFD it cannot finish reading, orientation too.
    assert out.size == (96, 64)
    assert not out.getexif()


@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_out_of_range_orientation_is_taken_as_stored(resize, orientation):
    data = images.oriented_jpeg((600, 400), orientation)
    assert images.decode(resize.resize(data, (400, 300)).data).size == (400, 267)


def test_out_of_memory_inside_pillow_is_image_too_large(resize):
    """A MemoryError from Pillow's decoder is the image's size, not a server error."""
    script = (
        "import io, resource, sys; sys.path.insert(0, sys.argv[1]); import resize\n"
        "from PIL import Image\n"
        "im = Image.linear_gradient('L').resize((4000, 3000)).convert('RGB')\n"
        "out = io.BytesIO(); im.save(out, 'PNG', compress_level=1); del im\n"
        "resize.encodable_formats()  # Pillow's plugins loaded before the limit\n"
        "vm = next(int(l.split()[1]) for l in open('/proc/self/status') if l[:7] == 'VmSize:')\n"
        "# 24 MiB more address space: far from the 48 MB the decoded 12 MP image needs.\n"
        "resource.setrlimit(resource.RLIMIT_AS, ((vm + 24 * 1024) * 1024, -1))\n"
        "try:\n"
        "    resize.resize(out.getvalue(), (150, 150))\n"
        "except resize.ImageTooLarge as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(images.RESIZER_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "4000x3000 image needs more memory to decode than the resizer has" in done.stdout


def test_our_own_bugs_are_not_disguised_as_corrupt_images(resize, monkeypatch):
    """Only exceptions raised inside Pillow are the file's fault; ours stay loud (a 500)."""

    def broken(*args):
        raise KeyError("a bug in resize.py")

    monkeypatch.setattr(resize, "_for_output", broken)
    with pytest.raises(KeyError, match="a bug in resize.py"):
        resize.resize(images.small_jpeg(), (150, 150))


# ---------------------------------------------------------------- orientation, modes


@pytest.mark.parametrize(
    ("orientation", "size", "top_left", "bottom_left"),
    [
        (1, (400, 267), "red", "red"),
        (3, (400, 267), "blue", "blue"),  # 180 degrees: the blue right half is now left
        (6, (200, 300), "red", "blue"),  # 90 degrees clockwise: left half ends on top
        (8, (200, 300), "blue", "red"),  # 90 degrees counter-clockwise
    ],
)
def test_exif_orientation_is_applied_to_the_pixels(
    resize, orientation, size, top_left, bottom_left
):
    data = images.oriented_jpeg((600, 400), orientation)
    out = images.decode(resize.resize(data, (400, 300)).data)

    assert out.size == size
    colour = {"red": lambda p: p[0] > 150 > p[2], "blue": lambda p: p[2] > 150 > p[0]}
    assert colour[top_left](out.getpixel((5, 5)))
    assert colour[bottom_left](out.getpixel((5, out.height - 5)))
    assert 0x0112 not in out.getexif()  # applied, so not announced again


def test_metadata_is_stripped(resize):
    im = Image.open(io.BytesIO(images.oriented_jpeg()))
    with_comment = images.encode(im, "JPEG", exif=im.info["exif"], comment=b"secret location")

    out = images.decode(resize.resize(with_comment, (150, 150)).data)
    assert not out.getexif()
    assert "comment" not in out.info
    assert "exif" not in out.info


def test_png_text_chunks_are_stripped(resize):
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "someone who did not agree to publish this")
    png = images.encode(images.photo((300, 300)), "PNG", pnginfo=text)

    out = images.decode(resize.resize(png, (150, 150)).data)
    assert "Author" not in out.info


def test_icc_profile_is_kept_so_colours_stay_right(resize):
    profile = b"\x00" * 128 + b"fake-but-opaque-icc-profile"
    data = images.encode(images.photo((400, 300)), "JPEG", icc_profile=profile)
    out = images.decode(resize.resize(data, (150, 150)).data)
    assert out.info.get("icc_profile") == profile


@pytest.mark.parametrize("output_format", ["png", "webp", "avif"])
def test_alpha_is_kept_where_the_format_has_it(resize, output_format):
    if output_format not in resize.encodable_formats():
        pytest.skip(f"this Pillow cannot encode {output_format}")
    out = images.decode(resize.resize(images.alpha_png((500, 500)), (150, 150), output_format).data)

    assert out.mode == "RGBA"
    assert out.getpixel((2, 2))[3] == 0  # transparent corner
    assert out.getpixel((75, 75))[3] == 255  # opaque centre


def test_alpha_is_flattened_onto_white_for_jpeg(resize):
    out = images.decode(resize.resize(images.alpha_png((500, 500)), (150, 150), "jpeg").data)

    assert out.mode == "RGB"
    assert all(channel > 245 for channel in out.getpixel((2, 2)))  # white, not black
    red, green, blue = out.getpixel((75, 75))
    assert green > 180 and red < 60 and blue < 60


# Flattened before resizing (2x: the same pixels), after a box reduce (5x: rounding of the
# premultiplied 8-bit resize, about 1 level; flattening onto black instead would be ~127).
@pytest.mark.parametrize(("box", "tolerance"), [((200, 150), 0.0), ((80, 60), 3.0)])
def test_soft_alpha_flattens_to_what_a_pre_flattened_original_gives(resize, box, tolerance):
    photo = images.photo((400, 300))
    feathered = photo.convert("RGBA")
    feathered.putalpha(Image.linear_gradient("L").resize(photo.size))  # 0 at top, 255 at bottom
    on_white = Image.new("RGB", photo.size, (255, 255, 255))
    on_white.paste(photo, mask=feathered.getchannel("A"))

    got = images.decode(resize.resize(images.encode(feathered, "PNG"), box, "jpeg").data)
    want = images.decode(resize.resize(images.encode(on_white, "PNG"), box, "jpeg").data)

    assert got.size == want.size == box
    assert max(ImageStat.Stat(ImageChops.difference(got, want)).mean) <= tolerance
    assert min(got.getpixel((box[0] // 2, 0))) > 235  # the transparent top is white


def test_contain_shows_its_background_through_transparent_pixels_in_jpeg(resize):
    # 300x150 into 100x100: content 100x50 on a padded canvas; its corners are transparent.
    out = images.decode(
        resize.resize(
            images.alpha_png((300, 150)), (100, 100), "jpeg", fit="contain", background="0000ff"
        ).data
    )
    for pixel in (out.getpixel((2, 2)), out.getpixel((2, 30))):  # padding, transparent content
        assert pixel[2] > 230 and pixel[0] < 25 and pixel[1] < 25, pixel


def test_palette_png_with_transparency_keeps_it(resize):
    out = images.decode(resize.resize(images.palette_png_with_transparency(), (150, 150)).data)
    assert out.mode == "RGBA"
    assert out.getpixel((2, 2))[3] == 0


def test_greyscale_with_alpha_flattens_to_grey_jpeg(resize):
    im = Image.new("LA", (300, 300), (0, 0))
    im.paste((40, 255), (100, 100, 200, 200))
    out = images.decode(resize.resize(images.encode(im, "PNG"), (150, 150), "jpeg").data)

    assert out.mode == "L"
    assert out.getpixel((2, 2)) > 245 and out.getpixel((75, 75)) < 60


def test_cmyk_jpeg_becomes_rgb(resize):
    cmyk = images.encode(images.photo((400, 300)).convert("CMYK"), "JPEG")
    out = images.decode(resize.resize(cmyk, (150, 150), "webp").data)
    assert out.mode == "RGB"


def test_16_bit_greyscale_is_scaled_not_clipped(resize):
    im = Image.new("I;16", (200, 200), 32768)  # half of 16-bit full scale
    out = images.decode(resize.resize(images.encode(im, "PNG"), (150, 150), "jpeg").data)
    assert 120 <= out.getpixel((75, 75)) <= 136


# ---------------------------------------------------------------- refusals


def test_not_an_image_is_refused_as_such(resize):
    with pytest.raises(resize.NotAnImage, match="JPEG, PNG, WebP, AVIF, GIF"):
        resize.resize(images.not_an_image(), (150, 150))


def test_unaccepted_image_format_is_not_an_image_for_us(resize):
    tiff = images.encode(images.photo((100, 100)), "TIFF")
    with pytest.raises(resize.NotAnImage):
        resize.resize(tiff, (150, 150))


@pytest.mark.parametrize("make", [images.corrupt_jpeg, images.truncated_png])
def test_corrupt_images_are_refused_as_corrupt(resize, make):
    with pytest.raises(resize.CorruptImage, match="JPEG|PNG"):
        resize.resize(make(), (150, 150))


def test_bomb_over_the_limit_is_refused_from_its_header(resize):
    # 10000x10000 is under Pillow's own guard (~179 MP) but over ours: our check fires.
    with pytest.raises(resize.ImageTooLarge, match="10000x10000 = 100000000 pixels.*50000000"):
        resize.resize(images.png_bomb(10_000, 10_000), (150, 150))


def test_huge_bomb_is_refused_without_allocating_it(resize):
    # 10 gigapixels: 30 GB if decoded. Refused from the header, so the test stays small.
    with pytest.raises(resize.ImageTooLarge):
        resize.resize(images.png_bomb(100_000, 100_000), (150, 150))


def test_pixel_limit_is_a_parameter(resize):
    with pytest.raises(resize.ImageTooLarge, match="over the limit of 1000000 pixels"):
        resize.resize(images.large_photo_jpeg(), (150, 150), max_pixels=1_000_000)


def test_quality_changes_the_bytes(resize):
    data = images.small_jpeg((800, 600))
    low = resize.resize(data, (400, 300), quality=30)
    high = resize.resize(data, (400, 300), quality=95)
    assert len(low.data) < len(high.data)


# ---------------------------------------------------------------- cold start


def test_resizing_loads_only_the_plugins_it_needs(resize):
    """Image.init() imports every Pillow plugin; the resizer must never trigger it."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import resize\n"
        "from PIL import Image\n"
        "im = Image.new('RGB', (64, 48)); import io; b = io.BytesIO(); im.save(b, 'PNG')\n"
        "for fmt in ('jpeg', 'png', 'webp'): resize.resize(b.getvalue(), (32, 24), fmt)\n"
        "print(Image._initialized)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(images.RESIZER_DIR)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "1"  # preinit only; 2 would mean every plugin was loaded


@pytest.mark.parametrize("animated", [False, True])
def test_each_phase_is_timed_for_server_timing(resize, animated):
    data = images.animation("GIF", frames=3) if animated else images.large_photo_jpeg()
    result = resize.resize(data, (60, 40))
    assert list(result.timings) == ["decode", "resize", "encode"]
    assert all(ms >= 0 for ms in result.timings.values()), result.timings


# ---------------------------------------------------------------- banded reduce (memory)


def _png(mode: str, size: tuple[int, int]) -> bytes:
    """A PNG of `mode` with detail everywhere (and varied alpha where it has one)."""
    photo = images.photo(size)
    if mode == "RGBA":
        im = photo.copy()
        im.putalpha(Image.linear_gradient("L").resize(size))
    elif mode == "LA":
        im = photo.convert("LA")
        im.putalpha(Image.radial_gradient("L").resize(size))
    elif mode == "P":
        im = photo.quantize(64)
        im.info["transparency"] = 3
    elif mode == "I;16":
        im = photo.convert("L").point(lambda v: v * 257, "I").convert("I;16")
    else:
        im = photo.convert(mode)
    return images.encode(im, "PNG")


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "I;16"])
@pytest.mark.parametrize(("size", "target"), [((501, 379), (75, 57)), ((640, 99), (150, 23))])
def test_reduce_in_bands_gives_pillows_reducing_gap_pixels(resize, monkeypatch, mode, size,
                                                           target):
    """The banded reduce (which frees the decoded raster early) changes no pixel: the same
    as one reducing_gap resize, alpha included (both premultiply)."""
    monkeypatch.setattr(resize, "REDUCE_BAND_ROWS", 16)  # many bands, and a ragged last one
    png = _png(mode, size)
    expected = resize._working_mode(images.decode(png)).resize(
        target, Image.Resampling.LANCZOS, reducing_gap=resize.REDUCING_GAP)
    source = images.decode(png)
    got = resize._scaled(Image, source, target)
    assert (got.mode, got.size) == (expected.mode, expected.size)
    assert ImageChops.difference(got, expected).getbbox(alpha_only=False) is None
    with pytest.raises(ValueError, match="closed image"):  # the decoded raster was freed
        source.getpixel((0, 0))
