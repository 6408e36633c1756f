"""Small sample originals the twin seeds into each distribution's S3 bucket, made with Pillow.

Generated, not shipped, so the repository carries no binaries; the same bytes every run.
Sized so that every default resize box has something to shrink (and one is stored with an
EXIF orientation, which the resizer must apply).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

PREFIX = "samples/"
# A private original: served only with a signed URL or signed cookies (/images/*/private/*).
PRIVATE_KEY = "private/landscape.jpg"
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class SampleImage:
    key: str
    content_type: str
    data: bytes
    size: tuple[int, int]  # as displayed (after EXIF orientation)


def _scene(size: tuple[int, int], seed: int) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):  # a sky-to-ground gradient, then a few shapes
        shade = int(255 * y / height)
        draw.line([(0, y), (width, y)], fill=(40 + shade // 3, 90 + shade // 4, 200 - shade // 2))
    for i in range(6):
        x, r = (i * 997 * seed) % width, 40 + (i * 37) % 120
        draw.ellipse([x - r, height // 2 - r, x + r, height // 2 + r],
                     fill=((i * 70) % 256, (120 + i * 30) % 256, (200 - i * 25) % 256))
    return image


def _jpeg(image: Image.Image, orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[EXIF_ORIENTATION] = orientation
    image.save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def _logo() -> bytes:
    image = Image.new("RGBA", (640, 640), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([60, 60, 580, 580], radius=120, fill=(255, 122, 0, 255))
    draw.ellipse([200, 200, 440, 440], fill=(255, 255, 255, 200))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def samples() -> list[SampleImage]:
    """A landscape JPEG, a portrait JPEG stored sideways with EXIF orientation 6, a PNG logo,
    and the landscape again under private/ (for signed URLs)."""
    portrait_stored = _scene((1350, 900), 3)  # rotated 90 degrees clockwise when displayed
    landscape = _jpeg(_scene((1600, 1000), 1))
    return [
        SampleImage(f"{PREFIX}landscape.jpg", "image/jpeg", landscape, (1600, 1000)),
        SampleImage(PRIVATE_KEY, "image/jpeg", landscape, (1600, 1000)),
        SampleImage(f"{PREFIX}portrait.jpg", "image/jpeg", _jpeg(portrait_stored, 6),
                    (900, 1350)),
        SampleImage(f"{PREFIX}logo.png", "image/png", _logo(), (640, 640)),
    ]
