"""The images the resize benchmark uses: generated photo-like ones and real photographs.

Generated images cover the sizes cameras and phones produce (a 12 MP JPEG, a medium JPEG,
a PNG with alpha, a WebP). They are built from seeded random noise at three scales (broad
shading, mid-size texture, sensor grain), so they compress like photographs rather than
like flat test patterns, and the same seed gives the same pixels on every run.

Real photographs come from scikit-image's data folder, which ships inside its wheel
(``astronaut.png``, ``chelsea.png``, ``rocket.jpg``, ``hubble_deep_field.jpg`` among them;
the other sample images are fetched by pooch on demand, and are never used here). The files
are read from the installed package without importing it, so neither numpy nor a download
is involved. Without scikit-image the corpus is the generated images only, and says so.
"""

from __future__ import annotations

import importlib.util
import io
import random
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from PIL import Image

# (file in skimage/data, format to store it as: None keeps the shipped file byte for byte)
REAL_PHOTOS = (
    ("rocket.jpg", None),
    ("hubble_deep_field.jpg", None),
    ("astronaut.png", None),
    ("chelsea.png", "WEBP"),
)


@dataclass(frozen=True)
class Original:
    name: str
    data: bytes
    format: str  # "jpeg" | "png" | "webp"
    size: tuple[int, int]
    source: str  # where it came from, for the report

    def describe(self) -> dict:
        return {"name": self.name, "format": self.format, "size": list(self.size),
                "bytes": len(self.data), "source": self.source}


def photo_like(size: tuple[int, int], seed: int) -> Image.Image:
    """An RGB image with broad shading, mid-size texture and grain, from a fixed seed."""
    rng = random.Random(seed)
    width, height = size
    channels = []
    for _ in range(3):
        broad = _noise(rng, (8, 6)).resize(size, Image.Resampling.BICUBIC)
        texture = _noise(rng, (max(2, width // 40), max(2, height // 40)))
        texture = texture.resize(size, Image.Resampling.BICUBIC)
        grain = _noise(rng, size)
        channels.append(Image.blend(Image.blend(broad, texture, 0.35), grain, 0.06))
    return Image.merge("RGB", channels)


def _noise(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))


def with_alpha(im: Image.Image) -> Image.Image:
    """The image cut out by a soft-edged disc: transparent corners, a feathered edge."""
    distance = Image.radial_gradient("L").resize(im.size)  # 0 at the centre, 255 at corners
    alpha = distance.point(lambda v: 255 if v < 110 else max(0, 255 - (v - 110) * 6))
    cut_out = im.convert("RGBA")
    cut_out.putalpha(alpha)
    return cut_out


def encode(im: Image.Image, pil_format: str, **options) -> bytes:
    out = io.BytesIO()
    im.save(out, pil_format, **options)
    return out.getvalue()


def generated(quick: bool) -> list[Original]:
    if quick:
        specs = [
            ("small.jpg", photo_like((800, 600), 1), "JPEG", {"quality": 85}),
            ("alpha.png", with_alpha(photo_like((300, 225), 2)), "PNG", {}),
            ("small.webp", photo_like((400, 300), 3), "WEBP", {"quality": 85}),
        ]
    else:
        specs = [
            ("large-12mp.jpg", photo_like((4000, 3000), 1), "JPEG", {"quality": 90}),
            ("medium.jpg", photo_like((1600, 1200), 2), "JPEG", {"quality": 85}),
            ("alpha.png", with_alpha(photo_like((1200, 900), 3)), "PNG", {}),
            ("photo.webp", photo_like((2000, 1500), 4), "WEBP", {"quality": 85}),
            # Resized to JPEG only (resize_bench.JPEG_ONLY): the PNG->JPEG goal's large case.
            ("large-12mp.png", photo_like((4000, 3000), 5), "PNG", {}),
        ]
    return [
        Original(name, encode(im, pil_format, **options), pil_format.lower(), im.size,
                 f"generated photo-like, {pil_format} {options or 'defaults'}")
        for name, im, pil_format, options in specs
    ]


def skimage_data_dir() -> Path | None:
    """scikit-image's shipped data folder, found without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return folder if folder.is_dir() else None


def real_photos() -> tuple[list[Original], str]:
    """The shipped photographs (or none) and a note saying where they came from."""
    folder = skimage_data_dir()
    if folder is None:
        return [], "scikit-image is not installed: no real photographs in the corpus"
    version = metadata.version("scikit-image")
    found = []
    for filename, convert_to in REAL_PHOTOS:
        path = folder / filename
        if not path.is_file():
            continue
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            size, shipped_format = im.size, im.format
            if convert_to:
                data = encode(im.convert("RGB"), convert_to, quality=85)
        stored_as = convert_to or shipped_format
        name = Path(filename).stem + "." + {"JPEG": "jpg"}.get(stored_as, stored_as.lower())
        source = f"scikit-image {version} data/{filename}"
        if convert_to:
            source += f" re-encoded as {convert_to} quality 85"
        found.append(Original(name, data, stored_as.lower(), size, source))
    return found, ("generated images, and real photographs shipped in the scikit-image "
                   f"{version} wheel")


def corpus(quick: bool) -> tuple[list[Original], str]:
    """The originals to resize, and a note on where the real photographs came from."""
    if quick:
        return generated(quick=True), "quick mode: small generated images only"
    photos, note = real_photos()
    return generated(quick=False) + photos, note
