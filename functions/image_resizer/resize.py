"""The pure resize: original image bytes + target box + output format -> resized image bytes.

No I/O and no AWS here, so it can be tested and benchmarked on its own.

Speed comes from decoding less, not from resizing faster:
- JPEG originals (MPO included) are decoded at a reduced DCT scale (Pillow's ``draft``):
  the largest of 1/2, 1/4, 1/8 that still leaves the image at least as large as the
  target, so a 12 MP photo fitted into 400x300 decodes only 1/64 of its pixels.
- Other formats are decoded in full (Pillow offers no scaled decode for them); ``resize``
  with a ``reducing_gap`` first shrinks by an integer factor with a cheap box reduce, then
  finishes with Lanczos over at most ``REDUCING_GAP`` times the target size. That reduce
  runs a band of rows at a time and the decoded raster is freed before Lanczos, so peak
  memory is the raster plus the reduced image (``_resized_in_bands``, same pixels).
- Only the Pillow plugins we read and write are imported, so ``Image.open`` never falls
  back to ``Image.init()`` (which imports every plugin Pillow ships).

Accepted originals: JPEG, PNG, WebP, AVIF, GIF, and MPO, the multi-picture JPEG many phones
and cameras write (depth maps, HDR gain maps): it is a JPEG, resized from its first picture
and reported and kept as ``jpeg``. Outputs: jpeg, png, webp, and avif when this Pillow build
can encode it (``encodable_formats()``); gif only as a GIF original's own format.

Geometry (``plan``, pure): ``fit`` inside (fit in the box, keep the aspect ratio), cover
(fill the box, cropping by ``gravity``: a compass point, or ``entropy``, the candidate
window with the most detail), contain (fit, then pad to the box's aspect ratio with
``background`` or transparency, white for JPEG; the image's own transparent pixels show the
same, padded or not) or fill (stretch). Nothing is ever
enlarged: when the box is bigger than the original, cover, fill and contain shrink the box
(keeping its aspect ratio) instead, so the output's real size may be smaller than asked.

Animation: animated GIF and WebP originals stay animated when the output can animate (gif,
webp) and ``animate`` is true: every frame is resized the same way (an entropy crop is
chosen on the first frame), and per-frame durations and the loop count are kept. Frames
are decoded one at a time; frames x pixels count against ``max_pixels``, and more than
``max_frames`` frames is ``TooManyFrames``. Otherwise the first frame is used.
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
import time
import warnings
from dataclasses import dataclass, field
from functools import cache
from typing import BinaryIO

from contract import (
    DEFAULT_FIT,
    DEFAULT_GRAVITY,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_QUALITY,
    OPAQUE_BACKGROUND,
    OUTPUT_FORMATS,
)

# Output format name -> (Pillow format, Content-Type).
_OUTPUTS = {
    "jpeg": ("JPEG", "image/jpeg"),
    "png": ("PNG", "image/png"),
    "webp": ("WEBP", "image/webp"),
    "avif": ("AVIF", "image/avif"),
    "gif": ("GIF", "image/gif"),  # only as a GIF original's own format
}
_INPUTS = ("JPEG", "PNG", "WEBP", "AVIF", "GIF")
# Pillow format of an opened original -> our name for it. Pillow opens a JPEG carrying a
# multi-picture index as MPO; it is a JPEG (its first picture is the photo).
_SOURCES = {
    "JPEG": "jpeg",
    "MPO": "jpeg",
    "PNG": "png",
    "WEBP": "webp",
    "AVIF": "avif",
    "GIF": "gif",
}
# Formats whose animations are kept, as sources and as outputs.
_ANIMATED = ("GIF", "WEBP")
# Output formats that carry alpha: transparency stays there (unless contain's background is
# asked for); elsewhere it is flattened onto white.
_ALPHA_OUTPUTS = ("PNG", "WEBP", "AVIF", "GIF")
# Gravity -> where the crop window sits along each free axis (0 = left/top, 1 = right/bottom).
_CENTERING = {
    "center": (0.5, 0.5),
    "north": (0.5, 0.0),
    "south": (0.5, 1.0),
    "east": (1.0, 0.5),
    "west": (0.0, 0.5),
    "northeast": (1.0, 0.0),
    "northwest": (0.0, 0.0),
    "southeast": (1.0, 1.0),
    "southwest": (0.0, 1.0),
}
# gravity=entropy: candidate windows are scored on a greyscale preview whose long side is at
# most this, at this many evenly spaced positions along each axis the crop can move.
ENTROPY_PREVIEW_SIDE = 256
ENTROPY_STEPS = 9
# Modes with alpha that Pillow resizes premultiplied (in the mode they map to).
_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}
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
# That reduce runs over bands of about this many rows of a fully decoded frame (PNG, WebP,
# AVIF, GIF), so only a band is ever converted (palette, 16-bit, premultiplied alpha).
REDUCE_BAND_ROWS = 128

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
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)


class ResizeError(Exception):
    """The original cannot be resized; the message says why."""


class NotAnImage(ResizeError):
    """The bytes are not an image in an accepted format (JPEG, PNG, WebP, AVIF, GIF)."""


class CorruptImage(ResizeError):
    """The bytes start like an accepted image format but cannot be decoded."""


class ImageTooLarge(ResizeError):
    """The image's declared pixel count is over the limit (a possible decompression bomb)."""


