"""What a viewer asked the image resizer for, and whether it is allowed. Pure: no I/O.

A request is ``/images/{W}x{H}/{key}`` with an optional ``format`` query parameter, for
example ``/images/400x300/photos/cat.jpg?format=webp``. ``parse_request`` never raises:
for any input it returns either a ``ResizeRequest`` or a ``Rejection`` whose reason says
what was wrong and what is accepted (the handler turns it into a 400).

Per-distribution settings arrive as S3-origin custom headers set by the component;
``parse_settings`` reads them, with defaults when a header is absent. A header that is
present but malformed is a deployment mistake, not a viewer's: it raises ``SettingsError``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

import contract
from contract import (
    ALLOWED_SIZES_HEADER,
    DEFAULT_MAX_PIXELS,
    DEFAULT_QUALITY,
    MAX_PIXELS_HEADER,
    QUALITY_HEADER,
    format_size,
)

PREFIX = contract.PATH_PREFIX
VARIANT_PREFIX = contract.VARIANT_PREFIX
# Variant keys add at most ~40 bytes (resized/WxH/format/), and S3 keys stop at 1024.
MAX_KEY_BYTES = 960

DEFAULT_ALLOWED_SIZES = contract.DEFAULT_SIZES


class SettingsError(ValueError):
    """A settings header set by the component is malformed (names the header and the form)."""


@dataclass(frozen=True)
class ResizerSettings:
    allowed_sizes: tuple[tuple[int, int], ...] = DEFAULT_ALLOWED_SIZES
    quality: int = DEFAULT_QUALITY
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class ResizeRequest:
    width: int
    height: int
    key: str  # the original's S3 key, percent-decoded, relative to the origin path
    format: str | None  # requested output format, or None for the original's format


@dataclass(frozen=True)
class Rejection:
    reason: str


def parse_settings(custom_headers: Mapping[str, str]) -> ResizerSettings:
    """Read settings from lower-cased header names -> values; absent headers use defaults."""
    settings = ResizerSettings()
    if (raw := custom_headers.get(ALLOWED_SIZES_HEADER)) is not None:
        sizes = tuple(contract.parse_size(part.strip()) for part in raw.split(","))
        if not raw.strip() or not all(sizes):
            raise SettingsError(
                f"origin header {ALLOWED_SIZES_HEADER}={raw!r} is malformed; "
                "expected comma-separated WIDTHxHEIGHT sizes such as '150x150,400x300'"
            )
        allowed = tuple(size for size in sizes if size)
        settings = ResizerSettings(allowed, settings.quality, settings.max_pixels)
    if (raw := custom_headers.get(QUALITY_HEADER)) is not None:
        quality = _positive_int(raw, QUALITY_HEADER, "an integer from 1 to 100")
        if quality > 100:
            raise SettingsError(f"origin header {QUALITY_HEADER}={raw!r} is over 100")
        settings = ResizerSettings(settings.allowed_sizes, quality, settings.max_pixels)
    if (raw := custom_headers.get(MAX_PIXELS_HEADER)) is not None:
        max_pixels = _positive_int(raw, MAX_PIXELS_HEADER, "a positive pixel count")
        settings = ResizerSettings(settings.allowed_sizes, settings.quality, max_pixels)
    return settings


def _positive_int(raw: str, header: str, accepted: str) -> int:
    value = raw.strip()
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise SettingsError(f"origin header {header}={raw!r} is malformed; expected {accepted}")
    return int(value)


def parse_request(
    uri: str,
    querystring: str,
    allowed_sizes: Collection[tuple[int, int]],
    accepted_formats: Collection[str],
) -> ResizeRequest | Rejection:
    """Validate a CloudFront request URI (percent-encoded) and query string."""
    if not uri.startswith(PREFIX):
        return Rejection(f"path must look like {PREFIX}WIDTHxHEIGHT/KEY, got {_shown(uri)}")
    size_part, slash, encoded_key = uri[len(PREFIX) :].partition("/")
    size = contract.parse_size(size_part)
    if not slash or not size:
        return Rejection(f"path must look like {PREFIX}WIDTHxHEIGHT/KEY, got {_shown(uri)}")
    width, height = size
    if (width, height) not in allowed_sizes:
        accepted = ", ".join(format_size(s) for s in allowed_sizes)
        return Rejection(f"size {width}x{height} is not allowed; accepted sizes: {accepted}")

    key = _decoded(encoded_key)
    if isinstance(key, Rejection):
        return key
    if problem := _key_problem(key):
        return Rejection(problem)
    if key.startswith(contract.PRIVATE_PREFIX) and not encoded_key.startswith(
        contract.PRIVATE_PREFIX
    ):
        # Spelled otherwise (%70rivate/, private%2F) the path would miss the signed behaviour.
        return Rejection(
            f"keys under {contract.PRIVATE_PREFIX} must be spelled literally in the URL, "
            "not percent-encoded"
        )

    output_format = _requested_format(querystring, accepted_formats)
    if isinstance(output_format, Rejection):
        return output_format
    return ResizeRequest(width, height, key, output_format)


def _decoded(encoded_key: str) -> str | Rejection:
    try:
        return unquote(encoded_key, errors="strict")
    except UnicodeDecodeError:
        return Rejection("the image key is not valid UTF-8 once percent-decoded")


def _key_problem(key: str) -> str | None:
    """Why `key` cannot name an original, or None. Checked after percent-decoding."""
    if not key:
        return "the image key is empty; expected /images/WIDTHxHEIGHT/KEY"
    if key.startswith("/"):
        return "the image key must be relative, not start with '/'"
    if any(unicodedata.category(char) == "Cc" for char in key):
        return "the image key must not contain control characters"
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        return "the image key must not contain empty, '.' or '..' path segments"
    if key.startswith(VARIANT_PREFIX + "/"):
        # Stored variants live there: resizing one would store a variant of a variant, one
        # more level per request, each a full resize (issue 11).
        return (
            f"the image key must not be under '{VARIANT_PREFIX}/', where resized variants are "
            "stored; ask for the original's key"
        )
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return f"the image key is longer than {MAX_KEY_BYTES} bytes"
    if any(unicodedata.category(char) == "Cs" for char in key):
        return "the image key must be valid Unicode"
    return None


def _requested_format(
    querystring: str, accepted_formats: Collection[str]
) -> str | None | Rejection:
    """The `format` query parameter (other parameters are ignored), lower-cased."""
    values = {
        value.lower()
        for name, value in parse_qsl(querystring, keep_blank_values=True)
        if name == contract.FORMAT_QUERY_PARAMETER
    }
    if not values:
        return None
    accepted = ", ".join(sorted(accepted_formats))
    if len(values) > 1:
        return Rejection(f"give the format query parameter once; accepted: {accepted}")
    (value,) = values
    if value not in accepted_formats:
        return Rejection(f"format {_shown(value)} is not supported; accepted: {accepted}")
    return value


def variant_key(request: ResizeRequest) -> str:
    """Where the resized variant is stored, relative to the origin path.

    Deterministic in everything that changes the output bytes a viewer can ask for, so a
    stored variant can be served without resizing again.
    """
    return contract.variant_key(request.width, request.height, request.format, request.key)


def object_key(origin_path: str, key: str) -> str:
    """The bucket key CloudFront would read for `key` under the origin's path ("" or "/dir")."""
    prefix = origin_path.strip("/")
    return f"{prefix}/{key}" if prefix else key


def uri_for(key: str) -> str:
    """The request URI that makes CloudFront fetch `key` (relative to the origin path)."""
    return "/" + quote(key, safe="/")


def _shown(text: str, limit: int = 80) -> str:
    """`text` quoted for an error message: printable and short."""
    printable = text.encode("unicode_escape").decode("ascii")
    return repr(printable if len(printable) <= limit else printable[:limit] + "...")
