"""The image resizer on mutated real images (issue 10): no 5xx, no crash, bounded cost.

The quick mode of ``fuzz_resizer``: a fixed set of examples (derandomized, so every run
tries the same inputs) through the real handler against moto S3 in a worker process. The
full mode is ``make fuzz``. On the code before issue 10 the fuzzer found three classes of
500: MPO originals (KeyError 'mpo'), truncated EXIF (struct.error in Pillow's TIFF reader)
and a RuntimeError from Pillow's AVIF decoder on a malformed file.
"""

from __future__ import annotations

import pytest

from tests.functions import fuzz_resizer, mutations

# About 40 s on an idle 2-core machine, 60-80 s when it is shared; `make fuzz` runs more.
QUICK_EXAMPLES = 500


def test_fuzzed_originals_never_answer_5xx_and_stay_within_bounds():
    report = fuzz_resizer.campaign(QUICK_EXAMPLES, derandomize=True)
    saved = report.save() if report.classes else []
    assert not report.classes, f"{report.summary()}\ninputs: {saved}"
    assert report.examples == QUICK_EXAMPLES
    # The run reached both sides: real resizes and every kind of refusal of a broken file.
    assert report.statuses["200"] >= QUICK_EXAMPLES // 10, report.summary()
    assert report.statuses["415"] and report.statuses["422"], report.summary()


# ---------------------------------------------------------------- the judge can fail


def reply(**changes) -> dict:
    answer = {
        "status": "200",
        "error": "",
        "unexpected": [],
        "problems": [],
        "cpu_seconds": 0.01,
        "wall_seconds": 0.01,
        "peak_growth_kib": 1024,
    }
    answer.update(changes)
    return answer


@pytest.mark.parametrize(
    ("answer", "key"),
    [
        (
            reply(
                status="500",
                unexpected=[{"type": "KeyError", "origin": "resize.py:resize", "traceback": "t"}],
            ),
            "500 KeyError at resize.py:resize",
        ),
        (reply(status="503", error="storage"), "503 answered"),
        (reply(problems=["does not fit: 500x10 in 150x150"]), "bad 200: does not fit"),
        (reply(cpu_seconds=fuzz_resizer.CPU_SECONDS + 1), "slow"),
        (reply(peak_growth_kib=fuzz_resizer.memory_bound_kib(10) + 1), "memory"),
    ],
)
def test_each_kind_of_failure_is_a_class(answer, key):
    report = fuzz_resizer.Report()
    fuzz_resizer.judge(report, "seed [bytes]", b"abc", answer, fuzz_resizer.memory_bound_kib(10))
    assert list(report.classes) == [key]


def test_a_clean_reply_is_no_class():
    report = fuzz_resizer.Report()
    fuzz_resizer.judge(report, "seed", b"abc", reply(status="422"), 10**9)
    assert report.classes == {} and report.statuses == {"422": 1}


def test_served_images_are_checked_against_box_format_and_label():
    from tests.functions.fuzz_worker import check_served

    png = mutations.SEEDS["alpha.png"]  # 48x32
    assert check_served(png, (48, 32), "image/png", None) == []
    assert check_served(png, (150, 150), "image/png", "png") == []
    assert check_served(png, (40, 40), "image/png", None) == ["does not fit: 48x32 in 40x40"]
    assert check_served(png, (150, 150), "image/jpeg", None) == ["mislabelled: PNG as image/jpeg"]
    assert check_served(png, (150, 150), "image/png", "webp") == [
        "wrong format: asked for webp, got PNG"
    ]
    assert check_served(png[:60], (150, 150), "image/png", None)[0].startswith("does not decode")


def test_mutations_reach_the_structures_they_name():
    jpeg = mutations.SEEDS["photo.jpg"]
    names = [region.name for region in mutations.regions(jpeg)]
    assert {"APP1", "APP2", "COM", "MC0", "SOS"} <= set(names)  # EXIF/XMP, ICC, SOF0
    png = mutations.SEEDS["alpha.png"]
    assert {"IHDR", "iCCP", "eXIf", "iTXt", "IDAT", "IEND"} <= {
        region.name for region in mutations.regions(png)
    }
    webp = mutations.SEEDS["photo.webp"]
    assert {"VP8X", "ICCP", "EXIF", "XMP "} <= {r.name for r in mutations.regions(webp)}
    broken = bytearray(png)
    broken[40] ^= 0xFF
    assert mutations.fix_png_crcs(bytes(broken)) != bytes(broken)
    assert mutations.fix_png_crcs(png) == png
