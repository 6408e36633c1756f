"""Rewriting the pins of a stack file as text: the rest stays byte for byte as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edgekit_iac.config import ArtifactPin
from edgekit_iac.errors import UserError
from edgekit_iac.release.pins import (
    PINS_COMMENT,
    Pin,
    parse_pins,
    pins_from_outputs,
    pins_in,
    with_pins,
)

from .conftest import PROD_FILE as STACK_FILE

PATH = Path("stacks/Pulumi.prod.yaml")
RESIZER = Pin("1.1.0", "a" * 64)
WRAPPER = Pin("1.0.0", "0123456789" * 6 + "0123")  # all digits: must stay a string
PINS = {"image_resizer": RESIZER, "cache_wrapper": WRAPPER}

PINS_BLOCK = (
    "  edgekit:artifacts:\n"
    "    cache_wrapper:\n"
    '      version: "1.0.0"\n'
    f'      sha256: "{WRAPPER.sha256}"\n'
    "    image_resizer:\n"
    '      version: "1.1.0"\n'
    f'      sha256: "{RESIZER.sha256}"\n'
)



def test_pins_are_added_as_the_last_config_entry_and_nothing_else_changes():
    new = with_pins(STACK_FILE, PINS, PATH)
    anchor = "  edgekit:alarms: {enabled: true, paging: true}\n"
    assert new == STACK_FILE.replace(anchor, anchor + f"  {PINS_COMMENT}\n" + PINS_BLOCK)


def test_written_pins_load_as_strings_the_config_schema_accepts():
    config = yaml.safe_load(with_pins(STACK_FILE, PINS, PATH))["config"]
    assert config["edgekit:artifacts"]["cache_wrapper"]["sha256"] == WRAPPER.sha256
    for pin in config["edgekit:artifacts"].values():
        ArtifactPin.model_validate(pin)
    assert pins_in(with_pins(STACK_FILE, PINS, PATH), PATH) == PINS


def test_existing_pins_are_replaced_in_place():
    old_block = (
        "  edgekit:artifacts:\n"
        "    # stale comment inside the block goes with it\n"
        "    image_resizer: {version: 1.0.0, sha256: " + "b" * 64 + "}\n"
    )
    text = STACK_FILE.replace("  edgekit:images:\n", old_block + "  edgekit:images:\n")
    new = with_pins(text, PINS, PATH)
    assert new == STACK_FILE.replace("  edgekit:images:\n", PINS_BLOCK + "  edgekit:images:\n")


def test_a_second_write_changes_only_the_pins_block():
    once = with_pins(STACK_FILE, {"image_resizer": Pin("1.0.0", "b" * 64)}, PATH)
    twice = with_pins(once, PINS, PATH)
    anchor = "  edgekit:alarms: {enabled: true, paging: true}\n"
    assert twice == STACK_FILE.replace(anchor, anchor + f"  {PINS_COMMENT}\n" + PINS_BLOCK)


@pytest.mark.parametrize(
    "pins_line",
    ['  "edgekit:artifacts":\n', "  'edgekit:artifacts':\n", "  edgekit:artifacts: {}\n"],
)
def test_quoted_and_inline_pin_keys_are_found(pins_line):
    text = STACK_FILE.replace("  edgekit:images:\n", pins_line + "  edgekit:images:\n")
    new = with_pins(text, PINS, PATH)
    assert new == STACK_FILE.replace("  edgekit:images:\n", PINS_BLOCK + "  edgekit:images:\n")


def test_crlf_files_keep_their_line_endings():
    text = STACK_FILE.replace("\n", "\r\n")
    new = with_pins(text, PINS, PATH)
    expected = with_pins(STACK_FILE, PINS, PATH).replace("\n", "\r\n")
    assert new == expected


def test_a_file_without_a_final_newline_gets_one_only_where_pins_are_added():
    text = "config:\n  aws:region: us-east-1"
    new = with_pins(text, {"image_resizer": RESIZER}, PATH)
    assert new.startswith("config:\n  aws:region: us-east-1\n  " + PINS_COMMENT + "\n")
    assert pins_in(new, PATH) == {"image_resizer": RESIZER}


def test_four_space_indentation_is_kept():
    text = "config:\n    aws:region: us-east-1\n"
    new = with_pins(text, {"image_resizer": RESIZER}, PATH)
    assert new == (
        text
        + f"    {PINS_COMMENT}\n"
        + "    edgekit:artifacts:\n"
        + "        image_resizer:\n"
        + '            version: "1.1.0"\n'
        + f'            sha256: "{RESIZER.sha256}"\n'
    )


@pytest.mark.parametrize("text", ["config:\n", "secretsprovider: passphrase\n", ""])
def test_empty_or_missing_config_gets_a_config_mapping(text):
    new = with_pins(text, {"image_resizer": RESIZER}, PATH)
    assert new.startswith(text)
    assert pins_in(new, PATH) == {"image_resizer": RESIZER}


def test_inline_config_is_refused_instead_of_reformatted():
    with pytest.raises(UserError, match="written inline"):
        with_pins("config: {aws:region: us-east-1}\n", PINS, PATH)


def test_a_layout_that_would_change_other_keys_is_refused():
    # Two pins keys: YAML keeps the last, the edit replaces the first; the check notices.
    text = STACK_FILE.replace(
        "  edgekit:images:\n",
        "  edgekit:artifacts: {}\n  edgekit:images:\n",
    ).replace("  edgekit:alarms:", "  edgekit:artifacts: {}\n  edgekit:alarms:")
    with pytest.raises(UserError, match="would change or lose other keys"):
        with_pins(text, PINS, PATH)


def test_invalid_yaml_is_refused_with_the_file_name():
    with pytest.raises(UserError, match=r"Pulumi.prod.yaml: not valid YAML"):
        with_pins("config:\n  a: [\n", PINS, PATH)


# --- pins from outputs ----------------------------------------------------------------------


def test_pins_from_outputs_ignore_extra_fields_like_bytes():
    outputs = {
        "artifacts": {"image_resizer": {"version": "1.1.0", "sha256": "A" * 64, "bytes": 9}},
        "imagesDomain": "d123.cloudfront.net",
    }
    assert pins_from_outputs(outputs, "staging") == {"image_resizer": Pin("1.1.0", "a" * 64)}


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({}, "has no outputs"),
        ({"imagesDomain": "x"}, "have no 'artifacts' \\(they have: imagesDomain\\)"),
        ({"artifacts": "[secret]"}, "--show-secrets"),
        ({"artifacts": {}}, "expected a mapping of function name"),
        ({"artifacts": []}, "expected a mapping of function name"),
    ],
)
def test_outputs_without_usable_artifacts_are_refused(outputs, message):
    with pytest.raises(UserError, match=message):
        pins_from_outputs(outputs, "staging")


def test_every_bad_pin_is_named_at_once():
    with pytest.raises(UserError) as error:
        parse_pins(
            {
                "image_resizer": {"version": "latest", "sha256": "a" * 64},
                "cache_wrapper": {"version": "1.0.0", "sha256": "abc"},
                "Bad-Name": {"version": "1.0.0", "sha256": "a" * 64},
                "hello_geo": "1.0.0",
            },
            "outputs",
        )
    message = str(error.value)
    for expected in (
        "image_resizer.version: 'latest'",
        "cache_wrapper.sha256: 'abc' is not 64 hex digits",
        "'Bad-Name': not a function name",
        "hello_geo: expected {version, sha256}",
    ):
        assert expected in message


def test_pins_go_inside_an_empty_config_followed_by_another_key():
    text = "config:\nencryptionsalt: v1:c2FsdA==\n"
    new = with_pins(text, {"image_resizer": RESIZER}, PATH)
    assert new.startswith("config:\n  " + PINS_COMMENT + "\n  edgekit:artifacts:\n")
    assert new.endswith("\nencryptionsalt: v1:c2FsdA==\n")
    assert yaml.safe_load(new)["encryptionsalt"] == "v1:c2FsdA=="
