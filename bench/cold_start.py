"""Item 2: cold start of the bundled image resizer, side by side with its reference.

Goal (issue 18): the handler's cold start (import, first request, resize) no slower than
merely importing botocore and creating an S3 client in a fresh process. Each run is a fresh
interpreter (``cold_start_child.py``); the variants run interleaved, round by round:

- ``shipped_bytecode``: the bundle as built (for the host's Python here; the deployable one
  carries CPython 3.13 bytecode made the same way), importing ``handler`` from the unpacked
  zip and serving its first origin-request event: the stored-variant lookup misses, the
  original is read from S3, resized to 400x300, stored under ``resized/`` and returned;
- ``source_only``: the same bundle with its ``__pycache__`` folders removed (how bundles
  shipped before: Lambda's /var/task is read-only, so nothing is cached between starts);
- ``before_botocore_handler``: the shipped bundle with the handler of BEFORE_COMMIT, which
  made its S3 client with botocore (bytecode for it too, so only the client differs);
- ``botocore_s3_client``: the reference: import botocore, create an S3 client; nothing else;
- ``botocore_trimmed_s3_model``: the same with botocore's loader restricted to an S3-only
  model trimmed to HeadObject/GetObject/PutObject (the alternative to a small client).

Bytecode state is controlled, not inherited: before the runs, botocore and its dependencies
in this interpreter's site-packages are compiled (``compileall``; as a Lambda runtime would
ship them, and the reference's most favourable state), and the runs use ``-B`` so nothing
new is written. S3 is moto's server on 127.0.0.1 in this (the parent) process, reached
through AWS_ENDPOINT_URL_S3 as the local twin does. Starting moto and seeding the bucket is
measured once and reported apart; the stored variant is deleted before every handler run.
"""

from __future__ import annotations

import compileall
import gzip
import importlib.util
import json
import logging
import os
import py_compile
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
SHIPPED, PLAIN, BEFORE = "shipped_bytecode", "source_only", "before_botocore_handler"
REFERENCE, TRIMMED = "botocore_s3_client", "botocore_trimmed_s3_model"
HANDLER_VARIANTS = (SHIPPED, PLAIN, BEFORE)
# The handler with botocore's S3 client, where issue 18 started.
BEFORE_COMMIT = "19e2e60"
REPO = Path(__file__).resolve().parents[1]
# What importing botocore loads from site-packages.
RUNTIME_PACKAGES = ("botocore", "urllib3", "jmespath", "dateutil", "six")
S3_OPERATIONS = ("HeadObject", "GetObject", "PutObject")


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


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-B", "-I", str(CHILD), *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold-start child failed ({done.returncode}): {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_wall_ms"] = wall * 1000
    return figures


def precompile_runtime_packages() -> dict[str, Any]:
    """Compile botocore and its dependencies where this interpreter loads them from."""
    compiled = []
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        if spec.submodule_search_locations:
            compileall.compile_dir(origin.parent, quiet=2)
        else:
            compileall.compile_file(origin, quiet=2)
        compiled.append(name)
    stdlib_pyc = Path(importlib.util.cache_from_source(json.__file__)).is_file()
    return {"state": "precompiled before the runs (compileall, timestamp .pyc)",
            "packages": compiled, "stdlib_has_bytecode": stdlib_pyc}


def trimmed_s3_model(dest: Path) -> int:
    """botocore's data for S3 alone, its service model cut to S3_OPERATIONS; returns bytes."""
    import botocore

    data = Path(botocore.__file__).parent / "data"
    for name in ("_retry.json", "partitions.json", "sdk-default-configuration.json"):
        shutil.copy(data / name, dest / name)
    endpoints = json.loads((data / "endpoints.json").read_text(encoding="utf-8"))
    for partition in endpoints["partitions"]:
        partition["services"] = {k: v for k, v in partition["services"].items() if k == "s3"}
    (dest / "endpoints.json").write_text(json.dumps(endpoints, separators=(",", ":")))
    version = sorted(p.name for p in (data / "s3").iterdir() if p.is_dir())[-1]
    (dest / "s3" / version).mkdir(parents=True)
    shutil.copy(data / "s3" / version / "endpoint-rule-set-1.json.gz", dest / "s3" / version)
    model = json.loads(gzip.decompress((data / "s3" / version / "service-2.json.gz").read_bytes()))
    model["operations"] = {k: v for k, v in model["operations"].items() if k in S3_OPERATIONS}
    shapes, keep, pending = model["shapes"], set(), []
    for operation in model["operations"].values():
        operation.pop("documentation", None)
        pending += [operation[k]["shape"] for k in ("input", "output") if k in operation]
        pending += [error["shape"] for error in operation.get("errors", [])]
    while pending:
        name = pending.pop()
        if name in keep:
            continue
        keep.add(name)
        shape = shapes[name]
        pending += [shape[k]["shape"] for k in ("member", "key", "value") if k in shape]
        pending += [member["shape"] for member in shape.get("members", {}).values()]
    model["shapes"] = {name: shapes[name] for name in sorted(keep)}
    for shape in model["shapes"].values():
        shape.pop("documentation", None)
        for member in shape.get("members", {}).values():
            member.pop("documentation", None)
    (dest / "s3" / version / "service-2.json").write_text(json.dumps(model, separators=(",", ":")))
    return sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())


