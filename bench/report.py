"""Write the suite's results: ``results.json`` (everything) and ``RESULTS.md`` (tables)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.resize_bench import EDGEKIT, EDGEKIT_THREADS, NAIVE, VIPS, VIPS_THREADS

JSON_NAME, MARKDOWN_NAME = "results.json", "RESULTS.md"


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / JSON_NAME, out_dir / MARKDOWN_NAME)
    texts = (json.dumps(results, indent=1, sort_keys=False) + "\n", markdown(results))
    for path, text in zip(paths, texts, strict=True):
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    return paths


# ---------------------------------------------------------------- formatting


def spread(figure: dict[str, Any] | None, digits: int = 1) -> str:
    """``median (min-max) unit``."""
    if not figure:
        return "-"
    unit = {"us": "µs", "fraction": ""}.get(figure["unit"], figure["unit"])
    if figure["unit"] == "fraction":
        return (f"{figure['median']:.2%} ({figure['min']:.2%}–{figure['max']:.2%})")
    return (f"{figure['median']:.{digits}f} ({figure['min']:.{digits}f}–"
            f"{figure['max']:.{digits}f}) {unit}").rstrip()


def number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------- the document


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items()
                         if version)
    libraries = ", ".join(f"{name} {version}" for name, version in machine["libraries"].items()
                          if version)
    parts = [
        "# edgekit benchmarks",
        "",
        f"Written by `{results['command']}` ({results['mode']} mode) on {machine['date']}, "
        f"in {results['duration_s']:.0f} s. Every figure is the median of repeated runs with "
        "(min–max) beside it; `results.json` has them all. Ratios are edgekit / other: "
        "below 1 means edgekit is faster or smaller. Comparisons ran interleaved in one process.",
        "",
        f"Machine: {machine['cpu_model']}, {machine['cpu_cores']} cores "
        f"({machine['cpu_cores_usable']} usable), {machine['memory_gib']} GiB, "
        f"Python {machine['python']} on {machine['os']}.",
        "",
        f"Packages: {packages}.",
        "",
        f"Libraries: {libraries}.",
        "",
        f"Commit: `{machine['git_commit']}`"
        + (" (with local changes)." if machine["git_dirty"] else "."),
        "",
        "## Key figures",
        "",
        key_figures(results["items"]),
    ]
    for name, item in results["items"].items():
        parts += ["", f"## {item.get('title', name)}", ""]
        if item.get("ran"):
            ran = item["ran"]
            parts += [f"*Re-run on {ran['date']} at commit `{ran['git_commit'][:12]}`"
                      + (" (with local changes)" if ran["git_dirty"] else "")
                      + f" with `{ran['command']}`; the header above describes the full run.*",
                      ""]
        if item["status"] != "ok":
            parts.append(f"**{item['status']}**: {item.get('reason', '')}")
            continue
        parts.append(SECTIONS[name](item))
    return "\n".join(parts) + "\n" + _cache_tests_section()


def _cache_tests_section() -> str:
    """The HTTP cache test suite's section, kept from its own last run (`make cache-tests`)."""
    from bench import cache_tests

    if not cache_tests.SUMMARY_FILE.exists():
        return ""
    return "\n" + cache_tests.section(json.loads(cache_tests.SUMMARY_FILE.read_text()))


# Issue 18's goal for PNG->JPEG: at most this many times libvips' time, on every case.
PNG_JPEG_GOAL = 1.3


