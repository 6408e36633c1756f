"""Run in a fresh interpreter by ``cold_start``: import the unpacked handler, serve one event.

Usage: ``python -B -I cold_start_child.py BUNDLE_DIR EVENT_JSON WARM_URI``. Prints one JSON
line. After the first request it serves a second one for another size (``WARM_URI``), so
the report can tell the cold-start overhead from the work any request does.

``python -B -I cold_start_child.py --botocore [DATA_DIR]`` is the reference instead: import
botocore and create an S3 client as the handler used to (``Config`` with standard retries),
nothing else; with DATA_DIR, botocore's loader reads only that folder (a trimmed S3 model).

Peak memory is the process's VmHWM (bench/peak_rss.py, shared with the other children).
Only the standard library's json, os, resource, sys and time (and peak_rss) are loaded
before the clock starts (the Lambda runtime has those loaded too); the bundle directory
goes first on sys.path, as /var/task does on Lambda, so Pillow comes from the bundle, and
botocore from the interpreter's site-packages, as Lambda's runtime provides it.
"""

import json
import os
import sys
import time

# -I leaves this script's folder off sys.path: on it only for the shared VmHWM reader.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peak_rss import peak_rss_kib  # noqa: E402

del sys.path[0]


def botocore_reference(data_dir: str | None) -> None:
    rss_before = peak_rss_kib()
    started = time.perf_counter()
    from botocore.config import Config
    from botocore.session import get_session

    imported = time.perf_counter()
    session = get_session()
    if data_dir:
        from botocore.loaders import Loader

        loader = Loader(extra_search_paths=[data_dir], include_default_search_paths=False)
        session.register_component("data_loader", loader)
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3,
                    read_timeout=10)
    session.create_client("s3", region_name="us-east-1", config=config)
    created = time.perf_counter()
    print(json.dumps({
        "import_ms": (imported - started) * 1000,
        "client_ms": (created - imported) * 1000,
        "total_ms": (created - started) * 1000,
        "peak_rss_before_kib": rss_before,
        "peak_rss_kib": peak_rss_kib(),
    }))


def main() -> None:
    if sys.argv[1] == "--botocore":
        botocore_reference(sys.argv[2] if len(sys.argv) > 2 else None)
        return
    bundle_dir, event_path, warm_uri = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(event_path, encoding="utf-8") as handle:
        event = json.load(handle)
    preloaded = sorted(name for name in ("botocore", "PIL", "boto3") if name in sys.modules)
    rss_before = peak_rss_kib()
    sys.path.insert(0, bundle_dir)

    started = time.perf_counter()
    import handler  # the import is what is measured

    imported = time.perf_counter()
    response = handler.handler(event, None)
    served = time.perf_counter()
    event["Records"][0]["cf"]["request"]["uri"] = warm_uri
    warm_response = handler.handler(event, None)
    warm_served = time.perf_counter()

    pil = sys.modules.get("PIL")
    print(json.dumps({
        "import_ms": (imported - started) * 1000,
        "first_request_ms": (served - imported) * 1000,
        "total_ms": (served - started) * 1000,
        "warm_request_ms": (warm_served - served) * 1000,
        "status": response.get("status"),
        "warm_status": warm_response.get("status"),
        "peak_rss_before_kib": rss_before,
        "peak_rss_kib": peak_rss_kib(),
        "pil_from_bundle": bool(pil and str(getattr(pil, "__file__", "")).startswith(bundle_dir)),
        "preloaded": preloaded,
    }))


if __name__ == "__main__":
    main()