class TooManyFrames(ResizeError):
    """The animation has more frames than the limit."""


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
    frames: int = 1  # frames in the output (more than 1: animated)
    # Milliseconds per phase (decode, resize, encode): the handler's Server-Timing.
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Geometry:
    """How an upright source becomes the output (see ``plan``)."""

    scaled: tuple[int, int]  # the whole source is resized to this
    output: tuple[int, int]  # then cropped to this (cover), or it is this
    centering: tuple[float, float] | None  # cover: where the crop sits; None = entropy
    canvas: tuple[int, int] | None = None  # contain: padded to this, content centred

    @property
    def size(self) -> tuple[int, int]:
        """The served size."""
        return self.canvas or self.output


def _pillow():
    """Import Pillow with only the plugins we need registered (see module docstring)."""
    # Importing a plugin registers it; these are all we open or save. (The AVIF plugin
    # registers a saver only when this Pillow build has libavif. The JPEG plugin imports
    # the MPO plugin itself, and with it the TIFF reader, only when a file is an MPO.)
    from PIL import (  # noqa: F401
        AvifImagePlugin,
        GifImagePlugin,
        Image,
        JpegImagePlugin,
        PngImagePlugin,
        WebPImagePlugin,
    )

    return Image


@cache
def encodable_formats() -> frozenset[str]:
    """Output format names a request may ask for that this Pillow build can write (webp and
    avif need their extensions).

    Found from which of Pillow's extension modules are present, without importing Pillow's
    Image (tens of ms on a cold start): requests answered without resizing (a stored variant,
    a 400) need this list but no pixels. Pillow registers the WebP and AVIF savers exactly
    when ``PIL._webp`` and ``PIL._avif`` import (a test holds the two answers equal).
    """
    from importlib.util import find_spec

    optional = {"webp": "PIL._webp", "avif": "PIL._avif"}
    return frozenset(
        name
        for name in OUTPUT_FORMATS
        if name not in optional or find_spec(optional[name]) is not None
    )


