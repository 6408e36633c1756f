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
from collections.abc import Iterable

# Requests: /images/{W}x{H}/{key}?format={fmt}
PATH_PREFIX = "/images/"
FORMAT_QUERY_PARAMETER = "format"

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

# Settings the component sets as S3-origin custom headers and the function reads.
ALLOWED_SIZES_HEADER = "x-edgekit-allowed-sizes"
QUALITY_HEADER = "x-edgekit-quality"
MAX_PIXELS_HEADER = "x-edgekit-max-pixels"
SETTINGS_HEADERS = (ALLOWED_SIZES_HEADER, QUALITY_HEADER, MAX_PIXELS_HEADER)
# CloudFront's limit on one origin custom header value.
HEADER_VALUE_LIMIT = 1783

# Stored variants: resized/{W}x{H}/{format}/{key}; `original` when no ?format was asked.
# The function may write only under this prefix; the bucket expires what is under it.
VARIANT_PREFIX = "resized"
RESIZED_PREFIX = f"{VARIANT_PREFIX}/"
# Originals under this key prefix are served only through the distribution's signed
# behaviour, /images/*/private/*: a URL must spell it literally (no percent-encoding), so
# that the path CloudFront matches against that pattern is the key the resizer reads.
PRIVATE_PREFIX = "private/"
ORIGINAL_FORMAT = "original"


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


def variant_key(width: int, height: int, output_format: str | None, key: str) -> str:
    """Where a resized variant is stored, relative to the origin path."""
    return f"{VARIANT_PREFIX}/{width}x{height}/{output_format or ORIGINAL_FORMAT}/{key}"
