"""What a viewer asked the image resizer for, and whether it is allowed. Pure: no I/O.

A request is ``/images/{W}x{H}/{key}`` with optional query parameters (contract.py,
CONTRACT14.md), for example ``/images/400x300/photos/cat.jpg?format=webp&dpr=2&fit=cover``:

- ``format``  jpeg|png|webp|avif (explicit, always wins) or ``auto`` (negotiated: the output
  is ``accept``, which the viewer-request CloudFront Function writes: avif|webp|original;
  without it, the original's format). Negotiated responses vary on Accept.
- ``dpr``     1|2|3 multiplies the box (never beyond the original's size).
- ``fit``     inside (default) | cover | contain | fill.
- ``gravity`` center|north|south|east|west|northeast|northwest|southeast|southwest|entropy,
  only with fit=cover.
- ``bg``      RRGGBB, only with fit=contain.
- ``q``       one of the stack's quality presets.
- ``frames``  1 = the first frame of an animation only.

Every other query parameter is ignored. Values are case-insensitive and normalised, so URLs
asking for the same output make equal requests (and share one stored variant).
``parse_request`` never raises: for any input it returns either a ``ResizeRequest`` or a
``Rejection`` whose reason says what was wrong and what is accepted (the handler turns it
into a 400).

Per-distribution settings arrive as S3-origin custom headers set by the component;
``parse_settings`` reads them, with defaults when a header is absent. A header that is
present but malformed is a deployment mistake, not a viewer's: it raises ``SettingsError``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

import contract
from contract import (
    ALLOWED_SIZES_HEADER,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_ON_ERROR,
    DEFAULT_QUALITY,
    DEFAULT_QUALITY_PRESETS,
    FALLBACK_KEY_HEADER,
    MAX_FRAMES_HEADER,
    MAX_PIXELS_HEADER,
    ON_ERROR_FALLBACK,
    ON_ERROR_HEADER,
    ON_ERROR_MODES,
    QUALITY_HEADER,
    QUALITY_PRESETS_HEADER,
    format_size,
)

PREFIX = contract.PATH_PREFIX
MAX_KEY_BYTES = contract.MAX_KEY_BYTES

DEFAULT_ALLOWED_SIZES = contract.DEFAULT_SIZES


class SettingsError(ValueError):
    """A settings header set by the component is malformed (names the header and the form)."""


@dataclass(frozen=True)
class ResizerSettings:
    allowed_sizes: tuple[tuple[int, int], ...] = DEFAULT_ALLOWED_SIZES
    quality: int = DEFAULT_QUALITY
    max_pixels: int = DEFAULT_MAX_PIXELS
    quality_presets: tuple[int, ...] = DEFAULT_QUALITY_PRESETS
    on_error: str = DEFAULT_ON_ERROR
    fallback_key: str | None = None  # set exactly when on_error is "fallback"
    max_frames: int = DEFAULT_MAX_FRAMES


# The normalised request is part of the contract: its fields make the variant's name.
ResizeRequest = contract.ResizeRequest


@dataclass(frozen=True)
class Rejection:
    reason: str


def parse_settings(custom_headers: Mapping[str, str]) -> ResizerSettings:
    """Read settings from lower-cased header names -> values; absent headers use defaults."""
    changes: dict = {}
    if (raw := custom_headers.get(ALLOWED_SIZES_HEADER)) is not None:
        sizes = tuple(contract.parse_size(part.strip()) for part in raw.split(","))
        if not raw.strip() or not all(sizes):
            raise SettingsError(
                f"origin header {ALLOWED_SIZES_HEADER}={raw!r} is malformed; "
                "expected comma-separated WIDTHxHEIGHT sizes such as '150x150,400x300'"
            )
        changes["allowed_sizes"] = tuple(size for size in sizes if size)
    if (raw := custom_headers.get(QUALITY_HEADER)) is not None:
        changes["quality"] = _quality(raw, QUALITY_HEADER)
    if (raw := custom_headers.get(MAX_PIXELS_HEADER)) is not None:
        changes["max_pixels"] = _positive_int(raw, MAX_PIXELS_HEADER, "a positive pixel count")
    if (raw := custom_headers.get(QUALITY_PRESETS_HEADER)) is not None:
        presets = tuple(_quality(part, QUALITY_PRESETS_HEADER) for part in raw.split(","))
        changes["quality_presets"] = tuple(sorted(set(presets)))
    if (raw := custom_headers.get(ON_ERROR_HEADER)) is not None:
        if raw.strip() not in ON_ERROR_MODES:
            raise SettingsError(
                f"origin header {ON_ERROR_HEADER}={raw!r} is malformed; expected one of "
                + ", ".join(ON_ERROR_MODES)
            )
        changes["on_error"] = raw.strip()
    if (raw := custom_headers.get(FALLBACK_KEY_HEADER)) is not None:
        if problem := contract.key_problem(raw):
            raise SettingsError(f"origin header {FALLBACK_KEY_HEADER}={raw!r}: {problem}")
        changes["fallback_key"] = raw
    if (raw := custom_headers.get(MAX_FRAMES_HEADER)) is not None:
        changes["max_frames"] = _positive_int(raw, MAX_FRAMES_HEADER, "a positive frame count")
    settings = ResizerSettings(**changes)
    if (settings.on_error == ON_ERROR_FALLBACK) != (settings.fallback_key is not None):
        raise SettingsError(
            f"origin headers {ON_ERROR_HEADER} and {FALLBACK_KEY_HEADER} disagree: a fallback "
            f"key is set exactly when {ON_ERROR_HEADER} is {ON_ERROR_FALLBACK!r}"
        )
    return settings


def _quality(raw: str, header: str) -> int:
    quality = _positive_int(raw, header, "integers from 1 to 100")
    if quality > 100:
        raise SettingsError(f"origin header {header}={raw!r} is over 100")
    return quality


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
    *,
    quality_presets: Collection[int] = DEFAULT_QUALITY_PRESETS,
    default_quality: int = DEFAULT_QUALITY,
) -> ResizeRequest | Rejection:
    """Validate a CloudFront request URI (percent-encoded) and query string.

    `accepted_formats` are the output formats this build can encode; `quality_presets` the
    values ``q`` may take (one equal to `default_quality` is the same as no ``q``).
    """
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
    if problem := contract.key_problem(key):
        return Rejection(problem)
    if key.startswith(contract.PRIVATE_PREFIX) and not encoded_key.startswith(
        contract.PRIVATE_PREFIX
    ):
        # Spelled otherwise (%70rivate/, private%2F) the path would miss the signed behaviour.
        return Rejection(
            f"keys under {contract.PRIVATE_PREFIX} must be spelled literally in the URL, "
            "not percent-encoded"
        )

    query = _query(querystring)
    if isinstance(query, Rejection):
        return query
    try:
        options = _options(query, accepted_formats, quality_presets, default_quality)
    except _Refused as refused:
        return Rejection(str(refused))
    return ResizeRequest(width, height, key, **options)


class _Refused(Exception):
    """A query parameter's value is not accepted (internal to parse_request)."""


