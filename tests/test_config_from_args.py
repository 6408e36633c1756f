"""Stack config keys come from the components' Args: a field added to an Args is a stack key at
once, typed, documented and checked by the component's own checks under its config key.

These run the config parser and the component checks only (no program run, no bundle).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass
from typing import Literal

import pytest
from edgekit_iac.components import EdgeImageResizerArgs
from edgekit_iac.components._args import ArgsError, field_types

from edgekit_iac import config, stack_args
from edgekit_iac.config import ConfigError, args_section, parse_settings
from edgekit_iac.release import stack_files

STACK_FILE = "stacks/Pulumi.staging.yaml"


def _staging() -> dict:
    values = {}
    for key, raw in stack_files.read_config("staging").items():
        namespace, _, name = key.partition(":")
        if namespace == "edgekit" and name != "alarmEndpoint":
            values[name] = json.loads(raw) if isinstance(raw, str) and raw[:1] in "[{" else raw
    return values


STAGING = _staging()


def _with(path: str, value) -> dict:
    values = copy.deepcopy(STAGING)
    *parents, last = path.split(".")
    target = values
    for parent in parents:
        target = target.setdefault(parent, {})
    target[last] = value
    return values


def _problems(values: dict) -> str:
    with pytest.raises(ConfigError) as error:
        stack_args.check(parse_settings(values, STACK_FILE), STACK_FILE)
    return str(error.value)


def test_staging_as_committed_passes():
    stack_args.check(parse_settings(STAGING, STACK_FILE), STACK_FILE)


# Keys that exist only because their Args field exists (no config code names them): each bad
# value is refused by the component's own check, under the stack key, with what is accepted.
DERIVED_CASES = [
    ("images.geoRestrictionType", "sometimes", "accepted: none, whitelist, blacklist"),
    ("images.resizedExpirationDays", 0, "accepted: an integer from 1 to 36500"),
    ("images.bucketRegion", "mars-1", "accepted: an AWS region"),
    ("cloudflare.cacheWrapper.observabilitySamplingRate", 2.0, "accepted: 0 < rate <= 1"),
    ("cloudflare.helloGeo.compatibilityFlags", ["Bad Flag"], "accepted: a list of flag names"),
    ("cloudflare.accountId", "not-hex", "accepted: a Cloudflare id: 32 lower-case hex"),
    ("rateLimits.cloudflare.responseStatus", 99, "accepted: 400..499"),
    ("rateLimits.cloudflare.importRulesetId", "nope", "entry-point ruleset"),
    ("logging.realtime.region", "mars-1", "accepted: an AWS region"),
    ("logging.logpush.prefix", "cloudfront/realtime", "overlaps EdgeLogPipeline's log prefixes"),
    ("alarms.evaluationPeriods", 61, "accepted: an integer from 1 to 60"),
    ("dns", {"provider": "route53"}, "Route 53 hosted zone id"),
    ("dns", {"provider": "bind"}, "provider route53, cloudflare, external"),
]


@pytest.mark.parametrize(("path", "value", "accepted"), DERIVED_CASES)
def test_a_derived_key_is_checked_by_its_component_under_its_stack_key(path, value, accepted):
    values = _with(path, value)
    if path.startswith("alarms."):
        values["alarms"]["enabled"] = True
    if path.startswith("logging.logpush."):
        values["logging"]["realtime"]["enabled"] = values["logging"]["logpush"]["enabled"] = True
    message = _problems(values)
    key = "edgekit:dns." if path == "dns" else f"edgekit:{path}:"
    assert key in message, message
    assert accepted in message, message
    assert STACK_FILE in message


def test_a_shared_key_is_reported_once():
    message = _problems(_with("cloudflare.accountId", "not-hex"))
    assert message.count("edgekit:cloudflare.accountId") == 1, message


def test_a_wrong_type_for_a_derived_key_names_the_key():
    with pytest.raises(ConfigError, match=r"edgekit:alarms\.tags\.team: Input should be a valid "):
        parse_settings(_with("alarms.tags", {"team": 7}), STACK_FILE)


def test_every_args_field_is_a_key_or_wired_by_the_program():
    """The sections leave out only what the program fills; everything else is a key."""
    sections = [
        (config.ImagesSettings, EdgeImageResizerArgs, config._RESIZER_WIRED),
        (
            config.HelloGeoSettings,
            stack_args.EdgeWorkerArgs,
            (*config._WORKER_WIRED, *config._FUNCTION_WIRED, *config._NO_CANARY,
             "applied_migration_tag"),
        ),
        (
            config.EdgeCounterSettings,
            stack_args.EdgeWorkerArgs,
            (*config._WORKER_WIRED, *config._FUNCTION_WIRED, *config._NO_CANARY),
        ),
    ]
    for section, args_class, wired in sections:
        fields = {field.name for field in dataclasses.fields(args_class)}
        keys = set(section.model_fields)
        assert fields - set(wired) <= keys, (section.__name__, fields - set(wired) - keys)


# --- a new Args field, as another change would add it -----------------------------------------


@dataclass(frozen=True)
class _Preset:
    name: str
    quality: int = 80


@dataclass(frozen=True)
class _ResizerArgsWithANewField(EdgeImageResizerArgs):
    on_error: Literal["redirect", "error"] = "error"
    """What a failed resize answers. Default: error."""

    preset_quality: int | None = None
    """A quality preset, 1..100. Default: None."""

    presets: tuple[_Preset, ...] = ()
    """Named presets: nested objects in the stack file. Default: none."""


def _check_new_fields(args: _ResizerArgsWithANewField) -> None:
    if args.preset_quality is not None and not 1 <= args.preset_quality <= 100:
        raise ArgsError("preset_quality", f"got {args.preset_quality!r}", "1..100")


def test_a_new_args_field_is_a_stack_key_with_its_type_default_and_check():
    section = args_section("NewImages", _ResizerArgsWithANewField, exclude=config._RESIZER_WIRED)
    fields = section.model_fields
    assert fields["on_error"].alias == "onError" and fields["on_error"].default == "error"
    assert section.model_validate({"onError": "redirect"}).on_error == "redirect"
    with pytest.raises(ValueError, match="onError"):
        section.model_validate({"onError": "retry"})  # the Literal is the accepted list
    parsed = section.model_validate({"presetQuality": 101})
    built = _ResizerArgsWithANewField(**stack_args._args_of(parsed, _ResizerArgsWithANewField))
    with pytest.raises(ArgsError) as error:
        _check_new_fields(built)
    key = stack_args.config_key("images", error.value.arg, {})
    assert key == "edgekit:images.presetQuality"


def test_a_new_nested_args_field_is_a_nested_object_built_back_into_its_dataclass():
    section = args_section("NewImages", _ResizerArgsWithANewField, exclude=config._RESIZER_WIRED)
    parsed = section.model_validate({"presets": [{"name": "thumb", "quality": 60}]})
    built = _ResizerArgsWithANewField(**stack_args._args_of(parsed, _ResizerArgsWithANewField))
    assert built.presets == (_Preset(name="thumb", quality=60),)
    with pytest.raises(ValueError, match=r"presets\.0\.qualty"):
        section.model_validate({"presets": [{"name": "thumb", "qualty": 60}]})


def test_the_cache_wrappers_origin_dns_record_comes_from_the_stack_as_its_dataclass():
    from edgekit_iac.components import OriginDnsRecord

    values = _with("cloudflare.cacheWrapper.originDns", {"name": "origin.example.com",
                                                           "content": "203.0.113.10",
                                                           "type": "A"})
    values["cloudflare"]["cacheWrapper"]["originUrl"] = "https://origin.example.com"
    settings = parse_settings(values, STACK_FILE)
    args = stack_args.cached_worker_args(settings.cloudflare)
    assert args.origin_dns == OriginDnsRecord(name="origin.example.com", content="203.0.113.10",
                                              type="A")
    bad = _with("cloudflare.cacheWrapper.originDns", {"name": "origin.example.com",
                                                        "content": "not-an-ip", "type": "A"})
    bad["cloudflare"]["cacheWrapper"]["originUrl"] = "https://origin.example.com"
    assert "edgekit:cloudflare.cacheWrapper.originDns.content: got 'not-an-ip'" in _problems(bad)


def test_a_field_no_stack_file_can_hold_must_be_declared_as_wired():
    from edgekit_iac.components import EdgeAlarmsArgs

    # alarm_endpoint is an Output (a secret): no stack file can hold it.
    with pytest.raises(TypeError, match="alarm_endpoint.*list it in exclude="):
        args_section("Alarms", EdgeAlarmsArgs, exclude=("distribution_id", "function_name"))


def test_annotations_are_resolved_without_eval():
    import inspect

    source = inspect.getsource(config)
    assert "eval(" not in source
    hints = field_types(EdgeImageResizerArgs)
    assert hints["quality"] is int


def test_only_the_cache_wrapper_takes_a_canary_key():
    """`edgekit canary` drives the cache wrapper's gradual deployment; the other Workers'
    sections refuse a canary key instead of ignoring it."""
    assert "canary" in config.CacheWrapperSettings.model_fields
    for section in (config.HelloGeoSettings, config.EdgeCounterSettings,
                    config.EdgeAuthSettings):
        assert "canary" not in section.model_fields, section.__name__