def key_figures(items: dict[str, Any]) -> str:
    lines = []
    resize = items.get("resize", {})
    if resize.get("status") == "ok":
        for row in resize["summary"]:
            if row["source_format"] == row["output_format"] == "jpeg":
                lines.append(
                    f"- Resize JPEG->JPEG ({row['cases']} cases): edgekit/libvips time "
                    f"{number(row.get(f'time_{EDGEKIT}/{VIPS}_geomean'))} (geometric mean; "
                    f"edgekit at or below libvips in {row.get(f'faster_than_{VIPS}', '-')} of "
                    f"{row['cases']}; against libvips with its default thread pool "
                    f"{number(row.get(f'time_{EDGEKIT}/{VIPS_THREADS}_geomean'))}), "
                    f"edgekit/naive Pillow "
                    f"{number(row.get(f'time_{EDGEKIT}/{NAIVE}_geomean'))} (faster in "
                    f"{row.get(f'faster_than_{NAIVE}', '-')}); bytes edgekit/libvips "
                    f"{number(row.get(f'bytes_{EDGEKIT}/{VIPS}_geomean'))}, edgekit/naive "
                    f"{number(row.get(f'bytes_{EDGEKIT}/{NAIVE}_geomean'))}.")
            if row["source_format"] == "png" and row["output_format"] == "jpeg":
                quality = (
                    f"; lowest PSNR {number(row.get(f'psnr_{EDGEKIT}_min'), 1)} dB vs libvips "
                    f"{number(row.get(f'psnr_{VIPS}_min'), 1)} dB, lowest SSIM "
                    f"{number(row.get(f'ssim_{EDGEKIT}_min'), 4)} vs "
                    f"{number(row.get(f'ssim_{VIPS}_min'), 4)}"
                    if f"psnr_{EDGEKIT}_min" in row else " (no quality figures in this run)")
                ratios = [c["ratios"][f"time_{EDGEKIT}/{VIPS}"] for c in resize["cases"]
                          if c["source_format"] == "png" and c["output_format"] == "jpeg"
                          and c["ratios"].get(f"time_{EDGEKIT}/{VIPS}") is not None]
                within = sum(1 for r in ratios if r <= PNG_JPEG_GOAL)
                within = f"; within {PNG_JPEG_GOAL}x in {within} of {len(ratios)}" if ratios else ""
                lines.append(
                    f"- Resize PNG->JPEG ({row['cases']} cases): edgekit/libvips time "
                    f"{number(row.get(f'time_{EDGEKIT}/{VIPS}_geomean'))} (geometric mean, "
                    f"worst {number(row.get(f'time_{EDGEKIT}/{VIPS}_worst'))}{within})"
                    f"{quality}.")
        for case in resize["cases"]:
            if case["output_format"] == "jpeg" and case["box"] == "400x300" and \
                    case["original"].startswith("large"):
                r = case["results"]
                lines.append(
                    f"- {case['original']} -> 400x300 JPEG: edgekit "
                    f"{r[EDGEKIT]['time_ms']['median']:.1f} ms, libvips "
                    f"{r.get(VIPS, {}).get('time_ms', {}).get('median', float('nan')):.1f} ms, "
                    f"naive Pillow {r[NAIVE]['time_ms']['median']:.1f} ms.")
    cold = items.get("cold_start", {})
    if cold.get("status") == "ok":
        shipped = cold["variants"]["shipped_bytecode"]
        reference = cold["variants"]["botocore_s3_client"]
        versus = cold["vs_reference"]["shipped_bytecode"]
        bundle = cold["deployable_bundle"]
        lines.append(
            f"- Cold start (handler import + first request + resize): "
            f"{shipped['import_and_first_request_ms']['median']:.0f} ms median against "
            f"{reference['import_and_first_request_ms']['median']:.0f} ms for importing "
            f"botocore and creating an S3 client: ratio {versus['ratio']:.2f} "
            f"({versus['verdict']}); peak RSS "
            f"{shipped['peak_rss_mib']['median']:.0f} MiB; deployable bundle "
            + (f"{bundle['bytes'] / 1e6:.2f} MB (Python {bundle['python_version']})."
               if bundle.get("status") == "ok" else f"unavailable: {bundle.get('reason')}."))
    hits = items.get("cache_hit_path", {})
    if hits.get("status") == "ok":
        figures = hits["figures"]
        lines.append(
            f"- Cache wrapper hit-path decisions: {hits['decisions_total_hot_url_us']:.1f} µs "
            f"per request (request side {figures['request_side_hot_url_us']['median']:.1f} µs, "
            f"{figures['request_side_new_url_us']['median']:.1f} µs for a never-seen URL; "
            f"hit side {figures['hit_side_us']['median']:.1f} µs).")
        if "worker_hit_in_isolate_us" in figures:
            lines.append(
                f"- Whole cache HIT on Pyodide: "
                f"{figures['worker_hit_in_isolate_us']['median']:.0f} µs inside the isolate, "
                f"{figures['worker_hit_round_trip_us']['median']:.0f} µs round trip from Python.")
    startup = items.get("worker_startup", {})
    if startup.get("status") == "ok":
        lines.append("- Pyodide start-up per Worker: " + ", ".join(
            f"{row['function']} {row['start_ms']['median']:.0f} ms" for row in startup["rows"])
            + " (spawn to ready).")
    twin = items.get("twin_throughput", {})
    if twin.get("status") == "ok":
        standin = twin.get("variants", {}).get("stand_in")
        lines.append(f"- Twin cache hits: {twin['hits_per_s']['median']:.0f} req/s on Pyodide "
                     f"({twin['tool']})"
                     + (f"; {standin['hits_per_s']['median']:.0f} req/s on the CPython stand-in "
                        "it replaced, same run." if standin else "."))
    elif twin:
        lines.append(f"- Twin cache hits: {twin['status']}: {twin.get('reason', '')}.")
    offload = items.get("origin_offload", {})
    if offload.get("status") == "ok":
        for scenario in offload["scenarios"]:
            wrappers = scenario["wrappers"]
            lines.append(
                f"- Origin offload ({scenario['requests']} requests, {scenario['distribution']}): "
                f"{wrappers['edgekit']['origin_fraction']['median']:.2%} reach the origin with "
                f"edgekit vs {wrappers['seed_style']['origin_fraction']['median']:.2%} with the "
                f"seed-style wrapper; client errors "
                f"{wrappers['edgekit']['client_error_fraction']['median']:.2%} vs "
                f"{wrappers['seed_style']['client_error_fraction']['median']:.2%}.")
    scale = items.get("program_scale", {})
    if scale.get("status") == "ok":
        lines.append("- Program scale: " + ", ".join(
            f"{row['components']} resizer(s) {row['time_s']['median']:.2f} s"
            for row in scale["rows"]) + " under the mock runtime.")
    memory = items.get("memory", {})
    if memory.get("status") == "ok":
        lines.append(f"- Peak RSS of one resize of a {memory['megapixels']:g} MP PNG: "
                     f"{memory['png_worst_peak_mib']:.0f} MiB at worst (goal: under "
                     f"{memory['limit_mib']} MiB).")
    cost = items.get("cost", {})
    if cost.get("status") == "ok":
        alternatives = cost["alternatives_usd_per_million"]
        lines.append(
            f"- Cost per million resizes: ${alternatives['edgekit_lambda_edge']:.2f} on "
            f"Lambda@Edge at the recommended {cost['recommended_memory_mb']} MB (stack default "
            f"{cost['stack_default_memory_mb']} MB), against "
            f"${alternatives['dit_api_gateway_lambda_same_work']:.2f} for DIT's API Gateway + "
            f"Lambda with the same work and ${alternatives['cloudflare_images']:.2f} for "
            "Cloudflare Images transformations.")
    return "\n".join(lines) or "(no item ran)"


