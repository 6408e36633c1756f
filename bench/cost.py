"""Item: what a million resized images cost, per Lambda memory size, from the measured work.

Work: the CPU time of edgekit's resize (``functions/image_resizer/resize.py``, one thread,
as on Lambda below 1,769 MB) for a mix of originals, sizes and formats, measured here
(``time.process_time``, so other processes on the machine do not inflate it).

CPU model (how this machine's CPU time becomes Lambda duration): Lambda allocates CPU in
proportion to memory, "at 1,769 MB, a function has the equivalent of one vCPU (one
vCPU-second of credits per second)" (AWS Lambda Developer Guide, Configure Lambda function
memory, docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). The resize is
single-threaded, so at M MB it runs at min(1, M / 1769) of one vCPU:
``duration = S3_IO_MS + cpu_ms * HOST_TO_LAMBDA / min(1, M / 1769)``. HOST_TO_LAMBDA = 1
assumes one Lambda vCPU does this machine's core's work in the same time (not measurable
here: no Lambda is reachable); S3_IO_MS covers the handler's HEAD, GET and PUT to S3,
which use no CPU worth counting but are billed as duration.

Prices (US East, x86, on-demand; looked up 2026-12-02, see bench/RESULTS.md):
- Lambda@Edge: $0.60 per million requests and $0.00000625125 for every 128 MB-second
  (= $0.00005001 per GB-second), billed per 1 ms, no free tier. AWS publishes it on
  aws.amazon.com/cloudfront/pricing (Lambda@Edge section) in that per-128 MB-second form.
  That page renders its prices client-side and was not reachable from this machine; the
  figures were checked against copies that quote it: a 2026 rate card ("$0.60 per 1M
  invocations", "$0.00005001 per 128 MB-second ... equivalent to $0.00000625125 per
  GB-second" - its units are swapped: 0.00000625125 x 8 = 0.00005001, so only the
  per-128 MB reading gives AWS's own per-GB-second figure), and a Japanese summary of the
  CloudFront page quoting the same two figures per 128 MB-second and per million. 1 ms
  billing since 2021-04-01 (AWS What's New, 2021-03-31).
- Regional Lambda (for DIT): $0.20 per million requests, $0.0000166667 per GB-second;
  API Gateway REST API: $3.50 per million requests (aws.amazon.com/api-gateway/pricing).
- Cloudflare Images transformations: 5,000 unique transformations a month included, then
  $0.50 per 1,000 unique transformations (developers.cloudflare.com/images/pricing/).
- DIT's own published estimate (Dynamic Image Transformation for Amazon CloudFront,
  "Lambda architecture costs"): 10 M images served at a 90 % hit rate (1 M transformed),
  350 ms each: API Gateway $11.00 + Lambda $10.93.

Every edgekit resize is stored under ``resized/`` and served from S3 and CloudFront after
that, so "a million resizes" compares with a million *unique* transformations.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from bench import corpus

MEMORY_SIZES_MB = (128, 256, 512, 1024, 1280, 1536, 1769, 2048, 3008)
MB_PER_VCPU = 1769
HOST_TO_LAMBDA = 1.0
# HEAD + GET + PUT from the regional edge cache to the bucket's region: the low end of what
# components/alarms.py allows a miss (reading a 2-5 MB original 100-300 ms, storing 50-100).
S3_IO_MS = 150.0
TARGET_P95_MS = 1000.0  # a cache miss: the first request for a variant; later ones are hits

EDGE_REQUEST_USD = 0.60 / 1e6
EDGE_GB_SECOND_USD = 0.00000625125 * (1024 / 128)  # published per 128 MB-second
LAMBDA_REQUEST_USD = 0.20 / 1e6
LAMBDA_GB_SECOND_USD = 0.0000166667
API_GATEWAY_REST_REQUEST_USD = 3.50 / 1e6
CLOUDFLARE_UNIQUE_TRANSFORMATION_USD = 0.50 / 1000
DIT_PUBLISHED_PER_MILLION_USD = 11.00 + 10.93
PRICES_LOOKED_UP = "2026-12-02"

BOXES = ((400, 300), (1200, 800))
FORMATS = ("jpeg", "webp", "avif")


def _work(quick: bool) -> list[dict[str, Any]]:
    from bench.resize_bench import load_edgekit_resize

    resize_module = load_edgekit_resize()
    resize_module.ENCODER_THREADS = 1  # as at <= 1,769 MB: one vCPU at most
    originals, _ = corpus.corpus(quick)
    boxes = BOXES[:1] if quick else BOXES
    formats = [f for f in FORMATS if f in resize_module.encodable_formats()]
    if quick:
        formats = formats[:2]
    repeats = 2 if quick else 3
    rows = []
    for original in originals:
        for box in boxes:
            for output_format in formats:
                resize_module.resize(original.data, box, output_format)  # warm
                cpu = []
                for _ in range(repeats):
                    started = time.process_time()
                    resize_module.resize(original.data, box, output_format)
                    cpu.append((time.process_time() - started) * 1000)
                rows.append({"original": original.name, "box": f"{box[0]}x{box[1]}",
                             "format": output_format, "cpu_ms": round(statistics.median(cpu), 2)})
    return rows


def duration_ms(cpu_ms: float, memory_mb: int) -> float:
    share = min(1.0, memory_mb / MB_PER_VCPU)
    return S3_IO_MS + cpu_ms * HOST_TO_LAMBDA / share


def edge_cost_per_million(durations_ms: list[float], memory_mb: int) -> float:
    gb_seconds = statistics.fmean(durations_ms) / 1000 * memory_mb / 1024
    return 1e6 * (EDGE_REQUEST_USD + gb_seconds * EDGE_GB_SECOND_USD)


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def run(quick: bool) -> dict[str, Any]:
    from edgekit_iac.components.image_resizer import EdgeImageResizerArgs, required_memory_mb

    work = _work(quick)
    cpu = [row["cpu_ms"] for row in work]
    floor_mb = required_memory_mb(EdgeImageResizerArgs().max_pixels)
    sizes = []
    for memory in MEMORY_SIZES_MB:
        durations = [duration_ms(c, memory) for c in cpu]
        sizes.append({
            "memory_mb": memory,
            "vcpu_share": round(min(1.0, memory / MB_PER_VCPU), 3),
            "mean_ms": round(statistics.fmean(durations), 1),
            "p95_ms": round(p95(durations), 1),
            "usd_per_million": round(edge_cost_per_million(durations, memory), 2),
            "fits_default_pixel_budget": memory >= floor_mb,
        })
    eligible = [s for s in sizes if s["fits_default_pixel_budget"]
                and s["p95_ms"] <= TARGET_P95_MS]
    recommended = min(eligible, key=lambda s: (s["usd_per_million"], s["memory_mb"]),
                      default=None)
    default_mb = EdgeImageResizerArgs().memory_mb
    dit_memory = recommended["memory_mb"] if recommended else 1769
    dit_durations = [duration_ms(c, dit_memory) for c in cpu]  # same work, same S3 reads
    dit = 1e6 * (API_GATEWAY_REST_REQUEST_USD + LAMBDA_REQUEST_USD
                 + statistics.fmean(dit_durations) / 1000 * dit_memory / 1024
                 * LAMBDA_GB_SECOND_USD)
    return {
        "status": "ok",
        "title": "Cost of a million resizes",
        "work": work,
        "cpu_ms": {"min": min(cpu), "median": statistics.median(cpu), "max": max(cpu),
                   "p95": round(p95(cpu), 2), "n": len(cpu), "unit": "ms"},
        "model": {"mb_per_vcpu": MB_PER_VCPU, "host_to_lambda": HOST_TO_LAMBDA,
                  "s3_io_ms": S3_IO_MS, "target_p95_ms": TARGET_P95_MS,
                  "cpu_model": _cpu_model()},
        "prices": {"looked_up": PRICES_LOOKED_UP,
                   "lambda_edge_per_request": EDGE_REQUEST_USD,
                   "lambda_edge_per_gb_second": EDGE_GB_SECOND_USD,
                   "lambda_per_request": LAMBDA_REQUEST_USD,
                   "lambda_per_gb_second": LAMBDA_GB_SECOND_USD,
                   "api_gateway_rest_per_request": API_GATEWAY_REST_REQUEST_USD,
                   "cloudflare_per_unique_transformation": CLOUDFLARE_UNIQUE_TRANSFORMATION_USD},
        "memory_floor_mb": floor_mb,
        "sizes": sizes,
        "recommended_memory_mb": recommended["memory_mb"] if recommended else None,
        "stack_default_memory_mb": default_mb,
        "default_follows_recommendation": bool(recommended)
        and default_mb == recommended["memory_mb"],
        "alternatives_usd_per_million": {
            "edgekit_lambda_edge": recommended["usd_per_million"] if recommended else None,
            "dit_api_gateway_lambda_same_work": round(dit, 2),
            "dit_memory_mb": dit_memory,
            "dit_published_estimate": DIT_PUBLISHED_PER_MILLION_USD,
            "cloudflare_images": round(1e6 * CLOUDFLARE_UNIQUE_TRANSFORMATION_USD, 2),
        },
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return os.uname().machine