def _query(querystring: str) -> dict[str, str] | Rejection:
    """The contract's query parameters, each given at most once, values lower-cased."""
    values: dict[str, set[str]] = {}
    for name, value in parse_qsl(querystring, keep_blank_values=True):
        if name in contract.QUERY_PARAMETERS:
            values.setdefault(name, set()).add(value.strip().lower())
    for name, given in values.items():
        if len(given) > 1:
            return Rejection(f"give the {name} query parameter once, got {len(given)} values")
    return {name: given.pop() for name, given in values.items()}


def _options(
    query: Mapping[str, str],
    accepted_formats: Collection[str],
    quality_presets: Collection[int],
    default_quality: int,
) -> dict:
    """ResizeRequest fields from the query parameters; raises _Refused naming what is accepted."""
    options: dict = {}
    output_format, negotiated = _output_format(query, accepted_formats)
    if output_format is not None:
        options["format"] = output_format
    if negotiated:
        options["negotiated"] = True

    if (dpr := query.get(contract.DPR_PARAMETER)) is not None:
        options["dpr"] = int(_one_of(contract.DPR_PARAMETER, dpr, contract.DPR_VALUES))
    fit = query.get(contract.FIT_PARAMETER, contract.DEFAULT_FIT)
    options["fit"] = _one_of(contract.FIT_PARAMETER, fit, contract.FITS)
    if (gravity := query.get(contract.GRAVITY_PARAMETER)) is not None:
        if fit != "cover":
            raise _Refused(f"gravity applies only with fit=cover (got fit={_shown(fit)})")
        options["gravity"] = _one_of(contract.GRAVITY_PARAMETER, gravity, contract.GRAVITIES)
    if (background := query.get(contract.BACKGROUND_PARAMETER)) is not None:
        if fit != "contain":
            raise _Refused(f"bg applies only with fit=contain (got fit={_shown(fit)})")
        if not contract.BACKGROUND_PATTERN.fullmatch(background):
            raise _Refused(
                f"bg {_shown(background)} is not a colour; accepted: six hex digits RRGGBB, "
                "such as bg=ffffff"
            )
        options["background"] = background
    if (quality := query.get(contract.QUALITY_PARAMETER)) is not None:
        presets = sorted(quality_presets)
        value = int(_one_of(contract.QUALITY_PARAMETER, quality, [str(q) for q in presets]))
        if value != default_quality:
            options["quality"] = value
    if (frames := query.get(contract.FRAMES_PARAMETER)) is not None:
        options["frames"] = int(_one_of(contract.FRAMES_PARAMETER, frames, contract.FRAMES_VALUES))
    return options


