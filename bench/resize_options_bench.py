"""Issue 14's resize paths side by side with libvips: cover crops and animated GIFs.

- **Cover crop** (``fit=cover``): edgekit's resize with gravity ``center`` and ``entropy``
  against ``pyvips.Image.thumbnail_buffer(..., crop="centre" | "entropy", size="down")``,
  both writing JPEG at quality 80 with the same encoder settings as the resize item. The
  quality metric is PSNR (dB, higher is closer) against a reference made the slow, exact
  way: the original decoded in full by Pillow, cropped and Lanczos-resized in one step
  (``ImageOps.fit``). Entropy crops may choose different windows, so for them only the PSNR
  between edgekit's and libvips' outputs is given (it is high when both chose alike).
  *Entropy cost* is edgekit's entropy time minus its centre time on the same case, and
  *entropy window* the window choice alone, timed in batches (the cleaner figure on a
  shared machine).
- **Animated GIF**: a generated animation (200 frames of 480x480 in full mode, 8 of
  120x120 in quick mode: a gradient, moving shapes and grain, the way screen recordings and
  stickers look) fitted inside a box, as GIF and as animated WebP, by edgekit (every frame
  decoded and resized, durations and loop kept) and by libvips ``thumbnail_buffer`` with
  ``n=-1`` (all pages) then ``gifsave_buffer`` / ``webpsave_buffer`` (Q 80, effort 2). The
  quality metric is the mean PSNR over every 10th frame against Pillow's full decode of
  that frame, Lanczos-resized to the output's size.
- **Peak memory**: the resident-set high-water mark (VmHWM) of a fresh interpreter before
  and after one resize of the animation (the issue asks for a 200-frame GIF), for edgekit
  GIF->GIF, GIF->WebP and ``frames=1``, and for libvips ``n=-1`` GIF->GIF.

libvips runs with one worker thread and no operation cache, as in the resize item.
"""

from __future__ import annotations

import io
import json
import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageOps, ImageStat

from bench import corpus, timing
from bench.resize_bench import _pyvips, load_edgekit_resize

QUALITY = 80
REPO_ROOT = Path(__file__).resolve().parents[1]
RESIZER_DIR = REPO_ROOT / "functions" / "image_resizer"
BENCH_DIR = Path(__file__).resolve().parent
COVER_BOXES = ((300, 300), (800, 450))
QUICK_COVER_BOXES = ((300, 300),)
ANIMATION_BOXES = ((400, 300), (150, 150))
QUICK_ANIMATION_BOXES = ((150, 150),)


def run(quick: bool) -> dict[str, Any]:
    resize_module = load_edgekit_resize()
    pyvips, vips_missing = _pyvips()
    if pyvips is not None:
        pyvips.concurrency_set(1)
    originals, corpus_note = corpus.corpus(quick)
    repeats = 2 if quick else 5
    cover = [
        _cover_case(resize_module, pyvips, original, box, repeats)
        for original in originals
        for box in (QUICK_COVER_BOXES if quick else COVER_BOXES)
    ]
    frames, side = (8, 120) if quick else (200, 480)
    animation = animated_gif(frames, (side, side))
    animated = [
        _animation_case(resize_module, pyvips, animation, box, output_format, 1 if quick else 2)
        for box in (QUICK_ANIMATION_BOXES if quick else ANIMATION_BOXES)
        for output_format in ("gif", "webp")
    ]
    return {
        "status": "ok",
        "title": "Resize options: cover crops and animated GIFs against libvips",
        "libvips": vips_missing or "ok",
        "quality": QUALITY,
        "corpus_note": corpus_note,
        "cover": cover,
        "animation": {
            "frames": frames,
            "size": [side, side],
            "bytes": len(animation),
            "cases": animated,
            "peak_memory": peak_memory(animation, cases=_memory_cases(quick, pyvips)),
        },
    }


def _memory_cases(quick: bool, pyvips) -> tuple[str, ...]:
    if quick:
        return ("gif",)
    return ("gif", "webp", "first") + (("libvips",) if pyvips is not None else ())


# ---------------------------------------------------------------- cover crops


