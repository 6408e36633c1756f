"""The benchmark suite's quick mode runs and writes well-formed results.

Only the shape of what it writes is checked: timing figures vary with the machine and are
never asserted (beyond min <= median <= max, which holds for any measurements).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ITEMS = ("resize", "resize_options", "cold_start", "cache_hit_path", "twin_throughput",
         "twin_http", "origin_offload", "program_scale", "worker_startup", "memory", "cost")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=450,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return done, out


@pytest.fixture(scope="module")
def results(quick_run) -> dict:
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def figures(node) -> Iterator[dict]:
    """Every min/median/max figure anywhere in the results."""
    if isinstance(node, dict):
        if {"min", "median", "max", "n", "unit"} <= node.keys():
            yield node
        else:
            for value in node.values():
                yield from figures(value)
    elif isinstance(node, list):
        for value in node:
            yield from figures(value)


def test_quick_mode_writes_both_files_into_the_given_folder_only(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["RESULTS.md", "results.json"]


def test_results_name_the_machine_and_versions(results):
    assert results["schema_version"] == 1
    assert results["mode"] == "quick"
    machine = results["machine"]
    assert machine["cpu_model"] and machine["cpu_cores"] >= 1
    assert machine["python"].startswith("3.")
    assert machine["packages"]["pillow"] and machine["packages"]["pulumi"]
    assert machine["date"][:2] == "20"


def test_every_item_ran_or_says_why_it_was_skipped(results):
    assert set(results["items"]) == set(ITEMS)
    for name, item in results["items"].items():
        assert item["status"] in ("ok", "skipped"), (name, item.get("reason"))
        if item["status"] == "skipped":
            assert item["reason"], name
    assert results["items"]["twin_throughput"]["status"] == "skipped"  # never in quick mode
    assert results["items"]["twin_http"]["status"] == "skipped"


def test_every_figure_is_a_well_formed_spread(results):
    found = list(figures(results["items"]))
    assert len(found) > 50
    for figure in found:
        assert figure["n"] >= 1
        assert figure["min"] <= figure["median"] <= figure["max"], figure


def test_resize_cases_compare_real_outputs_that_fit_the_box(results):
    resize = results["items"]["resize"]
    assert resize["cases"]
    for case in resize["cases"]:
        width, height = (int(side) for side in case["box"].split("x"))
        for name in ("edgekit", "naive_pillow"):
            output = case["results"][name]
            assert output["bytes"] > 0
            assert output["size"][0] <= width and output["size"][1] <= height
        assert case["ratios"]["time_edgekit/naive_pillow"] > 0
        assert case["source_mode"] in ("RGB", "RGBA", "L", "LA", "P")


def test_offload_counts_add_up(results):
    for scenario in results["items"]["origin_offload"]["scenarios"]:
        for wrapper in scenario["wrappers"].values():
            assert sum(wrapper["last_run"]["statuses"].values()) == scenario["requests"]
            assert 0 < wrapper["origin_fraction"]["median"] <= 1
        # The spike repeats hot keys within the TTL: a wrapper that served no HIT measured
        # nothing (as when the origin's answers were not cacheable for edgekit).
        assert scenario["wrappers"]["edgekit"]["last_run"]["x_edge_cache"].get("HIT", 0) > 0


def test_worker_startup_covers_each_python_worker_on_the_pinned_pyodide(results):
    startup = results["items"]["worker_startup"]
    assert {row["function"] for row in startup["rows"]} >= {"cache_wrapper", "hello_geo"}
    assert {row["pyodide"] for row in startup["rows"]} == {"0.28.2"}


def test_cold_start_served_the_first_request_from_the_bundle(results):
    cold = results["items"]["cold_start"]
    assert cold["responses"] == ["200"]
    assert cold["pil_from_bundle"] is True
    assert cold["deployable_bundle"]["status"] == "ok"


def test_markdown_has_a_section_per_item_and_tables(quick_run, results):
    _, out = quick_run
    text = (out / "RESULTS.md").read_text()
    assert text.startswith("# edgekit benchmarks")
    for item in results["items"].values():
        assert f"## {item['title']}" in text
    assert "| jpeg -> jpeg |" in text
    assert "### PNG -> JPEG, every case" in text  # per-case times, verdicts and quality
