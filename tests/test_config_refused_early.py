"""Bad stack config is refused before the first resource is declared, by config key and stack
file; secrets never in plain text; per-IP rate limits over every path on both providers.

Each config case below counts the resources the mock runtime had registered when the error
was raised. Before the checks moved ahead of the program, the same mistakes in
stacks/Pulumi.staging.yaml were found only inside the components, after 15 (bad alias), 36
(http:// origin) and 43 (unbalanced rate-limit expression) registrations.
"""

from __future__ import annotations

import copy

import pytest

from edgekit_iac import program
from edgekit_iac.config import ConfigError
from edgekit_iac.program import run_program
from edgekit_iac.release import stack_files
from edgekit_iac.twin.aws.waf import WafRequest, WebAcl
from edgekit_iac.twin.cloudflare.expression import request_fields
from edgekit_iac.twin.cloudflare.rate_limits import ZoneRateLimits

STAGING = stack_files.read_config("staging")
SECRET = "https://hooks.incidents.example/do-not-print-this-token"


@pytest.fixture
def registrations(monkeypatch) -> list:
    """The recording monitors of the runs in this test, to count what they registered."""
    monitors: list = []
    original = program._RecordingMonitor.__init__

    def recording(self, mocks):
        original(self, mocks)
        monitors.append(self)

    monkeypatch.setattr(program._RecordingMonitor, "__init__", recording)
    return monitors


def _section(key: str, **changes) -> dict:
    """A copy of staging's `key` section with `changes` applied ("a.b" is nested)."""
    section = copy.deepcopy(STAGING[key])
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = section
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return {key: section}