# ---------------------------------------------------------------- per item


def resize_section(item: dict[str, Any]) -> str:
    names = [n for n in (EDGEKIT, VIPS, EDGEKIT_THREADS, VIPS_THREADS, NAIVE)
             if n in item["implementations"]]
    parts = [
        "Implementations: " + "; ".join(f"**{n}** = {item['implementations'][n]}" for n in names)
        + f". Quality {item['quality']}; libvips: {item['libvips']} (default thread pool "
        f"{item['libvips_default_threads']}). Sizes {', '.join(item['sizes'])}; formats "
        f"{', '.join(item['formats'])}. See `bench/resize_bench.py` for the exact settings.",
        "",
        f"Corpus ({item['corpus_note']}):",
        "",
        table(["original", "format", "size", "bytes", "source"],
              [[o["name"], o["format"], f"{o['size'][0]}x{o['size'][1]}", str(o["bytes"]),
                o["source"]] for o in item["corpus"]]),
        "",
        "How to read it: edgekit decodes JPEGs at 1/2, 1/4 or 1/8 scale in the DCT (Pillow's "
        "draft), so it leads wherever the target is at least twice as small as the original. "
        "Between 1x and 2x no scaled decode applies, and the full-size Lanczos pass dominates: "
        "Pillow's resampler is scalar C, libvips' is SIMD, so libvips leads there at equal "
        "pixels (see Δpx). For PNG output edgekit writes smaller files more slowly (see the "
        "bytes column), and libvips can decode WebP at reduced scale, which Pillow cannot.",
        "",
        "### Summary by source -> output format",
        "",
        "Geometric means over the group's cases; *faster* counts cases where edgekit's "
        "median time is at or below the other's; *Δpx* is the largest mean absolute "
        "difference (0-255) between edgekit's and libvips' decoded outputs in the group.",
        "",
    ]
    rows = []
    for row in item["summary"]:
        rows.append([
            f"{row['source_format']} -> {row['output_format']}", str(row["cases"]),
            number(row.get(f"time_{EDGEKIT}/{VIPS}_geomean")),
            f"{row.get(f'faster_than_{VIPS}', '-')}",
            number(row.get(f"time_{EDGEKIT}/{VIPS}_worst")),
            number(row.get(f"bytes_{EDGEKIT}/{VIPS}_geomean")),
            number(row.get(f"time_{EDGEKIT}/{NAIVE}_geomean")),
            f"{row.get(f'faster_than_{NAIVE}', '-')}",
            number(row.get(f"bytes_{EDGEKIT}/{NAIVE}_geomean")),
            number(row.get("mean_abs_diff_vs_libvips_max")),
        ])
    parts.append(table(["formats", "cases", "time vs libvips", "faster", "worst",
                        "bytes vs libvips", "time vs naive", "faster", "bytes vs naive",
                        "Δpx max"], rows))
    parts += ["", "### Verdicts, matched threads, and quality against a reference", "",
              "Per group: edgekit against libvips per case as faster / tie / slower (a ratio "
              "within the two sides' interquartile noise band is a tie); with threads = cores "
              "on both sides (`edgekit_threads` / `libvips_threads`, geometric mean); and for "
              "PNG originals the lowest PSNR (dB) and SSIM of each side's output against a "
              "one-pass Lanczos resize of the fully decoded original.", ""]
    quality_rows = []
    for row in item["summary"]:
        verdicts = row.get(f"verdicts_{EDGEKIT}/{VIPS}", {})
        quality_rows.append([
            f"{row['source_format']} -> {row['output_format']}",
            " / ".join(str(verdicts.get(v, 0)) for v in ("faster", "tie", "slower")),
            number(row.get(f"time_{EDGEKIT_THREADS}/{VIPS_THREADS}_geomean")),
            number(row.get(f"psnr_{EDGEKIT}_min"), 1), number(row.get(f"psnr_{VIPS}_min"), 1),
            number(row.get(f"ssim_{EDGEKIT}_min"), 4), number(row.get(f"ssim_{VIPS}_min"), 4),
        ])
    parts.append(table(["formats", "faster / tie / slower", "threads: edgekit vs libvips",
                        "PSNR edgekit", "PSNR libvips", "SSIM edgekit", "SSIM libvips"],
                       quality_rows))
    if item.get("png_decode"):
        zlib = item.get("pillow_zlib")
        parts += ["", "### PNG decode alone (one thread)", "",
                  (f"Pillow inflates with the zlib found at run time, {zlib} here: its "
                   "manylinux wheel bundles no libz (the manylinux policy lets libz.so.1 come "
                   "from the system), so Lambda's is Amazon Linux's. libvips' binary wheel "
                   "carries zlib-ng and skips the Adler-32 and CRC checks. "
                   if zlib else "")
                  + "What is left after decoding is resampling and encoding.", ""]
        parts.append(table(
            ["original", "Pillow ms", "libvips ms", "Pillow / libvips"],
            [[d["original"], spread(d["pillow_ms"]).removesuffix(" ms"),
              spread(d["libvips_ms"]).removesuffix(" ms"),
              f"{d['pillow/libvips']['ratio']:.2f} ({d['pillow/libvips']['verdict']})"]
             for d in item["png_decode"]]))
    png_jpeg = [c for c in item["cases"]
                if c["source_format"] == "png" and c["output_format"] == "jpeg"]
    if png_jpeg:
        parts += ["", "### PNG -> JPEG, every case", "",
                  "Time as median (min–max) ms; the verdict calls a ratio within the two "
                  "sides' interquartile noise band a tie. PSNR (dB) and SSIM of each side's "
                  "output against the reference (the original flattened onto white, one "
                  "Lanczos pass to the output's size).", ""]
        parts.append(_png_jpeg_table(png_jpeg))
    parts += ["", "### JPEG -> JPEG, every case", ""]
    parts.append(_case_table([c for c in item["cases"]
                              if c["source_format"] == c["output_format"] == "jpeg"], names))
    parts += ["", "### Every other case", "", "<details><summary>table</summary>", ""]
    parts.append(_case_table([c for c in item["cases"]
                              if not c["source_format"] == c["output_format"] == "jpeg"],
                             [n for n in names if n != VIPS_THREADS]))
    parts += ["", "</details>"]
    return "\n".join(parts)