def fit_within(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The size that fits `size` inside `box`, keeping the aspect ratio, never enlarging."""
    width, height = size
    scale = min(box[0] / width, box[1] / height, 1.0)
    # Half rounds up (not to even): 640x480 into 150x150 is 150x113, as people expect.
    return max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))


def plan(
    size: tuple[int, int],
    box: tuple[int, int],
    fit: str = DEFAULT_FIT,
    gravity: str = DEFAULT_GRAVITY,
) -> Geometry:
    """The geometry that puts an upright image of `size` into `box` by `fit`. Pure.

    Never enlarges: for cover and fill a box bigger than the image shrinks (keeping its
    aspect ratio) until the image covers it; for contain the canvas is the smallest with the
    box's aspect ratio around the fitted image.
    """
    width, height = size
    if fit == "inside":
        fitted = fit_within(size, box)
        return Geometry(fitted, fitted, None)
    if fit == "contain":
        content = fit_within(size, box)
        grow = max(content[0] / box[0], content[1] / box[1])
        canvas = (
            max(content[0], _rounded(box[0] * grow)),
            max(content[1], _rounded(box[1] * grow)),
        )
        return Geometry(content, content, None, canvas if canvas != content else None)
    shrink = min(1.0, width / box[0], height / box[1])
    output = (max(1, _rounded(box[0] * shrink)), max(1, _rounded(box[1] * shrink)))
    output = (min(output[0], width), min(output[1], height))
    if fit == "fill":
        return Geometry(output, output, None)
    if fit != "cover":
        raise ValueError(f"fit {fit!r} is not one of inside, cover, contain, fill")
    scale = max(output[0] / width, output[1] / height)
    scaled = (max(output[0], _rounded(width * scale)), max(output[1], _rounded(height * scale)))
    scaled = (min(scaled[0], width), min(scaled[1], height))
    if gravity == "entropy":
        return Geometry(scaled, output, None)
    if gravity not in _CENTERING:
        raise ValueError(f"gravity {gravity!r} is not one of {', '.join(_CENTERING)}, entropy")
    return Geometry(scaled, output, _CENTERING[gravity])


def crop_origin(geometry: Geometry, centering: tuple[float, float]) -> tuple[int, int]:
    """The top-left corner of the output window inside the scaled image."""
    free_x = geometry.scaled[0] - geometry.output[0]
    free_y = geometry.scaled[1] - geometry.output[1]
    return _rounded(free_x * centering[0]), _rounded(free_y * centering[1])


def _rounded(value: float) -> int:
    return int(value + 0.5)  # half up, as fit_within


def resize(
    data: bytes | BinaryIO,
    box: tuple[int, int],
    output_format: str | None = None,
    *,
    quality: int = DEFAULT_QUALITY,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    fit: str = DEFAULT_FIT,
    gravity: str = DEFAULT_GRAVITY,
    background: str | None = None,
    animate: bool = True,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> ResizedImage:
    """Put the image in `data` into `box` (width, height) by `fit` and encode it.

    `data` is the original's bytes, or a binary file positioned at its start (read as
    needed, not closed here: a PNG is then decoded without its whole file in memory).
    `output_format` is one of ``encodable_formats()``, or None for the original's format.
    `background` is "rrggbb" for fit=contain. With `animate` false (``?frames=1``) an
    animation becomes its first frame.
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
    timings: dict[str, float] = {"decode": 0.0}
    try:
        frame_count = _frames_to_keep(im, pil_format, animate, max_frames, max_pixels)
        icc_profile = im.info.get("icc_profile")
        shaping = time.perf_counter()
        shaper = _Shaper(image_module, im, box, fit, gravity, background, pil_format, timings)
        frames = [shaper.shaped(im)]
        durations = [_duration(im)]
        for index in range(1, frame_count):
            im.seek(index)
            frames.append(shaper.shaped(im))
            durations.append(_duration(im))
        # Everything but the frames' decoding: scale, orient, crop, pad, convert.
        timings["resize"] = (time.perf_counter() - shaping) * 1000 - timings["decode"]
        for frame in frames:
            frame.info = {}  # strip EXIF/XMP/comments: the savers fall back to im.info
        options = _save_options(pil_format, quality, icc_profile)
        if frame_count > 1:
            options.update(_animation_options(im, pil_format, frames, durations))
        out = io.BytesIO()
        encoding = time.perf_counter()
        frames[0].save(out, pil_format, **options)
        timings["encode"] = (time.perf_counter() - encoding) * 1000
    except ResizeError:
        raise
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
        width=frames[0].width,
        height=frames[0].height,
        source_format=source_format,
        source_width=source_size[0],
        source_height=source_size[1],
        frames=frame_count,
        timings=timings,
    )


def _frames_to_keep(im, pil_format: str, animate: bool, max_frames: int, max_pixels: int) -> int:
    """1, or every frame of an animation the output keeps animated (within the limits)."""
    if not (animate and im.format in _ANIMATED and pil_format in _ANIMATED):
        return 1
    if not getattr(im, "is_animated", False):
        return 1
    count = im.n_frames
    if count > max_frames:
        raise TooManyFrames(
            f"the animation has {count} frames, over the limit of {max_frames} frames; "
            "ask for its first frame with ?frames=1"
        )
    width, height = im.size
    if count * width * height > max_pixels:
        raise ImageTooLarge(
            f"the animation is {count} frames of {width}x{height} = "
            f"{count * width * height} pixels, over the limit of {max_pixels} pixels; "
            "ask for its first frame with ?frames=1"
        )
    return count


