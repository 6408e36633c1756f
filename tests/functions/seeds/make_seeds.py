"""Write the image resizer's fuzz seeds: small real images in every format it meets.

``python tests/functions/seeds/make_seeds.py`` rewrites the files next to this script. The
committed bytes are the corpus (the fuzz test reads the files, it does not call this), so a
change in Pillow's encoders never changes what the fuzzer starts from; this script records
how each seed was made and is deterministic (no random noise: a seeded byte pattern).

Each seed is a few KB and carries the metadata phones and editors write, because that is
where real photos break resizers: EXIF (orientation, DPI, a camera make), an ICC profile,
XMP, comments, text chunks; plus MPO (a phone's multi-picture JPEG) and three JPEGs whose
EXIF is broken the ways real files are (cut inside the TIFF header, cut inside the first
IFD, a header that is not TIFF at all).
"""

from __future__ import annotations

import io
import random
import struct
import sys
from pathlib import Path

from PIL import Image, ImageCms, PngImagePlugin

HERE = Path(__file__).resolve().parent
SIZE = (96, 64)

XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def photo(size: tuple[int, int] = SIZE, seed: int = 1) -> Image.Image:
    """Gradients plus a seeded noise pattern: photo-like, and the same bytes every run."""
    noise = Image.frombytes("L", size, random.Random(seed).randbytes(size[0] * size[1]))
    red = Image.blend(Image.linear_gradient("L").rotate(90).resize(size), noise, 0.3)
    green = Image.blend(Image.linear_gradient("L").resize(size), noise, 0.3)
    blue = Image.blend(Image.radial_gradient("L").resize(size), noise, 0.3)
    return Image.merge("RGB", (red, green, blue))


def exif(orientation: int = 6) -> Image.Exif:
    data = Image.Exif()
    data[0x0112] = orientation  # Orientation
    data[0x010F] = "edgekit seed camera"  # Make
    data[0x011A] = 72.0  # XResolution
    data[0x011B] = 72.0  # YResolution
    data[0x0128] = 2  # ResolutionUnit: inches
    data.get_ifd(0x8769)[0x9003] = "2024:06:01 12:00:00"  # ExifIFD DateTimeOriginal
    return data


def icc() -> bytes:
    """A real sRGB profile from littleCMS, its creation date fixed so the bytes never change."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile[:24] + struct.pack(">6H", 2024, 6, 1, 0, 0, 0) + profile[36:]


def encode(im: Image.Image, pil_format: str, **options) -> bytes:
    out = io.BytesIO()
    im.save(out, pil_format, **options)
    return out.getvalue()


def with_exif_segment(jpeg: bytes, payload: bytes) -> bytes:
    """`jpeg` with an APP1 segment holding `payload` (starting b"Exif\\0\\0") after SOI."""
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def seeds() -> dict[str, bytes]:
    base = photo()
    plain_jpeg = encode(base, "JPEG", quality=75)
    full_exif = exif().tobytes()  # starts with b"Exif\\0\\0"
    alpha = base.convert("RGBA")
    alpha.putalpha(Image.radial_gradient("L").resize(SIZE))
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "seed")
    text.add_itxt("XML:com.adobe.xmp", XMP.decode("utf-8"))
    frames = [photo(SIZE, seed=n).quantize(32) for n in (1, 2)]
    return {
        "photo.jpg": encode(
            base, "JPEG", quality=75, exif=exif(), icc_profile=icc(), xmp=XMP, comment=b"seed"
        ),
        "progressive-grey.jpg": encode(base.convert("L"), "JPEG", quality=70, progressive=True),
        "cmyk.jpg": encode(base.convert("CMYK"), "JPEG", quality=70),
        "photo.mpo": encode(
            base,
            "MPO",
            quality=70,
            exif=exif(),
            save_all=True,
            append_images=[photo((48, 32), seed=3).convert("L").convert("RGB")],
        ),
        # struct.error in Pillow's TIFF reader: the TIFF header stops after 6 of its 8 bytes.
        "exif-truncated-header.jpg": with_exif_segment(plain_jpeg, b"Exif\x00\x00II*\x00\x08\x00"),
        # The first IFD is cut half-way through its entries.
        "exif-truncated-ifd.jpg": with_exif_segment(plain_jpeg, full_exif[:40]),
        # An APP1 that says Exif but holds no TIFF header ("not a TIFF file").
        "exif-not-tiff.jpg": with_exif_segment(plain_jpeg, b"Exif\x00\x00XX*\x00\x08\x00\x00\x00"),
        "alpha.png": encode(
            alpha.resize((48, 32)), "PNG", exif=exif(), icc_profile=icc(), pnginfo=text
        ),
        "palette.png": encode(frames[0], "PNG", transparency=0),
        "grey16-interlaced.png": encode(
            Image.linear_gradient("L").resize((48, 32)).convert("I;16"), "PNG", interlace=1
        ),
        "photo.webp": encode(
            base, "WEBP", quality=60, exif=exif(), icc_profile=icc(), xmp=XMP.decode("utf-8")
        ),
        "alpha-lossless.webp": encode(alpha.resize((48, 32)), "WEBP", lossless=True),
        "animated.webp": encode(
            frames[0].convert("RGB"), "WEBP", quality=50, save_all=True,
            append_images=[frames[1].convert("RGB")], duration=100,
        ),
        "animated.gif": encode(
            frames[0].resize((48, 32)), "GIF", save_all=True,
            append_images=[frames[1].resize((48, 32))], transparency=0,
            duration=100, loop=0,
        ),
        "photo.tiff": encode(base.resize((48, 32)), "TIFF", compression="tiff_lzw", exif=exif()),
        "photo.avif": encode(base, "AVIF", quality=50, exif=exif(), speed=8),
    }


def main() -> None:
    Image.init()  # register every plugin, AVIF included, before asking what it can write
    if "AVIF" not in Image.SAVE:
        sys.exit("this Pillow cannot write AVIF; use the pinned Pillow wheel (with libavif)")
    for name, data in seeds().items():
        (HERE / name).write_bytes(data)
        print(f"{name:28} {len(data):6} bytes")


if __name__ == "__main__":
    main()
