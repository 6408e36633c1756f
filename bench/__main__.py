"""``python -m bench [--quick] [--out DIR] [--only ITEM ...]``: run the benchmarks, write results.

Full mode writes ``bench/RESULTS.md`` and ``bench/results.json``; ``--quick`` (for CI)
shrinks every item to seconds and writes to ``build/bench-quick/`` unless ``--out`` says
otherwise, so a quick run never replaces the committed full-run table. An item that
cannot run here (the twin not in this checkout) is reported as skipped; an item that
breaks is reported as failed, the other items still run, the files are still written,
and the exit status is 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import machine, report

# Item name in results.json -> module with run(quick) -> dict.
ITEMS = {
    "resize": "bench.resize_bench",
    "resize_options": "bench.resize_options_bench",
    "cold_start": "bench.cold_start",
    "cache_hit_path": "bench.hit_path",
    "twin_throughput": "bench.twin_load",
    "twin_http": "bench.twin_http",
    "origin_offload": "bench.offload",
    "program_scale": "bench.program_scale",
    "worker_startup": "bench.worker_startup",
    "memory": "bench.decode_memory",
    "cost": "bench.cost",
}
SCHEMA_VERSION = 1
BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny corpus, few repetitions, heavy items shrunk (seconds)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for RESULTS.md and results.json (default: bench/, or "
                             "build/bench-quick/ with --quick)")
    parser.add_argument("--only", nargs="+", choices=sorted(ITEMS), metavar="ITEM",
                        help=f"run only these items: {', '.join(ITEMS)}")
    parser.add_argument("--update", action="store_true",
                        help="with --only: replace just those items in the folder's existing "
                             "results.json (each keeps the date and commit of its own run) and "
                             "rewrite RESULTS.md from it")
    args = parser.parse_args(argv)
    if args.update and not args.only:
        parser.error("--update needs --only ITEM ...")
    return args


def run_item(name: str, quick: bool) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = importlib.import_module(ITEMS[name]).run(quick)
    except Exception as exc:  # one broken item must not hide the others' figures
        traceback.print_exc()
        result = {"status": "failed", "title": name,
                  "reason": f"{type(exc).__name__}: {exc}"[:1000]}
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    command = "python -m bench" + (" --quick" if args.quick else "")
    started = time.perf_counter()
    items: dict[str, Any] = {}
    selected = args.only or list(ITEMS)
    for number, name in enumerate(selected, 1):
        print(f"[{number}/{len(selected)}] {name} ...", file=sys.stderr, flush=True)
        items[name] = run_item(name, args.quick)
        print(f"[{number}/{len(selected)}] {name}: {items[name]['status']} "
              f"({items[name]['seconds']:.1f} s)", file=sys.stderr, flush=True)
    results = {
        "schema_version": SCHEMA_VERSION,
        "mode": mode,
        "command": command,
        "duration_s": round(time.perf_counter() - started, 1),
        "machine": machine.describe(REPO_ROOT),
        "items": items,
    }
    out = args.out or (REPO_ROOT / "build" / "bench-quick" if args.quick else BENCH_DIR)
    if args.update:
        results = _merged(out, results, f"{command} --only {' '.join(selected)} --update")
    json_path, markdown_path = report.write(results, out)
    print(f"wrote {markdown_path} and {json_path}", file=sys.stderr)
    return 1 if any(item["status"] == "failed" for item in items.values()) else 0


def _merged(out: Path, fresh: dict[str, Any], command: str) -> dict[str, Any]:
    """The folder's results with the freshly run items swapped in, each stamped with its run."""
    path = out / report.JSON_NAME
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--update: cannot read {path} ({exc}); run the full suite "
                         "first") from None
    if results.get("mode") != fresh["mode"]:
        raise SystemExit(f"--update: {path} is a {results.get('mode')} run, this is "
                         f"{fresh['mode']}")
    machine_now = fresh["machine"]
    for name, item in fresh["items"].items():
        item["ran"] = {"date": machine_now["date"], "git_commit": machine_now["git_commit"],
                       "git_dirty": machine_now["git_dirty"], "command": command}
        results["items"][name] = item
    return results


if __name__ == "__main__":
    sys.exit(main())
