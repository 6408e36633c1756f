"""EdgeWorker and CachedWorker under Pulumi's mock runtime: the Python Workers rules and the
cache wrapper's settings, asserted on the recorded inputs.

Most tests read a few recorded runs built from small fake bundles (real zips in tmp_path);
one run bundles both real Workers from functions/ and loads the uploaded modules back, so
the bindings the component writes are checked by the Worker's own settings parser.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from edgekit_iac.components.cached_worker import (
    DEFAULT_API_KEY_HEADERS,
    DEFAULT_CACHEABLE_STATUSES,
    DEFAULT_MAX_TTL,
    DEFAULT_ORIGIN_TIMEOUT_MS,
    DEFAULT_SESSION_COOKIES,
    DEFAULT_STALE_IF_ERROR,
    DEFAULT_TRACKING_PARAMS,
    DEFAULT_TTL,
    CachedWorker,
    CachedWorkerArgs,
    OriginDnsRecord,
    is_loopback,
    normalize_origin_url,
)
from edgekit_iac.components.worker import (
    DEFAULT_COMPATIBILITY_DATE,
    EdgeWorker,
    EdgeWorkerArgs,
    WorkerArgsError,
    check_compatibility_date,
)

from edgekit_iac.bundle.build import Artifact, build_function
from edgekit_iac.errors import UserError
from edgekit_iac.function_modules import import_isolated, load_function_module
from edgekit_iac.program import ProgramGraph, RecordedResource, run_program

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "0123456789abcdef0123456789abcdef"
ZONE = "fedcba9876543210fedcba9876543210"

EDGE_WORKER = "edgekit:cloudflare:EdgeWorker"
CACHED_WORKER = "edgekit:cloudflare:CachedWorker"
SCRIPT = "cloudflare:index/workersScript:WorkersScript"
ROUTE = "cloudflare:index/workersRoute:WorkersRoute"
CUSTOM_DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"

GEO_MODULES = {
    "geo_worker.py": "import geo_reply\nfrom workers import WorkerEntrypoint\n",
    "geo_reply.py": "def reply(method, fields, message):\n    return None\n",
    "python_modules/tiny/__init__.py": "VALUE = 1\n",
}
CACHE_MODULES = {
    "cache_worker.py": "import cache_policy\n",
    "cache_policy.py": "BINDING_NAMES = ()\n",
}
SECRET_VALUE = "s3cr3t-token-value"

# The cache wrapper's own settings parser, straight from its function folder.
policy = load_function_module(REPO / "functions" / "cache_wrapper", "cache_policy.py")


def make_artifact(
    folder: Path,
    name: str,
    modules: Mapping[str, str],
    main_module: str,
    *,
    kind: str = "python-worker",
    version: str = "1.2.3",
) -> Artifact:
    """A real zip of `modules`, described the way the bundler describes its output."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-test.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for module, source in modules.items():
            archive.writestr(module, source)
    data = path.read_bytes()
    return Artifact(
        name=name,
        kind=kind,
        version=version,
        path=path,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        manifest={"kind": kind, "version": version, "main_module": main_module},
    )


def record(program: Callable[[], Any]) -> ProgramGraph:
    return run_program("test", program=program, config={})


def edge_args(bundle: Artifact, **changes: Any) -> EdgeWorkerArgs:
    """The geo Worker on a route with one setting; `changes` override any field."""
    return EdgeWorkerArgs(
        **{
            "account_id": ACCOUNT,
            "zone_id": ZONE,
            "artifact": bundle,
            "script_name": "hello-geo",
            "route_pattern": "geo.example.com/*",
            "plain_text_bindings": {"MESSAGE": "Hello from the edge"},
            **changes,
        }
    )


