"""The pure resize: original image bytes + target box + output format -> resized image bytes.

No I/O and no AWS here, so it can be tested and benchmarked on its own.

Speed comes from decoding less, not from resizing faster:
- JPEG originals (MPO included) are decoded at a reduced DCT scale (Pillow's ``draft``):
  the largest of 1/2, 1/4, 1/8 that still leaves the image at least as large as the
  target, so a 12 MP photo fitted into 400x300 decodes only 1/64 of its pixels.
- Other formats are decoded in full (Pillow offers no scaled decode for them); ``resize``
  with a ``reducing_gap`` first shrinks by an integer factor with a cheap box reduce, then
  finishes with Lanczos over at most ``REDUCING_GAP`` times the target size.
- Only the Pillow plugins we read and write are imported, so ``Image.open`` never falls
  back to ``Image.init()`` (which imports every plugin Pillow ships).

Accepted originals: JPEG, PNG, WebP, AVIF (the first frame of animated files), and MPO,
the multi-picture JPEG many phones and cameras write (depth maps, HDR gain maps): it is a
JPEG, resized from its first picture and reported and kept as ``jpeg``. Outputs: jpeg, png,
webp, and avif when this Pillow build can encode it (``encodable_formats()``).
Metadata (EXIF, XMP, comments, text chunks) is stripped after the EXIF orientation has been
applied to the pixels; an ICC colour profile is kept, because dropping it shifts the
colours of wide-gamut photos. Metadata never fails a resize: real photos carry truncated
or corrupt EXIF, and an orientation that cannot be read is taken as "as stored".

Failures raise a ``ResizeError`` subclass whose message says what was wrong:
``NotAnImage`` (not one of the accepted formats), ``CorruptImage`` (looks like an accepted
format but cannot be decoded), ``ImageTooLarge`` (over the pixel limit, found from the
header before any pixel is decoded, so decompression bombs cost no memory, or more than
this process's memory can decode). Any exception raised inside Pillow while opening,
orienting, decoding or encoding is one of these: a broken file is the file's fault, never
a server error. An exception raised by this module's own code is not caught here: it is
a bug, and the handler answers it with a logged 500.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from functools import cache

from contract import DEFAULT_MAX_PIXELS, DEFAULT_QUALITY

# Output format name -> (Pillow format, Content-Type).
_OUTPUTS = {
    "jpeg": ("JPEG", "image/jpeg"),
    "png": ("PNG", "image/png"),
    "webp": ("WEBP", "image/webp"),
    "avif": ("AVIF", "image/avif"),
}
_INPUTS = ("JPEG", "PNG", "WEBP", "AVIF")
# Pillow format of an opened original -> our name for it. Pillow opens a JPEG carrying a
# multi-picture index as MPO; it is a JPEG (its first picture is the photo).
_SOURCES = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "AVIF": "avif"}
# Formats whose decoder can decode at a reduced scale (Pillow's `draft`).
_DRAFTABLE = ("JPEG", "MPO")
# EXIF orientation -> the transpose that shows the stored pixels upright (EXIF 2.32, 4.6.4;
# the same table as Pillow's ImageOps.exif_transpose).
_UPRIGHT = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}
_MESSAGE_LIMIT = 200

# Box-reduce until the image is within this factor of the target, then Lanczos.
# Measured on a 12 MP photo to 400x300: 2.0 differs from a full Lanczos by at most 2/255
# per channel (mean 0.35) and is 6x faster (16 ms against 97 ms).
REDUCING_GAP = 2.0

# Lambda gives CPU in proportion to memory: one vCPU's worth at 1,769 MB (AWS Lambda
# Developer Guide, "Configure Lambda function memory").
LAMBDA_MB_PER_VCPU = 1769


def _vcpus() -> int:
    """The vCPUs this function may use: from Lambda's memory size, else the machine's cores."""
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if memory.isdigit():
        return max(1, int(memory) // LAMBDA_MB_PER_VCPU)
    return os.cpu_count() or 1


# AVIF encoder threads (the one encoder here that threads): no more than the vCPUs, since
# below 1,769 MB a second thread only contends for the same fraction of one CPU.
ENCODER_THREADS = _vcpus()

# File signatures, to tell "corrupt JPEG" (422) from "not an image at all" (415).
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
)


class ResizeError(Exception):
    """The original cannot be resized; the message says why."""


class NotAnImage(ResizeError):
    """The bytes are not an image in an accepted format (JPEG, PNG, WebP, AVIF)."""


class CorruptImage(ResizeError):
    """The bytes start like an accepted image format but cannot be decoded."""


class ImageTooLarge(ResizeError):
    """The image's declared pixel count is over the limit (a possible decompression bomb)."""


@dataclass(frozen=True)
class ResizedImage:
    data: bytes
    format: str  # output format name: "jpeg" | "png" | "webp" | "avif"
    content_type: str
    width: int
    height: int
    source_format: str  # the original's format, same names as `format`
    source_width: int
    source_height: int


