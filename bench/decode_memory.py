"""``python -m bench.decode_memory [--megapixels N] [--originals DIR] [--resizer DIR]``:
peak memory of the image resizer's handler serving one resize, per format.

Writes a photo-like original of about N megapixels (default 50, the resizer's pixel limit)
as a plain JPEG, as an MPO (a phone's multi-picture JPEG: the photo plus a quarter-size
second picture, as a depth map or gain map would be), as a PNG (RGB, no alpha, as photos
are) and as a PNG with an alpha channel (``png_alpha``: a cut-out), puts them in moto's S3
on 127.0.0.1, then, in a fresh interpreter per case (``decode_memory_child.py``), lets the
handler serve one origin-request for 400x300 and 1920x1080 JPEG from each and reports that
interpreter's peak resident set (VmHWM) before and after the request: the original read
from S3, decoded, resized, encoded, stored back. libvips in its own fresh interpreter is
the reference on the same PNG, two ways: ``thumbnail_buffer`` on the bytes in memory (the
issue's reference) and ``thumbnail`` on the file (how it reads a spooled original). A fresh
process per case, because VmHWM only ever grows and Linux carries it over fork and exec.
As a `make bench` item (``run``), goal 4 of issue 18: the 50 MP PNG under 300 MB.

The PNG is the largest 50 MP PNG the handler reads: it refuses originals over
MAX_ORIGINAL_BYTES (64 MiB) before downloading them, so the photo's grain is set to bring
the PNG just under that (about 1.2 bytes a pixel; a noisier 125 MB PNG would be a 422).

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

from bench.cold_start import BUCKET, REGION, _aws_env, origin_request_event

REPO_ROOT = Path(__file__).resolve().parents[1]
RESIZER_DIR = REPO_ROOT / "functions" / "image_resizer"
CHILD = Path(__file__).with_name("decode_memory_child.py")
BOXES = ((400, 300), (1920, 1080))
LIMIT_MIB = 300
GRAIN = 8  # the noise's sigma: a 50 MP PNG of about 57 MiB (see the module docstring)


def _write_originals(folder: Path, megapixels: float) -> dict[str, Path]:
    paths = {"jpeg": folder / "photo.jpg", "mpo": folder / "photo.mpo",
             "png": folder / "photo.png", "png_alpha": folder / "alpha.png"}
    if all(path.is_file() for path in paths.values()):
        return paths  # --originals DIR: made by an earlier run with the same megapixels
    from PIL import Image

    width = int((megapixels * 1_000_000 * 4 / 3) ** 0.5) // 16 * 16
    height = width * 3 // 4
    noise = Image.effect_noise((width, height), GRAIN)
    linear = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    photo = Image.merge(
        "RGB",
        tuple(Image.blend(channel, noise, 0.3)
              for channel in (linear, radial, Image.blend(linear, radial, 0.5))),
    )
    depth = photo.convert("L").resize((width // 4, height // 4)).convert("RGB")
    photo.save(paths["jpeg"], "JPEG", quality=90)
    photo.save(paths["mpo"], "MPO", quality=90, save_all=True, append_images=[depth])
    photo.save(paths["png"], "PNG")
    photo.putalpha(radial)  # a cut-out: opaque centre fading out (a logo, a product shot)
    photo.save(paths["png_alpha"], "PNG")
    return paths


def _child(args: list[str], env: dict[str, str] | None = None) -> dict:
    done = subprocess.run([sys.executable, "-B", str(CHILD), *args], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(megapixels: float = 50.0, with_libvips: bool = True,
            boxes: tuple[tuple[int, int], ...] = BOXES, originals: Path | None = None,
            resizer_dir: Path = RESIZER_DIR, only: tuple[str, ...] | None = None) -> list[dict]:
    """One row per original (those named in `only`, or all), box and implementation."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per S3 request
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = originals or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        paths = _write_originals(folder, megapixels)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            client = boto3.client("s3", region_name=REGION, endpoint_url=endpoint,
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
            client.create_bucket(Bucket=BUCKET)
            for path in paths.values():
                client.upload_file(str(path), BUCKET, f"originals/{path.name}")
            env = _aws_env(endpoint)
            for name, path in paths.items():
                if only and name not in only:
                    continue
                for box in boxes:
                    event = origin_request_event(
                        f"/images/{box[0]}x{box[1]}/originals/{path.name}")
                    event["Records"][0]["cf"]["request"]["querystring"] = "format=jpeg"
                    event_path = Path(tmp) / "event.json"
                    event_path.write_text(json.dumps(event), encoding="utf-8")
                    row = _child(["handler", str(resizer_dir), str(event_path)], env)
                    rows.append(_row(row, name, path, box, "edgekit handler"))
                    for variant in client.list_objects_v2(
                            Bucket=BUCKET, Prefix="resized/").get("Contents", []):
                        client.delete_object(Bucket=BUCKET, Key=variant["Key"])
        finally:
            server.stop()
        if with_libvips:
            for how in ("libvips-buffer", "libvips-file"):
                for box in boxes:
                    row = _child([how, str(paths["png"]), str(box[0]), str(box[1])])
                    rows.append(_row(row, "png", paths["png"], box, how))
    return rows


def _row(row: dict, name: str, path: Path, box: tuple[int, int], who: str) -> dict:
    row.update(original=name, source=name, bytes=path.stat().st_size,
               box=f"{box[0]}x{box[1]}", implementation=who,
               peak_mib=round(row["after_kib"] / 1024, 1),
               before_mib=round(row["before_kib"] / 1024, 1))
    return row


def run(quick: bool) -> dict:
    """The bench item: peak RSS per original and box; the 50 MP PNG against LIMIT_MIB."""
    megapixels = 1.0 if quick else 50.0
    try:
        import pyvips  # noqa: F401
        with_libvips = not quick
    except (ImportError, OSError):
        with_libvips = False
    rows = measure(megapixels, with_libvips, BOXES[:1] if quick else BOXES,
                   only=("jpeg", "png") if quick else None)
    png = [r for r in rows
           if r["original"].startswith("png") and r["implementation"] == "edgekit handler"]
    return {"status": "ok", "title": "Peak memory of one resize", "megapixels": megapixels,
            "limit_mib": LIMIT_MIB, "rows": rows,
            "png_worst_peak_mib": max(r["peak_mib"] for r in png)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.decode_memory")
    parser.add_argument("--megapixels", type=float, default=50.0)
    parser.add_argument("--originals", type=Path, default=None,
                        help="keep the generated originals here and reuse them next time")
    parser.add_argument("--resizer", type=Path, default=RESIZER_DIR,
                        help="the resizer's folder to measure (e.g. an older commit's copy)")
    parser.add_argument("--no-libvips", action="store_true")
    args = parser.parse_args(argv)
    print("| original | box | by | file MB | status | served | RSS before MiB | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in measure(args.megapixels, not args.no_libvips, originals=args.originals,
                       resizer_dir=args.resizer.resolve()):
        print(
            f"| {row['original']} | {row['box']} | {row['implementation']} "
            f"| {row['bytes'] / 1e6:.1f} | {row['status']} | {row['size']} "
            f"| {row['before_mib']:.0f} | {row['peak_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