def _cover_case(resize_module, pyvips, original, box, repeats) -> dict[str, Any]:
    outputs: dict[str, bytes] = {}

    def edgekit(gravity: str):
        def once() -> None:
            outputs[f"edgekit_{gravity}"] = resize_module.resize(
                original.data, box, "jpeg", quality=QUALITY, fit="cover", gravity=gravity
            ).data

        return once

    calls = {"edgekit_center": edgekit("center"), "edgekit_entropy": edgekit("entropy")}
    if pyvips is not None:
        for crop in ("centre", "entropy"):
            calls[f"libvips_{crop}"] = _vips_cover(pyvips, original.data, box, crop, outputs)
    seconds = timing.interleaved(calls, repeats)
    with Image.open(io.BytesIO(original.data)) as im:
        full = _rgb(im)
    results: dict[str, Any] = {}
    for name, data in outputs.items():
        with Image.open(io.BytesIO(data)) as out:
            decoded = _rgb(out)
        result = {
            "time_ms": timing.spread([s * 1000 for s in seconds[name]], "ms"),
            "bytes": len(data),
            "size": list(decoded.size),
        }
        if name.endswith(("center", "centre")):
            reference = ImageOps.fit(full, decoded.size, Image.Resampling.LANCZOS)
            result["psnr_vs_reference_db"] = psnr(decoded, reference)
        results[name] = result
    case = {
        "original": original.name,
        "source_format": original.format,
        "source_size": list(original.size),
        "box": f"{box[0]}x{box[1]}",
        "results": results,
        "entropy_window_ms": _entropy_window_ms(resize_module, full, box, quick=repeats < 3),
        "entropy_cost_ms": round(
            results["edgekit_entropy"]["time_ms"]["median"]
            - results["edgekit_center"]["time_ms"]["median"],
            2,
        ),
    }
    if pyvips is not None:
        case["psnr_entropy_edgekit_vs_libvips_db"] = _psnr_bytes(
            outputs["edgekit_entropy"], outputs["libvips_entropy"]
        )
        case["time_center_edgekit/libvips"] = timing.ratio(
            results["edgekit_center"]["time_ms"]["median"],
            results["libvips_centre"]["time_ms"]["median"],
        )
        case["time_entropy_edgekit/libvips"] = timing.ratio(
            results["edgekit_entropy"]["time_ms"]["median"],
            results["libvips_entropy"]["time_ms"]["median"],
        )
    return case


def _entropy_window_ms(resize_module, full: Image.Image, box, *, quick: bool) -> dict:
    """What gravity=entropy adds on its own: choosing the window on the scaled image.

    Measured apart from the resize (whose time varies far more on a shared machine than
    this step costs), in batches of back-to-back calls.
    """
    geometry = resize_module.plan(full.size, box, "cover", "entropy")
    scaled = full.resize(geometry.scaled, Image.Resampling.LANCZOS)
    microseconds = timing.per_call_batches(
        lambda: resize_module._entropy_origin(Image, scaled, geometry),
        calls=3 if quick else 10,
        batches=3 if quick else 7,
    )
    return timing.spread([us / 1000 for us in microseconds], "ms", digits=2)


def _vips_cover(pyvips, data: bytes, box, crop: str, outputs: dict[str, bytes]):
    def once() -> None:
        thumb = pyvips.Image.thumbnail_buffer(data, box[0], height=box[1], crop=crop, size="down")
        if thumb.hasalpha():
            thumb = thumb.flatten(background=[255, 255, 255])
        outputs[f"libvips_{crop}"] = thumb.jpegsave_buffer(
            Q=QUALITY, optimize_coding=True, keep=pyvips.enums.ForeignKeep.ICC
        )

    return once


# ---------------------------------------------------------------- animation