CASES = {
    "bad alias hostname": (
        _section("edgekit:images", aliases=["bad_host!.example.com"]),
        "edgekit:images.aliases",
        "is not a DNS name",
    ),
    "http origin": (
        _section("edgekit:cloudflare", **{"cacheWrapper.originUrl": "http://origin.example.com"}),
        "edgekit:cloudflare.cacheWrapper.originUrl",
        "plain http",
    ),
    "malformed rate-limit expression": (
        _section(
            "edgekit:rateLimits",
            **{"cloudflare.expression": '(starts_with(http.request.uri.path, "/api/")'},
        ),
        "edgekit:rateLimits.cloudflare.expression",
        "unbalanced parentheses",
    ),
    "quality true": (
        _section("edgekit:images", quality=True),
        "edgekit:images.quality",
        "valid integer",
    ),
    "pixels no memory can decode": (
        _section("edgekit:images", maxPixels=178_000_000, memoryMb=128),
        "edgekit:images.maxPixels",
        "bytes per pixel",
    ),
    "fallback without a placeholder": (
        _section("edgekit:images", onError="fallback"),
        "edgekit:images.fallbackKey",
        "placeholder image in the originals bucket",
    ),
    # The distribution serves no original at /{key} (a 400): the 302 would lead nowhere.
    "redirect to an original the distribution does not serve": (
        _section("edgekit:images", onError="redirect"),
        "edgekit:images.onError",
        "accepted: status, fallback",
    ),
    "requests per period 1e20": (
        _section("edgekit:rateLimits", **{"cloudflare.requestsPerPeriod": 10**20}),
        "edgekit:rateLimits.cloudflare.requestsPerPeriod",
        "from 1 to 2000000000",
    ),
    "origin latency 1e18": (
        {"edgekit:alarms": {**STAGING["edgekit:alarms"], "originLatencyP95Ms": 10**18}},
        "edgekit:alarms.originLatencyP95Ms",
        "at most 180000",
    ),
    "region mars-1": ({"aws:region": "mars-1"}, "aws:region", "eu-west-1"),
    "200 KB Worker message": (
        _section("edgekit:cloudflare", **{"helloGeo.message": "x" * 200_000}),
        "edgekit:cloudflare.helloGeo.message",
        "at most 5120 bytes",
    ),
    "origin DNS record type": (
        _section(
            "edgekit:cloudflare",
            **{
                "cacheWrapper.originDns": {
                    "name": "origin.staging.example.com",
                    "content": "203.0.113.10",
                    "type": "MX",
                }
            },
        ),
        "edgekit:cloudflare.cacheWrapper.originDns.type",
        "A, AAAA, CNAME",
    ),
    "auth Worker JWKS over plain http": (
        _section("edgekit:cloudflare", **{"edgeAuth.jwksUrl": "http://login.example.com/jwks"}),
        "edgekit:cloudflare.edgeAuth.jwksUrl",
        "plain http",
    ),
    "auth Worker told to accept HS256": (
        _section("edgekit:cloudflare", **{"edgeAuth.algorithms": ["ES256", "HS256"]}),
        "edgekit:cloudflare.edgeAuth.algorithms",
        "among RS256, ES256, EdDSA",
    ),
    "all-paths rule tighter than the path rule": (
        _section("edgekit:rateLimits", **{"waf.defaultLimit": 10}),
        "edgekit:rateLimits.waf.defaultLimit",
        "path rule stays the tighter one",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_value_is_refused_by_key_before_any_resource(case, registrations):
    overrides, key, accepted = CASES[case]
    with pytest.raises(ConfigError) as error:
        run_program("staging", config_overrides=overrides)
    message = str(error.value)
    assert message.startswith("stacks/Pulumi.staging.yaml:")
    assert f"{key}:" in message and accepted in message
    assert "Args." not in message  # the config key, not the Python field
    assert len(registrations[-1].recorded) == 0


def test_every_problem_is_listed_at_once(registrations):
    # Typed values that the components refuse: each one is reported, not only the first.
    overrides = {
        **_section("edgekit:images", aliases=["bad!"]),
        **CASES["http origin"][0],
        "aws:region": "mars-1",
    }
    with pytest.raises(ConfigError) as error:
        run_program("staging", config_overrides=overrides)
    message = str(error.value)
    assert "3 config problem(s), nothing was declared" in message
    for key in ("edgekit:images.aliases", "cacheWrapper.originUrl", "aws:region"):
        assert key in message
    assert len(registrations[-1].recorded) == 0


def test_a_non_https_alarm_endpoint_is_a_config_error_that_hides_the_secret(
    monkeypatch, registrations
):
    # The offline runtime stands a placeholder in for every secret; make it the bad value.
    monkeypatch.setattr(stack_files, "OFFLINE_SECRET_PLACEHOLDER", SECRET.replace("https", "http"))
    paging = {**stack_files.read_config("prod")["edgekit:alarms"], "paging": True}
    overrides = {"edgekit:alarmEndpoint": {"secure": "v1:x"}, "edgekit:alarms": paging}
    with pytest.raises(ConfigError) as error:
        run_program("prod", config_overrides=overrides)
    message = str(error.value)
    assert "edgekit:alarmEndpoint: the secret is not an https:// URL (value not shown)" in message
    assert "do-not-print-this-token" not in message
    assert len(message.splitlines()) == 2
    assert len(registrations[-1].recorded) == 0


@pytest.mark.parametrize("key", ["edgekit:alarmEndpoint", "cloudflare:apiToken"])
def test_a_secret_in_plain_text_is_refused_without_printing_it(key, registrations):
    with pytest.raises(ConfigError) as error:
        run_program("prod", config_overrides={key: SECRET})
    message = str(error.value)
    assert f"{key}: is in plain text, not a secret" in message
    assert "pulumi config set --secret" in message and "rotate" in message
    assert "do-not-print-this-token" not in message
    assert len(registrations[-1].recorded) == 0


# --- rate limits over every path ------------------------------------------------------------


@pytest.fixture(scope="module")
def local():
    return run_program("local")


class Clock:
    now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_waf_limits_every_path_not_only_images(local):
    acl = WebAcl("acl", local.one("aws:wafv2/webAcl:WebAcl").inputs, Clock())
    answers = [
        acl.check(WafRequest("203.0.113.9", "GET", "/", f"bust={n}", {})) for n in range(200)
    ]
    blocked = [answer for answer in answers if answer is not None]
    # Local stack: 150 requests per 60 s per IP on every path; /images/ keeps its tighter 100.
    assert len(blocked) == 50
    assert {block.status for block in blocked} == {429}
    assert blocked[0].rule == "rate-limit-per-ip-all-paths"
    assert b'"limit":150' in blocked[0].body
    # Another client is untouched.
    assert acl.check(WafRequest("203.0.113.10", "GET", "/", "bust=1", {})) is None


def test_cloudflare_limits_every_path_of_the_workers_hosts(local):
    limits = ZoneRateLimits([local.one("cloudflare:index/ruleset:Ruleset").inputs], Clock())

    def request(host: str, path: str, n: int) -> dict:
        fields = request_fields("GET", "https", host, path, f"bust={n}", {}, "203.0.113.9", "NO")
        return {**fields, "cf.colo.id": "OSL"}

    answers = [limits.check(request("api.edgekit.localhost", "/", n)) for n in range(250)]
    assert sum(answer is not None for answer in answers) == 50  # 200 per 60 s on every path
    assert {answer.status for answer in answers if answer is not None} == {429}
    # A host on the zone that no Worker serves is not counted by the rule over every path.
    other = [limits.check(request("www.edgekit.localhost", "/", n)) for n in range(250)]
    assert all(answer is None for answer in other)


def test_the_api_rule_stays_the_tighter_one(local):
    rules = local.one("cloudflare:index/ruleset:Ruleset").inputs["rules"]
    assert [rule["ratelimit"]["requestsPerPeriod"] for rule in rules] == [100, 200]
    assert rules[1]["expression"] == (
        '(http.host in {"api.edgekit.localhost" "auth.edgekit.localhost" '
        '"counter.edgekit.localhost" "geo.edgekit.localhost"})'
    )


# --- each setting declared once -------------------------------------------------------------


def test_config_sections_are_made_of_the_components_args():
    import dataclasses

    from edgekit_iac.components import (
        CachedWorkerArgs,
        CloudflareLogpushArgs,
        CloudflareRateLimitArgs,
        DnsTarget,
        EdgeAlarmsArgs,
        EdgeDashboardArgs,
        EdgeImageResizerArgs,
        EdgeLogPipelineArgs,
        EdgeRateLimitArgs,
        EdgeWorkerArgs,
        OriginDnsRecord,
    )
    from edgekit_iac.components.log_search import OpenSearchArgs

    from edgekit_iac import config

    pairs = [
        (config.ImagesSettings, EdgeImageResizerArgs, set(), {}),
        (config.WafSettings, EdgeRateLimitArgs, {"enabled"}, {"path_prefix": "/images/"}),
        (
            config.CloudflareRateSettings,
            CloudflareRateLimitArgs,
            {"enabled", "import_ruleset_id"},
            {},
        ),
        (config.CacheWrapperSettings, CachedWorkerArgs, {"route", "origin_dns"}, {}),
        (config.RealtimeLogSettings, EdgeLogPipelineArgs, {"enabled"}, {}),
        (config.OriginDns, OriginDnsRecord, set(), {}),
        (config.AlarmSettings, EdgeAlarmsArgs, {"enabled", "paging"}, {}),
        (config.LogpushSettings, CloudflareLogpushArgs, {"enabled"}, {}),
        (config.LoggingSettings, EdgeLogPipelineArgs, {"realtime", "logpush", "opensearch"}, {}),
        (config.OpenSearchSettings, OpenSearchArgs, {"enabled"}, {}),
        (config.DashboardSettings, EdgeDashboardArgs, {"enabled"}, {}),
        (config.HelloGeoSettings, EdgeWorkerArgs, {"route", "message"}, {}),
        (config.EdgeCounterSettings, EdgeWorkerArgs, {"route"}, {}),
        (config.DnsSettings, DnsTarget, set(), {}),
    ]
    for section, args_class, section_only, program_defaults in pairs:
        declared = {field.name: field for field in dataclasses.fields(args_class)}
        for name, field in section.model_fields.items():
            if name in section_only:
                continue
            assert name in declared, (section.__name__, name)
            default = program_defaults.get(name, declared[name].default)
            if default is not dataclasses.MISSING and name != "script_name":
                assert field.default == default, (section.__name__, name)


def test_a_stack_value_reaches_the_component_without_a_copy_in_between():
    from edgekit_iac import stack_args
    from edgekit_iac.config import parse_settings

    values = {
        "environment": "staging",
        "images": {"quality": 55, "maxTtl": 600, "defaultTtl": 60, "allowedSizes": ["64x64"]},
        "rateLimits": {"waf": {"defaultLimit": None, "limit": 50}},
    }
    settings = parse_settings(values, "stacks/Pulumi.staging.yaml")
    resizer = stack_args.resizer_args(settings)
    assert (resizer.quality, resizer.max_ttl, resizer.default_ttl) == (55, 600, 60)
    assert list(resizer.allowed_sizes) == ["64x64"]
    waf = stack_args.waf_args(settings)
    assert (waf.limit, waf.default_limit, waf.path_prefix) == (50, None, "/images/")
