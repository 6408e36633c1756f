"""Deploy-time rendering of the image_format CloudFront Function. Pure: stdlib only.

CloudFront Functions have no environment variables, so the per-stack settings
(images.autoFormat, AVIF on/off, the `auto_format` flag's declared default) are written into
the code itself: the one line after the
`// edgekit:settings` marker in image_format.js is replaced by a JSON object. A different
setting is different code, so CloudFront publishes a new function version (its ETag changes)
and the twin runs exactly the code that would be deployed.

Limits (AWS, "Quotas on CloudFront Functions" and "JavaScript runtime 2.0 features for
CloudFront Functions"): the function code is at most 10 KB; the runtime is
`cloudfront-js-2.0` (ES 5.1 plus const/let, arrow functions, template literals and other
listed ES6-12 features; no dynamic code evaluation, network, file system or timers).
"""

from __future__ import annotations

import json
from pathlib import Path

SOURCE_FILE = Path(__file__).with_name("image_format.js")
RUNTIME = "cloudfront-js-2.0"
EVENT_TYPE = "viewer-request"
MAX_CODE_BYTES = 10 * 1024
SETTINGS_MARKER = "// edgekit:settings"
SETTINGS_PREFIX = "const SETTINGS = "


class RenderError(ValueError):
    """The function source or its settings cannot make a deployable CloudFront Function."""


def settings_json(*, auto_format: bool, avif: bool, flag_default: bool = True) -> str:
    for name, value in (("auto_format", auto_format), ("avif", avif),
                        ("flag_default", flag_default)):
        if not isinstance(value, bool):
            raise RenderError(f"{name} must be True or False, got {value!r}")
    return json.dumps({"autoFormat": auto_format, "avif": avif,
                       "autoFormatFlagDefault": flag_default})


def render(*, auto_format: bool = True, avif: bool = True, flag_default: bool = True,
           source: str | None = None) -> str:
    """The function code with these settings, checked against CloudFront's size limit.

    `flag_default`: the `auto_format` flag's declared default (edgekit:flags), what the code
    uses when its KeyValueStore has no `auto_format` key, none is associated, or a read fails.
    """
    text = SOURCE_FILE.read_text(encoding="utf-8") if source is None else source
    lines = text.splitlines(keepends=True)
    markers = [i for i, line in enumerate(lines) if line.lstrip().startswith(SETTINGS_MARKER)]
    if len(markers) != 1 or markers[0] + 1 >= len(lines) or not lines[
        markers[0] + 1
    ].startswith(SETTINGS_PREFIX):
        raise RenderError(
            f"{SOURCE_FILE.name}: expected exactly one {SETTINGS_MARKER!r} line followed by "
            f"a line starting {SETTINGS_PREFIX!r}"
        )
    index = markers[0] + 1
    settings = settings_json(auto_format=auto_format, avif=avif, flag_default=flag_default)
    lines[index] = f"{SETTINGS_PREFIX}{settings};\n"
    code = "".join(lines)
    size = len(code.encode("utf-8"))
    if size > MAX_CODE_BYTES:
        raise RenderError(
            f"{SOURCE_FILE.name} renders to {size} bytes; CloudFront Functions accept at most "
            f"{MAX_CODE_BYTES} bytes of code"
        )
    return code
