"""Fuzz the image resizer with mutated real images, through its Lambda handler and moto S3.

Each example is a seed from ``seeds/`` mutated by ``mutations.mutated_image``, a box and an
output format; a worker process (``fuzz_worker``) runs the handler on it. The verdicts:

- no 5xx, and nothing the handler had to catch as unexpected (it never raises; it logs and
  answers 500, so a logged traceback is the "unhandled exception");
- every 200 decodes, fits its box and is the format it says it is;
- every call takes under ``CPU_SECONDS`` of CPU (the issue's 5 s; CPU, not wall time, so a
  loaded machine does not fail the test; a call still running after ``HANG_SECONDS`` of
  wall time is killed and counted as a hang);
- every call's peak memory grows by at most ``memory_bound_kib(max_pixels)``: what the
  pixel limit allows, so no metadata, header or chunk can make memory grow past it;
- the worker never dies (a crash in Pillow's C code).

Failures are grouped into classes (status, exception type and where it was raised), and the
smallest input of each class is written to ``build/fuzz/`` for replay. Hypothesis generates
the examples; nothing raises inside the run, so every class is collected, not only the
first (at the price of no shrinking: the smallest input of a class is kept instead).

Quick mode is part of the test suite (``test_resizer_fuzz.py``: derandomized, so every run
tries the same inputs). Full mode:
``python -m tests.functions.fuzz_resizer --examples 20000`` (``make fuzz``), with a new
random start every run unless ``--seed`` is given.
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.functions import mutations

REPO_ROOT = Path(__file__).resolve().parents[2]
FAILURES_DIR = REPO_ROOT / "build" / "fuzz"

BOXES = ((150, 150), (400, 300), (1920, 1080))
FORMATS = (None, "jpeg", "png", "webp", "avif")
CPU_SECONDS = 5.0
HANG_SECONDS = 60.0
# The pixel limit the fuzzed requests carry: low enough that a header claiming the largest
# size it allows still decodes in well under CPU_SECONDS, high enough to be many times the
# seeds' own sizes, so mutated dimensions reach it.
MAX_PIXELS = 4_000_000


def memory_bound_kib(max_pixels: int) -> int:
    """Peak memory growth a call may cause: 16 bytes per allowed pixel, plus 64 MiB.

    16 bytes per pixel covers the decoded original (4 bytes per pixel in RGBA, the widest
    mode we convert to), a converted copy and the resize's intermediate; the 64 MiB covers
    the encoder, the response's base64 copies and S3 buffers. The limit is about the pixel
    budget: a few-KB file must not cost more than the pixels it may declare.
    """
    return (16 * max_pixels) // 1024 + 64 * 1024


class WorkerGone(Exception):
    pass


class Worker:
    """The fuzz_worker process; restarted after it dies or is killed for hanging."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.peak_resettable = False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.functions.fuzz_worker"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        ready = self._receive(120.0)
        self.peak_resettable = ready["peak_resettable"]

    def call(self, request: dict, timeout: float) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.start()
        payload = pickle.dumps(request)
        try:
            self.process.stdin.write(struct.pack(">I", len(payload)) + payload)
            self.process.stdin.flush()
        except BrokenPipeError as exc:
            raise self._gone("the worker died before the call") from exc
        return self._receive(timeout)

    def _receive(self, timeout: float) -> dict:
        header = self._read(4, time.monotonic() + timeout)
        (length,) = struct.unpack(">I", header)
        return pickle.loads(self._read(length, time.monotonic() + timeout))  # noqa: S301

    def _read(self, size: int, deadline: float) -> bytes:
        stream, chunks, wanted = self.process.stdout, [], size
        while wanted:
            ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise self._gone("hang: no answer within the wall-clock deadline")
            chunk = os.read(stream.fileno(), wanted)
            if not chunk:
                raise self._gone("the worker died")
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)

    def _gone(self, why: str) -> WorkerGone:
        code = None
        if self.process is not None:
            self.process.kill()
            code = self.process.wait()
            self.process.stdout.close()
            self.process.stdin.close()
        self.process = None
        self.stderr.seek(0)
        tail = self.stderr.read()[-2000:].decode("utf-8", "replace")
        self.stderr.seek(0)
        self.stderr.truncate()
        return WorkerGone(f"{why} (exit code {code}); stderr tail:\n{tail}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=30)
            self.process.stdout.close()
            self.process = None
        self.stderr.close()


@dataclass
class Found:
    """One class of failure: how often, and its smallest input."""

    count: int
    example: str  # seed and mutations, box, format
    detail: str
    data: bytes


@dataclass
class Report:
    examples: int = 0
    seconds: float = 0.0
    statuses: collections.Counter = field(default_factory=collections.Counter)
    max_cpu_seconds: float = 0.0
    max_peak_growth_kib: int = 0
    classes: dict[str, Found] = field(default_factory=dict)

    def record(self, key: str, example: str, detail: str, data: bytes) -> None:
        found = self.classes.get(key)
        if found is None:
            self.classes[key] = Found(1, example, detail, data)
            return
        found.count += 1
        if len(data) < len(found.data):
            found.example, found.detail, found.data = example, detail, data

    def save(self, folder: Path = FAILURES_DIR) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for number, (key, found) in enumerate(sorted(self.classes.items()), 1):
            path = folder / f"class-{number:02d}.bin"
            path.write_bytes(found.data)
            path.with_suffix(".txt").write_text(
                f"{key}\n{found.example}\n\n{found.detail}\n", encoding="utf-8"
            )
            written.append(path)
        return written

    def summary(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        lines = [
            f"{self.examples} examples in {self.seconds:.0f} s ({statuses}); "
            f"max CPU per call {self.max_cpu_seconds:.2f} s, "
            f"max peak memory growth {self.max_peak_growth_kib / 1024:.0f} MiB; "
            f"{len(self.classes)} failure classes"
        ]
        for key, found in sorted(self.classes.items()):
            lines.append(f"- {key}: {found.count}x, smallest: {found.example}")
            lines.append("    " + found.detail.strip().splitlines()[-1][:300])
        return "\n".join(lines)


def judge(report: Report, example: str, data: bytes, reply: dict, bound_kib: int) -> None:
    status = reply["status"]
    report.statuses[status] += 1
    report.max_cpu_seconds = max(report.max_cpu_seconds, reply["cpu_seconds"])
    report.max_peak_growth_kib = max(report.max_peak_growth_kib, reply["peak_growth_kib"])
    for failure in reply["unexpected"]:
        key = f"{status} {failure['type']} at {failure['origin']}"
        report.record(key, example, failure["traceback"], data)
    if status.startswith("5") and not reply["unexpected"]:
        report.record(f"{status} answered", example, reply["error"], data)
    for problem in reply["problems"]:
        report.record(f"bad 200: {problem.split(':')[0]}", example, problem, data)
    if reply["cpu_seconds"] > CPU_SECONDS:
        report.record("slow", example, f"{reply['cpu_seconds']:.1f} s of CPU", data)
    if reply["peak_growth_kib"] > bound_kib:
        growth = reply["peak_growth_kib"] // 1024
        report.record("memory", example, f"peak memory grew by {growth} MiB", data)


def campaign(examples: int, *, derandomize: bool, start: int | None = None) -> Report:
    """Run `examples` fuzzed calls; return what was found (never raises on a finding)."""
    report, worker = Report(), Worker()
    bound = memory_bound_kib(MAX_PIXELS)

    @settings(
        max_examples=examples,
        derandomize=derandomize,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        image=mutations.mutated_image(),
        box=st.sampled_from(BOXES),
        output_format=st.sampled_from(FORMATS),
    )
    def one(image, box, output_format) -> None:
        described, data = image
        example = f"{described} -> {box[0]}x{box[1]} {output_format or 'original'}"
        request = {"data": data, "box": box, "format": output_format, "max_pixels": MAX_PIXELS}
        report.examples += 1
        try:
            reply = worker.call(request, HANG_SECONDS)
        except WorkerGone as gone:
            report.statuses["worker gone"] += 1
            report.record(str(gone).split(" (")[0], example, str(gone), data)
            return
        judge(report, example, data, reply, bound)

    if start is not None:
        one = seed(start)(one)
    started = time.perf_counter()
    try:
        one()
    finally:
        worker.stop()
        report.seconds = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.functions.fuzz_resizer")
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=None, help="repeat a run (default: random)")
    parser.add_argument("--derandomize", action="store_true", help="the test suite's inputs")
    args = parser.parse_args(argv)
    report = campaign(args.examples, derandomize=args.derandomize, start=args.seed)
    print(report.summary())
    if report.classes:
        print(f"smallest input of each class written to {report.save()[0].parent}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