def _png_jpeg_table(cases: list[dict[str, Any]]) -> str:
    rows = []
    for case in cases:
        results, quality = case["results"], case.get("quality_vs_reference", {})
        size = "x".join(str(side) for side in case["source_size"])
        rows.append(
            [case["original"], f"{size} {case.get('source_mode', '')}".strip(), case["box"]]
            + [spread(results[n]["time_ms"]).removesuffix(" ms") if n in results else "-"
               for n in (EDGEKIT, VIPS)]
            + [number(case["ratios"].get(f"time_{EDGEKIT}/{VIPS}")),
               case["ratios"].get(f"verdict_{EDGEKIT}/{VIPS}", "-")]
            + [number(quality.get(n, {}).get("psnr_db"), 2) for n in (EDGEKIT, VIPS)]
            + [number(quality.get(n, {}).get("ssim"), 4) for n in (EDGEKIT, VIPS)])
    return table(["original", "source", "box", "edgekit ms", "libvips ms", "time vs libvips",
                  "verdict", "PSNR edgekit", "PSNR libvips", "SSIM edgekit", "SSIM libvips"],
                 rows)


def _case_table(cases: list[dict[str, Any]], names: list[str]) -> str:
    header = ["original", "box", "out"] + [f"{n} ms" for n in names] + \
        [f"{n} bytes" for n in names] + ["time vs libvips", "time vs naive", "Δpx"]
    rows = []
    for case in cases:
        results = case["results"]
        rows.append(
            [case["original"], case["box"], case["output_format"]]
            + [spread(results[n]["time_ms"]).removesuffix(" ms") if n in results else "-"
               for n in names]
            + [str(results[n]["bytes"]) if n in results else "-" for n in names]
            + [number(case["ratios"].get(f"time_{EDGEKIT}/{VIPS}")),
               number(case["ratios"].get(f"time_{EDGEKIT}/{NAIVE}")),
               number(results[EDGEKIT].get("mean_abs_diff_vs_libvips"))])
    return table(header, rows)


