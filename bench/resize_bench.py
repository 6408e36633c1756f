"""Item 1: warm resize — edgekit's pure resize against naive Pillow and libvips.

Every (original, allowed size, output format) case runs the implementations interleaved in
this process (see ``timing.interleaved``) and records each one's time and output bytes.

- **edgekit**: ``functions/image_resizer/resize.py`` as the Lambda runs it (quality 80).
- **naive Pillow**: what tutorials show: ``Image.open``, ``thumbnail(box)``, ``save`` with
  ``quality=80`` and Pillow's default encoder settings (plus the ``convert("RGB")`` that
  saving alpha as JPEG needs). ``thumbnail`` already decodes JPEGs at reduced scale and
  uses a reducing gap, so this baseline is not a straw man; it does not apply the EXIF
  orientation or strip metadata.
- **libvips**: ``pyvips.Image.thumbnail_buffer`` (shrink-on-load, the fast path libvips
  users take) with the same quality and the same encoder effort as edgekit: JPEG
  ``optimize_coding``, WebP ``effort=2`` (Pillow ``method=2``), PNG ``compression=3``,
  AVIF ``effort=1`` (Pillow ``speed=8``), metadata stripped except the ICC profile, alpha
  flattened onto white for JPEG. libvips runs with one worker thread, and edgekit's AVIF
  encoder too (``max_threads=1``; Pillow's WebP encoder and the rest of edgekit's resize
  are single-threaded): matched thread counts, like a Lambda@Edge function whose memory
  buys at most about one vCPU (one vCPU at 1,769 MB; below that a share of one, where a
  second thread only contends). For JPEG->JPEG, and for WebP and AVIF output from the
  large originals, both also run with threads = this machine's cores, reported apart
  (**edgekit_threads** against **libvips_threads**).
  libvips' operation cache is off, so no call is answered from a previous one.

Quality: for PNG originals, edgekit's and libvips' outputs are compared with a reference
(the original fully decoded, flattened onto white, resized with one Lanczos pass to the
output's size): PSNR (dB) and SSIM, so a faster path cannot hide a loss. PNG decode time
alone (Pillow against libvips, one thread) is reported per PNG original: it is what bounds
PNG->JPEG.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageChops, ImageStat, features

from bench import corpus, timing

QUALITY = 80
FULL_SIZES = ((150, 150), (300, 200), (400, 300), (800, 600), (1200, 800), (1920, 1080))
QUICK_SIZES = ((150, 150), (400, 300))
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}
VIPS_SUFFIXES = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "avif": ".avif"}

EDGEKIT, NAIVE, VIPS, VIPS_THREADS = "edgekit", "naive_pillow", "libvips", "libvips_threads"
EDGEKIT_THREADS = "edgekit_threads"
LABELS = {
    EDGEKIT: "edgekit resize, 1 thread (AVIF max_threads=1)",
    EDGEKIT_THREADS: "edgekit resize, AVIF encoder threads = cores",
    NAIVE: "naive Pillow (open, thumbnail, save)",
    VIPS: "libvips thumbnail_buffer, 1 thread",
    VIPS_THREADS: "libvips thumbnail_buffer, default threads",
}
PSNR_IDENTICAL = 100.0  # reported for pixel-identical outputs (their PSNR is infinite)
# Originals resized to JPEG only (the large PNG is there for the PNG->JPEG goal).
JPEG_ONLY = ("large-12mp.png",)

Resizer = Callable[[bytes, tuple[int, int], str], bytes]


def load_edgekit_resize():
    """The resizer's pure module, loaded in isolation as its tests and the Lambda see it."""
    from edgekit_iac.function_modules import load_function_module
    from edgekit_iac.paths import function_dir

    return load_function_module(function_dir("image_resizer"), "resize.py")


def naive_pillow(data: bytes, box: tuple[int, int], output_format: str) -> bytes:
    im = Image.open(io.BytesIO(data))
    im.thumbnail(box)
    if output_format == "jpeg" and im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    out = io.BytesIO()
    im.save(out, PIL_FORMATS[output_format], quality=QUALITY)
    return out.getvalue()