def _output_format(
    query: Mapping[str, str], accepted_formats: Collection[str]
) -> tuple[str | None, bool]:
    """(output format or None for the original's, whether it was negotiated)."""
    requested = query.get(contract.FORMAT_QUERY_PARAMETER)
    negotiated = query.get(contract.NEGOTIATED_FORMAT_PARAMETER)
    explicit = sorted(f for f in contract.OUTPUT_FORMATS if f in accepted_formats)
    if requested is None or requested != contract.AUTO_FORMAT:
        if negotiated is not None:
            # Only the edge function writes it, and only with format=auto: anything else would
            # be one more cache key for the same bytes.
            raise _Refused(
                f"{contract.NEGOTIATED_FORMAT_PARAMETER} is set only by the edge together with "
                f"format={contract.AUTO_FORMAT}; accepted formats: "
                + ", ".join([*explicit, contract.AUTO_FORMAT])
            )
        if requested is None:
            return None, False
        return _one_of(contract.FORMAT_QUERY_PARAMETER, requested, explicit, "auto"), False
    if negotiated is None:
        return None, True  # the edge function was bypassed: the original's format
    value = _one_of(contract.NEGOTIATED_FORMAT_PARAMETER, negotiated, contract.NEGOTIATED_FORMATS)
    if value == contract.ORIGINAL_FORMAT or value not in accepted_formats:
        return None, True  # this build cannot encode it: the original's format is safe
    return value, True


def _one_of(name: str, value: str, accepted: Collection, *more: str) -> str:
    """`value` if it is one of `accepted` (compared as text), else _Refused listing them."""
    names = [str(item) for item in accepted]
    if value in names:
        return value
    listed = ", ".join([*names, *more])
    raise _Refused(f"{name} {_shown(value)} is not supported; accepted: {listed}")


def _decoded(encoded_key: str) -> str | Rejection:
    try:
        return unquote(encoded_key, errors="strict")
    except UnicodeDecodeError:
        return Rejection("the image key is not valid UTF-8 once percent-decoded")


def variant_key(request: ResizeRequest) -> str:
    """Where the resized variant is stored, relative to the origin path.

    Deterministic in everything that changes the output bytes a viewer can ask for, so a
    stored variant can be served without resizing again.
    """
    return contract.variant_key(request)


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
