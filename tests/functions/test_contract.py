"""The image resizer's deploy <-> runtime contract is one module: what the component writes,
the function (as bundled) reads, and the twin and smoke look for, come from the same file."""

from __future__ import annotations

import zipfile

from edgekit_iac.components import image_resizer as component
from edgekit_iac.functions.image_resizer import contract

from edgekit_iac.bundle.build import build_function
from edgekit_iac.smoke import targets
from edgekit_iac.twin import supervisor

from . import images


def test_what_the_component_writes_the_function_reads():
    settings = component.validate_args(
        component.EdgeImageResizerArgs(
            allowed_sizes=[" 0400X300", "4096x4096", "1x1"], quality=55, max_pixels=2_000_000
        )
    )
    headers = {h["name"]: h["value"] for h in component.settings_headers(settings)}
    assert set(headers) == set(contract.SETTINGS_HEADERS)
    with images.resizer_modules("resize_request") as (rr,):
        read = rr.parse_settings(headers)
        assert read.allowed_sizes == ((400, 300), (4096, 4096), (1, 1))
        assert (read.quality, read.max_pixels) == (55, 2_000_000)
        # A size the component would refuse is not a size the function parses either.
        assert rr.parse_request("/images/4097x300/a.jpg", "", [(4097, 300)], {"jpeg"}).reason


def test_every_reader_takes_the_header_names_and_layout_from_the_contract():
    assert targets.ALLOWED_SIZES_HEADER is contract.ALLOWED_SIZES_HEADER
    assert supervisor.RESIZER_SIZES_HEADER is contract.ALLOWED_SIZES_HEADER
    assert component.RESIZED_PREFIX == contract.RESIZED_PREFIX == "resized/"
    with images.resizer_modules("resize_request") as (rr,):
        request = rr.ResizeRequest(400, 300, "photos/cat.jpg", None)
        assert rr.variant_key(request) == "resized/400x300/original/photos/cat.jpg"
        assert rr.DEFAULT_ALLOWED_SIZES == contract.DEFAULT_SIZES


def test_the_contract_ships_inside_the_lambda_zip():
    artifact = build_function("image_resizer")
    with zipfile.ZipFile(artifact.path) as archive:
        names = set(archive.namelist())
    assert {"contract.py", "resize_request.py", "handler.py"} <= names