def cached_args(bundle: Artifact, **changes: Any) -> CachedWorkerArgs:
    """The cache wrapper on a route, cache settings at their defaults, overridable."""
    base = {"origin_url": "https://origin.example.com", "route_pattern": "api.example.com/*"}
    deployment = {"account_id": ACCOUNT, "zone_id": ZONE, "artifact": bundle}
    return CachedWorkerArgs(**{"script_name": "edge-cache", **deployment, **base, **changes})


def uploaded_modules(script: RecordedResource) -> dict[str, str]:
    """What the WorkersScript uploads, back as {path: source}: main module plus files."""
    modules = {script.inputs["mainModule"]: script.inputs["content"]}
    for path, part in (script.inputs.get("files") or {}).items():
        modules[path] = base64.b64decode(part["contentBase64"]).decode("utf-8")
    return modules


def plain_bindings(script: RecordedResource) -> dict[str, str]:
    return {b["name"]: b["text"] for b in script.inputs["bindings"] if b["type"] == "plain_text"}


@pytest.fixture(scope="module")
def geo_artifact(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    return make_artifact(tmp_path_factory.mktemp("geo"), "hello_geo", GEO_MODULES, "geo_worker.py")


@pytest.fixture(scope="module")
def cache_artifact(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    folder = tmp_path_factory.mktemp("cache")
    return make_artifact(folder, "cache_wrapper", CACHE_MODULES, "cache_worker.py")


@pytest.fixture(scope="module")
def routed(geo_artifact: Artifact) -> ProgramGraph:
    """An EdgeWorker on a route, plain-text settings only, every other argument at its default."""
    return record(lambda: EdgeWorker("geo", edge_args(geo_artifact)))


@pytest.fixture(scope="module")
def domain(geo_artifact: Artifact) -> ProgramGraph:
    """An EdgeWorker on a custom domain with a secret and extra flags."""
    args = edge_args(
        geo_artifact,
        route_pattern=None,
        custom_domain="Geo.Example.com.",
        secret_bindings={"API_TOKEN": SECRET_VALUE},
        compatibility_flags=["nodejs_compat", "python_workers", "nodejs_compat"],
        compatibility_date="2025-06-30",
        observability_sampling_rate=0.25,
    )
    return record(lambda: EdgeWorker("geo", args))


@pytest.fixture(scope="module")
def cached(cache_artifact: Artifact) -> ProgramGraph:
    """A CachedWorker with non-default settings and a proxied origin record."""
    args = cached_args(
        cache_artifact,
        origin_url="https://origin.example.com/v1/",
        default_ttl=60,
        max_ttl=600,
        stale_if_error=120,
        origin_timeout_ms=2500,
        cacheable_statuses=[404, 200, 200, 301],
        session_cookies=["sid", "wp_*"],
        api_key_headers=["X-Tenant-Key", "x-secret-*"],
        forward_headers=["X-Request-Id", "x-request-id"],
        tracking_params=["utm_*", "ref"],
        origin_dns=OriginDnsRecord(name="Origin.Example.com", content="203.0.113.10", type="A"),
    )
    return record(lambda: CachedWorker("api", args))


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> ProgramGraph:
    """Both real Workers, bundled from functions/ by the components themselves."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGEKIT_HOME", str(tmp_path_factory.mktemp("home")))

        def program() -> None:
            EdgeWorker(
                "geo",
                EdgeWorkerArgs(
                    account_id=ACCOUNT,
                    script_name="hello-geo",
                    function="hello_geo",
                    custom_domain="geo.example.com",
                    zone_id=ZONE,
                ),
            )
            CachedWorker(
                "api",
                CachedWorkerArgs(
                    account_id=ACCOUNT,
                    zone_id=ZONE,
                    script_name="edge-cache",
                    origin_url="https://origin.example.com",
                    route_pattern="api.example.com/*",
                    session_cookies=[],
                ),
            )

        return record(program)


def script_of(graph: ProgramGraph, component: str) -> RecordedResource:
    owner = graph.named(component)
    return next(r for r in graph.descendants(owner) if r.type == SCRIPT)


# --- EdgeWorker: the Python Workers rules ----------------------------------------------------


def test_script_is_a_python_worker_with_a_pinned_date_and_observability(routed, geo_artifact):
    script = routed.one(SCRIPT)
    assert script.inputs["contentType"] == "text/x-python"
    assert script.inputs["mainModule"] == "geo_worker.py"
    assert script.inputs["compatibilityFlags"] == ["python_workers"]
    assert script.inputs["compatibilityDate"] == DEFAULT_COMPATIBILITY_DATE
    dt.date.fromisoformat(DEFAULT_COMPATIBILITY_DATE)  # a real date
    assert script.inputs["observability"] == {
        "enabled": True,
        "headSamplingRate": 1.0,
        "logs": {"enabled": True, "invocationLogs": True, "headSamplingRate": 1.0},
    }
    assert script.inputs["accountId"] == ACCOUNT
    assert script.inputs["scriptName"] == "hello-geo"


def test_script_uploads_exactly_the_bundle_main_module_inline_others_as_python_parts(routed):
    script = routed.one(SCRIPT)
    assert uploaded_modules(script) == GEO_MODULES
    files = script.inputs["files"]
    assert "geo_worker.py" not in files
    for path, part in files.items():
        assert part["contentType"] == "text/x-python"
        data = base64.b64decode(part["contentBase64"])
        assert part["contentSha256"] == hashlib.sha256(data).hexdigest(), path
    # Vendored packages keep their import path.
    assert "python_modules/tiny/__init__.py" in files


def test_version_and_bundle_hash_are_on_the_upload_annotations(routed, geo_artifact):
    annotations = routed.one(SCRIPT).inputs["annotations"]
    assert annotations["workersTag"] == f"1.2.3+{geo_artifact.sha256[:12]}"
    assert len(annotations["workersTag"].encode()) <= 100
    assert geo_artifact.sha256 in annotations["workersMessage"]
    assert "hello_geo 1.2.3" in annotations["workersMessage"]


def test_settings_are_plain_text_bindings(routed):
    assert routed.one(SCRIPT).inputs["bindings"] == [
        {"name": "MESSAGE", "type": "plain_text", "text": "Hello from the edge"}
    ]


def test_route_sends_the_zone_pattern_to_this_script(routed):
    component = routed.one(EDGE_WORKER)
    script, route = routed.one(SCRIPT), routed.one(ROUTE)
    assert route.inputs == {
        "zoneId": ZONE,
        "pattern": "geo.example.com/*",
        "script": "hello-geo",
    }
    assert script.urn in route.dependencies
    assert script.parent == route.parent == component.urn
    assert routed.of_type(CUSTOM_DOMAIN) == []


def test_component_outputs_name_the_script_its_routing_and_release(routed, geo_artifact):
    assert routed.one(EDGE_WORKER).outputs == {
        "script_name": "hello-geo",
        "routes": ["geo.example.com/*"],
        "hostnames": [],
        "bundle_sha256": geo_artifact.sha256,
        "version": "1.2.3",
        "version_tag": f"1.2.3+{geo_artifact.sha256[:12]}",
    }


def test_custom_domain_serves_the_script_on_its_hostname(domain):
    custom = domain.one(CUSTOM_DOMAIN)
    assert custom.inputs == {
        "accountId": ACCOUNT,
        "zoneId": ZONE,
        "hostname": "geo.example.com",
        "service": "hello-geo",
    }
    assert domain.of_type(ROUTE) == []
    assert domain.one(EDGE_WORKER).outputs["hostnames"] == ["geo.example.com"]
    assert domain.one(EDGE_WORKER).outputs["routes"] == []


def test_secrets_are_secret_text_and_never_recorded_in_plain(domain):
    bindings = domain.one(SCRIPT).inputs["bindings"]
    if isinstance(bindings, list):  # a recorder that keeps nested secrets marks only the text
        secret = [b for b in bindings if b["name"] == "API_TOKEN"]
        assert secret == [{"name": "API_TOKEN", "type": "secret_text", "text": {"secret": True}}]
    else:  # Pulumi's deserializer lifts a nested secret to the whole list
        assert bindings == {"secret": True}
    assert SECRET_VALUE not in json.dumps(domain.to_json())


def test_extra_flags_keep_python_workers_once_and_first(domain):
    script = domain.one(SCRIPT)
    assert script.inputs["compatibilityFlags"] == ["python_workers", "nodejs_compat"]
    assert script.inputs["compatibilityDate"] == "2025-06-30"
    assert script.inputs["observability"]["headSamplingRate"] == 0.25


def test_without_routing_only_the_script_is_declared(geo_artifact):
    graph = record(lambda: EdgeWorker("geo", edge_args(geo_artifact, route_pattern=None)))
    assert [r.type for r in graph.resources] == [EDGE_WORKER, SCRIPT]
    assert graph.one(EDGE_WORKER).outputs["routes"] == []


# --- CachedWorker: the cache wrapper's settings, composed over EdgeWorker -------------------


def test_cache_wrapper_is_an_edge_worker_child_with_the_same_rules(cached, cache_artifact):
    component = cached.one(CACHED_WORKER)
    worker = cached.one(EDGE_WORKER)
    script = cached.one(SCRIPT)
    assert worker.parent == component.urn
    assert script.parent == worker.urn
    assert script.inputs["contentType"] == "text/x-python"
    assert script.inputs["mainModule"] == "cache_worker.py"
    assert script.inputs["compatibilityFlags"] == ["python_workers"]
    assert script.inputs["observability"]["enabled"] is True
    assert uploaded_modules(script) == CACHE_MODULES
    assert cached.one(ROUTE).inputs["pattern"] == "api.example.com/*"


def test_cache_settings_are_bound_under_the_names_the_worker_reads(cached):
    bindings = plain_bindings(cached.one(SCRIPT))
    assert set(bindings) == set(policy.BINDING_NAMES)
    assert bindings == {
        "ORIGIN_URL": "https://origin.example.com/v1",
        "DEFAULT_TTL": "60",
        "MAX_TTL": "600",
        "STALE_IF_ERROR": "120",
        "ORIGIN_TIMEOUT_MS": "2500",
        "CACHEABLE_STATUSES": "200,301,404",
        "SESSION_COOKIES": "sid,wp_*",
        "API_KEY_HEADERS": "X-Tenant-Key,x-secret-*",
        "FORWARD_HEADERS": "x-request-id",
        "TRACKING_PARAMS": "utm_*,ref",
    }
    assert policy.parse_settings(bindings) == policy.Settings(
        origin_url="https://origin.example.com/v1",
        default_ttl=60,
        max_ttl=600,
        stale_if_error=120,
        origin_timeout_ms=2500,
        cacheable_statuses=frozenset({200, 301, 404}),
        session_cookies=("sid", "wp_*"),
        api_key_headers=("X-Tenant-Key", "x-secret-*"),
        forward_headers=("x-request-id",),
        tracking_params=("utm_*", "ref"),
    )


def test_component_defaults_are_the_workers_own_defaults():
    worker_defaults = policy.parse_settings({"ORIGIN_URL": "https://origin.example.com"})
    assert worker_defaults == policy.Settings(
        origin_url="https://origin.example.com",
        default_ttl=DEFAULT_TTL,
        max_ttl=DEFAULT_MAX_TTL,
        stale_if_error=DEFAULT_STALE_IF_ERROR,
        origin_timeout_ms=DEFAULT_ORIGIN_TIMEOUT_MS,
        cacheable_statuses=frozenset(DEFAULT_CACHEABLE_STATUSES),
        session_cookies=DEFAULT_SESSION_COOKIES,
        api_key_headers=DEFAULT_API_KEY_HEADERS,
        forward_headers=(),
        tracking_params=DEFAULT_TRACKING_PARAMS,
    )


def test_origin_record_is_proxied_and_the_worker_waits_for_it(cached):
    record_ = cached.one(DNS_RECORD)
    assert record_.parent == cached.one(CACHED_WORKER).urn
    assert record_.inputs["proxied"] is True
    assert record_.inputs["ttl"] == 1
    assert record_.inputs["zoneId"] == ZONE
    assert (record_.inputs["name"], record_.inputs["type"], record_.inputs["content"]) == (
        "origin.example.com",
        "A",
        "203.0.113.10",
    )
    assert record_.urn in cached.one(EDGE_WORKER).dependencies
    assert record_.urn in cached.one(ROUTE).dependencies


def test_cached_worker_outputs(cached, cache_artifact):
    assert cached.one(CACHED_WORKER).outputs == {
        "script_name": "edge-cache",
        "routes": ["api.example.com/*"],
        "hostnames": [],
        "bundle_sha256": cache_artifact.sha256,
        "version": "1.2.3",
        "version_tag": f"1.2.3+{cache_artifact.sha256[:12]}",
        "origin_url": "https://origin.example.com/v1",
    }


def test_no_origin_record_unless_asked(cache_artifact):
    graph = record(lambda: CachedWorker("api", cached_args(cache_artifact)))
    assert graph.of_type(DNS_RECORD) == []
    assert [r.type for r in graph.resources] == [CACHED_WORKER, EDGE_WORKER, SCRIPT, ROUTE]


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:8790",
        "http://localhost:8080/",
        "http://api.localhost",
        "http://[::1]:8000",
    ],
)
def test_plain_http_origin_only_on_loopback(cache_artifact, origin):
    graph = record(lambda: CachedWorker("api", cached_args(cache_artifact, origin_url=origin)))
    assert plain_bindings(graph.one(SCRIPT))["ORIGIN_URL"] == origin.rstrip("/")


# --- both real Workers, bundled by the components ---------------------------------------------


def test_real_bundles_upload_every_module_of_each_worker(real):
    geo, cache = script_of(real, "geo"), script_of(real, "api")
    assert geo.inputs["mainModule"] == "geo_worker.py"
    assert cache.inputs["mainModule"] == "cache_worker.py"
    # edge_flags.py: functions/_shared/, shipped by `[bundle] shared` in function.toml.
    for name, script, own in (("hello_geo", geo, {"geo_reply.py", "edge_flags.py"}),
                              ("cache_wrapper", cache, {"cache_policy.py", "edge_flags.py"})):
        files = set(script.inputs["files"])
        # Since 2026-04-21 Cloudflare no longer provides the SDK: it travels in the bundle.
        assert "python_modules/workers/__init__.py" in files
        assert {path for path in files if not path.startswith("python_modules/")} == own
        folder = REPO / "functions" / name
        for path, source in uploaded_modules(script).items():
            if not path.startswith("python_modules/"):
                origin = folder / path if (folder / path).is_file() else (
                    folder.parent / "_shared" / path)
                assert source == origin.read_text(encoding="utf-8"), path


def test_real_bundles_are_the_bundlers_content_addressed_artifacts(real, tmp_path):
    for component, function in (("geo", "hello_geo"), ("api", "cache_wrapper")):
        built = build_function(function, out_dir=tmp_path)
        outputs = real.named(component).outputs
        assert outputs["bundle_sha256"] == built.sha256
        assert outputs["version_tag"] == f"{built.version}+{built.sha256[:12]}"


def test_uploaded_cache_policy_reads_the_recorded_bindings(real):
    """The modules as uploaded, loaded like a Worker, parse the bindings the component wrote."""
    script = script_of(real, "api")
    uploaded = uploaded_modules(script)
    uploaded_policy = import_isolated(uploaded, "cache_policy.py", origin="upload")
    settings = uploaded_policy.parse_settings(plain_bindings(script))
    assert settings.origin_url == "https://origin.example.com"
    assert settings.default_ttl == DEFAULT_TTL
    # An empty list is bound as "" (no session cookies), not left to the Worker's default.
    assert settings.session_cookies == ()
    assert real.one(CUSTOM_DOMAIN).inputs["service"] == "hello-geo"


# --- validation: clear errors, before anything is declared -----------------------------------


def expect_error(make: Callable[[], Any], where: str) -> str:
    with pytest.raises(UserError) as caught:
        record(make)
    message = str(caught.value)
    assert message.startswith(where), message
    assert "accepted:" in message
    return message


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"script_name": "Edge Cache"}, "EdgeWorkerArgs.script_name"),
        ({"script_name": "1-geo"}, "EdgeWorkerArgs.script_name"),
        ({"script_name": "g" * 64}, "EdgeWorkerArgs.script_name"),
        ({"account_id": "not-an-account"}, "EdgeWorkerArgs.account_id"),
        ({"zone_id": "ABC"}, "EdgeWorkerArgs.zone_id"),
        ({"custom_domain": "geo.example.com"}, "EdgeWorkerArgs.custom_domain"),
        ({"zone_id": None}, "EdgeWorkerArgs.zone_id"),
        ({"route_pattern": "https://geo.example.com/*"}, "EdgeWorkerArgs.route_pattern"),
        ({"route_pattern": "geo.example.com"}, "EdgeWorkerArgs.route_pattern"),
        ({"route_pattern": "geo.example.com/*/x"}, "EdgeWorkerArgs.route_pattern"),
        ({"route_pattern": "geo.example.com/?q=1"}, "EdgeWorkerArgs.route_pattern"),
        ({"route_pattern": None, "custom_domain": "*.example.com"}, "EdgeWorkerArgs.custom_domain"),
        ({"compatibility_date": "2026-02-30"}, "EdgeWorkerArgs.compatibility_date"),
        ({"compatibility_date": "2026/11/01"}, "EdgeWorkerArgs.compatibility_date"),
        ({"compatibility_date": "2999-01-01"}, "EdgeWorkerArgs.compatibility_date"),
        ({"compatibility_date": None}, "EdgeWorkerArgs.compatibility_date"),
        ({"compatibility_flags": "nodejs_compat"}, "EdgeWorkerArgs.compatibility_flags"),
        ({"compatibility_flags": ["Node Compat"]}, "EdgeWorkerArgs.compatibility_flags"),
        ({"plain_text_bindings": {"1X": "a"}}, "EdgeWorkerArgs.plain_text_bindings"),
        ({"plain_text_bindings": {"MY-VAR": "a"}}, "EdgeWorkerArgs.plain_text_bindings"),
        ({"plain_text_bindings": {"TTL": 30}}, "EdgeWorkerArgs.plain_text_bindings"),
        ({"plain_text_bindings": [("A", "b")]}, "EdgeWorkerArgs.plain_text_bindings"),
        ({"secret_bindings": {"MESSAGE": "x"}}, "EdgeWorkerArgs.secret_bindings"),
        ({"secret_bindings": {"TOKEN": None}}, "EdgeWorkerArgs.secret_bindings"),
        ({"observability_sampling_rate": 0}, "EdgeWorkerArgs.observability_sampling_rate"),
        ({"observability_sampling_rate": 1.5}, "EdgeWorkerArgs.observability_sampling_rate"),
        ({"observability_sampling_rate": True}, "EdgeWorkerArgs.observability_sampling_rate"),
        ({"artifact": None}, "EdgeWorkerArgs.function"),
        ({"function": "cache_wrapper"}, "EdgeWorkerArgs.artifact"),
    ],
)
def test_edge_worker_refuses_bad_arguments(geo_artifact, changes, where):
    expect_error(lambda: EdgeWorker("geo", edge_args(geo_artifact, **changes)), where)


def test_edge_worker_refuses_bundles_it_cannot_deploy(tmp_path, geo_artifact):
    lambda_zip = make_artifact(
        tmp_path / "l", "hello_geo", {"handler.py": ""}, "handler.py", kind="lambda-edge"
    )
    no_main = make_artifact(tmp_path / "m", "hello_geo", {"geo_reply.py": ""}, "geo_worker.py")
    moved = replace(geo_artifact, path=tmp_path / "gone.zip")
    tampered = replace(geo_artifact, sha256="0" * 64)
    long_version = make_artifact(
        tmp_path / "v", "hello_geo", GEO_MODULES, "geo_worker.py", version="1." + "9" * 100
    )
    problems = {
        lambda_zip: "lambda-edge bundle",
        no_main: "main module 'geo_worker.py' is not in the bundle",
        moved: "does not exist",
        tampered: "but the artifact records",
        long_version: "longer than 100 bytes",
    }
    for artifact, problem in problems.items():
        message = expect_error(
            lambda artifact=artifact: EdgeWorker("geo", edge_args(artifact)),
            "EdgeWorkerArgs.artifact",
        )
        assert problem in message


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"origin_url": "http://origin.example.com"}, "CachedWorkerArgs.origin_url"),
        ({"origin_url": "ftp://origin.example.com"}, "CachedWorkerArgs.origin_url"),
        ({"origin_url": "origin.example.com"}, "CachedWorkerArgs.origin_url"),
        ({"origin_url": "https://user:pw@origin.example.com"}, "CachedWorkerArgs.origin_url"),
        ({"origin_url": "https://origin.example.com/?v=1"}, "CachedWorkerArgs.origin_url"),
        ({"origin_url": "https://origin.example.com/#top"}, "CachedWorkerArgs.origin_url"),
        ({"origin_url": "https://origin.example.com:99999"}, "CachedWorkerArgs.origin_url"),
        ({"default_ttl": 700, "max_ttl": 600}, "CachedWorkerArgs.default_ttl"),
        ({"default_ttl": -1}, "CachedWorkerArgs.default_ttl"),
        ({"max_ttl": True}, "CachedWorkerArgs.max_ttl"),
        ({"stale_if_error": 40_000_000}, "CachedWorkerArgs.stale_if_error"),
        ({"origin_timeout_ms": 50}, "CachedWorkerArgs.origin_timeout_ms"),
        ({"origin_timeout_ms": 70_000}, "CachedWorkerArgs.origin_timeout_ms"),
        ({"cacheable_statuses": []}, "CachedWorkerArgs.cacheable_statuses"),
        ({"cacheable_statuses": [200, 206]}, "CachedWorkerArgs.cacheable_statuses"),
        ({"cacheable_statuses": [199]}, "CachedWorkerArgs.cacheable_statuses"),
        ({"cacheable_statuses": "200"}, "CachedWorkerArgs.cacheable_statuses"),
        ({"session_cookies": "session"}, "CachedWorkerArgs.session_cookies"),
        ({"session_cookies": ["a,b"]}, "CachedWorkerArgs.session_cookies"),
        ({"session_cookies": ["has space"]}, "CachedWorkerArgs.session_cookies"),
        ({"tracking_params": ["utm_*x"]}, "CachedWorkerArgs.tracking_params"),
        ({"tracking_params": ["a=b"]}, "CachedWorkerArgs.tracking_params"),
        ({"api_key_headers": "x-api-key"}, "CachedWorkerArgs.api_key_headers"),
        ({"api_key_headers": ["x key"]}, "CachedWorkerArgs.api_key_headers"),
        ({"forward_headers": ["Authorization"]}, "CachedWorkerArgs.forward_headers"),
        ({"forward_headers": ["Cookie"]}, "CachedWorkerArgs.forward_headers"),
        ({"forward_headers": ["X-Api-Key"]}, "CachedWorkerArgs.forward_headers"),
        ({"forward_headers": ["X-Secret-A"], "api_key_headers": ["x-secret-*"]},
         "CachedWorkerArgs.forward_headers"),
        ({"forward_headers": ["X-Req*"]}, "CachedWorkerArgs.forward_headers"),
        # The deployment fields are EdgeWorker's checks, reported under CachedWorkerArgs.
        ({"custom_domain": "api.example.com"}, "CachedWorkerArgs.custom_domain"),
        ({"compatibility_date": "2999-01-01"}, "CachedWorkerArgs.compatibility_date"),
        ({"secret_bindings": {"ORIGIN_URL": "x"}}, "CachedWorkerArgs.secret_bindings"),
        ({"script_name": "Edge Cache"}, "CachedWorkerArgs.script_name"),
    ],
)
def test_cached_worker_refuses_bad_arguments(cache_artifact, changes, where):
    expect_error(lambda: CachedWorker("api", cached_args(cache_artifact, **changes)), where)


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"zone_id": None, "route_pattern": None}, "CachedWorkerArgs.zone_id"),
        ({"name": "cdn.example.com"}, "CachedWorkerArgs.origin_dns.name"),
        ({"type": "MX"}, "CachedWorkerArgs.origin_dns.type"),
        ({"type": "A", "content": "not-an-ip"}, "CachedWorkerArgs.origin_dns.content"),
        ({"type": "A", "content": "2001:db8::10"}, "CachedWorkerArgs.origin_dns.content"),
        ({"type": "AAAA", "content": "203.0.113.10"}, "CachedWorkerArgs.origin_dns.content"),
        ({"type": "CNAME", "content": "origin.example.com"}, "CachedWorkerArgs.origin_dns.content"),
        ({"custom": "origin.example.com"}, "CachedWorkerArgs.origin_dns.name"),
    ],
)
def test_cached_worker_refuses_bad_origin_records(cache_artifact, changes, where):
    changes = dict(changes)
    deployment = {k: changes.pop(k) for k in ("zone_id", "route_pattern") if k in changes}
    if "custom" in changes:
        deployment.update(route_pattern=None, custom_domain=changes.pop("custom"))
    dns = OriginDnsRecord(
        **{"name": "origin.example.com", "content": "backend.example.net", **changes}
    )
    expect_error(
        lambda: CachedWorker("api", cached_args(cache_artifact, origin_dns=dns, **deployment)),
        where,
    )


def test_cached_worker_refuses_another_workers_bundle(geo_artifact):
    message = expect_error(
        lambda: CachedWorker("api", cached_args(geo_artifact)), "CachedWorkerArgs.artifact"
    )
    assert "not cache_wrapper" in message


def test_a_refused_argument_declares_nothing(cache_artifact, geo_artifact):
    """Both layers are checked before the first registration, so no half-built component."""
    refused: list[Exception] = []

    def program() -> None:
        for make in (
            lambda: CachedWorker("api", cached_args(cache_artifact, route_pattern="bad")),
            lambda: CachedWorker("api", cached_args(cache_artifact, max_ttl=1, default_ttl=2)),
            lambda: EdgeWorker("geo", edge_args(geo_artifact, compatibility_date="2999-01-01")),
        ):
            try:
                make()
            except WorkerArgsError as error:
                refused.append(error)

    assert record(program).resources == []
    assert len(refused) == 3


def test_compatibility_date_may_be_today_but_not_tomorrow():
    today = dt.date(2026, 11, 28)
    assert check_compatibility_date("EdgeWorkerArgs", "2026-11-28", today) == "2026-11-28"
    with pytest.raises(WorkerArgsError, match="in the future"):
        check_compatibility_date("EdgeWorkerArgs", "2026-11-29", today)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("api.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost.example.com", False),
        ("10.0.0.1", False),
        ("origin.example.com", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_origin_url_keeps_a_path_prefix_and_drops_the_trailing_slash():
    assert normalize_origin_url(" https://Origin.example.com/api/v1/ ") == (
        "https://Origin.example.com/api/v1"
    )
