"""``python -m bench.decode_memory [--megapixels N]``: peak memory of one resize, per format.

Writes a photo-like original of about N megapixels (default 50, the resizer's pixel limit)
as a plain JPEG and as an MPO (a phone's multi-picture JPEG: the photo plus a
quarter-size second picture, as a depth map or gain map would be), then resizes each to
400x300 in a fresh interpreter and prints that interpreter's peak resident set (VmHWM)
before and after the resize. A fresh process per case, because VmHWM only ever grows and
Linux carries it over fork and exec (see cold_start_child).

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

import resize
resize._pillow()
data = open(sys.argv[2], "rb").read()
before = peak_kib()
result = resize.resize(data, (400, 300))
print(json.dumps({"before_kib": before, "after_kib": peak_kib(),
                  "source": result.source_format, "size": [result.width, result.height]}))
"""


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
    paths = {"jpeg": folder / "photo.jpg", "mpo": folder / "photo.mpo"}
    photo.save(paths["jpeg"], "JPEG", quality=90)
    photo.save(paths["mpo"], "MPO", quality=90, save_all=True, append_images=[depth])
    return paths


def measure(megapixels: float = 50.0) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_originals(Path(tmp), megapixels)
        for name, path in paths.items():
            done = subprocess.run(
                [sys.executable, "-B", "-c", _CHILD, str(RESIZER_DIR), str(path)],
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            )
            row = json.loads(done.stdout)
            row.update(original=name, bytes=path.stat().st_size)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.decode_memory")
    parser.add_argument("--megapixels", type=float, default=50.0)
    args = parser.parse_args(argv)
    print("| original | file MB | peak RSS before resize MiB | peak RSS after MiB | growth MiB |")
    print("| --- | --- | --- | --- | --- |")
    for row in measure(args.megapixels):
        before, after = row["before_kib"] / 1024, row["after_kib"] / 1024
        print(
            f"| {row['original']} ({row['source']}) | {row['bytes'] / 1e6:.1f} | {before:.0f} "
            f"| {after:.0f} | {after - before:.0f} |"
        )


if __name__ == "__main__":
    main()