def libvips_resizer(pyvips, threads: int | None) -> Resizer:
    keep_icc = pyvips.enums.ForeignKeep.ICC
    default_threads = pyvips.concurrency_get()
    savers = {
        "jpeg": lambda im: im.jpegsave_buffer(Q=QUALITY, optimize_coding=True, keep=keep_icc,
                                              background=[255, 255, 255]),
        "webp": lambda im: im.webpsave_buffer(Q=QUALITY, effort=2, keep=keep_icc),
        "png": lambda im: im.pngsave_buffer(compression=3, keep=keep_icc),
        "avif": lambda im: im.heifsave_buffer(Q=QUALITY, compression="av1", effort=1,
                                              keep=keep_icc),
    }

    def resize(data: bytes, box: tuple[int, int], output_format: str) -> bytes:
        pyvips.concurrency_set(threads or default_threads)
        thumb = pyvips.Image.thumbnail_buffer(data, box[0], height=box[1], size="down")
        return savers[output_format](thumb)

    return resize


def _pyvips():
    try:
        import pyvips
    except (ImportError, OSError) as exc:
        return None, f"libvips not available ({exc}); install pyvips and pyvips-binary"
    pyvips.cache_set_max(0)  # never answer a repeated call from libvips' operation cache
    return pyvips, None


def _vips_default_threads(pyvips) -> int | None:
    """libvips' own thread-pool size (VIPS_CONCURRENCY, else the CPU count)."""
    if pyvips is None:
        return None
    return int(os.environ.get("VIPS_CONCURRENCY") or 0) or os.cpu_count()


def run(quick: bool) -> dict[str, Any]:
    resize_module = load_edgekit_resize()
    pyvips, vips_missing = _pyvips()
    originals, corpus_note = corpus.corpus(quick)
    sizes = QUICK_SIZES if quick else FULL_SIZES
    formats = [f for f in ("jpeg", "png", "webp", "avif") if f in resize_module.encodable_formats()]
    if pyvips is not None:
        formats = [f for f in formats if VIPS_SUFFIXES[f] in pyvips.get_suffixes()]
    repeats = 2 if quick else 4
    headline_repeats = 2 if quick else 9

    def edgekit_with(threads: int) -> Resizer:
        def edgekit(data: bytes, box: tuple[int, int], output_format: str) -> bytes:
            resize_module.ENCODER_THREADS = threads
            return resize_module.resize(data, box, output_format, quality=QUALITY).data
        return edgekit

    cores = os.cpu_count() or 1
    implementations: dict[str, Resizer] = {EDGEKIT: edgekit_with(1), NAIVE: naive_pillow}
    if pyvips is not None:
        implementations[VIPS] = libvips_resizer(pyvips, threads=1)
        implementations[VIPS_THREADS] = libvips_resizer(pyvips, threads=cores)
        implementations[EDGEKIT_THREADS] = edgekit_with(cores)

    cases = []
    for original in originals:
        for box in sizes:
            for output_format in formats:
                if original.name in JPEG_ONLY and output_format != "jpeg":
                    continue
                headline = original.format == "jpeg" and output_format == "jpeg"
                threaded = headline or (output_format in ("webp", "avif")
                                        and original.name.startswith(("large", "photo")))
                chosen = {
                    name: impl for name, impl in implementations.items()
                    if name not in (VIPS_THREADS, EDGEKIT_THREADS) or threaded
                }
                case = _measure(original, box, output_format, chosen,
                                headline_repeats if headline else repeats)
                outputs = case.pop("_outputs")
                if original.format == "png" and pyvips is not None:
                    case["quality_vs_reference"] = quality_vs_reference(
                        original.data, {n: outputs[n] for n in (EDGEKIT, VIPS)})
                cases.append(case)
    png_decode = [_png_decode(original, pyvips, repeats) for original in originals
                  if original.format == "png" and pyvips is not None]
    return {
        "status": "ok",
        "title": "Resize, warm",
        "implementations": {name: LABELS[name] for name in implementations},
        "libvips": vips_missing or "ok",
        "libvips_default_threads": _vips_default_threads(pyvips),
        "quality": QUALITY,
        "corpus_note": corpus_note,
        "corpus": [original.describe() for original in originals],
        "sizes": [f"{w}x{h}" for w, h in sizes],
        "formats": formats,
        "cases": cases,
        "summary": summarize(cases),
        "png_decode": png_decode,
        # The zlib Pillow inflates PNGs with, as loaded at run time: Pillow's manylinux wheel
        # bundles no libz (manylinux lets libz.so.1 come from the system), so this is the
        # host's, and on Lambda Amazon Linux's. libvips' binary wheel carries zlib-ng inside.
        "pillow_zlib": features.version("zlib"),
        "cores": cores,
    }


