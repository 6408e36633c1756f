"""``python -m bench.decode_memory [--megapixels N]``: peak memory of one resize, per format.

Writes a photo-like original of about N megapixels (default 50, the resizer's pixel limit)
as a plain JPEG, as an MPO (a phone's multi-picture JPEG: the photo plus a
quarter-size second picture, as a depth map or gain map would be) and as a PNG, then
resizes each to 400x300 and 1920x1080 in a fresh interpreter and reports that
interpreter's peak resident set (VmHWM) before and after the resize, the original's bytes
already in memory as they are in the handler (read from S3). libvips' thumbnail_buffer on
the same PNG, in its own fresh interpreter, is the reference. A fresh process per case,
because VmHWM only ever grows and Linux carries it over fork and exec (see
cold_start_child). As a `make bench` item (``run``), goal 4 of issue 18: the 50 MP PNG
under 300 MB.

This is how issue 11's "MPO originals decode in full" was measured: before MPO took the
reduced-scale JPEG decode (``draft``), a 50 MP MPO peaked like a full decode.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESIZER_DIR = REPO_ROOT / "functions" / "image_resizer"

_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])

def peak_kib():
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

data = open(sys.argv[2], "rb").read()
box = (int(sys.argv[3]), int(sys.argv[4]))
if sys.argv[5] == "libvips":
    import pyvips
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)
    before = peak_kib()
    thumb = pyvips.Image.thumbnail_buffer(data, box[0], height=box[1], size="down")
    out = thumb.jpegsave_buffer(Q=80)
    print(json.dumps({"before_kib": before, "after_kib": peak_kib(), "source": "png",
                      "size": [thumb.width, thumb.height]}))
    raise SystemExit(0)
import resize
resize._pillow()
before = peak_kib()
result = resize.resize(data, box, "jpeg")
print(json.dumps({"before_kib": before, "after_kib": peak_kib(),
                  "source": result.source_format, "size": [result.width, result.height]}))
"""
BOXES = ((400, 300), (1920, 1080))
LIMIT_MIB = 300


def _write_originals(folder: Path, megapixels: float) -> dict[str, Path]:
    from PIL import Image

    width = int((megapixels * 1_000_000 * 4 / 3) ** 0.5) // 16 * 16
    height = width * 3 // 4
    noise = Image.effect_noise((width, height), 40)
    photo = Image.merge(
        "RGB",
        (
            Image.blend(Image.linear_gradient("L").resize((width, height)), noise, 0.3),
            Image.blend(Image.radial_gradient("L").resize((width, height)), noise, 0.3),
            noise,
        ),
    )
    depth = photo.convert("L").resize((width // 4, height // 4)).convert("RGB")
    paths = {"jpeg": folder / "photo.jpg", "mpo": folder / "photo.mpo",
             "png": folder / "photo.png"}
    photo.save(paths["jpeg"], "JPEG", quality=90)
    photo.save(paths["mpo"], "MPO", quality=90, save_all=True, append_images=[depth])
    photo.save(paths["png"], "PNG")
    return paths


def measure(megapixels: float = 50.0, with_libvips: bool = True,
            boxes: tuple[tuple[int, int], ...] = BOXES) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_originals(Path(tmp), megapixels)
        runs = [(name, path, box, "edgekit") for name, path in paths.items() for box in boxes]
        if with_libvips:
            runs += [("png", paths["png"], box, "libvips") for box in boxes]
        for name, path, box, who in runs:
            done = subprocess.run(
                [sys.executable, "-B", "-c", _CHILD, str(RESIZER_DIR), str(path),
                 str(box[0]), str(box[1]), who],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            row = json.loads(done.stdout)
            row.update(original=name, bytes=path.stat().st_size, box=f"{box[0]}x{box[1]}",
                       implementation=who, peak_mib=round(row["after_kib"] / 1024, 1),
                       before_mib=round(row["before_kib"] / 1024, 1))
            rows.append(row)
    return rows


def run(quick: bool) -> dict:
    """The bench item: peak RSS per original and box; the 50 MP PNG against LIMIT_MIB."""
    megapixels = 1.0 if quick else 50.0
    try:
        import pyvips  # noqa: F401
        with_libvips = not quick
    except (ImportError, OSError):
        with_libvips = False
    rows = measure(megapixels, with_libvips, BOXES[:1] if quick else BOXES)
    png = [r for r in rows if r["original"] == "png" and r["implementation"] == "edgekit"]
    return {"status": "ok", "title": "Peak memory of one resize", "megapixels": megapixels,
            "limit_mib": LIMIT_MIB, "rows": rows,
            "png_worst_peak_mib": max(r["peak_mib"] for r in png)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.decode_memory")
    parser.add_argument("--megapixels", type=float, default=50.0)
    args = parser.parse_args(argv)
    print("| original | box | by | file MB | peak RSS before resize MiB | peak RSS after MiB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in measure(args.megapixels):
        print(
            f"| {row['original']} ({row['source']}) | {row['box']} | {row['implementation']} "
            f"| {row['bytes'] / 1e6:.1f} | {row['before_mib']:.0f} | {row['peak_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