def _before_handler(folder: Path) -> bool:
    """Put BEFORE_COMMIT's handler (botocore client) into `folder`, compiled; False if no git."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE_COMMIT}:functions/image_resizer/handler.py"], cwd=REPO,
            capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    (folder / "handler.py").write_bytes(source)
    for stale in (folder / "__pycache__").glob("handler.*.pyc"):
        stale.unlink()
    py_compile.compile(str(folder / "handler.py"), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return True


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
        pyc = sum(1 for name in archive.namelist() if name.endswith(".cpython-313.pyc"))
    return {"status": "ok", "python_version": artifact.python_version, "bytes": artifact.size,
            "unpacked_bytes": unpacked, "entries": entries, "pyc_files": pyc,
            "sha256": artifact.sha256, "limit_bytes": artifact.size_limit}


def run(quick: bool) -> dict[str, Any]:
    from edgekit_iac.bundle.build import build_function

    repeats = 1 if quick else 12
    bytecode_state = precompile_runtime_packages()
    host_bundle = build_function("image_resizer", python_version="host")
    original = corpus.encode(corpus.photo_like((1600, 1200), 2), "JPEG", quality=85)
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="edgekit-cold-") as tmp:
        folders = {SHIPPED: Path(tmp) / "task", PLAIN: Path(tmp) / "task-source",
                   BEFORE: Path(tmp) / "task-before"}
        with zipfile.ZipFile(host_bundle.path) as archive:
            archive.extractall(folders[SHIPPED])
            shipped_pyc = sum(1 for n in archive.namelist() if n.endswith(".pyc"))
        shutil.copytree(folders[SHIPPED], folders[PLAIN])
        for cache_dir in list(folders[PLAIN].rglob("__pycache__")):
            shutil.rmtree(cache_dir)
        shutil.copytree(folders[SHIPPED], folders[BEFORE])
        if not _before_handler(folders[BEFORE]):
            del folders[BEFORE]
        model_dir = Path(tmp) / "botocore-s3-model"
        model_dir.mkdir()
        model_bytes = trimmed_s3_model(model_dir)
        event_path = Path(tmp) / "event.json"
        event_path.write_text(json.dumps(origin_request_event(URI)))

        arguments = {name: [str(folder), str(event_path), WARM_URI]
                     for name, folder in folders.items()}
        arguments[REFERENCE] = ["--botocore"]
        arguments[TRIMMED] = ["--botocore", str(model_dir)]
        runs = {name: [] for name in arguments}
        server, client, endpoint, moto_seconds = _start_moto(original)
        try:
            env = _aws_env(endpoint)
            names = list(arguments)
            for round_number in range(repeats):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    if name in folders:
                        _delete_variants(client)
                    runs[name].append(_child(arguments[name], env))
        finally:
            server.stop()

    handler_runs = [r for name in folders for r in runs[name]]
    statuses = {r[key] for r in handler_runs for key in ("status", "warm_status")}
    reference_totals = [r["total_ms"] for r in runs[REFERENCE]]
    comparisons = {name: timing.compare([r["total_ms"] for r in runs[name]], reference_totals)
                   for name in runs if name != REFERENCE}
    return {
        "status": "ok",
        "title": "Cold start",
        "request": f"GET {URI} (original {len(original)} bytes, 1600x1200 JPEG) -> 400x300",
        "warm_request": f"GET {WARM_URI} in the same process, after the first",
        "host_bundle": {"python_version": host_bundle.python_version,
                        "bytes": host_bundle.size, "pyc_files": shipped_pyc},
        "bytecode_state": bytecode_state,
        "before_commit": BEFORE_COMMIT if BEFORE in folders else None,
        "trimmed_model_bytes": model_bytes,
        "moto_setup_ms": round(moto_seconds * 1000, 1),
        "responses": sorted(statuses),
        "pil_from_bundle": all(r["pil_from_bundle"] for r in handler_runs),
        "preloaded_before_import": sorted({n for r in handler_runs for n in r["preloaded"]}),
        "variants": {name: _summarize(results) for name, results in runs.items()},
        "vs_reference": comparisons,
        "deployable_bundle": _deployable_bundle(),
    }


def _summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    def ms(key: str) -> dict[str, Any] | None:
        if key not in results[0]:
            return None
        return timing.spread([r[key] for r in results], "ms", digits=1)

    return {
        "import_ms": ms("import_ms"),
        "client_ms": ms("client_ms"),
        "first_request_ms": ms("first_request_ms"),
        "import_and_first_request_ms": ms("total_ms"),
        "warm_request_ms": ms("warm_request_ms"),
        "process_wall_ms": ms("process_wall_ms"),
        "peak_rss_mib": timing.spread([r["peak_rss_kib"] / 1024 for r in results], "MiB",
                                      digits=1),
        "interpreter_rss_mib": timing.spread([r["peak_rss_before_kib"] / 1024 for r in results],
                                             "MiB", digits=1),
    }