def animated_gif(frames: int, size: tuple[int, int], seed: int = 14) -> bytes:
    """A looping GIF: a gradient, a bouncing disc, a sliding bar and a little grain."""
    rng = random.Random(seed)
    width, height = size
    background = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.radial_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
        ),
    )
    pictures = []
    for index in range(frames):
        frame = background.copy()
        draw = ImageDraw.Draw(frame)
        t = index / max(1, frames)
        x = int((0.5 + 0.4 * math.sin(2 * math.pi * t)) * width)
        y = int((0.5 + 0.4 * math.cos(4 * math.pi * t)) * height)
        radius = max(4, width // 8)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(250, 220, 40))
        bar = int(t * width)
        draw.rectangle((bar, 0, bar + max(2, width // 20), height), fill=(30, 30, 160))
        grain = Image.frombytes("L", (width // 4, height // 4), rng.randbytes(width * height // 16))
        frame = Image.blend(frame, grain.resize(size).convert("RGB"), 0.04)
        pictures.append(frame)
    out = io.BytesIO()
    durations = [40 + 20 * (i % 3) for i in range(frames)]
    pictures[0].save(
        out, "GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0
    )
    return out.getvalue()


def _animation_case(resize_module, pyvips, data: bytes, box, output_format, repeats):
    outputs: dict[str, bytes] = {}

    def edgekit() -> None:
        outputs["edgekit"] = resize_module.resize(
            data, box, None if output_format == "gif" else output_format, quality=QUALITY
        ).data

    calls = {"edgekit": edgekit}
    if pyvips is not None:

        def libvips() -> None:
            thumb = pyvips.Image.thumbnail_buffer(
                data, box[0], height=box[1], size="down", option_string="n=-1"
            )
            if output_format == "gif":
                outputs["libvips"] = thumb.gifsave_buffer()
            else:
                outputs["libvips"] = thumb.webpsave_buffer(Q=QUALITY, effort=2)

        calls["libvips"] = libvips
    seconds = timing.interleaved(calls, repeats, warmup=0)
    results = {}
    for name, out in outputs.items():
        frames = _frames(out)
        results[name] = {
            "time_ms": timing.spread([s * 1000 for s in seconds[name]], "ms"),
            "bytes": len(out),
            "frames": len(frames),
            "size": list(frames[0][0].size),
            "total_duration_ms": sum(duration for _, duration in frames),
            "psnr_vs_reference_db": _animation_psnr(data, frames),
        }
    case = {"box": f"{box[0]}x{box[1]}", "output_format": output_format, "results": results}
    if "libvips" in results:
        case["time_edgekit/libvips"] = timing.ratio(
            results["edgekit"]["time_ms"]["median"], results["libvips"]["time_ms"]["median"]
        )
        case["bytes_edgekit/libvips"] = timing.ratio(
            results["edgekit"]["bytes"], results["libvips"]["bytes"]
        )
    return case


def _frames(data: bytes) -> list[tuple[Image.Image, int]]:
    im = Image.open(io.BytesIO(data))
    frames = []
    for index in range(getattr(im, "n_frames", 1)):
        im.seek(index)
        im.load()
        frames.append((_rgb(im), int(im.info.get("duration", 0) or 0)))
    return frames


def _animation_psnr(original: bytes, frames: list[tuple[Image.Image, int]]) -> float | None:
    source = Image.open(io.BytesIO(original))
    if getattr(source, "n_frames", 1) != len(frames):
        return None  # frames merged or dropped: no frame-by-frame comparison
    scores = []
    for index in range(0, len(frames), 10):
        source.seek(index)
        decoded = frames[index][0]
        reference = _rgb(source).resize(decoded.size, Image.Resampling.LANCZOS)
        scores.append(psnr(decoded, reference))
    return round(sum(scores) / len(scores), 2)


# ---------------------------------------------------------------- memory


_CHILD = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[4]]  # the resizer's modules, bench/peak_rss.py
from peak_rss import peak_rss_kib as peak_kib

case = sys.argv[3]
data = open(sys.argv[2], "rb").read()
if case == "libvips":
    import pyvips
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)
    before = peak_kib()
    thumb = pyvips.Image.thumbnail_buffer(data, 400, height=300, size="down",
                                          option_string="n=-1")
    out = thumb.gifsave_buffer()
    frames = thumb.get("n-pages") if thumb.get_typeof("n-pages") else 1
else:
    import resize
    resize._pillow()
    before = peak_kib()
    fmt = {"gif": None, "webp": "webp", "first": None}[case]
    result = resize.resize(data, (400, 300), fmt, animate=case != "first")
    out, frames = result.data, result.frames
print(json.dumps({"before_kib": before, "after_kib": peak_kib(), "frames": frames,
                  "bytes": len(out)}))
"""


def peak_memory(animation: bytes, *, cases) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "animation.gif"
        path.write_bytes(animation)
        for case in cases:
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(RESIZER_DIR), str(path), case,
                 str(BENCH_DIR)],
                capture_output=True,
                text=True,
                timeout=600,
                check=True,
            )
            figures = json.loads(done.stdout)
            rows.append(
                {
                    "case": case,
                    "before_mib": round(figures["before_kib"] / 1024, 1),
                    "peak_mib": round(figures["after_kib"] / 1024, 1),
                    "added_mib": round((figures["after_kib"] - figures["before_kib"]) / 1024, 1),
                    "frames_out": figures["frames"],
                    "bytes_out": figures["bytes"],
                }
            )
    return rows


# ---------------------------------------------------------------- metrics


def _rgb(im: Image.Image) -> Image.Image:
    if "A" in im.getbands() or im.mode == "P":
        rgba = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return im.convert("RGB")


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of two same-size RGB images, in dB (99 when identical)."""
    rms = ImageStat.Stat(ImageChops.difference(a, b)).rms
    mse = sum(value * value for value in rms) / len(rms)
    return 99.0 if mse == 0 else round(10 * math.log10(255 * 255 / mse), 2)


def _psnr_bytes(a: bytes, b: bytes) -> float | None:
    with Image.open(io.BytesIO(a)) as first, Image.open(io.BytesIO(b)) as second:
        if first.size != second.size:
            return None
        return psnr(_rgb(first), _rgb(second))