def _duration(im) -> int:
    duration = im.info.get("duration")
    return int(duration) if isinstance(duration, int | float) and duration > 0 else 0


def _animation_options(im, pil_format: str, frames: list, durations: list[int]) -> dict:
    """save_all options that keep every frame, its duration and the loop count."""
    # A GIF without a NETSCAPE loop extension plays once; Pillow then has no "loop" key.
    loop = im.info.get("loop")
    options: dict = {"save_all": True, "append_images": frames[1:], "duration": durations}
    if pil_format == "GIF":
        # Every frame is a whole composed picture: clear before the next, so transparent
        # pixels never show the previous frame through.
        options["disposal"] = 2
        if loop is not None:
            options["loop"] = loop
    else:  # WebP counts plays the same way, with 0 = forever; once when the GIF said so
        options["loop"] = 1 if loop is None else loop
    return options


class _Shaper:
    """Turns each frame of one original into the output frame: the same geometry for all."""

    def __init__(
        self, image_module, im, box, fit, gravity, background, pil_format, timings=None
    ) -> None:
        self.image_module = image_module
        self.timings = timings
        if im.format not in _DRAFTABLE:
            # Decoded in full whatever the box, so decode (timed) before reading the
            # orientation: Pillow decodes a PNG to read its EXIF (the eXIf chunk may follow
            # the pixel data), which would otherwise be timed as resize.
            _decode(im, timings)
        self.orientation = _orientation(im)
        self.rotated = self.orientation in (5, 6, 7, 8)  # 90-degree turns swap the sides
        upright = _swapped(im.size) if self.rotated else im.size
        self.geometry = plan(upright, box, fit, gravity)
        self.origin: tuple[int, int] | None = None
        if self.geometry.centering is not None:
            self.origin = crop_origin(self.geometry, self.geometry.centering)
        # What transparent pixels (and contain's padding) are composited onto; None: kept.
        self.matte = _matte(background if fit == "contain" else None, pil_format)
        self.pil_format = pil_format

    def shaped(self, im):
        scaled = _scaled(
            self.image_module,
            im,
            _swapped(self.geometry.scaled) if self.rotated else self.geometry.scaled,
            self.timings,
            # Flattened onto the matte before resizing where that is cheaper.
            matte=self.matte,
        )
        if self.orientation in _UPRIGHT:
            # Transposed here rather than by ImageOps.exif_transpose, which parses the EXIF
            # again and rewrites it: metadata we strip anyway and that may be broken.
            scaled = scaled.transpose(self.image_module.Transpose[_UPRIGHT[self.orientation]])
        if scaled.size != self.geometry.output:
            if self.origin is None:  # gravity=entropy, chosen once on the first frame
                self.origin = _entropy_origin(self.image_module, scaled, self.geometry)
            left, top = self.origin
            width, height = self.geometry.output
            scaled = scaled.crop((left, top, left + width, top + height))
        if self.matte and scaled.mode in ("RGBA", "LA"):  # after a box reduce (see _scaled)
            scaled = _flattened(self.image_module, scaled, self.matte)
        if self.geometry.canvas:
            scaled = self._padded(scaled)
        return _for_output(self.image_module, scaled, self.pil_format)

    def _padded(self, content):
        """fit=contain: the content centred on the canvas."""
        canvas_size = self.geometry.canvas
        if self.matte:
            canvas = self.image_module.new("RGB", canvas_size, self.matte)
        else:
            canvas = self.image_module.new("RGBA", canvas_size, (0, 0, 0, 0))
        content = content.convert("RGBA")
        offset = (
            (canvas_size[0] - content.width) // 2,
            (canvas_size[1] - content.height) // 2,
        )
        canvas.paste(content, offset, mask=content.getchannel("A"))
        return canvas


def _matte(background: str | None, pil_format: str) -> tuple[int, int, int] | None:
    """The colour transparency becomes: `background` ("rrggbb") when asked for, else white
    for an output without alpha; None keeps the alpha."""
    if background is None and pil_format in _ALPHA_OUTPUTS:
        return None
    red, green, blue = bytes.fromhex(background or OPAQUE_BACKGROUND)
    return red, green, blue


def _swapped(size: tuple[int, int]) -> tuple[int, int]:
    return size[1], size[0]


