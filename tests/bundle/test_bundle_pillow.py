"""Real Pillow from PyPI, vendored for Lambda's CPython 3.13 on manylinux x86_64, then pruned.

The first run downloads one wheel (~7 MB) into the wheel cache; later runs
install from the cache with no network. The cache is the bundler's own per-user
wheel cache (EDGEKIT_WHEEL_CACHE overrides it), not tmp, so it survives between
test runs.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from edgekit_iac.bundle.build import build_function, wheel_cache_dir
from edgekit_iac.bundle.bytecode import pyc_name
from tests.bundle.conftest import LAMBDA_MANIFEST

PILLOW = "13.0.0"
EXCLUDE = """
[bundle]
exclude = [
  "PIL/ImageTk.py", "PIL/_imagingtk.*", "PIL/ImageQt.py", "PIL/ImageShow.py",
  "PIL/ImageFont.py", "PIL/_imagingft.*", "PIL/ImageText.py", "PIL/ImageDraw2.py",
  "PIL/FontFile.py", "PIL/BdfFontFile.py", "PIL/PcfFontFile.py",
]
"""
HANDLER = (
    "def handler(event, context):\n"
    "    from PIL import Image, JpegImagePlugin  # noqa: F401\n"
    "    return {'status': '200'}\n"
)
IMAGING = "PIL/_imaging.cpython-313-x86_64-linux-gnu.so"


@pytest.fixture(scope="module")
def wheel_cache() -> Path:
    return wheel_cache_dir()


def test_pillow_is_vendored_for_lambda_and_pruned(make_function, tmp_path, wheel_cache):
    lean = make_function(
        "resizer",
        LAMBDA_MANIFEST + EXCLUDE,
        {"handler.py": HANDLER},
        requirements=f"Pillow=={PILLOW}\n",
    )
    root = lean.parent

    def build(name: str, out: str):
        return build_function(
            name, functions_root=root, out_dir=tmp_path / out, wheel_cache=wheel_cache
        )

    artifact = build("resizer", "a")
    again = build("resizer", "b")

    assert again.sha256 == artifact.sha256, "two fresh builds must be byte-identical"
    assert artifact.size < 50 * 1024 * 1024  # the origin-trigger limit

    with zipfile.ZipFile(artifact.path) as archive:
        names = set(archive.namelist())
        record = archive.read(f"pillow-{PILLOW}.dist-info/RECORD").decode()
        wheel = archive.read(f"pillow-{PILLOW}.dist-info/WHEEL").decode()

    # The platform wheel for Lambda's runtime, not the host's (this may run on 3.11).
    assert IMAGING in names
    assert "cp313-cp313-manylinux_2_28_x86_64" in wheel
    assert any(n.startswith("pillow.libs/libjpeg-") for n in names)
    assert any(n.startswith("pillow.libs/libwebp-") for n in names)

    # Dead weight is gone, including the libraries only the font extension linked.
    for gone in ("PIL/ImageTk.py", "PIL/ImageFont.py", "PIL/ImageQt.py", "PIL/ImageShow.py"):
        assert gone not in names
    for prefix in (
        "PIL/_imagingft.",
        "PIL/_imagingtk.",
        "pillow.libs/libfreetype-",
        "pillow.libs/libharfbuzz-",
        "pillow.libs/libbrotli",
        "pillow.libs/libpng16-",
    ):
        assert not any(n.startswith(prefix) for n in names), prefix
    assert not any(n.endswith(".pyi") for n in names)
    # Bytecode: exactly one CPython 3.13 .pyc per shipped module, none from the wheel itself.
    sources = {n for n in names if n.endswith(".py")}
    compiled = {n for n in names if n.endswith(".pyc") or "__pycache__" in n}
    assert compiled == {pyc_name(n, "cpython-313") for n in sources}
    assert f"pillow-{PILLOW}.dist-info/INSTALLER" not in names
    assert "ImageTk.py" not in record and "PIL/Image.py," in record
    assert "pillow.libs/libfreetype" in " ".join(artifact.pruned)