def _measure(original: corpus.Original, box: tuple[int, int], output_format: str,
             implementations: dict[str, Resizer], repeats: int) -> dict[str, Any]:
    outputs: dict[str, bytes] = {}

    def call(name: str) -> Callable[[], None]:
        def once() -> None:
            outputs[name] = implementations[name](original.data, box, output_format)
        return once

    seconds = timing.interleaved({name: call(name) for name in implementations}, repeats)
    results = {}
    for name, data in outputs.items():
        with Image.open(io.BytesIO(data)) as im:
            size = list(im.size)
        results[name] = {
            "time_ms": timing.spread([s * 1000 for s in seconds[name]], "ms"),
            "bytes": len(data),
            "size": size,
        }
    edge = results[EDGEKIT]
    if VIPS in outputs:
        edge["mean_abs_diff_vs_libvips"] = pixel_difference(outputs[EDGEKIT], outputs[VIPS])
    ratios = {}
    for other in (VIPS, VIPS_THREADS, NAIVE):
        if other in results:
            ratios[f"time_{EDGEKIT}/{other}"] = timing.ratio(
                edge["time_ms"]["median"], results[other]["time_ms"]["median"])
            ratios[f"bytes_{EDGEKIT}/{other}"] = timing.ratio(edge["bytes"],
                                                              results[other]["bytes"])
    if EDGEKIT_THREADS in results and VIPS_THREADS in results:
        ratios[f"time_{EDGEKIT_THREADS}/{VIPS_THREADS}"] = timing.ratio(
            results[EDGEKIT_THREADS]["time_ms"]["median"],
            results[VIPS_THREADS]["time_ms"]["median"])
        ratios[f"verdict_{EDGEKIT_THREADS}/{VIPS_THREADS}"] = timing.compare(
            seconds[EDGEKIT_THREADS], seconds[VIPS_THREADS])["verdict"]
    if VIPS in results:
        ratios[f"verdict_{EDGEKIT}/{VIPS}"] = timing.compare(seconds[EDGEKIT],
                                                             seconds[VIPS])["verdict"]
    return {
        "_outputs": outputs,
        "original": original.name,
        "source_format": original.format,
        "source_size": list(original.size),
        "source_mode": _mode(original.data),
        "box": f"{box[0]}x{box[1]}",
        "output_format": output_format,
        "results": results,
        "ratios": ratios,
    }


def _mode(data: bytes) -> str:
    """The original's Pillow mode, and "16-bit" where Pillow reads 16-bit samples into it."""
    with Image.open(io.BytesIO(data)) as im:  # header only
        rawmode = str(im.tile[0][3]) if im.tile else ""
        return im.mode + (" 16-bit" if ";16" in rawmode and "16" not in im.mode else "")


def quality_vs_reference(original: bytes, outputs: dict[str, bytes]) -> dict[str, Any]:
    """PSNR (dB) and SSIM of each output against a one-pass Lanczos resize of the original."""
    import numpy
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    with Image.open(io.BytesIO(original)) as im:
        full = _on_white(im)
    figures: dict[str, Any] = {}
    for name, data in outputs.items():
        with Image.open(io.BytesIO(data)) as out:
            got = numpy.asarray(_on_white(out))
        reference = numpy.asarray(full.resize((got.shape[1], got.shape[0]),
                                              Image.Resampling.LANCZOS))
        with numpy.errstate(divide="ignore"):
            psnr = float(peak_signal_noise_ratio(reference, got, data_range=255))
        figures[name] = {
            "psnr_db": round(min(psnr, PSNR_IDENTICAL), 2),  # identical pixels: infinite
            "ssim": round(float(structural_similarity(reference, got, channel_axis=2,
                                                      data_range=255)), 4),
        }
    return figures


