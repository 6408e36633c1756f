"""Repeated, interleaved timing and the min/median/max every figure is reported with."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def spread(values: Iterable[float], unit: str, *, digits: int = 3) -> dict[str, Any]:
    """``{"min", "median", "max", "n", "unit"}`` of repeated measurements."""
    values = sorted(values)
    if not values:
        raise ValueError("spread() needs at least one measurement")
    return {
        "min": round(values[0], digits),
        "median": round(statistics.median(values), digits),
        "max": round(values[-1], digits),
        "n": len(values),
        "unit": unit,
    }


def interleaved(
    cases: Mapping[str, Callable[[], object]], repeats: int, *, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds per call of each case, over `repeats` rounds that each run every case once.

    The order rotates every round, so a slow patch of the machine (another process, a
    frequency change) lands on each side alike instead of on whichever ran second.
    """
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            cases[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(repeats):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            call = cases[name]
            started = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def per_call_batches(call: Callable[[], object], *, calls: int, batches: int) -> list[float]:
    """Microseconds per call, one figure per batch of `calls` back-to-back calls."""
    call()
    figures = []
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        figures.append((time.perf_counter() - started) / calls * 1e6)
    return figures


def ratio(numerator: float | None, denominator: float | None, digits: int = 3) -> float | None:
    """numerator / denominator, or None when either side is missing or zero."""
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, digits)


def geometric_mean(values: Iterable[float]) -> float | None:
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return round(math.exp(sum(math.log(v) for v in values) / len(values)), 3)


def compare(ours: Iterable[float], theirs: Iterable[float], digits: int = 3) -> dict[str, Any]:
    """Ratio of medians (ours / theirs) and a verdict that calls differences within noise a tie.

    The noise band is each side's interquartile range relative to its median, the two added:
    a ratio closer to 1 than that is a ``tie``; below it ``faster``, above it ``slower``.
    """
    ours, theirs = sorted(ours), sorted(theirs)
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    band = _relative_iqr(ours, ours_median) + _relative_iqr(theirs, theirs_median)
    value = ours_median / theirs_median if theirs_median else math.inf
    verdict = "tie" if abs(value - 1) <= band else "faster" if value < 1 else "slower"
    return {"ratio": round(value, digits), "noise_band": round(band, digits), "verdict": verdict}


def _relative_iqr(values: list[float], median: float) -> float:
    if len(values) < 4 or not median:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    return (quartiles[2] - quartiles[0]) / median
