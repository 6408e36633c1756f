"""Item 2: cold start of the bundled image resizer, and the size of the deployable bundle.

Each run is a fresh interpreter (``cold_start_child.py``) that imports ``handler`` from the
unpacked zip and serves its first origin-request event: the stored-variant lookup misses,
the original is read from S3, resized to 400x300, stored under ``resized/`` and returned.
S3 is moto's server on 127.0.0.1 in this (the parent) process, reached through
AWS_ENDPOINT_URL_S3 as the local twin does, so the child pays for importing botocore and
creating its client exactly as a Lambda instance would. Starting moto and seeding the
bucket is measured once and reported apart; the stored variant is deleted between runs so
every run does the same work.

The deployable zip carries CPython 3.13 wheels, which this interpreter may not load, so
the runs use a bundle built the same way for the host interpreter (same sources, same
pruning). Lambda's /var/task is read-only, so no bytecode is cached between cold starts:
the child runs with ``-B`` from a folder without ``__pycache__``. A second variant, with
the bundle's modules compiled ahead of time, shows what shipping bytecode would save.
"""

from __future__ import annotations

import compileall
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from bench import corpus, timing

BUCKET = "edgekit-bench-originals"
REGION = "us-east-1"
ORIGINAL_KEY = "photos/medium.jpg"
URI = f"/images/400x300/{ORIGINAL_KEY}"
WARM_URI = f"/images/300x200/{ORIGINAL_KEY}"  # a second size, resized again in the same process
CHILD = Path(__file__).with_name("cold_start_child.py")
PLAIN, PRECOMPILED = "source_only", "precompiled_bytecode"


def origin_request_event(uri: str) -> dict[str, Any]:
    """A CloudFront origin-request event for an S3 origin, in AWS's documented shape."""
    return {"Records": [{"cf": {
        "config": {"distributionId": "EBENCH", "eventType": "origin-request",
                   "requestId": "bench"},
        "request": {
            "clientIp": "203.0.113.10",
            "method": "GET",
            "uri": uri,
            "querystring": "",
            "headers": {"host": [{"key": "Host", "value": f"{BUCKET}.s3.amazonaws.com"}]},
            "origin": {"s3": {
                "domainName": f"{BUCKET}.s3.{REGION}.amazonaws.com",
                "region": REGION,
                "authMethod": "origin-access-identity",
                "path": "",
                "customHeaders": {},
            }},
        },
    }}]}


def _aws_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


def _start_moto(original: bytes) -> tuple[Any, Any, str, float]:
    """moto's S3 on 127.0.0.1 with the original in place; returns its set-up seconds."""
    started = time.perf_counter()
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per S3 request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", region_name=REGION, endpoint_url=endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key=ORIGINAL_KEY, Body=original, ContentType="image/jpeg")
    return server, client, endpoint, time.perf_counter() - started


def _delete_variants(client) -> None:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="resized/").get("Contents", [])
    for item in listed:
        client.delete_object(Bucket=BUCKET, Key=item["Key"])


def _cold_run(bundle_dir: Path, event_path: Path, env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-B", "-I", str(CHILD), str(bundle_dir),
                           str(event_path), WARM_URI], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold-start child failed ({done.returncode}): {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_wall_ms"] = wall * 1000
    return figures


def _deployable_bundle() -> dict[str, Any]:
    from edgekit_iac.bundle.build import build_function
    from edgekit_iac.errors import UserError

    try:
        artifact = build_function("image_resizer")
    except (UserError, OSError) as exc:
        return {"status": "unavailable", "reason": str(exc)}
    with zipfile.ZipFile(artifact.path) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
        entries = len(archive.infolist())
    return {"status": "ok", "python_version": artifact.python_version, "bytes": artifact.size,
            "unpacked_bytes": unpacked, "entries": entries, "sha256": artifact.sha256,
            "limit_bytes": artifact.size_limit}


def run(quick: bool) -> dict[str, Any]:
    from edgekit_iac.bundle.build import build_function

    repeats = 2 if quick else 10
    host_bundle = build_function("image_resizer", python_version="host")
    original = corpus.encode(corpus.photo_like((1600, 1200), 2), "JPEG", quality=85)
    runs: dict[str, list[dict[str, Any]]] = {PLAIN: [], PRECOMPILED: []}
    with tempfile.TemporaryDirectory(prefix="edgekit-cold-") as tmp:
        folders = {PLAIN: Path(tmp) / "task", PRECOMPILED: Path(tmp) / "task-pyc"}
        with zipfile.ZipFile(host_bundle.path) as archive:
            archive.extractall(folders[PLAIN])
        shutil.copytree(folders[PLAIN], folders[PRECOMPILED])
        compileall.compile_dir(folders[PRECOMPILED], quiet=1)
        event_path = Path(tmp) / "event.json"
        event_path.write_text(json.dumps(origin_request_event(URI)))

        server, client, endpoint, moto_seconds = _start_moto(original)
        try:
            env = _aws_env(endpoint)
            for round_number in range(repeats):
                order = [PLAIN, PRECOMPILED] if round_number % 2 == 0 else [PRECOMPILED, PLAIN]
                for variant in order:
                    _delete_variants(client)
                    runs[variant].append(_cold_run(folders[variant], event_path, env))
        finally:
            server.stop()

    statuses = {r[key] for variant in runs.values() for r in variant
                for key in ("status", "warm_status")}
    return {
        "status": "ok",
        "title": "Cold start",
        "request": f"GET {URI} (original {len(original)} bytes, 1600x1200 JPEG) -> 400x300",
        "warm_request": f"GET {WARM_URI} in the same process, after the first",
        "host_bundle": {"python_version": host_bundle.python_version,
                        "bytes": host_bundle.size},
        "moto_setup_ms": round(moto_seconds * 1000, 1),
        "responses": sorted(statuses),
        "pil_from_bundle": all(r["pil_from_bundle"] for v in runs.values() for r in v),
        "preloaded_before_import": sorted({n for v in runs.values() for r in v
                                           for n in r["preloaded"]}),
        "variants": {variant: _summarize(results) for variant, results in runs.items()},
        "deployable_bundle": _deployable_bundle(),
    }


def _summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    def ms(key: str) -> dict[str, Any]:
        return timing.spread([r[key] for r in results], "ms", digits=1)

    return {
        "import_ms": ms("import_ms"),
        "first_request_ms": ms("first_request_ms"),
        "import_and_first_request_ms": ms("total_ms"),
        "warm_request_ms": ms("warm_request_ms"),
        "process_wall_ms": ms("process_wall_ms"),
        "peak_rss_mib": timing.spread([r["peak_rss_kib"] / 1024 for r in results], "MiB",
                                      digits=1),
        "interpreter_rss_mib": timing.spread([r["peak_rss_before_kib"] / 1024 for r in results],
                                             "MiB", digits=1),
    }