def _entropy_origin(image_module, scaled, geometry: Geometry) -> tuple[int, int]:
    """The crop window with the most detail (Shannon entropy of its grey levels).

    Scored on a greyscale preview whose long side is at most ENTROPY_PREVIEW_SIDE, at
    ENTROPY_STEPS positions along each axis the window can move; ties go to the centre.
    """
    factor = max(1.0, max(scaled.size) / ENTROPY_PREVIEW_SIDE)
    preview_size = (max(1, round(scaled.width / factor)), max(1, round(scaled.height / factor)))
    preview = scaled.convert("RGB").resize(preview_size, image_module.Resampling.BOX)
    grey = preview.convert("L")
    window = (
        max(1, round(geometry.output[0] / factor)),
        max(1, round(geometry.output[1] / factor)),
    )
    best = (-1.0, 0.0, (0.5, 0.5))
    for x in _positions(grey.width - window[0]):
        for y in _positions(grey.height - window[1]):
            score = grey.crop((x, y, x + window[0], y + window[1])).entropy()
            free_x = max(1, grey.width - window[0])
            free_y = max(1, grey.height - window[1])
            centering = (x / free_x, y / free_y)
            off_centre = abs(centering[0] - 0.5) + abs(centering[1] - 0.5)
            if score > best[0] + 1e-9 or (abs(score - best[0]) <= 1e-9 and off_centre < best[1]):
                best = (score, off_centre, centering)
    return crop_origin(geometry, best[2])


def _positions(free: int) -> list[int]:
    if free <= 0:
        return [0]
    steps = min(ENTROPY_STEPS, free + 1)
    return sorted({round(free * i / (steps - 1)) for i in range(steps)})