COLD_LABELS = {
    "shipped_bytecode": "handler, bundle as shipped (bytecode)",
    "source_only": "handler, bundle without bytecode (before)",
    "before_botocore_handler": "handler with botocore's client (before), bytecode",
    "botocore_s3_client": "reference: import botocore + S3 client",
    "botocore_trimmed_s3_model": "botocore + client, trimmed S3-only model",
}


def cold_start_section(item: dict[str, Any]) -> str:
    metrics = [("import_ms", "import (handler, or botocore)"),
               ("client_ms", "create the S3 client"),
               ("first_request_ms", "first request (HEAD, GET, resize, PUT)"),
               ("import_and_first_request_ms", "**total: the cold-start figure**"),
               ("warm_request_ms", "a second request (another size), same process"),
               ("process_wall_ms", "whole process, spawn to exit"),
               ("peak_rss_mib", "peak RSS (VmHWM)"),
               ("interpreter_rss_mib", "RSS before importing anything measured")]
    variants = list(item["variants"])
    rows = [[label] + [spread(item["variants"][v].get(key)) for v in variants]
            for key, label in metrics]
    versus = item.get("vs_reference", {})
    rows.append(["total vs reference (ratio of medians, verdict)"] + [
        f"{versus[v]['ratio']:.2f} ({versus[v]['verdict']}, noise ±{versus[v]['noise_band']:.2f})"
        if v in versus else "1 (reference)" for v in variants])
    bundle = item["deployable_bundle"]
    bundle_line = (
        f"Deployable bundle (Python {bundle['python_version']} wheels): {bundle['bytes']} bytes "
        f"zipped, {bundle['unpacked_bytes']} unpacked, {bundle['entries']} files of which "
        f"{bundle.get('pyc_files', 0)} CPython 3.13 .pyc; limit {bundle['limit_bytes']} bytes."
        if bundle.get("status") == "ok"
        else f"Deployable bundle: unavailable ({bundle.get('reason')}).")
    state = item.get("bytecode_state", {})
    return "\n".join([
        f"Request: {item['request']}; then {item['warm_request']}. Each run is a fresh "
        f"interpreter (`-B -I`) importing the handler from the unpacked zip built for the "
        f"host's Python {item['host_bundle']['python_version']} "
        f"({item['host_bundle']['bytes']} bytes, {item['host_bundle'].get('pyc_files', 0)} "
        f".pyc), against moto S3 on 127.0.0.1 (set-up, not counted: "
        f"{item['moto_setup_ms']:.0f} ms). Responses: {', '.join(item['responses'])}; "
        f"Pillow loaded from the bundle: {item['pil_from_bundle']}. Variants ran interleaved "
        "in one run; a ratio within the noise band (the two sides' interquartile ranges "
        "relative to their medians, added) is a tie.",
        "",
        f"Bytecode state: botocore and its dependencies {state.get('state', '?')} "
        f"({', '.join(state.get('packages', []))}); stdlib bytecode present: "
        f"{state.get('stdlib_has_bytecode')}. Trimmed S3 model: "
        f"{item.get('trimmed_model_bytes', 0)} bytes (HeadObject, GetObject, PutObject). "
        f"Before handler: commit `{item.get('before_commit')}`.",
        "",
        table(["figure"] + [COLD_LABELS.get(v, v) for v in variants], rows),
        "",
        bundle_line,
    ])


def hit_path_section(item: dict[str, Any]) -> str:
    labels = {
        "request_side_hot_url_us": "request side: header map + cacheability + key (hot URL)",
        "request_side_new_url_us": "request side with a never-seen URL (full normalization)",
        "hit_side_us": "hit side: entry state + served headers",
        "worker_hit_in_isolate_us": "whole HIT through the Worker, inside its Pyodide isolate",
        "worker_hit_round_trip_us": "the same, round trip from Python across the process "
                                    "boundary",
    }
    rows = [[labels.get(name, name), spread(figure, 2)]
            for name, figure in item["figures"].items()]
    return "\n".join([
        f"Request: {item['request']}. Decisions on a hot URL in total: "
        f"{item['decisions_total_hot_url_us']:.2f} µs. The Worker figures run the deployed "
        "bundle with the workers SDK on Pyodide 0.28.2 (CPython 3.13 on WebAssembly) under "
        "Node, with edgekit's JS shim standing in for workerd.",
        "",
        table(["per request", "µs"], rows),
    ])


