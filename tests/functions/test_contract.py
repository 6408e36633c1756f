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
            allowed_sizes=[" 0400X300", "4096x4096", "1x1"],
            quality=55,
            max_pixels=2_000_000,
            quality_presets=[55, 30],
            on_error="fallback",
            fallback_key="placeholders/none.png",
            max_frames=9,
        )
    )
    headers = {h["name"]: h["value"] for h in component.settings_headers(settings)}
    assert set(headers) == set(contract.SETTINGS_HEADERS)
    with images.resizer_modules("resize_request") as (rr,):
        read = rr.parse_settings(headers)
        assert read.allowed_sizes == ((400, 300), (4096, 4096), (1, 1))
        assert (read.quality, read.max_pixels) == (55, 2_000_000)
        assert (read.quality_presets, read.max_frames) == ((30, 55), 9)
        assert (read.on_error, read.fallback_key) == ("fallback", "placeholders/none.png")
        # A size the component would refuse is not a size the function parses either.
        assert rr.parse_request("/images/4097x300/a.jpg", "", [(4097, 300)], {"jpeg"}).reason


def test_every_reader_takes_the_header_names_and_layout_from_the_contract():
    assert targets.ALLOWED_SIZES_HEADER is contract.ALLOWED_SIZES_HEADER
    assert supervisor.RESIZER_SIZES_HEADER is contract.ALLOWED_SIZES_HEADER
    assert component.RESIZED_PREFIX == contract.RESIZED_PREFIX == "resized/"
    with images.resizer_modules("resize_request") as (rr,):
        request = rr.ResizeRequest(400, 300, "photos/cat.jpg", None)
        assert rr.variant_key(request) == "resized/photos/cat.jpg/400x300/original"
        assert rr.DEFAULT_ALLOWED_SIZES == contract.DEFAULT_SIZES


def test_the_contract_ships_inside_the_lambda_zip():
    artifact = build_function("image_resizer")
    with zipfile.ZipFile(artifact.path) as archive:
        names = set(archive.namelist())
    assert {"contract.py", "resize_request.py", "handler.py"} <= names


def test_the_query_parameters_are_the_cache_key_allow_list():
    assert contract.QUERY_PARAMETERS == (
        "format", "accept", "dpr", "fit", "gravity", "bg", "q", "frames"
    )
    assert contract.NEGOTIATED_FORMAT_PARAMETER == "accept"
    assert contract.NEGOTIATED_FORMAT_PARAMETER in contract.QUERY_PARAMETERS


def test_descriptors_are_canonical_and_name_only_what_differs():
    request = contract.ResizeRequest
    assert contract.descriptor(request(400, 300, "a.jpg")) == "original"
    assert contract.descriptor(request(400, 300, "a.jpg", "webp", negotiated=True)) == "webp"
    assert contract.descriptor(
        request(400, 300, "a.jpg", "webp", dpr=2, fit="cover", gravity="entropy", quality=75)
    ) == "webp.dpr2.cover-entropy.q75"
    assert contract.descriptor(request(1, 1, "a", fit="cover")) == "original.cover"
    assert contract.descriptor(
        request(1, 1, "a", "png", fit="contain", background="FFaa00")
    ) == "png.contain-ffaa00"
    assert contract.descriptor(request(1, 1, "a", fit="fill", frames=1)) == "original.fill.frames1"
    assert request(400, 300, "a", dpr=3).box == (1200, 900)


def test_variants_of_a_key_are_listed_under_its_prefix_and_only_its_own():
    asked = contract.ResizeRequest(400, 300, "a.jpg", "webp", dpr=2)
    stored = contract.variant_key(asked)
    assert stored == "resized/a.jpg/400x300/webp.dpr2"
    assert stored.startswith(contract.variant_prefix("a.jpg")) and contract.is_variant_of(
        stored, "a.jpg"
    )
    deeper = contract.variant_key(contract.ResizeRequest(400, 300, "a.jpg/b"))
    assert deeper == "resized/a.jpg/b/400x300/original"
    assert contract.is_variant_of(deeper, "a.jpg/b")
    assert not contract.is_variant_of(deeper, "a.jpg")  # three segments after the prefix
    assert not contract.is_variant_of("resized/a.jpg/400x300/", "a.jpg")
    assert not contract.is_variant_of("resized/a.jpg/big/webp", "a.jpg")
    assert not contract.is_variant_of("resized/a.jpgx/400x300/webp", "a.jpg")
    assert not contract.is_variant_of("a.jpg/400x300/webp", "a.jpg")


def test_the_longest_variant_key_of_the_longest_key_fits_in_s3():
    with images.resizer_modules("resize_request") as (rr,):
        longest = contract.ResizeRequest(
            4096, 4096, "k" * rr.MAX_KEY_BYTES, "original", dpr=3, fit="cover",
            gravity="northwest", quality=100, frames=1,
        )
        assert len(contract.variant_key(longest).encode()) <= 1024
