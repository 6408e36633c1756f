"""Real test images, generated in memory, for the image resizer's tests.

Each helper returns encoded bytes. They are built from Pillow's C-level generators (noise,
gradients) so even the 12-megapixel photo takes well under a second.
"""

from __future__ import annotations

import importlib
import io
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

RESIZER_DIR = Path(__file__).resolve().parents[2] / "functions" / "image_resizer"
SEEDS_DIR = Path(__file__).resolve().parent / "seeds"
BROKEN_EXIF_SEEDS = ("exif-truncated-header.jpg", "exif-truncated-ifd.jpg", "exif-not-tiff.jpg")


@contextmanager
def resizer_modules(*names: str) -> Iterator[tuple[ModuleType, ...]]:
    """Import the resizer's flat modules (handler, resize, resize_request) by name.

    The Lambda zip root is their import root, so the function folder goes on sys.path, and
    stays there while the modules are in use (the handler imports `resize` lazily). Located
    from the repository, not through the `functions` package, which tests/functions shadows.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(RESIZER_DIR))
        yield tuple(importlib.import_module(name) for name in names)


def encode(im: Image.Image, pil_format: str, **options) -> bytes:
    out = io.BytesIO()
    im.save(out, pil_format, **options)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def photo(size: tuple[int, int]) -> Image.Image:
    """A photo-like RGB image: smooth gradients (sky, shading) plus sensor-like noise."""
    width, height = size
    noise = Image.effect_noise(size, 40)
    horizontal = Image.linear_gradient("L").rotate(90).resize(size)
    vertical = Image.linear_gradient("L").resize(size)
    red = Image.blend(horizontal, noise, 0.3)
    green = Image.blend(vertical, noise, 0.3)
    blue = Image.blend(Image.radial_gradient("L").resize(size), noise, 0.3)
    return Image.merge("RGB", (red, green, blue))


@cache
def large_photo_jpeg() -> bytes:
    """A 4000x3000 (12 MP) photo-like JPEG, as a camera would produce (quality 90)."""
    return encode(photo((4000, 3000)), "JPEG", quality=90)


def oriented_jpeg(size: tuple[int, int] = (600, 400), orientation: int = 6) -> bytes:
    """A JPEG whose stored pixels are `size` but whose EXIF says to rotate them on display.

    The left half is red and the right half blue, so a test can tell which way it turned.
    """
    im = Image.new("RGB", size, (220, 20, 20))
    im.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "edgekit test camera"  # Make: metadata that must be stripped
    return encode(im, "JPEG", quality=90, exif=exif.tobytes())


def seed(name: str) -> bytes:
    """A committed fuzz seed (tests/functions/seeds/, made by make_seeds.py)."""
    return (SEEDS_DIR / name).read_bytes()


def mpo(size: tuple[int, int] = (640, 480), second: tuple[int, int] = (160, 120)) -> bytes:
    """A phone-style MPO: a red photo first, then a smaller blue second picture (a depth map).

    Pillow opens it as format MPO; a resizer that took the wrong picture shows blue.
    """
    first = Image.new("RGB", size, (220, 20, 20))
    depth = Image.new("RGB", second, (20, 20, 220))
    exif = Image.Exif()
    exif[0x010F] = "edgekit test phone"
    return encode(first, "MPO", quality=85, exif=exif, save_all=True, append_images=[depth])


def alpha_png(size: tuple[int, int] = (500, 500)) -> bytes:
    """An RGBA PNG: transparent background with an opaque green square in the middle."""
    im = Image.new("RGBA", size, (0, 0, 0, 0))
    inset = (size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4)
    im.paste((20, 200, 20, 255), inset)
    return encode(im, "PNG")


def palette_png_with_transparency(size: tuple[int, int] = (300, 300)) -> bytes:
    """A P-mode PNG whose palette index 0 is transparent (common for logos)."""
    return encode(Image.open(io.BytesIO(alpha_png(size))).convert("P"), "PNG", transparency=0)


def small_jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    return encode(photo(size), "JPEG", quality=85)


def corrupt_jpeg() -> bytes:
    """A JPEG cut off in its header: recognisably JPEG, impossible to decode."""
    return small_jpeg()[:120]


def truncated_png() -> bytes:
    """A PNG whose header is intact but whose pixel data stops half-way."""
    data = encode(photo((300, 200)), "PNG")
    return data[: len(data) // 2]


def not_an_image() -> bytes:
    return b"%PDF-1.7\n% this is a document, not a picture\n"


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (10 gigapixels by default).

    Only the signature, IHDR and a few bytes of IDAT are written, so the file is ~60 bytes;
    a resizer that decoded it before checking the size would need tens of gigabytes.
    """

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def animation(
    pil_format: str = "GIF",
    frames: int = 4,
    size: tuple[int, int] = (120, 80),
    durations: tuple[int, ...] | None = None,
    loop: int | None = 0,
    transparent: bool = False,
) -> bytes:
    """An animated GIF or WebP whose frames differ (a bar moving across a gradient)."""
    base = Image.linear_gradient("L").resize(size)
    pictures = []
    for index in range(frames):
        frame = Image.merge(
            "RGB", (base, base.rotate(90), base.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
        )
        left = index * size[0] // max(1, frames)
        frame.paste((255, 0, 0), (left, 0, left + max(1, size[0] // 8), size[1]))
        if transparent:
            frame = frame.convert("RGBA")
            frame.paste((0, 0, 0, 0), (0, 0, size[0] // 4, size[1] // 4))
        pictures.append(frame)
    options: dict = {
        "save_all": True,
        "append_images": pictures[1:],
        "duration": list(durations or [40 + 10 * i for i in range(frames)]),
    }
    if loop is not None:
        options["loop"] = loop
    return encode(pictures[0], pil_format, **options)


def frames_of(data: bytes) -> list[tuple[tuple[int, int], int]]:
    """(size, duration) of every frame of an encoded image."""
    im = Image.open(io.BytesIO(data))
    found = []
    for index in range(getattr(im, "n_frames", 1)):
        im.seek(index)
        im.load()  # WebP reads a frame's duration when decoding it
        found.append((im.size, im.info.get("duration", 0)))
    return found
