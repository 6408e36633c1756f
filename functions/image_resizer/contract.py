"""The image resizer's deploy <-> runtime contract, written once. Pure: stdlib only.

What the component (EdgeImageResizer) writes into the distribution and what the function
(this folder, running on Lambda@Edge) reads back: the request path and size syntax, the
settings headers on the S3 origin (Lambda@Edge has no environment variables), and where
stored variants live in the bucket (`resized/`).

It sits in the function's folder, so the bundler ships it at the zip root and the function
imports it as `contract`; the component, the stack config, the local twin and smoke import
the same file as `edgekit_iac.functions.image_resizer.contract`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Requests: /images/{W}x{H}/{key}?format=&dpr=&fit=&gravity=&bg=&q=&frames=
# (issue 14, CONTRACT14.md). Every other query parameter is ignored by the resizer and is
# not in the cache key; QUERY_PARAMETERS is the cache policy's query-string allow-list.
PATH_PREFIX = "/images/"
FORMAT_QUERY_PARAMETER = "format"
# Written only by the viewer-request CloudFront Function (a client's value is overwritten
# or removed), together with format=auto: the normalised Accept, one of NEGOTIATED_FORMATS.
NEGOTIATED_FORMAT_PARAMETER = "accept"
DPR_PARAMETER = "dpr"
FIT_PARAMETER = "fit"
GRAVITY_PARAMETER = "gravity"
BACKGROUND_PARAMETER = "bg"
QUALITY_PARAMETER = "q"
FRAMES_PARAMETER = "frames"
QUERY_PARAMETERS = (
    FORMAT_QUERY_PARAMETER,
    NEGOTIATED_FORMAT_PARAMETER,
    DPR_PARAMETER,
    FIT_PARAMETER,
    GRAVITY_PARAMETER,
    BACKGROUND_PARAMETER,
    QUALITY_PARAMETER,
    FRAMES_PARAMETER,
)

# ?format= values: an explicit output format (always wins), or `auto` (negotiate).
OUTPUT_FORMATS = ("jpeg", "png", "webp", "avif")
AUTO_FORMAT = "auto"
# ?accept= values: `original` means the original's own format.
ORIGINAL_FORMAT = "original"
NEGOTIATED_FORMATS = ("avif", "webp", ORIGINAL_FORMAT)
# ?dpr= values: the requested box is multiplied, never beyond the original's size.
DPR_VALUES = (1, 2, 3)
DEFAULT_DPR = 1
# ?fit= values; ?gravity= only with fit=cover, ?bg= (RRGGBB hex) only with fit=contain.
FITS = ("inside", "cover", "contain", "fill")
DEFAULT_FIT = "inside"
GRAVITIES = (
    "center",
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
    "entropy",
)
DEFAULT_GRAVITY = "center"
BACKGROUND_PATTERN = re.compile(r"[0-9a-fA-F]{6}")
# Without ?bg=, transparent pixels (and contain's padding) stay transparent where the output
# has alpha, and show this colour where it has none (JPEG). With it, they show ?bg= in all.
OPAQUE_BACKGROUND = "ffffff"
# ?frames= values: 1 = the first frame only; absent = keep the animation where it can.
FRAMES_VALUES = (1,)

# Sizes: "WIDTHxHEIGHT", each side 1..MAX_SIDE, canonical without leading zeros.
MAX_SIDE = 4096
SIZE_PATTERN = re.compile(r"([1-9][0-9]{0,3})x([1-9][0-9]{0,3})")
DEFAULT_SIZES: tuple[tuple[int, int], ...] = (
    (150, 150),
    (300, 200),
    (400, 300),
    (800, 600),
    (1200, 800),
    (1920, 1080),
)
DEFAULT_QUALITY = 80
QUALITY_RANGE = (1, 100)
DEFAULT_MAX_PIXELS = 50_000_000
# ?q= may name only one of the stack's presets (so attackers cannot multiply variants).
DEFAULT_QUALITY_PRESETS = (60, 75, 90)
# Animated originals: more frames than this are refused (422); frames x pixels count
# against the same pixel budget as a still image.
DEFAULT_MAX_FRAMES = 200
# What the resizer answers when the original is missing or broken.
ON_ERROR_STATUS = "status"  # the JSON 4xx
ON_ERROR_REDIRECT = "redirect"  # a 302 to the original
ON_ERROR_FALLBACK = "fallback"  # a placeholder from the bucket, resized to the box
ON_ERROR_MODES = (ON_ERROR_STATUS, ON_ERROR_REDIRECT, ON_ERROR_FALLBACK)
DEFAULT_ON_ERROR = ON_ERROR_STATUS

# Settings the component sets as S3-origin custom headers and the function reads.
ALLOWED_SIZES_HEADER = "x-edgekit-allowed-sizes"
QUALITY_HEADER = "x-edgekit-quality"
MAX_PIXELS_HEADER = "x-edgekit-max-pixels"
QUALITY_PRESETS_HEADER = "x-edgekit-quality-presets"  # "60,75,90"
ON_ERROR_HEADER = "x-edgekit-on-error"  # one of ON_ERROR_MODES
FALLBACK_KEY_HEADER = "x-edgekit-fallback-key"  # set only with on_error=fallback
MAX_FRAMES_HEADER = "x-edgekit-max-frames"
SETTINGS_HEADERS = (
    ALLOWED_SIZES_HEADER,
    QUALITY_HEADER,
    MAX_PIXELS_HEADER,
    QUALITY_PRESETS_HEADER,
    ON_ERROR_HEADER,
    FALLBACK_KEY_HEADER,
    MAX_FRAMES_HEADER,
)
# CloudFront's limit on one origin custom header value.
HEADER_VALUE_LIMIT = 1783

# Response headers the resizer sets.
SIZE_RESPONSE_HEADER = "x-edgekit-size"  # "WxH" actually served (dpr never upscales)
FALLBACK_RESPONSE_HEADER = "x-edgekit-fallback"  # "1" on a placeholder answer

# Stored variants: resized/{key}/{W}x{H}/{descriptor}, so that purge can LIST a key's
# variants. {W}x{H} is the requested (allow-listed) size before dpr; the descriptor is one
# path segment built canonically from the normalised parameters (see `descriptor`).
# The function may write only under this prefix; the bucket expires what is under it.
VARIANT_PREFIX = "resized"
RESIZED_PREFIX = f"{VARIANT_PREFIX}/"
DESCRIPTOR_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)?(?:\.[a-z0-9]+(?:-[a-z0-9]+)?)*")


@dataclass(frozen=True)
class ResizeRequest:
    """A valid, normalised resize request: what the variant's bytes depend on.

    Defaults are the normalised "not asked" values, so two URLs that ask for the same
    output make equal requests and share one stored variant.
    """

    width: int  # the allow-listed box, before dpr
    height: int
    key: str  # the original's S3 key, percent-decoded, relative to the origin path
    format: str | None = None  # output format (OUTPUT_FORMATS), None = the original's
    dpr: int = DEFAULT_DPR
    fit: str = DEFAULT_FIT
    gravity: str = DEFAULT_GRAVITY  # not the default only with fit=cover
    background: str | None = None  # "rrggbb", only with fit=contain
    quality: int | None = None  # a preset other than the stack's default quality
    frames: int | None = None  # 1 = first frame only
    negotiated: bool = False  # the format came from Accept: the response varies on it

    @property
    def box(self) -> tuple[int, int]:
        """The box the image is fitted into: the requested size times dpr."""
        return self.width * self.dpr, self.height * self.dpr


# Variant keys add at most 61 bytes ("resized/" + "/4096x4096/" + the longest descriptor,
# 42), and S3 keys stop at 1024.
MAX_KEY_BYTES = 960


def key_problem(key: str) -> str | None:
    """Why `key` cannot name an original (percent-decoded), or None when it can."""
    if not key:
        return "the image key is empty; expected /images/WIDTHxHEIGHT/KEY"
    if key.startswith("/"):
        return "the image key must be relative, not start with '/'"
    if any(unicodedata.category(char) == "Cc" for char in key):
        return "the image key must not contain control characters"
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        return "the image key must not contain empty, '.' or '..' path segments"
    if key.startswith(RESIZED_PREFIX):
        # Stored variants live there: resizing one would store a variant of a variant, one
        # more level per request, each a full resize (issue 11).
        return (
            f"the image key must not be under '{RESIZED_PREFIX}', where resized variants are "
            "stored; ask for the original's key"
        )
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return f"the image key is longer than {MAX_KEY_BYTES} bytes"
    if any(unicodedata.category(char) == "Cs" for char in key):
        return "the image key must be valid Unicode"
    return None


# Originals under this key prefix are served only through the distribution's signed
# behaviour, /images/*/private/*: a URL must spell it literally (no percent-encoding), so
# that the path CloudFront matches against that pattern is the key the resizer reads.
PRIVATE_PREFIX = "private/"


def parse_size(text: str) -> tuple[int, int] | None:
    """(width, height) of a canonical "WxH" (as in URLs and the header), else None."""
    match = SIZE_PATTERN.fullmatch(text)
    if not match:
        return None
    width, height = int(match[1]), int(match[2])
    return (width, height) if width <= MAX_SIDE and height <= MAX_SIDE else None


def normalize_size(text: str) -> str | None:
    """The canonical form of a size a person wrote (" 0400X300" -> "400x300"), else None."""
    width, x, height = text.strip().lower().partition("x")
    if not x or not (width.isascii() and width.isdigit() and height.isascii() and height.isdigit()):
        return None
    canonical = format_size((int(width), int(height)))
    return canonical if parse_size(canonical) else None


def format_size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def sizes_header(sizes: Iterable[str]) -> str:
    """The allowed-sizes header value: canonical sizes joined by commas."""
    return ",".join(sizes)


def descriptor(request: ResizeRequest) -> str:
    """One path segment naming the output, from the normalised parameters.

    The output format (or `original`) first, then only what differs from the defaults, in
    a fixed order: "original", "webp", "webp.dpr2.cover-entropy.q75", "png.contain-ffffff",
    "original.fill.frames1". Negotiation is not in it: the same bytes whether asked for
    explicitly or through Accept.
    """
    parts = [request.format or ORIGINAL_FORMAT]
    if request.dpr != DEFAULT_DPR:
        parts.append(f"dpr{request.dpr}")
    if request.fit != DEFAULT_FIT:
        fit = request.fit
        if request.fit == "cover" and request.gravity != DEFAULT_GRAVITY:
            fit += f"-{request.gravity}"
        elif request.fit == "contain" and request.background:
            fit += f"-{request.background.lower()}"
        parts.append(fit)
    if request.quality is not None:
        parts.append(f"q{request.quality}")
    if request.frames is not None:
        parts.append(f"frames{request.frames}")
    return ".".join(parts)


def variant_prefix(key: str) -> str:
    """The prefix under which every stored variant of original `key` lives."""
    return f"{RESIZED_PREFIX}{key}/"


def variant_key(request: ResizeRequest) -> str:
    """Where a resized variant is stored, relative to the origin path."""
    size = format_size((request.width, request.height))
    return f"{variant_prefix(request.key)}{size}/{descriptor(request)}"


def is_variant_of(stored_key: str, key: str) -> bool:
    """Whether `stored_key` is a variant of original `key` (and not of a longer key).

    True only when what follows `variant_prefix(key)` is exactly "WxH/descriptor", so the
    variants of "a.jpg" never include those of "a.jpg/b".
    """
    prefix = variant_prefix(key)
    if not stored_key.startswith(prefix):
        return False
    size, slash, rest = stored_key[len(prefix) :].partition("/")
    return bool(slash) and parse_size(size) is not None and bool(DESCRIPTOR_PATTERN.fullmatch(rest))