def twin_section(item: dict[str, Any]) -> str:
    names = {"pyodide": "Pyodide isolate (this checkout)",
             "stand_in": f"CPython stand-in ({str(item.get('standin_commit', ''))[:12]})"}
    rows = [[names.get(name, name), str(i + 1), str(r["requests"]), str(r["non_2xx"]),
             f"{r['seconds']:.2f}", f"{r['hits_per_s']:.0f}", f"{r['p50_ms']:.2f}",
             f"{r['p99_ms']:.2f}"]
            for name, variant in item.get("variants", {"pyodide": item}).items()
            for i, r in enumerate(variant["runs"])]
    summary = [
        f"{names.get(name, name)}: {spread(variant['hits_per_s'], 0)} hits/s, p50 "
        f"{spread(variant['p50_ms'], 2)}, p99 {spread(variant['p99_ms'], 2)}; twin start "
        f"{variant['twin_start_s']} s; after the load: {variant['after_load']['status']} "
        f"{variant['after_load']['x_edge_cache']}."
        for name, variant in item.get("variants", {"pyodide": item}).items()]
    ratio = item.get("hits_ratio_pyodide/stand_in")
    return "\n".join([
        f"{item['url']} with {item['tool']}; bounds: {item['bounds']}."
        + (f" Hits/s Pyodide / stand-in: {number(ratio)}." if ratio is not None else ""),
        "",
        *[f"- {line}" for line in summary],
        *[f"- {note}" for note in item.get("notes", [])],
        "",
        table(["twin", "run", "requests", "non-2xx", "s", "hits/s", "p50 ms", "p99 ms"], rows),
    ])


def worker_startup_section(item: dict[str, Any]) -> str:
    rows = [[r["function"], str(r["bundle_files"]), str(r["pyodide"]), spread(r["start_ms"], 0),
             spread(r["isolate_load_ms"], 0), spread(r["first_request_ms"], 1)]
            for r in item["rows"]]
    return "\n".join([
        f"Each Worker bundle started {item['repeats']} time(s) in a new Node process: spawn to "
        "ready (Pyodide loaded, bundle written, main module and SDK imported), the part the "
        "isolate measured itself (without Node's own start), and the first request.",
        "",
        table(["Worker", "bundle files", "Pyodide", "start ms", "inside isolate ms",
               "first request ms"], rows),
    ])


def twin_http_section(item: dict[str, Any]) -> str:
    rows = [[label, str(shape["connections"]), spread(shape["req_per_s"], 0),
             spread(shape["server_cpu_us_per_req"], 1), spread(shape["p50_ms"], 2),
             spread(shape["p99_ms"], 2), str(shape["errors"]), str(shape["timeouts"])]
            for label, shape in item["shapes"].items()]
    return "\n".join([
        f"A 1 KB answer from a do-nothing app on one `http_io.Listener`; bounds: "
        f"{item['bounds']}. Server CPU is this process's user + system time per request.",
        "",
        table(["shape", "connections", "req/s", "server CPU µs/req", "p50 ms", "p99 ms",
               "errors", "timeouts"], rows),
    ])


def offload_section(item: dict[str, Any]) -> str:
    rows = []
    for scenario in item["scenarios"]:
        for wrapper, figures in scenario["wrappers"].items():
            rows.append([
                scenario["distribution"], str(scenario["requests"]),
                "edgekit" if wrapper == "edgekit" else "seed-style baseline",
                spread(figures["origin_fraction"]),
                spread(figures["client_error_fraction"]),
                ", ".join(f"{k} {v}" for k, v in figures["last_run"]["x_edge_cache"].items()),
                spread(figures["us_per_request"]),
            ])
    ratios = "; ".join(
        f"{s['distribution']}: {number(s['origin_fraction_ratio_edgekit/seed_style'])}"
        for s in item["scenarios"])
    return "\n".join([
        f"{item['keys']} hot keys, {item['window_seconds']:g} simulated seconds, "
        f"{item['ttl_seconds']} s TTL, origin errors: {item['origin_errors']}. The seed-style "
        "wrapper is the baseline in `bench/seed_worker.py` (URL-as-sent key, nothing cached "
        "on error, no stale), not edgekit code. Origin fraction ratio edgekit/seed-style: "
        f"{ratios}. See `bench/offload.py` for the request mix.",
        "",
        table(["distribution", "requests", "wrapper", "reach origin", "client 5xx",
               "X-Edge-Cache (last run)", "µs per request (Pyodide)"], rows),
    ])