def _pillow():
    """Import Pillow with only the plugins we need registered (see module docstring)."""
    # Importing a plugin registers it; these are all we open or save. (The AVIF plugin
    # registers a saver only when this Pillow build has libavif. The JPEG plugin imports
    # the MPO plugin itself, and with it the TIFF reader, only when a file is an MPO.)
    from PIL import (  # noqa: F401
        AvifImagePlugin,
        Image,
        JpegImagePlugin,
        PngImagePlugin,
        WebPImagePlugin,
    )

    return Image


@cache
def encodable_formats() -> frozenset[str]:
    """Output format names this Pillow build can write (webp and avif need their extensions).

    Found from which of Pillow's extension modules are present, without importing Pillow's
    Image (tens of ms on a cold start): requests answered without resizing (a stored variant,
    a 400) need this list but no pixels. Pillow registers the WebP and AVIF savers exactly
    when ``PIL._webp`` and ``PIL._avif`` import (a test holds the two answers equal).
    """
    from importlib.util import find_spec

    optional = {"webp": "PIL._webp", "avif": "PIL._avif"}
    return frozenset(
        name for name in _OUTPUTS if name not in optional or find_spec(optional[name]) is not None
    )


def fit_within(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The size that fits `size` inside `box`, keeping the aspect ratio, never enlarging."""
    width, height = size
    scale = min(box[0] / width, box[1] / height, 1.0)
    # Half rounds up (not to even): 640x480 into 150x150 is 150x113, as people expect.
    return max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))


def resize(
    data: bytes,
    box: tuple[int, int],
    output_format: str | None = None,
    *,
    quality: int = DEFAULT_QUALITY,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ResizedImage:
    """Fit the image in `data` inside `box` (width, height) and encode it.

    `output_format` is one of ``encodable_formats()``, or None for the original's format.
    """
    image_module = _pillow()
    if output_format is not None and output_format not in encodable_formats():
        accepted = ", ".join(sorted(encodable_formats()))
        raise ValueError(f"output format {output_format!r} is not supported; accepted: {accepted}")

    im = _open(image_module, data, max_pixels)
    source_format = _SOURCES[im.format]
    output_format = output_format or source_format
    pil_format, content_type = _OUTPUTS[output_format]
    source_size = im.size
    try:
        oriented = _resized(image_module, im, box)
        final = _for_output(image_module, oriented, pil_format)
        icc_profile = im.info.get("icc_profile")
        final.info = {}  # strip EXIF/XMP/comments: the savers fall back to im.info
        out = io.BytesIO()
        final.save(out, pil_format, **_save_options(pil_format, quality, icc_profile))
    except Exception as exc:
        if not _raised_in_pillow(exc):
            raise  # our own bug: the handler logs it and answers 500
        if isinstance(exc, MemoryError):
            raise ImageTooLarge(
                f"the {source_size[0]}x{source_size[1]} image needs more memory to decode "
                "than the resizer has"
            ) from exc
        # Truncated or malformed pixel data, or anything else Pillow trips over in them.
        raise CorruptImage(f"the {im.format} image cannot be decoded: {_said(exc)}") from exc
    finally:
        im.close()
    return ResizedImage(
        data=out.getvalue(),
        format=output_format,
        content_type=content_type,
        width=final.width,
        height=final.height,
        source_format=source_format,
        source_width=source_size[0],
        source_height=source_size[1],
    )


def _open(image_module, data: bytes, max_pixels: int):
    """Open lazily (header only) and refuse images over `max_pixels` before decoding."""
    try:
        with warnings.catch_warnings():
            # Pillow warns above ~89 MP; our own limit below decides, so the warning is noise.
            warnings.simplefilter("ignore", image_module.DecompressionBombWarning)
            im = image_module.open(io.BytesIO(data), formats=_INPUTS)
    except image_module.DecompressionBombError as exc:
        # Pillow's own guard (2 x Image.MAX_IMAGE_PIXELS) fired before our limit could.
        raise ImageTooLarge(f"the image is too large to decode safely: {exc}") from exc
    except Exception as exc:
        # UnidentifiedImageError (an OSError): no accepted plugin recognised the bytes; any
        # other exception escaped a plugin that did recognise them but broke on the header.
        if not _raised_in_pillow(exc):
            raise
        sniffed = _sniff(data)
        if sniffed:
            raise CorruptImage(f"the {sniffed} image header is malformed") from exc
        raise NotAnImage(
            "the original is not an image in an accepted format (JPEG, PNG, WebP, AVIF)"
        ) from exc
    width, height = im.size
    if width * height > max_pixels:
        im.close()
        raise ImageTooLarge(
            f"the image is {width}x{height} = {width * height} pixels, "
            f"over the limit of {max_pixels} pixels"
        )
    if width < 1 or height < 1:
        im.close()
        raise CorruptImage(f"the image declares an empty size {width}x{height}")
    return im


def _raised_in_pillow(exc: BaseException) -> bool:
    """Whether `exc` came out of Pillow: a frame after this module's last one is Pillow's.

    Frames are told apart by their module's name, not their file, so this holds however
    the bundle lays files out. Pillow's C decoders and the stdlib C functions it calls
    (struct, zlib) add no frame of their own: their errors end in the Pillow function that
    called them.
    """
    modules = []
    frame = exc.__traceback__
    while frame is not None:
        modules.append(frame.tb_frame.f_globals.get("__name__", ""))
        frame = frame.tb_next
    ours = [i for i, name in enumerate(modules) if name == __name__]
    after = modules[ours[-1] + 1 :] if ours else modules
    return any(name == "PIL" or name.startswith("PIL.") for name in after)


def _said(exc: BaseException) -> str:
    """An exception as a short, printable phrase for an error message."""
    text = f"{exc}" or type(exc).__name__
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "..."


def _sniff(data: bytes) -> str | None:
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "AVIF"
    return None


def _orientation(im) -> int:
    """The EXIF (or XMP) orientation, 1..8; 1 ("as stored") when it cannot be read.

    Truncated and corrupt EXIF blocks are common in real photos (Pillow's TIFF reader then
    raises struct.error, SyntaxError and the like); a broken tag must not cost the image.
    """
    try:
        orientation = im.getexif().get(0x0112, 1)  # 0x0112 = Orientation
    except Exception:
        return 1
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1


def _resized(image_module, im, box: tuple[int, int]):
    """Decode at the cheapest scale, resize into `box`, then apply the EXIF orientation."""
    orientation = _orientation(im)
    # Orientations 5-8 rotate by 90 degrees: fit the stored pixels into the swapped box.
    stored_box = (box[1], box[0]) if orientation in (5, 6, 7, 8) else box
    target = fit_within(im.size, stored_box)

    crop_box = None
    if im.format in _DRAFTABLE and target != im.size:
        # Decodes at 1/2, 1/4 or 1/8 scale, staying >= target; `crop_box` maps the
        # original's extent onto the scaled pixels (scaled sizes are rounded up).
        drafted = im.draft(None, target)
        crop_box = drafted[1] if drafted else None
    im.load()
    working = _working_mode(im)
    if working.size != target or crop_box is not None:
        working = working.resize(
            target, image_module.Resampling.LANCZOS, box=crop_box, reducing_gap=REDUCING_GAP
        )
    elif working is im:
        working = im.copy()  # never hand the caller's decoded original back to be mutated
    if orientation in _UPRIGHT:
        # Transposed here rather than by ImageOps.exif_transpose, which parses the EXIF
        # again and rewrites it: metadata we strip anyway and that may be broken.
        working = working.transpose(image_module.Transpose[_UPRIGHT[orientation]])
    return working


def _working_mode(im):
    """A mode that resizes correctly with Lanczos and keeps alpha where there is any."""
    mode = im.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        return im
    if mode in ("P", "PA"):
        return im.convert("RGBA" if im.has_transparency_data else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I") or mode == "F":
        # 16-bit (or float) greyscale: scale to 8 bits instead of clipping at 255.
        return im.convert("I").point(lambda value: value / 256).convert("L")
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX...


def _for_output(image_module, im, pil_format: str):
    """Convert to a mode the encoder writes; JPEG has no alpha, so flatten onto white."""
    if pil_format == "JPEG" and im.mode in ("RGBA", "LA"):
        opaque_mode = im.mode[:-1]
        white = 255 if opaque_mode == "L" else (255, 255, 255)
        flat = image_module.new(opaque_mode, im.size, white)
        flat.paste(im.convert(opaque_mode), mask=im.getchannel("A"))
        return flat
    return im


def _save_options(pil_format: str, quality: int, icc_profile: bytes | None) -> dict:
    """Encoder settings, chosen by measuring a 12 MP photo resized to 400x300 and 1200x800.

    JPEG: optimize (Huffman tables) is free at 400x300 and 18-24% smaller; progressive was
    slower and larger. WebP method 2 and AVIF speed 8 are 3-4x faster than Pillow's defaults
    for 1-2% more bytes; PNG level 3 is 3.5x faster than level 6 for 3% more bytes.
    """
    options: dict = {"icc_profile": icc_profile} if icc_profile else {}
    if pil_format == "JPEG":
        options.update(quality=quality, optimize=True)
    elif pil_format == "WEBP":
        options.update(quality=quality, method=2)
    elif pil_format == "AVIF":
        options.update(quality=quality, speed=8, max_threads=ENCODER_THREADS)
    elif pil_format == "PNG":
        options.update(compress_level=3)
    return options
