"""Which vendored files ship: default dead weight, manifest patterns, linked-library closure."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit_iac.bundle.elf import ElfFormatError, is_elf, needed_libraries
from edgekit_iac.bundle.manifest import BundleError
from edgekit_iac.bundle.prune import filter_record, matches, plan_vendored_files

# A miniature of Pillow's wheel layout (sonames shortened).
PILLOW_FILES = [
    "PIL/Image.py",
    "PIL/ImageTk.py",
    "PIL/ImageFont.py",
    "PIL/_imaging.so",
    "PIL/_imaging.pyi",
    "PIL/_imagingtk.so",
    "PIL/_imagingft.so",
    "PIL/__pycache__/Image.cpython-313.pyc",
    "pillow.libs/libjpeg-1.so",
    "pillow.libs/libxcb-2.so",
    "pillow.libs/libXau-3.so",
    "pillow.libs/libfreetype-4.so",
    "pillow.libs/libharfbuzz-5.so",
    "pillow.libs/libpng16-6.so",
    "pillow-13.0.0.dist-info/METADATA",
    "pillow-13.0.0.dist-info/RECORD",
    "pillow-13.0.0.dist-info/INSTALLER",
    "pillow-13.0.0.dist-info/sboms/auditwheel.cdx.json",
    "pillow-13.0.0.dist-info/licenses/LICENSE",
    "bin/pilconvert",
]
NEEDED = {
    "PIL/_imaging.so": ["libjpeg-1.so", "libxcb-2.so", "libc.so.6"],
    "PIL/_imagingtk.so": ["libc.so.6"],
    "PIL/_imagingft.so": ["libfreetype-4.so", "libharfbuzz-5.so", "libc.so.6"],
    "pillow.libs/libjpeg-1.so": ["libc.so.6"],
    "pillow.libs/libxcb-2.so": ["libXau-3.so"],
    "pillow.libs/libXau-3.so": [],
    # freetype and harfbuzz need each other: the closure must not loop.
    "pillow.libs/libfreetype-4.so": ["libpng16-6.so", "libharfbuzz-5.so"],
    "pillow.libs/libharfbuzz-5.so": ["libfreetype-4.so"],
    "pillow.libs/libpng16-6.so": [],
}
FONT_AND_TK = ["PIL/ImageTk.py", "PIL/_imagingtk.*", "PIL/ImageFont.py", "PIL/_imagingft.*"]


def test_without_patterns_only_the_default_dead_weight_goes():
    plan = plan_vendored_files(PILLOW_FILES, [], NEEDED)
    assert set(plan.dropped) == {
        "PIL/_imaging.pyi",
        "PIL/__pycache__/Image.cpython-313.pyc",
        "pillow-13.0.0.dist-info/INSTALLER",
        "pillow-13.0.0.dist-info/sboms/auditwheel.cdx.json",
        "bin/pilconvert",
    }
    assert "pillow.libs/libfreetype-4.so" in plan.kept


def test_dropping_the_font_extension_drops_the_libraries_only_it_links():
    plan = plan_vendored_files(PILLOW_FILES, FONT_AND_TK, NEEDED)
    assert plan.kept == (
        "PIL/Image.py",
        "PIL/_imaging.so",
        "pillow-13.0.0.dist-info/METADATA",
        "pillow-13.0.0.dist-info/RECORD",
        "pillow-13.0.0.dist-info/licenses/LICENSE",
        "pillow.libs/libXau-3.so",  # kept through libxcb, which _imaging links
        "pillow.libs/libjpeg-1.so",
        "pillow.libs/libxcb-2.so",
    )
    assert {
        "pillow.libs/libfreetype-4.so",
        "pillow.libs/libharfbuzz-5.so",
        "pillow.libs/libpng16-6.so",
    } <= set(plan.dropped)
    assert plan.unused_patterns == ()


def test_excluding_a_library_a_kept_extension_links_is_an_error():
    with pytest.raises(BundleError, match=r"removes pillow.libs/libjpeg-1.so, but the kept PIL/"):
        plan_vendored_files(PILLOW_FILES, ["pillow.libs/libjpeg-*"], NEEDED)


def test_patterns_that_match_nothing_are_reported():
    plan = plan_vendored_files(PILLOW_FILES, ["PIL/ImageTK.py", "PIL/ImageTk.py"], NEEDED)
    assert plan.unused_patterns == ("PIL/ImageTK.py",)


def test_libraries_of_unknown_format_are_never_pruned_by_linkage():
    plan = plan_vendored_files(PILLOW_FILES, FONT_AND_TK, {})
    assert "pillow.libs/libfreetype-4.so" in plan.kept


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("PIL/__pycache__/Image.cpython-313.pyc", "__pycache__", True),
        ("PIL/_imaging.pyi", "*.pyi", True),
        ("PIL/ImageTk.py", "PIL/ImageTk.py", True),
        ("PIL/ImageTk.py", "ImageTk.py", True),  # no slash: any component
        ("PIL/_imagingtk.cpython-313-x86_64-linux-gnu.so", "PIL/_imagingtk.*", True),
        ("PIL/tests/data/a.png", "PIL/tests", True),  # a folder pattern takes its contents
        ("PIL/ImageTk.py", "PIL/Image.py", False),
        ("bin/script", "/bin", True),
        ("pkg/bin/data.txt", "/bin", False),  # anchored at the vendor root
    ],
)
def test_pattern_syntax(path, pattern, expected):
    assert matches(path, pattern) is expected


def test_record_lists_only_shipped_files():
    record = (
        "PIL/Image.py,sha256=abc,10\n"
        "PIL/ImageTk.py,sha256=def,20\n"
        '"PIL/odd,name.py",sha256=ghi,30\n'
        "pillow-13.0.0.dist-info/INSTALLER,sha256=jkl,4\n"
        "pillow-13.0.0.dist-info/RECORD,,\n"
    )
    kept = {"PIL/Image.py", "PIL/odd,name.py"}
    assert filter_record(record, kept, "pillow-13.0.0.dist-info/RECORD") == (
        "PIL/Image.py,sha256=abc,10\n"
        '"PIL/odd,name.py",sha256=ghi,30\n'
        "pillow-13.0.0.dist-info/RECORD,,\n"
    )


# --- the ELF reader -----------------------------------------------------------------------------


def test_reads_the_linked_libraries_of_a_real_extension_module():
    pil = pytest.importorskip("PIL._imaging")
    extension = Path(pil.__file__)
    data = extension.read_bytes()
    if not is_elf(data):
        pytest.skip("the host's Pillow is not an ELF build")
    needed = needed_libraries(data)
    assert needed, "Pillow's core extension links libjpeg and libc"
    bundled = extension.parent.parent / "pillow.libs"
    if bundled.is_dir():  # a manylinux wheel: every private library it names is there
        private = [name for name in needed if name.split("-")[0] in {"libjpeg", "libtiff"}]
        assert private
        assert all((bundled / name).is_file() for name in private)


def test_non_elf_and_truncated_files_are_refused():
    assert not is_elf(b"#!/bin/sh\n")
    with pytest.raises(ElfFormatError):
        needed_libraries(b"PK\x03\x04 a zip file, not a library")
    header = b"\x7fELF\x02\x01\x01" + b"\x00" * 57  # a 64-bit header whose tables are missing
    header = header[:0x20] + (10_000).to_bytes(8, "little") + header[0x28:]
    header = header[:0x36] + (56).to_bytes(2, "little") + (1).to_bytes(2, "little") + header[0x3A:]
    with pytest.raises(ElfFormatError, match="truncated or malformed"):
        needed_libraries(header)