def program_scale_section(item: dict[str, Any]) -> str:
    rows = [[str(r["components"]), str(r["resources"]), spread(r["time_s"], 3),
             f"{r['ms_per_component']:.1f}"] for r in item["rows"]]
    reference = item["reference_main_local"]
    reference_line = (
        f"Reference: the project's `__main__.py` on the local stack ({reference['resources']} "
        f"resources, bundling included): {spread(reference['time_s'], 3)}."
        if reference["status"] == "ok" else
        f"Reference `__main__.py` on the local stack: {reference['status']} "
        f"({reference.get('reason')}).")
    return "\n".join([
        f"First run (imports pulumi_aws, not in the rows): {item['first_run_s']:.2f} s.",
        "",
        table(["EdgeImageResizer components", "resources", "time", "ms per component"], rows),
        "",
        reference_line,
    ])


def resize_options_section(item: dict[str, Any]) -> str:
    cover_rows = []
    for case in item["cover"]:
        r = case["results"]

        def ms(name: str, r=r) -> str:
            return spread(r[name]["time_ms"]).removesuffix(" ms") if name in r else "-"

        def psnr(name: str, r=r) -> str:
            return number(r.get(name, {}).get("psnr_vs_reference_db"), 1)

        def size(name: str, r=r) -> str:
            return str(r[name]["bytes"]) if name in r else "-"

        cover_rows.append([
            case["original"], case["box"],
            ms("edgekit_center"), ms("libvips_centre"),
            number(case.get("time_center_edgekit/libvips")),
            size("edgekit_center"), size("libvips_centre"),
            psnr("edgekit_center"), psnr("libvips_centre"),
            ms("edgekit_entropy"), ms("libvips_entropy"),
            number(case.get("time_entropy_edgekit/libvips")),
            number(case["entropy_cost_ms"], 1), spread(case.get("entropy_window_ms"), 2),
            number(case.get("psnr_entropy_edgekit_vs_libvips_db"), 1),
        ])
    animation = item["animation"]
    animation_rows = []
    for case in animation["cases"]:
        for name, r in case["results"].items():
            animation_rows.append([
                case["box"], case["output_format"], name, spread(r["time_ms"]),
                str(r["bytes"]), str(r["frames"]), f"{r['size'][0]}x{r['size'][1]}",
                str(r["total_duration_ms"]), number(r["psnr_vs_reference_db"], 1),
            ])
    memory_rows = [[m["case"], f"{m['before_mib']}", f"{m['peak_mib']}", f"{m['added_mib']}",
                    str(m["frames_out"]), str(m["bytes_out"])]
                   for m in animation["peak_memory"]]
    return "\n".join([
        "See `bench/resize_options_bench.py` for the exact settings. JPEG output at quality "
        f"{item['quality']}; libvips: {item['libvips']}, one thread. PSNR in dB against an "
        "exact reference (full decode, one Lanczos crop-resize), higher is closer.",
        "",
        "### fit=cover: gravity centre and entropy",
        "",
        table(["original", "box", "edgekit centre ms", "libvips centre ms", "time vs libvips",
               "edgekit bytes", "libvips bytes", "edgekit PSNR", "libvips PSNR",
               "edgekit entropy ms", "libvips entropy ms", "time vs libvips",
               "entropy cost ms", "entropy window", "entropy PSNR edgekit vs libvips"],
              cover_rows),
        "",
        f"### Animated GIF: {animation['frames']} frames of "
        f"{animation['size'][0]}x{animation['size'][1]} ({animation['bytes']} bytes)",
        "",
        table(["box", "out", "by", "time", "bytes", "frames", "size", "total ms",
               "PSNR"], animation_rows),
        "",
        "Peak resident memory (VmHWM, MiB) of a fresh interpreter resizing the animation "
        "into 400x300 (`first` = `?frames=1`; `libvips` = `n=-1`, GIF out):",
        "",
        table(["case", "before", "peak", "added", "frames out", "bytes out"], memory_rows),
    ])


def memory_section(item: dict[str, Any]) -> str:
    rows = [[r["original"] if r["source"] == r["original"] else
             f"{r['original']} ({r['source']})", r["box"], r["implementation"],
             f"{r['bytes'] / 1e6:.1f}", f"{r['before_mib']:.0f}", f"{r['peak_mib']:.0f}",
             f"{r['peak_mib'] - r['before_mib']:.0f}"] for r in item["rows"]]
    return "\n".join([
        f"A photo-like original of {item['megapixels']:g} MP, resized to JPEG in a fresh "
        "interpreter per row; peak RSS (VmHWM) of the whole process. `edgekit handler`: the "
        "resizer's handler serving one origin-request (the original read from moto's S3 on "
        "loopback, spooled to /tmp, decoded, resized, stored back); `libvips-buffer`: "
        "libvips' thumbnail_buffer on the bytes in memory; `libvips-file`: its thumbnail on "
        "the file. At 50 MP the PNGs come close to the handler's 64 MiB limit on originals "
        "(a larger one is refused with a 422); `png_alpha` has an alpha channel. "
        "Goal: the PNG under "
        f"{item['limit_mib']} MiB; worst PNG peak here: {item['png_worst_peak_mib']:.0f} MiB.",
        "",
        table(["original", "box", "by", "file MB", "RSS before MiB", "peak RSS MiB",
               "growth MiB"], rows),
    ])