def _png_decode(original: corpus.Original, pyvips, repeats: int) -> dict[str, Any]:
    """Decoding alone, Pillow against libvips (one thread): what bounds PNG->JPEG."""
    def pillow() -> None:
        with Image.open(io.BytesIO(original.data)) as im:
            im.load()

    def vips() -> None:
        pyvips.concurrency_set(1)
        pyvips.Image.new_from_buffer(original.data, "", access="sequential").copy_memory()

    seconds = timing.interleaved({"pillow": pillow, "libvips": vips}, max(3, repeats))
    return {
        "original": original.name,
        "pillow_ms": timing.spread([s * 1000 for s in seconds["pillow"]], "ms"),
        "libvips_ms": timing.spread([s * 1000 for s in seconds["libvips"]], "ms"),
        "pillow/libvips": timing.compare(seconds["pillow"], seconds["libvips"]),
    }


def pixel_difference(a: bytes, b: bytes) -> float | None:
    """Mean absolute difference per channel (0-255) of two decoded outputs of one size.

    Tells whether two implementations' bytes and times compare like for like: identical
    resampling and encoding give ~0, a different filter or quality gives several levels.
    """
    with Image.open(io.BytesIO(a)) as first, Image.open(io.BytesIO(b)) as second:
        if first.size != second.size:
            return None
        stats = ImageStat.Stat(ImageChops.difference(_on_white(first), _on_white(second)))
    return round(sum(stats.mean) / len(stats.mean), 2)


def _on_white(im: Image.Image) -> Image.Image:
    """RGB as a viewer sees it: transparent pixels' hidden colours must not count."""
    if "A" not in im.getbands() and im.mode != "P":
        return im.convert("RGB")
    rgba = im.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")


def summarize(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per source->output format: geometric-mean ratios and how often edgekit was faster."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for case in cases:
        groups.setdefault((case["source_format"], case["output_format"]), []).append(case)
    summary = []
    for (source, output), members in sorted(groups.items()):
        row: dict[str, Any] = {"source_format": source, "output_format": output,
                               "cases": len(members)}
        threaded = [c["ratios"].get(f"time_{EDGEKIT_THREADS}/{VIPS_THREADS}") for c in members]
        threaded = [r for r in threaded if r is not None]
        if threaded:
            row[f"time_{EDGEKIT_THREADS}/{VIPS_THREADS}_geomean"] = timing.geometric_mean(threaded)
        ties = [c["ratios"].get(f"verdict_{EDGEKIT}/{VIPS}") for c in members]
        if any(ties):
            row[f"verdicts_{EDGEKIT}/{VIPS}"] = {v: ties.count(v) for v in sorted(set(ties))
                                                 if v}
        qualities = [c["quality_vs_reference"] for c in members if "quality_vs_reference" in c]
        for name in (EDGEKIT, VIPS):
            if qualities:
                row[f"psnr_{name}_min"] = min(q[name]["psnr_db"] for q in qualities)
                row[f"ssim_{name}_min"] = min(q[name]["ssim"] for q in qualities)
        for other in (VIPS, VIPS_THREADS, NAIVE):
            time_ratios = [c["ratios"].get(f"time_{EDGEKIT}/{other}") for c in members]
            time_ratios = [r for r in time_ratios if r is not None]
            if not time_ratios:
                continue
            row[f"time_{EDGEKIT}/{other}_geomean"] = timing.geometric_mean(time_ratios)
            row[f"time_{EDGEKIT}/{other}_worst"] = max(time_ratios)
            row[f"faster_than_{other}"] = sum(r <= 1.0 for r in time_ratios)
            row[f"bytes_{EDGEKIT}/{other}_geomean"] = timing.geometric_mean(
                c["ratios"][f"bytes_{EDGEKIT}/{other}"] for c in members
                if f"bytes_{EDGEKIT}/{other}" in c["ratios"])
        differences = [c["results"][EDGEKIT].get("mean_abs_diff_vs_libvips") for c in members]
        differences = [d for d in differences if d is not None]
        if differences:
            row["mean_abs_diff_vs_libvips_max"] = max(differences)
        summary.append(row)
    return summary
