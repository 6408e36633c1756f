"""EdgeImageResizer: resized images from a private S3 bucket through CloudFront + Lambda@Edge.

`GET /images/400x300/photos/cat.jpg` reaches the distribution; on a cache miss the
origin-request function (functions/image_resizer) resizes `photos/cat.jpg` from the
originals bucket, or rewrites the request to a variant it stored under `resized/`.

The edge rules live here, not with the caller: the function is published in us-east-1 on
x86_64 without environment variables and within the origin timeout; the bucket is private
and reached only through an Origin Access Control conditioned on this distribution; the
role may read originals, write only `resized/` and write its logs. Callers choose sizes,
quality, TTLs, price class, domain names and what to attach (a WAF web ACL, real-time
logs); they cannot switch the rules off.

Per-distribution settings reach the function as S3-origin custom headers, because
Lambda@Edge has no environment variables.

Format negotiation (`format=auto`) happens at the edge before the cache: a CloudFront
Function (functions/image_format, cloudfront-js-2.0, viewer-request) turns `Accept` into
`accept=avif|webp|original` in the query string, and the cache policy keys on the contract's
query parameters only, never on the `Accept` header, so a URL has at most three negotiated
variants. Its settings (auto_format, avif) are rendered into its code at deploy time; the
`auto_format` feature flag is read at run time from the associated KeyValueStore.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
from edgekit_iac.components import canary
from edgekit_iac.components._args import (
    ArgsError,
    check_region,
    documented,
    int_in,
    provider_module,
)
from edgekit_iac.components._aws_helpers import (
    POLICY_VERSION,
    ExpiryRule,
    account_of,
    deny_insecure_transport,
    policy_document,
    policy_json,
    private_bucket,
    statement,
)
from edgekit_iac.components._component import EdgeComponent
from edgekit_iac.components._security_headers import (
    DEFAULT_REFERRER_POLICY,
    HSTS_DEFAULT_MAX_AGE,
    check_headers,
    response_headers_policy_inputs,
)
from edgekit_iac.components.canary import CloudFrontCanaryArgs
from edgekit_iac.components.signed_paths import SignedPaths, SignedPathsArgs, check_public_keys
from edgekit_iac.functions.image_format import render as image_format
from edgekit_iac.functions.image_resizer import contract

if TYPE_CHECKING:
    import pulumi_aws as aws
else:
    aws = provider_module("pulumi_aws")

# A runtime import (cheap: no provider SDK), so that the Args' annotations resolve
# (`typing.get_type_hints`) for the stack config and the component package schema.
from edgekit_iac.bundle.build import Artifact  # noqa: E402
from edgekit_iac.bundle.declared import is_declared  # noqa: E402

TYPE_TOKEN = "edgekit:aws:EdgeImageResizer"
FUNCTION_NAME = "image_resizer"

# Lambda@Edge facts (see DESIGN.md): one region, one architecture, origin-trigger limits.
EDGE_REGION = "us-east-1"
ARCHITECTURE = "x86_64"
RUNTIME = "python3.13"
TRIGGER = "origin-request"
ORIGIN_TIMEOUT_LIMIT_SECONDS = 30
MEMORY_RANGE_MB = (128, 10_240)

# What this component writes and the function reads: one pure module, bundled with it.
DEFAULT_SIZES = tuple(contract.format_size(size) for size in contract.DEFAULT_SIZES)
SIDE_RANGE = (1, contract.MAX_SIDE)
QUALITY_RANGE = contract.QUALITY_RANGE
# Below 1 MP ordinary photos are refused. Above 178,956,970 pixels (2 x Image.MAX_IMAGE_PIXELS)
# Pillow itself refuses to open an image (DecompressionBombError), so a higher limit could
# never be reached.
PILLOW_PIXEL_LIMIT = 178_956_970
MAX_PIXELS_RANGE = (1_000_000, PILLOW_PIXEL_LIMIT)
# Peak memory of one resize, per pixel of the original, in the worst case: an RGBA WebP is
# decoded in full (no reduced-scale decode as for JPEG), copied into Pillow's image and
# converted. Measured with Pillow 13.0.0 on 16 MP and 36 MP RGBA WebPs resized to
# 1920x1080: 17.7 and 17.9 bytes per pixel (peak RSS); an RGBA PNG 9.4, a 16-bit PNG 10.0,
# a JPEG 0.6 (draft). The 178 MP WebP peaked at 2.8 GB, 15.7 bytes per pixel.
BYTES_PER_PIXEL = 18
# What the function holds besides the decode: the runtime, boto3 and Pillow (59 MB RSS
# measured after import) plus one original of up to MAX_ORIGINAL_BYTES (64 MB) in memory
# (since 1.4.1 only up to 8 MiB is: a larger original is spooled to /tmp; kept as margin).
BASELINE_MEMORY_MB = 128
MAX_QUALITY_PRESETS = 8
MAX_FRAMES_RANGE = (1, 1000)
# A year: what edgekit lets a variant be cached for at most.
MAX_TTL_LIMIT = 31_536_000
# Forwarded to the origin (not part of the cache key): the trace through the edge.
TRACE_HEADERS = ("traceparent", "tracestate")
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
GEO_RESTRICTION_TYPES = ("none", "whitelist", "blacklist")
MINIMUM_TLS = "TLSv1.2_2021"

RESIZED_PREFIX = contract.RESIZED_PREFIX
FORMAT_QUERY_STRING = contract.FORMAT_QUERY_PARAMETER
# The cache key's query-string allow-list: every parameter of the URL contract, including
# the `accept` the format function writes. Nothing else splits the cache.
CACHE_KEY_QUERY_STRINGS = tuple(contract.QUERY_PARAMETERS)
FORMAT_FUNCTION_RUNTIME = image_format.RUNTIME
FORMAT_FUNCTION_EVENT = image_format.EVENT_TYPE
ORIGIN_ID = "originals"
# Originals under the key prefix `private/` need a CloudFront signed URL or signed cookies.
# `*` matches any characters, `/` included, so every size of every key under private/ is
# covered; CloudFront matches ordered behaviours in order, before the default `*`.
PRIVATE_PREFIX = contract.PRIVATE_PREFIX
PRIVATE_PATH_PATTERN = f"/images/*/{PRIVATE_PREFIX}*"
HEADER_VALUE_LIMIT = contract.HEADER_VALUE_LIMIT

_HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_ACM_ARN = re.compile(r"^arn:aws:acm:us-east-1:\d{12}:certificate/[\w-]+$")
_WAF_ARN = re.compile(r"^arn:aws:wafv2:us-east-1:\d{12}:global/webacl/[\w-]+/[\w-]+$")
_KEY_VALUE_STORE_ARN = re.compile(r"^arn:aws:cloudfront::\d{12}:key-value-store/[\w-]+$")
_REALTIME_LOG_ARN = re.compile(r"^arn:aws:cloudfront::\d{12}:realtime-log-config/[\w.-]+$")


class ImageResizerArgsError(ArgsError):
    """A field of `EdgeImageResizerArgs` is wrong; the message names it and what is accepted."""

    owner = "EdgeImageResizerArgs"


@documented
@dataclass(frozen=True)
class EdgeImageResizerArgs:
    """What a caller may choose about the image resizer; the edge rules are not among them."""

    allowed_sizes: Sequence[str] = DEFAULT_SIZES
    """Sizes served, as "WIDTHxHEIGHT" with each side 1..4096. Default: 150x150, 300x200,
    400x300, 800x600, 1200x800, 1920x1080. Any other size in a URL is a 400."""

    quality: int = 80
    """Encoder quality for JPEG/WebP/AVIF output, 1..100. Default: 80."""

    quality_presets: Sequence[int] = contract.DEFAULT_QUALITY_PRESETS
    """The values `?q=` may take, each 1..100, at most 8 (each is one more variant per size
    and parameter set); any other `q` is a 400, and one equal to `quality` is the same as no
    `q`. Default: 60, 75, 90."""

    on_error: str = contract.DEFAULT_ON_ERROR
    """What a missing (404), non-image (415) or corrupt (422) original answers: "status"
    (that JSON error) or "fallback" (`fallback_key` resized like the request, cached for
    60 s, with `X-Edgekit-Fallback: 1`). Not "redirect": this distribution serves no
    originals, so a 302 to `/{key}` would end in a 400. Limits (pixels, frames, bytes) always
    answer their 422. Default: "status"."""

    fallback_key: str | None = None
    """The placeholder's key in the originals bucket (printable ASCII, not under
    `resized/`); required with on_error="fallback" and refused otherwise. Default: None."""

    max_frames: int = contract.DEFAULT_MAX_FRAMES
    """Animated GIF/WebP originals with more frames are refused with a 422 (`?frames=1` still
    serves the first frame), 1..1000; frames x pixels also count against `max_pixels`.
    Default: 200."""

    max_pixels: int = 50_000_000
    """Originals with more pixels than this are refused before decoding (decompression
    bombs), 1_000_000..178_956_970 (Pillow refuses more), and small enough for `memory_mb`
    to decode: 128 MB + 18 bytes per pixel must fit (see `required_memory_mb`).
    Default: 50_000_000 (the resizer's own default; needs 987 MB)."""

    memory_mb: int = 1024
    """Lambda memory (CPU scales with it), 128..10240 MB, at least
    `required_memory_mb(max_pixels)`. Default: 1024, the cheapest size that fits the default
    pixel budget and keeps a resize's modelled p95 under a second (bench/RESULTS.md, "Cost
    of a million resizes"; a single-threaded resize gains nothing above 1769 MB)."""

    timeout_seconds: int = 30
    """Lambda timeout, 1..30 s (the Lambda@Edge origin-trigger limit). Default: 30."""

    min_ttl: int = 0
    """Cache policy minimum TTL in seconds. Default: 0 (short-lived errors stay short)."""

    default_ttl: int = 86_400
    """Cache policy TTL when the response has no Cache-Control. Default: 86400 (a day)."""

    max_ttl: int = 31_536_000
    """Cache policy maximum TTL in seconds, at most 31536000 (a year); needs
    min <= default <= max. Default: 31536000."""

    price_class: str = "PriceClass_100"
    """CloudFront price class: PriceClass_100, PriceClass_200 or PriceClass_All.
    Default: PriceClass_100."""

    aliases: Sequence[str] = ()
    """Custom domain names (CNAMEs) of the distribution; need `certificate_arn`.
    Default: none (the distribution's cloudfront.net name only)."""

    certificate_arn: pulumi.Input[str] | None = None
    """ACM certificate in us-east-1 covering `aliases`; TLS then needs SNI and at least
    TLSv1.2_2021. Default: None (CloudFront's default certificate)."""

    web_acl_arn: pulumi.Input[str] | None = None
    """WAFv2 web ACL ARN (scope CLOUDFRONT, us-east-1), e.g. from EdgeRateLimit.
    Default: None (no web ACL)."""

    realtime_log_config_arn: pulumi.Input[str] | None = None
    """CloudFront real-time log config ARN, e.g. from EdgeLogPipeline. Default: None."""

    geo_restriction_type: str = "none"
    """none, whitelist or blacklist. Default: none."""

    geo_locations: Sequence[str] = ()
    """ISO 3166-1 alpha-2 country codes for whitelist/blacklist. Default: none."""

    bucket_region: str | None = None
    """AWS region of the originals bucket (where originals must stay, for residency).
    Default: None, the stack's `aws:region`."""

    force_destroy_bucket: bool = False
    """Let `pulumi destroy` delete a bucket that still holds originals. Default: False."""

    protect_data: bool = False
    """Protect the originals bucket (Pulumi `protect` and `retain_on_delete`): destroy and
    replacement stop before it instead of half tearing the stack down. Turn on in prod (the
    policy pack requires it there). Default: False."""

    resized_expiration_days: int | None = 30
    """Days after which stored variants under `resized/` expire (they are rebuilt on the next
    miss); None keeps them forever. Default: 30."""

    auto_format: bool = True
    """Negotiate the output format from the viewer's `Accept` header when a URL gives no
    `?format=` (the edge function writes `format=auto&accept=avif|webp|original`); False
    serves the original's format unless the URL asks (`?format=auto` still negotiates).
    Responses carry `Vary: Accept`. Stack config: images.autoFormat. Default: True."""

    avif: bool = True
    """Offer AVIF in negotiation (its encode is several times slower than WebP's); False
    negotiates WebP at best. An explicit `?format=avif` is served either way. Stack config:
    images.avif. Default: True."""

    format_key_value_store_arn: pulumi.Input[str] | None = None
    """A CloudFront KeyValueStore to associate with the image_format function (CloudFront
    allows one per function; the code reads its `auto_format` key, JSON true/false, with
    cloudfront-js-2.0's KVS helpers: false turns negotiation off at run time). Default: None
    (no store: the flag keeps `auto_format_flag_default`)."""

    auto_format_flag_default: bool = True
    """The `auto_format` flag's declared default (edgekit:flags), rendered into the format
    function: what it uses when the store has no `auto_format` key, none is associated or a
    read fails. Default: True."""

    artifact: Artifact | None = None
    """A prebuilt (pinned) image_resizer bundle. Default: None, which bundles
    functions/image_resizer with `edgekit_iac.bundle.build.build_function`."""

    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the bucket, role, function and distribution. Default: none."""

    canary: CloudFrontCanaryArgs | None = None
    """Continuous deployment (components/canary.py): a staging distribution running the
    candidate version and the policy that sends it a weight or a header of the traffic.
    Default: None."""

    signing_public_keys: Mapping[str, str] = field(default_factory=dict)
    """Key name -> PEM public key (RSA 2048 or ECDSA P-256) trusted for signed URLs and
    cookies on /images/*/private/* (originals under `private/`), one or two (two while
    rotating; see SignedPaths). Default: none: originals under private/ are then never
    served (that behaviour reaches the bucket without the resizer)."""

    hsts_max_age: int = HSTS_DEFAULT_MAX_AGE
    """Strict-Transport-Security max-age in seconds, 0..2147483647. Default: 31536000."""

    hsts_preload: bool = False
    """Add `includeSubDomains; preload` to HSTS (needs max-age of a year). Default: False."""

    referrer_policy: str = DEFAULT_REFERRER_POLICY
    """Referrer-Policy header value (one CloudFront accepts). Default:
    strict-origin-when-cross-origin."""

    cors_allowed_origins: Sequence[str] = ()
    """Origins ("https://app.example.com") allowed to read images cross-origin (GET/HEAD).
    Default: none (no CORS headers)."""


# --- validation: pure, runs before anything is declared ------------------------------------


_fail = ImageResizerArgsError


_int_in = functools.partial(int_in, ImageResizerArgsError)


def _strings(arg: str, value: Any, accepted: str) -> list[str]:
    # A lone string would be iterated character by character: say so instead.
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _fail(arg, f"got {value!r}, not a list", accepted)
    if not all(isinstance(item, str) for item in value):
        raise _fail(arg, f"got {value!r}, items must be strings", accepted)
    return [item.strip() for item in value]


def normalize_sizes(sizes: Any) -> tuple[str, ...]:
    """Canonical "WxH" strings in the given order, duplicates dropped."""
    low, high = SIDE_RANGE
    accepted = f'a non-empty list of "WIDTHxHEIGHT" with each side {low}..{high}, e.g. "400x300"'
    canonical: list[str] = []
    for text in _strings("allowed_sizes", sizes, accepted):
        size = contract.normalize_size(text)
        if size is None:
            raise _fail("allowed_sizes", f"bad size {text!r}", accepted)
        if size not in canonical:
            canonical.append(size)
    if not canonical:
        raise _fail("allowed_sizes", "the list is empty", accepted)
    if len(contract.sizes_header(canonical)) > HEADER_VALUE_LIMIT:
        raise _fail(
            "allowed_sizes",
            f"{len(canonical)} sizes do not fit one CloudFront header",
            f"at most {HEADER_VALUE_LIMIT} characters when joined with commas",
        )
    return tuple(canonical)


def normalize_quality_presets(presets: Any) -> tuple[int, ...]:
    """The presets, sorted, duplicates dropped."""
    low, high = QUALITY_RANGE
    accepted = f"a non-empty list of at most {MAX_QUALITY_PRESETS} integers {low}..{high}"
    if isinstance(presets, str) or not isinstance(presets, Sequence):
        raise _fail("quality_presets", f"got {presets!r}, not a list", accepted)
    values = sorted({_int_in("quality_presets", value, low, high) for value in presets})
    if not values or len(values) > MAX_QUALITY_PRESETS:
        raise _fail("quality_presets", f"got {len(values)} distinct values", accepted)
    return tuple(values)


# The function also knows "redirect" (a 302 to the original's URL, `/{key}`), but this
# distribution serves no originals there: the bucket is private and every path other than
# /images/WxH/key is the function's 400, so each redirect would end in an error.
ON_ERROR_MODES = tuple(m for m in contract.ON_ERROR_MODES if m != contract.ON_ERROR_REDIRECT)


def _check_on_error(on_error: Any, fallback_key: Any) -> tuple[str, str | None]:
    accepted = ", ".join(ON_ERROR_MODES)
    if on_error == contract.ON_ERROR_REDIRECT:
        raise _fail("on_error", "got 'redirect', but this distribution serves no originals "
                                "(private bucket; /{key} is a 400), so the 302 would lead to an "
                                "error", accepted)
    if on_error not in ON_ERROR_MODES:
        raise _fail("on_error", f"got {on_error!r}", accepted)
    wanted = on_error == contract.ON_ERROR_FALLBACK
    if wanted and fallback_key is None:
        raise _fail(
            "fallback_key",
            'on_error="fallback" needs a placeholder',
            "the key of a placeholder image in the originals bucket, e.g. 'placeholders/x.png'",
        )
    if not wanted and fallback_key is not None:
        raise _fail(
            "fallback_key",
            f"given with on_error={on_error!r}, where it would never be used",
            'a fallback_key together with on_error="fallback", or neither',
        )
    if fallback_key is not None:
        accepted = "a printable ASCII key of the originals bucket, not under 'resized/'"
        if not isinstance(fallback_key, str) or not fallback_key.isascii():
            raise _fail("fallback_key", f"got {fallback_key!r}", accepted)
        if problem := contract.key_problem(fallback_key):
            raise _fail("fallback_key", f"{fallback_key!r}: {problem}", accepted)
    return on_error, fallback_key


def _normalize_aliases(aliases: Any, certificate_arn: Any) -> tuple[str, ...]:
    accepted = 'a list of DNS names such as "img.example.com" or "*.example.com"'
    names = [name.lower().rstrip(".") for name in _strings("aliases", aliases, accepted)]
    for name in names:
        if not _HOSTNAME.match(name):
            raise _fail("aliases", f"{name!r} is not a DNS name", accepted)
    if len(set(names)) != len(names):
        raise _fail("aliases", f"duplicate names in {names}", "each name once")
    if names and certificate_arn is None:
        raise _fail(
            "certificate_arn",
            f"aliases {names} need a certificate",
            "the ARN of an ACM certificate in us-east-1 covering every alias",
        )
    if not names and certificate_arn is not None:
        raise _fail(
            "certificate_arn",
            "a certificate without aliases would never be used",
            "a certificate together with the aliases it covers, or neither",
        )
    return tuple(names)


def _check_arn(arg: str, value: Any, pattern: re.Pattern[str], accepted: str) -> Any:
    """Plain strings are checked; Outputs (another component's ARN) are trusted as typed."""
    if isinstance(value, str) and not pattern.match(value):
        raise _fail(arg, f"got {value!r}", accepted)
    return value


def _normalize_geo(restriction_type: Any, locations: Any) -> tuple[str, tuple[str, ...]]:
    if restriction_type not in GEO_RESTRICTION_TYPES:
        raise _fail(
            "geo_restriction_type", f"got {restriction_type!r}", ", ".join(GEO_RESTRICTION_TYPES)
        )
    accepted = 'ISO 3166-1 alpha-2 country codes such as "DE", "US"'
    codes = [code.upper() for code in _strings("geo_locations", locations, accepted)]
    bad = [code for code in codes if not _COUNTRY.match(code)]
    if bad:
        raise _fail("geo_locations", f"bad codes {bad}", accepted)
    if restriction_type == "none" and codes:
        raise _fail(
            "geo_locations",
            "given with geo_restriction_type 'none'",
            "no locations, or geo_restriction_type whitelist/blacklist",
        )
    if restriction_type != "none" and not codes:
        raise _fail(
            "geo_locations", f"empty with geo_restriction_type {restriction_type!r}", accepted
        )
    return restriction_type, tuple(sorted(set(codes)))


def required_memory_mb(max_pixels: int) -> int:
    """Function memory that decodes an original of `max_pixels` in the worst case."""
    return BASELINE_MEMORY_MB + -(-max_pixels * BYTES_PER_PIXEL // 2**20)


def max_pixels_for(memory_mb: int) -> int:
    """The largest pixel budget `memory_mb` decodes in the worst case (0 if none)."""
    return max(0, (memory_mb - BASELINE_MEMORY_MB) * 2**20 // BYTES_PER_PIXEL)


def _check_pixel_budget(max_pixels: int, memory_mb: int) -> None:
    needed = required_memory_mb(max_pixels)
    if needed > memory_mb:
        raise _fail(
            "max_pixels",
            f"{max_pixels} pixels need {needed} MB to decode in the worst case "
            f"({BYTES_PER_PIXEL} bytes per pixel + {BASELINE_MEMORY_MB} MB), "
            f"but memory_mb is {memory_mb}",
            f"at most {max_pixels_for(memory_mb)} pixels with memory_mb {memory_mb}, "
            f"or memory_mb of at least {needed}",
        )


def validate_args(args: EdgeImageResizerArgs) -> EdgeImageResizerArgs:
    """Check every field of `args` and return the normalized settings, or raise naming the field."""
    min_ttl = _int_in("min_ttl", args.min_ttl, 0, 2**31 - 1)
    default_ttl = _int_in("default_ttl", args.default_ttl, 0, 2**31 - 1)
    max_ttl = _int_in("max_ttl", args.max_ttl, 0, MAX_TTL_LIMIT)
    if not min_ttl <= default_ttl <= max_ttl:
        raise _fail(
            "default_ttl",
            f"min_ttl={min_ttl}, default_ttl={default_ttl}, max_ttl={max_ttl}",
            "min_ttl <= default_ttl <= max_ttl",
        )
    if args.price_class not in PRICE_CLASSES:
        raise _fail("price_class", f"got {args.price_class!r}", ", ".join(PRICE_CLASSES))
    if args.bucket_region is not None:
        check_region(ImageResizerArgsError, "bucket_region", args.bucket_region)
    if not isinstance(args.force_destroy_bucket, bool):
        raise _fail("force_destroy_bucket", f"got {args.force_destroy_bucket!r}", "True or False")
    if not isinstance(args.protect_data, bool):
        raise _fail("protect_data", f"got {args.protect_data!r}", "True or False")
    for flag in ("auto_format", "avif", "auto_format_flag_default"):
        if not isinstance(getattr(args, flag), bool):
            raise _fail(flag, f"got {getattr(args, flag)!r}", "True or False")
    expiration = args.resized_expiration_days
    if expiration is not None:
        _int_in("resized_expiration_days", expiration, 1, 36_500)
    if not isinstance(args.tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in args.tags.items()
    ):
        raise _fail("tags", f"got {args.tags!r}", "a mapping of strings to strings")
    geo_type, geo_locations = _normalize_geo(args.geo_restriction_type, args.geo_locations)
    max_pixels = _int_in("max_pixels", args.max_pixels, *MAX_PIXELS_RANGE)
    memory_mb = _int_in("memory_mb", args.memory_mb, *MEMORY_RANGE_MB)
    on_error, fallback_key = _check_on_error(args.on_error, args.fallback_key)
    _check_pixel_budget(max_pixels, memory_mb)
    if args.canary is not None:
        try:
            canary.validate_cloudfront(args.canary)
        except ArgsError as error:
            raise _fail(f"canary.{error.arg}", error.problem, error.accepted) from None
    max_age, preload, referrer, origins = check_headers(
        ImageResizerArgsError,
        hsts_max_age=args.hsts_max_age,
        hsts_preload=args.hsts_preload,
        referrer_policy=args.referrer_policy,
        cors_allowed_origins=args.cors_allowed_origins,
    )
    return replace(
        args,
        signing_public_keys=check_public_keys(
            args.signing_public_keys, ImageResizerArgsError, "signing_public_keys", low=0
        ),
        hsts_max_age=max_age,
        hsts_preload=preload,
        referrer_policy=referrer,
        cors_allowed_origins=origins,
        allowed_sizes=normalize_sizes(args.allowed_sizes),
        quality=_int_in("quality", args.quality, *QUALITY_RANGE),
        quality_presets=normalize_quality_presets(args.quality_presets),
        on_error=on_error,
        fallback_key=fallback_key,
        max_frames=_int_in("max_frames", args.max_frames, *MAX_FRAMES_RANGE),
        max_pixels=max_pixels,
        memory_mb=memory_mb,
        timeout_seconds=_int_in(
            "timeout_seconds", args.timeout_seconds, 1, ORIGIN_TIMEOUT_LIMIT_SECONDS
        ),
        min_ttl=min_ttl,
        default_ttl=default_ttl,
        max_ttl=max_ttl,
        price_class=args.price_class,
        aliases=_normalize_aliases(args.aliases, args.certificate_arn),
        certificate_arn=_check_arn(
            "certificate_arn",
            args.certificate_arn,
            _ACM_ARN,
            "arn:aws:acm:us-east-1:<account>:certificate/<id> (CloudFront reads us-east-1 only)",
        ),
        web_acl_arn=_check_arn(
            "web_acl_arn",
            args.web_acl_arn,
            _WAF_ARN,
            "a WAFv2 web ACL ARN with scope CLOUDFRONT: "
            "arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>",
        ),
        format_key_value_store_arn=_check_arn(
            "format_key_value_store_arn",
            args.format_key_value_store_arn,
            _KEY_VALUE_STORE_ARN,
            "arn:aws:cloudfront::<account>:key-value-store/<id>",
        ),
        realtime_log_config_arn=_check_arn(
            "realtime_log_config_arn",
            args.realtime_log_config_arn,
            _REALTIME_LOG_ARN,
            "arn:aws:cloudfront::<account>:realtime-log-config/<name>",
        ),
        geo_restriction_type=geo_type,
        geo_locations=geo_locations,
        bucket_region=args.bucket_region,
        force_destroy_bucket=args.force_destroy_bucket,
        protect_data=args.protect_data,
        resized_expiration_days=expiration,
        tags=dict(args.tags),
    )


def check_artifact(artifact: Artifact) -> Artifact:
    """The bundle must be an origin-request Lambda@Edge zip whose bytes match its hash."""
    manifest = artifact.manifest or {}
    if artifact.kind != "lambda-edge" or manifest.get("trigger") != TRIGGER:
        raise _fail(
            "artifact",
            f"{artifact.name} is a {artifact.kind} bundle for {manifest.get('trigger')!r}",
            f"a lambda-edge bundle with trigger {TRIGGER!r}",
        )
    if not manifest.get("handler"):
        raise _fail(
            "artifact",
            f"{artifact.name}'s manifest names no handler",
            'a function.toml with handler = "module.function"',
        )
    if is_declared(artifact):
        return artifact  # described, not built: there is no zip to check (a check-only run)
    path = Path(artifact.path)
    if not path.is_file():
        raise _fail("artifact", f"zip {path} does not exist", "a built bundle (edgekit bundle)")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != artifact.sha256:
        raise _fail(
            "artifact",
            f"{path} has sha256 {actual}, not the recorded {artifact.sha256}",
            "the zip the artifact describes (rebuild it, or fetch the pinned one again)",
        )
    return artifact


# --- pure decisions the resources are built from ------------------------------------------


def source_code_hash(sha256_hex: str) -> str:
    """Lambda's CodeSha256: base64 of the raw digest, so Pulumi sees no diff after deploy."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


def version_description(artifact: Artifact) -> str:
    """Shown on every published Lambda version: which release and which exact zip."""
    return f"{artifact.name} {artifact.version} (sha256 {artifact.sha256[:12]})"


def edge_trust_policy() -> dict[str, Any]:
    """Lambda runs the function; Lambda@Edge replicates and runs it at the edge.

    No aws:SourceAccount/SourceArn condition, on purpose: an execution role is attached to a
    function only by a caller allowed iam:PassRole on it, which no other account can be,
    and Lambda documents aws:SourceArn for policies whose resource is the function, not for
    the execution role's trust; a condition the replicas' assume-role did not satisfy would
    break the function in every edge region without an error at deploy time.
    """
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def execution_policy(bucket_arn: str, account_id: str, function_name: str) -> dict[str, Any]:
    """Least privilege for the resizer: read originals, write variants, write its own logs.

    s3:ListBucket makes a missing key a 404 instead of a 403, which the handler reports as
    "no such original" rather than as an access problem. Lambda@Edge writes logs in the
    region that ran it, to `/aws/lambda/us-east-1.<function name>`, hence the `*` region.
    Lambda@Edge exists only in the `aws` partition.
    """
    log_groups = f"arn:aws:logs:*:{account_id}:log-group:/aws/lambda/{EDGE_REGION}.{function_name}*"
    return policy_document(
        statement("ReadOriginalsAndVariants", ["s3:GetObject"], f"{bucket_arn}/*"),
        statement("MissingKeysAre404", ["s3:ListBucket"], bucket_arn),
        statement("WriteVariantsOnly", ["s3:PutObject"], f"{bucket_arn}/{RESIZED_PREFIX}*"),
        statement(
            "WriteOwnLogs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            log_groups,
        ),
    )


def origin_access_policy(bucket_arn: str, distribution_arn: str) -> dict[str, Any]:
    """Only this distribution, signing through its OAC, may read the bucket; nobody over
    plain HTTP.

    Covers originals and the `resized/` variants the function rewrites requests to.
    """
    return policy_document(
        deny_insecure_transport(bucket_arn),
        statement(
            "CloudFrontReadsThroughOac",
            ["s3:GetObject"],
            f"{bucket_arn}/*",
            principal={"Service": "cloudfront.amazonaws.com"},
            condition={"StringEquals": {"AWS:SourceArn": distribution_arn}},
        )
    )


def viewer_certificate(
    aliases: Sequence[str], certificate_arn: pulumi.Input[str] | None
) -> dict[str, Any]:
    """Custom names get SNI and a modern TLS floor; otherwise CloudFront's own certificate."""
    if aliases:
        return {
            "acm_certificate_arn": certificate_arn,
            "ssl_support_method": "sni-only",
            "minimum_protocol_version": MINIMUM_TLS,
        }
    return {"cloudfront_default_certificate": True}


def geo_restriction(restriction_type: str, locations: Sequence[str]) -> dict[str, Any]:
    """CloudFront's restrictions block; `locations` only when there are any."""
    restriction: dict[str, Any] = {"restriction_type": restriction_type}
    if locations:
        restriction["locations"] = list(locations)
    return {"geo_restriction": restriction}


def settings_headers(settings: EdgeImageResizerArgs) -> list[dict[str, str]]:
    """How the per-distribution settings reach the function (it has no environment)."""
    return [
        {
            "name": contract.ALLOWED_SIZES_HEADER,
            "value": contract.sizes_header(settings.allowed_sizes),
        },
        {"name": contract.QUALITY_HEADER, "value": str(settings.quality)},
        {"name": contract.MAX_PIXELS_HEADER, "value": str(settings.max_pixels)},
        {
            "name": contract.QUALITY_PRESETS_HEADER,
            "value": ",".join(str(q) for q in settings.quality_presets),
        },
        {"name": contract.ON_ERROR_HEADER, "value": settings.on_error},
        {"name": contract.MAX_FRAMES_HEADER, "value": str(settings.max_frames)},
    ] + (  # omitted rather than empty: an empty value is a perpetual diff
        [{"name": contract.FALLBACK_KEY_HEADER, "value": settings.fallback_key}]
        if settings.fallback_key is not None
        else []
    )


def _default_artifact() -> Artifact:
    from edgekit_iac.bundle.build import build_function

    return build_function(FUNCTION_NAME)


# --- the component ---------------------------------------------------------------------------


class EdgeImageResizer(EdgeComponent):
    """Private originals bucket + Lambda@Edge resizer + CloudFront distribution."""

    TYPE_TOKEN = TYPE_TOKEN

    distribution_id: pulumi.Output[str]
    distribution_arn: pulumi.Output[str]
    domain_name: pulumi.Output[str]
    hosted_zone_id: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    function_name: pulumi.Output[str]
    function_qualified_arn: pulumi.Output[str]
    function_version: pulumi.Output[str]
    format_function_arn: pulumi.Output[str]
    artifact_sha256: pulumi.Output[str]
    artifact_version: pulumi.Output[str]
    signing_key_ids: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        name: str,
        args: EdgeImageResizerArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Everything that can be wrong is checked before the first registration, so a bad
        # argument or a stale bundle declares nothing.
        args = args or EdgeImageResizerArgs()
        settings = validate_args(args)
        artifact = check_artifact(args.artifact or _default_artifact())
        super().__init__(name, opts)
        self._settings = settings
        self._artifact = artifact
        self._child = self.child_opts()

        self._create_bucket()
        self._create_role()
        self._create_function()
        self._grant_function_access()
        self._create_format_function()
        self._create_cache_policy()
        self._create_origin_request_policy()
        self._create_edge_security()
        self._create_distribution()
        self._grant_distribution_access()

        self.set_outputs(
            distribution_id=self.distribution.id,
            distribution_arn=self.distribution.arn,
            domain_name=self.distribution.domain_name,
            # Route 53 alias records to the distribution point at this zone.
            hosted_zone_id=self.distribution.hosted_zone_id,
            # Resolves once the bucket is private: uploads by this name never race the guards.
            bucket_name=self.originals.ready_name,
            function_name=self.function.name,
            function_qualified_arn=self.function.qualified_arn,
            function_version=self.function.version,
            format_function_arn=self.format_function.arn,
            artifact_sha256=pulumi.Output.from_input(artifact.sha256),
            artifact_version=pulumi.Output.from_input(artifact.version),
            signing_key_ids=(
                self.signed.public_key_ids if self.signed else pulumi.Output.from_input({})
            ),
        )

    def _create_bucket(self) -> None:
        settings = self._settings
        expiry = (
            [ExpiryRule("expire-resized-variants", RESIZED_PREFIX, days)]
            if (days := settings.resized_expiration_days) is not None
            else []
        )
        self.originals = private_bucket(
            self.child_name("originals"),
            parent=self,
            region=settings.bucket_region,
            expiry=expiry,
            force_destroy=settings.force_destroy_bucket,
            tags=settings.tags,
            protect=settings.protect_data,
        )
        self.bucket = self.originals.bucket

    def _create_role(self) -> None:
        self.role = aws.iam.Role(
            self.child_name("edge-role"),
            assume_role_policy=json.dumps(edge_trust_policy()),
            description="Lambda@Edge image resizer: read originals, write resized/, write logs",
            tags=self._settings.tags or None,
            opts=self._child,
        )

    def _create_function(self) -> None:
        artifact, settings = self._artifact, self._settings
        self.function = aws.lambda_.Function(
            self.child_name("fn"),
            region=EDGE_REGION,
            publish=True,
            architectures=[ARCHITECTURE],
            runtime=RUNTIME,
            handler=artifact.manifest["handler"],
            role=self.role.arn,
            code=pulumi.FileArchive(str(artifact.path)),
            source_code_hash=source_code_hash(artifact.sha256),
            description=version_description(artifact),
            memory_size=settings.memory_mb,
            timeout=settings.timeout_seconds,
            # Deleting a Lambda@Edge function fails until CloudFront has removed its
            # replicas, typically hours after the last association goes. skip_destroy makes
            # destroy (and replacement) drop the function from Pulumi's state instead of
            # failing. Nothing deletes it later: the function and every version it
            # published stay in us-east-1 until someone deletes them (README, "Cleaning up
            # old Lambda@Edge versions").
            skip_destroy=True,
            tags=settings.tags or None,
            opts=self._child,
        )

    def _grant_function_access(self) -> None:
        # The role's own account owns the log groups; reading it from the ARN needs no call.
        account_id = self.role.arn.apply(account_of)
        self.role_policy = aws.iam.RolePolicy(
            self.child_name("edge-policy"),
            role=self.role.id,
            policy=policy_json(execution_policy, self.bucket.arn, account_id, self.function.name),
            opts=self._child,
        )

    def _create_format_function(self) -> None:
        settings = self._settings
        store = settings.format_key_value_store_arn
        self.format_function = aws.cloudfront.Function(
            self.child_name("format"),
            runtime=FORMAT_FUNCTION_RUNTIME,
            comment="edgekit image_format: Accept -> accept=avif|webp|original (viewer-request)",
            code=image_format.render(auto_format=settings.auto_format, avif=settings.avif,
                                     flag_default=settings.auto_format_flag_default),
            # Publish on every change: the LIVE stage is what a distribution runs.
            publish=True,
            key_value_store_associations=[store] if store is not None else None,
            opts=self._child,
        )

    def _create_cache_policy(self) -> None:
        # The size is in the path; everything else a variant depends on is one of the URL
        # contract's query parameters. `Accept` is NOT in the key: the format function has
        # already reduced it to `accept=avif|webp|original`, so raw Accept strings never
        # split the cache. Vary: Accept (from the resizer) still reaches browsers.
        settings = self._settings
        self.cache_policy = aws.cloudfront.CachePolicy(
            self.child_name("cache"),
            comment="Image variants: keyed on the path (size, key) and the contract's query "
            "parameters only",
            min_ttl=settings.min_ttl,
            default_ttl=settings.default_ttl,
            max_ttl=settings.max_ttl,
            parameters_in_cache_key_and_forwarded_to_origin={
                "cookies_config": {"cookie_behavior": "none"},
                "headers_config": {"header_behavior": "none"},
                "query_strings_config": {
                    "query_string_behavior": "whitelist",
                    "query_strings": {"items": list(CACHE_KEY_QUERY_STRINGS)},
                },
                "enable_accept_encoding_gzip": True,
                "enable_accept_encoding_brotli": True,
            },
            opts=self._child,
        )

    def _create_origin_request_policy(self) -> None:
        # W3C trace context reaches the origin-request trigger (and S3) without entering
        # the cache key: one URL stays one cached variant, and the resizer joins the
        # viewer's trace instead of starting its own.
        self.origin_request_policy = aws.cloudfront.OriginRequestPolicy(
            self.child_name("origin-request"),
            comment="Image variants: forward the W3C trace context to the resizer only",
            cookies_config={"cookie_behavior": "none"},
            headers_config={
                "header_behavior": "whitelist",
                "headers": {"items": list(TRACE_HEADERS)},
            },
            query_strings_config={"query_string_behavior": "none"},
            opts=self._child,
        )

    def _create_edge_security(self) -> None:
        settings = self._settings
        self.signed = (
            SignedPaths(
                self.child_name("signing"),
                SignedPathsArgs(public_keys=settings.signing_public_keys),
                opts=self._child,
            )
            if settings.signing_public_keys
            else None
        )
        self.headers_policy = aws.cloudfront.ResponseHeadersPolicy(
            self.child_name("headers"),
            comment="HSTS, nosniff, Referrer-Policy and image CORS on every response",
            **response_headers_policy_inputs(
                hsts_max_age=settings.hsts_max_age,
                hsts_preload=settings.hsts_preload,
                referrer_policy=settings.referrer_policy,
                cors_allowed_origins=settings.cors_allowed_origins,
            ),
            opts=self._child,
        )

    def _private_behaviour(self, behaviour: Mapping[str, Any]) -> dict[str, Any]:
        """The default behaviour for /images/*/private/*, requiring the trusted key group.

        Without keys it skips the resizer: the request reaches the bucket as the key
        `images/...`, which the resizer never stores, so private/ originals stay unserved."""
        private = {**behaviour, "path_pattern": PRIVATE_PATH_PATTERN}
        if self.signed is None:
            private.pop("lambda_function_associations", None)
            return private
        private["trusted_key_groups"] = [self.signed.key_group_id]
        return private

    def _create_distribution(self) -> None:
        name, settings = self._name, self._settings
        origin_access = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            description=f"{name}: CloudFront signs every request to the originals bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=self._child,
        )
        lambda_arn = self.function.qualified_arn
        if settings.canary is not None and settings.canary.stable_version is not None:
            # The primary keeps the stable version; the candidate runs on the staging copy.
            lambda_arn = pulumi.Output.concat(self.function.arn, ":",
                                              settings.canary.stable_version)
        behaviour: dict[str, Any] = {
            "target_origin_id": ORIGIN_ID,
            "viewer_protocol_policy": "redirect-to-https",
            "allowed_methods": ["GET", "HEAD"],
            "cached_methods": ["GET", "HEAD"],
            "compress": True,
            "cache_policy_id": self.cache_policy.id,
            "origin_request_policy_id": self.origin_request_policy.id,
            "function_associations": [
                {"event_type": FORMAT_FUNCTION_EVENT, "function_arn": self.format_function.arn}
            ],
            "lambda_function_associations": [
                {
                    "event_type": TRIGGER,
                    "lambda_arn": lambda_arn,
                    "include_body": False,
                }
            ],
        }
        if settings.realtime_log_config_arn is not None:
            behaviour["realtime_log_config_arn"] = settings.realtime_log_config_arn
        behaviour["response_headers_policy_id"] = self.headers_policy.id
        distribution = dict(
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class=settings.price_class,
            aliases=list(settings.aliases) or None,
            web_acl_id=settings.web_acl_arn,
            origins=[
                {
                    "origin_id": ORIGIN_ID,
                    "domain_name": self.bucket.bucket_regional_domain_name,
                    # OAC signs every request. No s3_origin_config: the provider sends an
                    # empty one itself when neither origin config is given, and never
                    # writes an empty identity back to state, so declaring it made every
                    # preview show an origin change (terraform-provider-aws
                    # cloudfront/distribution_configuration_structure.go, ExpandOrigin /
                    # FlattenOrigin).
                    "origin_access_control_id": origin_access.id,
                    "custom_headers": settings_headers(settings),
                }
            ],
            # One behaviour for every path: the function answers anything that is not
            # /images/WxH/key with a 400, so originals and stored variants are never served
            # as they are.
            default_cache_behavior=behaviour,
            ordered_cache_behaviors=[self._private_behaviour(behaviour)],
            restrictions=geo_restriction(settings.geo_restriction_type, settings.geo_locations),
            viewer_certificate=viewer_certificate(settings.aliases, settings.certificate_arn),
            tags=settings.tags or None,
        )
        # Traffic reaches the function only once it may read, write and log.
        after_role = pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy])
        self.staging_distribution = self.canary_policy = None
        if settings.canary is not None:
            self._create_canary(distribution, behaviour, after_role)
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            comment=f"{name}: resized images (/images/WxH/key)",
            **distribution,
            continuous_deployment_policy_id=(self.canary_policy.id if self.canary_policy
                                             else None),
            opts=after_role,
        )

    def _create_canary(self, distribution: dict[str, Any], behaviour: dict[str, Any],
                       opts: pulumi.ResourceOptions) -> None:
        """The staging distribution (the primary's configuration, the newest function
        version, no aliases: staging distributions serve through the primary's names) and
        the continuous deployment policy that routes part of the primary's traffic to it."""
        name, settings = self._name, self._settings
        candidate = {**behaviour, "lambda_function_associations": [
            {**behaviour["lambda_function_associations"][0],
             "lambda_arn": self.function.qualified_arn}]}
        self.staging_distribution = aws.cloudfront.Distribution(
            f"{name}-cdn-staging",
            comment=f"{name}: canary (staging) of the image distribution",
            **{**distribution, "aliases": None, "default_cache_behavior": candidate,
               # Signed private/ paths run the candidate too.
               "ordered_cache_behaviors": [self._private_behaviour(candidate)],
               "viewer_certificate": viewer_certificate((), None)},
            staging=True,
            opts=opts,
        )
        self.canary_policy = aws.cloudfront.ContinuousDeploymentPolicy(
            f"{name}-canary-policy",
            enabled=True,
            staging_distribution_dns_names={
                "quantity": 1, "items": [self.staging_distribution.domain_name]},
            traffic_config=canary.traffic_config(settings.canary),
            opts=self._child,
        )

    def _reader_arns(self) -> pulumi.Input[Any]:
        """The distribution's ARN; with a canary, the staging distribution's too."""
        if self.staging_distribution is None:
            return self.distribution.arn
        return pulumi.Output.all(self.distribution.arn, self.staging_distribution.arn)

    def _grant_distribution_access(self) -> None:
        aws.s3.BucketPolicy(
            self.child_name("originals-policy"),
            # The name resolves once the bucket is private: the grant lands after the guards.
            bucket=self.originals.ready_name,
            region=self._settings.bucket_region,
            policy=policy_json(origin_access_policy, self.bucket.arn, self._reader_arns()),
            opts=self._child,
        )
