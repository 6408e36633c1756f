"""Issue 14 in the pure resize: fit, gravity (entropy too), bg, animation. Small images only."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from . import images


@pytest.fixture(scope="module")
def resize():
    with images.resizer_modules("resize") as (module,):
        yield module


def halves(size=(200, 100), left=(255, 0, 0), right=(0, 0, 255)) -> bytes:
    """A PNG whose left half is one colour and right half another."""
    im = Image.new("RGB", size, left)
    im.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return images.encode(im, "PNG")


def share(im: Image.Image, colour) -> float:
    """The share of pixels of (about) `colour`."""
    rgb = im.convert("RGB")
    near = sum(
        1
        for pixel in rgb.get_flattened_data()
        if all(abs(a - b) <= 40 for a, b in zip(pixel, colour, strict=True))
    )
    return near / (rgb.width * rgb.height)


# ---------------------------------------------------------------- geometry (pure)


@pytest.mark.parametrize(
    ("size", "box", "fit", "scaled", "output", "canvas"),
    [
        ((640, 480), (300, 300), "inside", (300, 225), (300, 225), None),
        ((640, 480), (300, 300), "cover", (400, 300), (300, 300), None),
        ((640, 480), (300, 300), "fill", (300, 300), (300, 300), None),
        ((640, 480), (300, 300), "contain", (300, 225), (300, 225), (300, 300)),
        # A box bigger than the original is shrunk (aspect kept), never the image enlarged.
        ((640, 480), (900, 1200), "inside", (640, 480), (640, 480), None),
        ((640, 480), (900, 1200), "cover", (640, 480), (360, 480), None),
        ((640, 480), (900, 1200), "fill", (360, 480), (360, 480), None),
        ((640, 480), (900, 1200), "contain", (640, 480), (640, 480), (640, 853)),
        # Same aspect: contain has nothing to pad, cover nothing to crop.
        ((800, 600), (400, 300), "contain", (400, 300), (400, 300), None),
        ((800, 600), (400, 300), "cover", (400, 300), (400, 300), None),
        ((10000, 1), (150, 150), "cover", (10000, 1), (1, 1), None),
    ],
)
def test_plan_fits_each_mode_and_never_enlarges(resize, size, box, fit, scaled, output, canvas):
    geometry = resize.plan(size, box, fit)
    assert (geometry.scaled, geometry.output, geometry.canvas) == (scaled, output, canvas)
    assert geometry.size == (canvas or output)
    assert geometry.scaled[0] <= size[0] and geometry.scaled[1] <= size[1]


@pytest.mark.parametrize(
    ("gravity", "origin"),
    [
        ("center", (50, 25)),
        ("north", (50, 0)),
        ("south", (50, 50)),
        ("east", (100, 25)),
        ("west", (0, 25)),
        ("northeast", (100, 0)),
        ("northwest", (0, 0)),
        ("southeast", (100, 50)),
        ("southwest", (0, 50)),
    ],
)
def test_gravity_places_the_crop_window(resize, gravity, origin):
    geometry = resize.Geometry((200, 100), (100, 50), resize._CENTERING[gravity])
    assert resize.crop_origin(geometry, geometry.centering) == origin


def test_plan_refuses_unknown_fits_and_gravities(resize):
    with pytest.raises(ValueError, match="inside, cover, contain, fill"):
        resize.plan((10, 10), (5, 5), "crop")
    with pytest.raises(ValueError, match="entropy"):
        resize.plan((10, 10), (5, 5), "cover", "top")


# ---------------------------------------------------------------- pixels


@pytest.mark.parametrize(
    ("gravity", "red_share"),
    [("west", 1.0), ("east", 0.0), ("center", 0.5), ("northwest", 1.0), ("southeast", 0.0)],
)
def test_cover_crops_where_gravity_says(resize, gravity, red_share):
    result = resize.resize(halves(), (100, 100), "png", fit="cover", gravity=gravity)
    out = images.decode(result.data)
    assert out.size == (result.width, result.height) == (100, 100)
    assert share(out, (255, 0, 0)) == pytest.approx(red_share, abs=0.06)


def test_entropy_keeps_the_detailed_region(resize):
    flat = Image.new("RGB", (300, 100), (128, 128, 128))
    flat.paste(images.photo((100, 100)), (200, 0))  # the detail is on the right
    data = images.encode(flat, "PNG")
    out = images.decode(resize.resize(data, (100, 100), "png", fit="cover", gravity="entropy").data)
    # Windows are scored at a few positions, and a little flat grey next to the detail
    # scores about as high as detail alone: most of the window, not all of it, is detail.
    assert share(out, (128, 128, 128)) < 0.15
    centred = images.decode(resize.resize(data, (100, 100), "png", fit="cover").data)
    assert share(centred, (128, 128, 128)) > 0.95


def test_entropy_on_a_flat_image_is_the_centre(resize):
    data = halves(left=(9, 9, 9), right=(9, 9, 9))
    entropy = resize.resize(data, (100, 100), "png", fit="cover", gravity="entropy")
    centre = resize.resize(data, (100, 100), "png", fit="cover")
    assert entropy.data == centre.data


def test_fill_stretches_to_the_box(resize):
    result = resize.resize(halves(), (100, 100), "png", fit="fill")
    out = images.decode(result.data)
    assert out.size == (100, 100)
    assert share(out, (255, 0, 0)) == pytest.approx(0.5, abs=0.06)


@pytest.mark.parametrize(
    ("output_format", "background", "corner"),
    [
        ("png", None, (0, 0, 0, 0)),  # transparent where the format has alpha
        ("webp", None, (0, 0, 0, 0)),
        ("jpeg", None, (255, 255, 255)),  # white where it has not
        ("png", "00ff00", (0, 255, 0)),
        ("jpeg", "00FF00", (0, 255, 0)),
    ],
)
def test_contain_pads_with_bg_or_transparency(resize, output_format, background, corner):
    result = resize.resize(
        halves(), (100, 100), output_format, fit="contain", background=background
    )
    out = images.decode(result.data)
    assert out.size == (100, 100)
    pixel = out.getpixel((1, 1))
    assert all(abs(a - b) <= 8 for a, b in zip(pixel, corner, strict=True)), pixel
    # The content is centred: 100x50 between two bands of 25.
    middle = out.convert("RGB").getpixel((10, 50))
    assert middle[0] > 200 and middle[2] < 60


# A 600x300 RGBA PNG, transparent around an opaque green centre, fitted with fit=contain:
# 200x100 and 100x50 need no padding (resized directly, and after a box reduce), 100x100 pads.
@pytest.mark.parametrize("box", [(200, 100), (100, 50), (100, 100)])
@pytest.mark.parametrize(
    ("output_format", "background", "shown"),
    [
        ("jpeg", "0000ff", (0, 0, 255)),  # the asked background
        ("png", "0000ff", (0, 0, 255, 255)),  # asked for: opaque, even where alpha could stay
        ("jpeg", None, (255, 255, 255)),  # not asked, no alpha in the output: white
        ("png", None, (0, 0, 0, 0)),  # not asked, alpha in the output: transparent
    ],
)
def test_contain_shows_the_same_background_through_transparency_padded_or_not(
    resize, box, output_format, background, shown
):
    result = resize.resize(
        images.alpha_png((600, 300)), box, output_format, fit="contain", background=background
    )
    out = images.decode(result.data)
    assert out.size == box
    width, height = box
    # The padding (when there is any) and the content's own transparent pixels look alike.
    seen = out.convert("RGBA" if len(shown) == 4 else "RGB")
    for xy in ((1, 1), (1, height // 2), (width - 2, height // 2)):
        pixel = seen.getpixel(xy)
        assert all(abs(a - b) <= 8 for a, b in zip(pixel, shown, strict=True)), (xy, pixel)
    red, green, blue = out.convert("RGB").getpixel((width // 2, height // 2))
    assert green > 180 and red < 60 and blue < 60  # the opaque centre is untouched


def test_cover_of_an_oriented_photo_crops_the_upright_picture(resize):
    result = resize.resize(images.oriented_jpeg((600, 400), 6), (300, 100), "png", fit="cover")
    assert (result.width, result.height) == (300, 100)
    result = resize.resize(images.oriented_jpeg((600, 400), 6), (100, 300), "png", fit="fill")
    assert (result.width, result.height) == (100, 300)


# ---------------------------------------------------------------- animation


@pytest.mark.parametrize("pil_format", ["GIF", "WEBP"])
def test_animations_stay_animated_with_timing_and_loop(resize, pil_format):
    data = images.animation(pil_format, frames=4, size=(120, 80), loop=3)
    result = resize.resize(data, (60, 60))
    assert result.frames == 4 and result.format == pil_format.lower()
    assert images.frames_of(result.data) == [((60, 40), 40 + 10 * i) for i in range(4)]
    assert Image.open(io.BytesIO(result.data)).info["loop"] == 3


def test_a_gif_becomes_an_animated_webp_and_plays_as_often(resize):
    once = images.animation("GIF", frames=3, loop=None)  # no NETSCAPE loop: plays once
    result = resize.resize(once, (60, 60), "webp", fit="cover")
    assert images.frames_of(result.data) == [((60, 60), 40 + 10 * i) for i in range(3)]
    assert Image.open(io.BytesIO(result.data)).info["loop"] == 1


def test_every_frame_is_resized_not_only_the_first(resize):
    data = images.animation("GIF", frames=3, size=(120, 80))
    result = resize.resize(data, (60, 60))
    im = Image.open(io.BytesIO(result.data))
    reds = []
    for index in range(3):
        im.seek(index)
        frame = im.convert("RGB")
        # The red bar moves right from frame to frame.
        reds.append(next(x for x in range(frame.width) if frame.getpixel((x, 20))[0] > 200))
    assert reds == sorted(reds) and len(set(reds)) == 3


def test_transparent_gif_frames_stay_transparent(resize):
    data = images.animation("GIF", frames=3, size=(120, 80), transparent=True)
    out = Image.open(io.BytesIO(resize.resize(data, (60, 60)).data))
    out.seek(1)
    assert out.convert("RGBA").getpixel((2, 2))[3] == 0


@pytest.mark.parametrize(
    ("output_format", "animate"),
    [("png", True), ("jpeg", True), ("webp", False), (None, False)],
)
def test_first_frame_when_the_output_cannot_animate_or_frames_1(resize, output_format, animate):
    data = images.animation("GIF", frames=3)
    result = resize.resize(data, (60, 60), output_format, animate=animate)
    assert result.frames == 1
    assert len(images.frames_of(result.data)) == 1


def test_too_many_frames_is_refused_naming_the_cap(resize):
    data = images.animation("GIF", frames=6, size=(20, 20))
    with pytest.raises(resize.TooManyFrames, match="6 frames, over the limit of 5 frames"):
        resize.resize(data, (60, 60), max_frames=5)
    # ...but its first frame is fine.
    assert resize.resize(data, (60, 60), max_frames=5, animate=False).frames == 1


def test_frames_times_pixels_count_against_the_pixel_budget(resize):
    data = images.animation("WEBP", frames=4, size=(100, 100))
    with pytest.raises(resize.ImageTooLarge, match="4 frames of 100x100 = 40000 pixels"):
        resize.resize(data, (60, 60), max_pixels=39_999)
    assert resize.resize(data, (60, 60), max_pixels=40_000).frames == 4