def cost_section(item: dict[str, Any]) -> str:
    model, prices = item["model"], item["prices"]
    rows = [[str(s["memory_mb"]), f"{s['vcpu_share']:.2f}", f"{s['mean_ms']:.0f}",
             f"{s['p95_ms']:.0f}", f"${s['usd_per_million']:.2f}",
             "yes" if s["fits_default_pixel_budget"] else "no"] for s in item["sizes"]]
    alternatives = item["alternatives_usd_per_million"]
    cpu = item["cpu_ms"]
    return "\n".join([
        f"Measured work: {cpu['n']} resizes (originals x sizes x formats, see `results.json`), "
        f"CPU time per resize on this machine ({model['cpu_model']}): median "
        f"{cpu['median']:.0f} ms, p95 {cpu['p95']:.0f} ms, max {cpu['max']:.0f} ms, one "
        "thread. Model: Lambda gives CPU in proportion to memory, one vCPU at "
        f"{model['mb_per_vcpu']} MB (AWS Lambda Developer Guide, *Configure Lambda function "
        "memory*); the single-threaded resize runs at min(1, M/1769) of a vCPU, so duration "
        f"= {model['s3_io_ms']:.0f} ms of S3 I/O + CPU time x {model['host_to_lambda']:g} / "
        "min(1, M/1769) (one Lambda vCPU taken as one core of this machine: an assumption, "
        "no Lambda is reachable from here). Lambda@Edge prices "
        f"(looked up {prices['looked_up']}, aws.amazon.com/cloudfront/pricing, which "
        "publishes the duration price per 128 MB-second; that page was not reachable here, "
        "so the figures come from two copies that quote it, see `bench/cost.py`): "
        f"${prices['lambda_edge_per_request'] * 1e6:.2f} per million requests and "
        f"${prices['lambda_edge_per_gb_second'] / 8:.11f} per 128 MB-second "
        f"(${prices['lambda_edge_per_gb_second']:.8f} per GB-second), billed per ms.",
        "",
        table(["memory MB", "vCPU share", "mean ms", "p95 ms", "per million resizes",
               f"fits 50 MP (>= {item['memory_floor_mb']} MB)"], rows),
        "",
        f"**Recommendation**: {item['recommended_memory_mb']} MB, the cheapest size that fits "
        f"the default pixel budget and keeps p95 under {model['target_p95_ms']:.0f} ms for a "
        "cache miss (below 1,769 MB a CPU-bound resize costs about the same at any memory, "
        "since its duration falls as memory rises; the S3 wait is what more memory makes "
        "dearer). The stack default is "
        f"{item['stack_default_memory_mb']} MB "
        + ("(follows it)." if item["default_follows_recommendation"] else
           "(**does not follow it**)."),
        "",
        "Per million resized images (unique transformations), compute and requests only "
        "(CloudFront, S3 and transfer are common to all and left out):",
        "",
        table(["option", "USD per million"], [
            ["edgekit on Lambda@Edge, recommended memory",
             f"${alternatives['edgekit_lambda_edge']:.2f}"],
            [f"DIT (API Gateway REST + regional Lambda at {alternatives['dit_memory_mb']} MB), "
             "same measured work", f"${alternatives['dit_api_gateway_lambda_same_work']:.2f}"],
            ["DIT, its own published estimate (1 M transformations, 350 ms: API Gateway "
             "$11.00 + Lambda $10.93)", f"${alternatives['dit_published_estimate']:.2f}"],
            ["Cloudflare Images transformations ($0.50 per 1,000 unique, 5,000 a month "
             "included)", f"${alternatives['cloudflare_images']:.2f}"],
        ]),
    ])


SECTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "resize": resize_section,
    "resize_options": resize_options_section,
    "cold_start": cold_start_section,
    "cache_hit_path": hit_path_section,
    "twin_throughput": twin_section,
    "twin_http": twin_http_section,
    "origin_offload": offload_section,
    "program_scale": program_scale_section,
    "worker_startup": worker_startup_section,
    "memory": memory_section,
    "cost": cost_section,
}