def _open(image_module, data: bytes | BinaryIO, max_pixels: int):
    """Open lazily (header only) and refuse images over `max_pixels` before decoding."""
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    start = source.tell()
    try:
        with warnings.catch_warnings():
            # Pillow warns above ~89 MP; our own limit below decides, so the warning is noise.
            warnings.simplefilter("ignore", image_module.DecompressionBombWarning)
            im = image_module.open(source, formats=_INPUTS)
    except image_module.DecompressionBombError as exc:
        # Pillow's own guard (2 x Image.MAX_IMAGE_PIXELS) fired before our limit could.
        raise ImageTooLarge(f"the image is too large to decode safely: {exc}") from exc
    except Exception as exc:
        # UnidentifiedImageError (an OSError): no accepted plugin recognised the bytes; any
        # other exception escaped a plugin that did recognise them but broke on the header.
        if not _raised_in_pillow(exc):
            raise
        source.seek(start)
        sniffed = _sniff(source.read(16))
        if sniffed:
            raise CorruptImage(f"the {sniffed} image header is malformed") from exc
        raise NotAnImage(
            "the original is not an image in an accepted format (JPEG, PNG, WebP, AVIF, GIF)"
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


def _scaled(
    image_module,
    im,
    target: tuple[int, int],
    timings: dict[str, float] | None = None,
    *,
    matte: tuple[int, int, int] | None = None,
):
    """The frame resized (in stored orientation) to `target`, decoding at the cheapest scale;
    the decode's milliseconds are added to `timings["decode"]`.

    With a `matte` colour (the output shows no alpha), alpha is flattened onto it here, before
    resizing, unless a box reduce shrinks the frame first (``_resized_in_bands``; then
    ``_Shaper.shaped`` flattens the smaller result). Flattening first spares Pillow's
    premultiply/unpremultiply passes and resamples three channels instead of four: measured
    on bench/'s 1200x900 alpha.png, -21% at 1067x800, -9% at 800x600, slower from 4x down,
    where the reduce comes first.
    The result is the same up to rounding: resampling is linear, so resizing the image
    flattened onto a colour equals flattening the premultiplied resize onto that colour.
    """
    crop_box = None
    if im.format in _DRAFTABLE and target != im.size:
        # Decodes at 1/2, 1/4 or 1/8 scale, staying >= target; `crop_box` maps the
        # original's extent onto the scaled pixels (scaled sizes are rounded up).
        drafted = im.draft(None, target)
        crop_box = drafted[1] if drafted else None
    _decode(im, timings)
    if crop_box is None:
        resized = _resized_in_bands(image_module, im, target)
        if resized is not None:
            return resized
    working = _working_mode(im)
    if matte and working.mode in ("RGBA", "LA"):  # no box reduce applies (see above)
        working = _flattened(image_module, working, matte)
    if working.size != target or crop_box is not None:
        return working.resize(
            target, image_module.Resampling.LANCZOS, box=crop_box, reducing_gap=REDUCING_GAP
        )
    if working is im:
        return im.copy()  # never hand the caller's decoded original back to be mutated
    return working


def _decode(im, timings: dict[str, float] | None) -> None:
    """Decode the frame's pixels (nothing to do when they are), adding the milliseconds to
    `timings["decode"]`."""
    decoding = time.perf_counter()
    im.load()
    if timings is not None:
        timings["decode"] = timings.get("decode", 0.0) + (time.perf_counter() - decoding) * 1000


def _resized_in_bands(image_module, im, target: tuple[int, int]):
    """The decoded frame resized to `target` as ``resize(target, LANCZOS,
    reducing_gap=REDUCING_GAP)`` would (the same pixels), with its integer box-reduce done a
    band of rows at a time; None when no reduce applies (then ``resize`` as usual).

    Without the full-size intermediates: Pillow converts a whole RGBA frame to premultiplied
    RGBa before reducing it, and ``_working_mode`` converts palette and 16-bit frames whole;
    here only a band at a time is converted, so the decoded raster and the reduced image (a
    quarter of it or less) are all that coexist, and the raster is freed before Lanczos
    (unless a later frame of an animation is decoded over it).
    """
    width, height = im.size
    factor_x = int(width / target[0] / REDUCING_GAP) or 1
    factor_y = int(height / target[1] / REDUCING_GAP) or 1
    if factor_x == 1 and factor_y == 1:
        return None
    step = factor_y * max(1, REDUCE_BAND_ROWS // factor_y)  # bands of whole reduce blocks
    reduced = mode = None
    for top in range(0, height, step):
        rows = (0, top, width, min(height, top + step))
        if im.mode in ("RGB", "L"):  # nothing to convert: reduced straight from the raster
            mode, band = im.mode, im.reduce((factor_x, factor_y), box=rows)
        else:
            band = _working_mode(im.crop(rows))
            mode = band.mode
            if mode in _PREMULTIPLIED:  # as Pillow's resize: reduce and Lanczos premultiplied
                band = band.convert(_PREMULTIPLIED[mode])
            band = band.reduce((factor_x, factor_y))
        if reduced is None:  # reduce rounds sizes up
            size = (-(-width // factor_x), -(-height // factor_y))
            reduced = image_module.new(band.mode, size)
        reduced.paste(band, (0, top // factor_y))
    if im.format not in _ANIMATED:
        im.close()  # no later frame is decoded over it: free the decoded raster now
    box = (0, 0, width / factor_x, height / factor_y)
    resized = reduced.resize(target, image_module.Resampling.LANCZOS, box=box)
    return resized.convert(mode) if resized.mode != mode else resized


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
    """Convert to a mode the encoder writes (alpha is already flattened where the output
    has none: ``_Shaper.matte``)."""
    if pil_format == "GIF" and im.mode == "RGB":
        # GIF needs a palette. Pillow's saver would quantize with median cut: 31 ms per
        # 150x150 frame, which puts a 200-frame 400x300 animation over Lambda@Edge's 30 s.
        # Fast octree is 13x faster for 2.4 dB less PSNR and 3% more bytes (measured on
        # bench/resize_options_bench.py's animation). Frames with alpha keep Pillow's path,
        # which keeps their transparency.
        return im.quantize(256, method=image_module.Quantize.FASTOCTREE)
    return im


def _flattened(image_module, im, matte: tuple[int, int, int]):
    """An RGBA or LA image composited onto `matte`, as RGB, or L for LA on a grey.

    Pasting the image with itself as the mask uses its alpha band in place: half the time of
    converting to the opaque mode and extracting the alpha first, for identical pixels.
    """
    if im.mode == "LA" and len(set(matte)) > 1:
        im = im.convert("RGBA")  # a coloured matte needs colour channels
    opaque_mode = im.mode[:-1]
    flat = image_module.new(opaque_mode, im.size, matte[0] if opaque_mode == "L" else matte)
    flat.paste(im, mask=im)
    return flat


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
