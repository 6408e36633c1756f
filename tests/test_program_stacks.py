"""The real `__main__.py` under the mock runtime, once per stack file: what each environment
declares, how the components are wired to each other, and how bad config is refused."""

from __future__ import annotations

import json
import re

import pytest

from edgekit_iac.config import ConfigError, parse_settings
from edgekit_iac.program import ProgramGraph, run_program
from edgekit_iac.release import stack_files
from edgekit_iac.release.artifacts import PinMismatchError

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
FUNCTION = "aws:lambda/function:Function"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
REALTIME_LOGS = "aws:cloudfront/realtimeLogConfig:RealtimeLogConfig"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
SCRIPT = "cloudflare:index/workersScript:WorkersScript"
RULESET = "cloudflare:index/ruleset:Ruleset"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ALARM_ENDPOINT = "https://events.incidents.example/hooks/do-not-print-me"
# Prod as a team runs it once the secret is set and paging is turned on.
PAGING_PROD = {
    "edgekit:alarmEndpoint": {"secure": "v1:encrypted"},
    "edgekit:alarms": {"enabled": True, "originLatencyP95Ms": 80, "paging": True},
}


def _run(stack: str, **overrides) -> ProgramGraph:
    return run_program(stack, config_overrides=overrides or None)


@pytest.fixture(scope="module")
def graphs() -> dict[str, ProgramGraph]:
    return {
        "local": _run("local"),
        "staging": _run("staging"),
        "prod": _run("prod", **PAGING_PROD),
    }


@pytest.mark.parametrize("stack", ["local", "staging", "prod"])
def test_resizer_is_associated_by_its_published_version(graphs, stack):
    graph = graphs[stack]
    function = graph.named("images-fn")
    # The primary: the local stack's canary adds a staging copy (images-cdn-staging).
    behaviour = graph.named("images-cdn").inputs["defaultCacheBehavior"]
    associations = behaviour["lambdaFunctionAssociations"]
    assert [a["eventType"] for a in associations] == ["origin-request"]
    assert associations[0]["lambdaArn"] == function.outputs["qualifiedArn"]
    assert function.outputs["qualifiedArn"].endswith(":1")


@pytest.mark.parametrize("stack", ["local", "staging", "prod"])
def test_waf_and_realtime_logs_are_attached_to_the_distribution(graphs, stack):
    graph = graphs[stack]
    distribution = graph.named("images-cdn").inputs
    assert distribution["webAclId"] == graph.one(WEB_ACL).outputs["arn"]
    realtime = graph.one(REALTIME_LOGS).outputs["arn"]
    assert distribution["defaultCacheBehavior"]["realtimeLogConfigArn"] == realtime


def test_environments_differ_where_teams_make_them_differ(graphs):
    staging, prod = graphs["staging"], graphs["prod"]
    assert staging.one(DISTRIBUTION).inputs["priceClass"] == "PriceClass_100"
    assert prod.one(DISTRIBUTION).inputs["priceClass"] == "PriceClass_All"
    assert prod.one(DISTRIBUTION).inputs["aliases"] == ["img.example.com"]
    certificate = prod.one(DISTRIBUTION).inputs["viewerCertificate"]
    assert certificate["minimumProtocolVersion"] == "TLSv1.2_2021"

    def log_retention(graph: ProgramGraph) -> int:
        lifecycle = graph.named("edge-logs-bucket-lifecycle").inputs
        return lifecycle["rules"][0]["expiration"]["days"]

    assert (log_retention(staging), log_retention(prod)) == (7, 90)
    assert _rate_rule_limit(staging) == 500
    assert _rate_rule_limit(prod) == 2000
    assert graph_sampling(staging) == 100 and graph_sampling(prod) == 10


def _rate_rule_limit(graph: ProgramGraph) -> int:
    rules = graph.one(WEB_ACL).inputs["rules"]
    rate = [r for r in rules if "rateBasedStatement" in r["statement"]]
    return rate[0]["statement"]["rateBasedStatement"]["limit"]


def graph_sampling(graph: ProgramGraph) -> int:
    return graph.one(REALTIME_LOGS).inputs["samplingRate"]


def test_local_limits_are_low_enough_to_see_by_hand(graphs):
    assert _rate_rule_limit(graphs["local"]) == 100
    assert not graphs["local"].of_type(ALARM)


def test_alarms_page_only_in_prod_and_the_endpoint_stays_secret(graphs):
    assert graphs["staging"].of_type(ALARM)
    assert not graphs["staging"].of_type(SUBSCRIPTION)
    subscription = graphs["prod"].one(SUBSCRIPTION)
    assert subscription.inputs["protocol"] == "https"
    assert subscription.inputs["endpoint"] == {"secret": True}
    assert stack_files.OFFLINE_SECRET_PLACEHOLDER not in json.dumps(graphs["prod"].to_json())


def test_paging_without_an_endpoint_stops_the_program_before_any_resource():
    overrides = {"edgekit:alarms": PAGING_PROD["edgekit:alarms"]}
    with pytest.raises(ConfigError) as raised:
        run_program("prod", config_overrides=overrides)
    message = str(raised.value)
    assert "edgekit:alarms.paging" in message
    assert "pulumi config set --secret edgekit:alarmEndpoint" in message
    assert "--stack prod" in message


@pytest.mark.parametrize("stack", ["local", "staging", "prod"])
def test_workers_and_the_api_rate_limit_are_declared(graphs, stack):
    graph = graphs[stack]
    scripts = {s.inputs["mainModule"] for s in graph.of_type(SCRIPT)}
    assert scripts == {"cache_worker.py", "geo_worker.py", "counter_worker.py", "auth_worker.py"}
    ruleset = graph.one(RULESET).inputs
    assert ruleset["phase"] == "http_ratelimit"
    assert "cf.colo.id" in ruleset["rules"][0]["ratelimit"]["characteristics"]


@pytest.mark.parametrize("stack", ["local", "staging", "prod"])
def test_the_auth_worker_fronts_the_api_on_its_own_route(graphs, stack):
    auth = next(s for s in graphs[stack].of_type(SCRIPT)
                if s.inputs["mainModule"] == "auth_worker.py")
    bindings = {b["name"]: b["text"] for b in auth.inputs["bindings"]}
    cache = next(s for s in graphs[stack].of_type(SCRIPT)
                 if s.inputs["mainModule"] == "cache_worker.py")
    # The cache wrapper also binds the FLAGS KV namespace (no text): plain-text ones only.
    origin = {b["name"]: b["text"] for b in cache.inputs["bindings"]
              if b["type"] == "plain_text"}["ORIGIN_URL"]
    assert bindings["ORIGIN_URL"] == origin
    assert graphs[stack].exports["authWorkerRoutes"][0].endswith("/api/*")
    assert graphs[stack].exports["authWorkerRoutes"] != graphs[stack].exports["cacheWorkerRoutes"]


@pytest.mark.parametrize("stack", ["local", "staging", "prod"])
def test_the_counter_declares_its_durable_object_namespace_and_first_migration(graphs, stack):
    counter = next(s for s in graphs[stack].of_type(SCRIPT)
                   if s.inputs["mainModule"] == "counter_worker.py")
    assert {"name": "COUNTERS", "type": "durable_object_namespace",
            "className": "Counter"} in counter.inputs["bindings"]
    migrations = counter.inputs["migrations"]
    assert migrations["newTag"] == "v1" and "oldTag" not in migrations
    assert migrations["steps"] == [{"newSqliteClasses": ["Counter"]}]


@pytest.mark.parametrize("stack", ["local", "staging", "prod"])
def test_artifacts_output_names_what_was_deployed(graphs, stack):
    graph = graphs[stack]
    artifacts = graph.exports["artifacts"]
    searchable = {"realtime_log_json"} if stack != "local" else set()  # OpenSearch's transform
    assert set(artifacts) == {
        "image_resizer", "cache_wrapper", "hello_geo", "edge_counter", "edge_auth", *searchable
    }
    function = graph.named("images-fn")
    assert artifacts["image_resizer"]["sha256"][:12] in function.inputs["description"]


def test_an_unknown_key_names_the_stack_file_and_the_accepted_keys():
    with pytest.raises(ConfigError) as error:
        _run("staging", **{"edgekit:imagez": {"quality": 80}})
    message = str(error.value)
    assert "stacks/Pulumi.staging.yaml" in message
    assert "edgekit:imagez" in message and "did you mean edgekit:images" in message


def test_an_unknown_nested_key_lists_the_keys_of_its_own_section():
    # Sections are found by their camelCase name, as the stack file spells them.
    settings = {"environment": "prod", "rateLimits": {"waf": {"limt": 100}}}
    with pytest.raises(ConfigError) as error:
        parse_settings(settings, "stacks/Pulumi.prod.yaml")
    message = str(error.value)
    assert "edgekit:rateLimits.waf.limt: unknown key (did you mean limit?)" in message
    accepted = "defaultLimit, enabled, limit, managedRules, pathPrefix, tags, windowSeconds"
    assert f"accepted here: {accepted}" in message


def test_a_malformed_value_names_the_key_and_what_is_accepted():
    with pytest.raises(ConfigError) as error:
        _run("prod", **{"edgekit:images": {"priceClass": "PriceClass_50"}})
    message = str(error.value)
    assert "edgekit:images.priceClass" in message and "PriceClass_All" in message


def test_a_pin_no_artifact_matches_stops_the_program_before_any_resource(tmp_path):
    wrong = {"version": "9.9.9", "sha256": "0" * 64}
    with pytest.raises(PinMismatchError, match="image_resizer is pinned to 9.9.9"):
        _run("prod", **{"edgekit:artifacts": {"image_resizer": wrong}})


def test_a_promoted_zip_from_the_store_is_deployed_when_the_checkout_differs(tmp_path):
    import shutil
    import zipfile

    from edgekit_iac.bundle import build as bundle
    from edgekit_iac.config import ArtifactPin
    from edgekit_iac.release import artifacts

    built = bundle.build_function("hello_geo")
    promoted = tmp_path / "hello_geo-promoted.zip"
    with zipfile.ZipFile(promoted, "w") as archive:
        archive.writestr("geo_worker.py", "# the release staging ran\n")
        archive.writestr("geo_reply.py", "")
    pin = ArtifactPin(version="0.9.0", sha256=bundle.file_sha256(promoted))
    resolved = artifacts.resolve(["hello_geo"], {"hello_geo": pin}, store=tmp_path)
    assert resolved["hello_geo"].path == promoted
    assert (resolved["hello_geo"].sha256, resolved["hello_geo"].version) == (pin.sha256, "0.9.0")
    assert built.sha256 != pin.sha256

    renamed = tmp_path / "hello_geo-renamed.zip"
    shutil.copy(promoted, renamed)
    with zipfile.ZipFile(renamed, "w") as archive:
        archive.writestr("old_entry.py", "")
    pin = ArtifactPin(version="0.8.0", sha256=bundle.file_sha256(renamed))
    with pytest.raises(PinMismatchError, match="has no geo_worker.py"):
        artifacts.resolve(["hello_geo"], {"hello_geo": pin}, store=tmp_path)


# --- the dashboard: every metric it draws is one the graph's resources publish -------------

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


def dashboard_problems(graph: ProgramGraph, body: dict) -> list[str]:
    """Each metric reference in a CloudWatch dashboard body that no resource of `graph`
    publishes, each annotation no alarm of `graph` uses, each math id that is not there."""
    distributions = {r.id for r in graph.of_type(DISTRIBUTION)}
    functions = {f"us-east-1.{r.outputs['name']}" for r in graph.of_type(FUNCTION)}
    acls = {
        r.inputs["visibilityConfig"]["metricName"]: {"ALL"}
        | {rule["visibilityConfig"]["metricName"] for rule in r.inputs.get("rules", [])}
        for r in graph.of_type(WEB_ACL)
    }
    alarms = graph.of_type(ALARM)
    problems = []
    for widget in body["widgets"]:
        title = widget["properties"]["title"]
        ids, expressions = set(), []
        for line in widget["properties"]["metrics"]:
            if "expression" in line[0]:
                expressions.append(line[0]["expression"])
                continue
            namespace, name, *pairs, rendering = line
            dims = dict(zip(pairs[::2], pairs[1::2], strict=True))
            ids.add(rendering.get("id"))
            if namespace == "AWS/CloudFront":
                ok = dims == {"DistributionId": dims.get("DistributionId"), "Region": "Global"}
                ok = ok and dims["DistributionId"] in distributions
                ok = ok and rendering["region"] == "us-east-1"
            elif namespace == "AWS/Lambda":
                ok = list(dims) == ["FunctionName"] and dims["FunctionName"] in functions
            elif namespace == "AWS/WAFV2":
                ok = dims.get("Rule") in acls.get(dims.get("WebACL"), set())
                ok = ok and rendering["region"] == "us-east-1" and "Region" not in dims
            else:
                ok = False
            if not ok:
                problems.append(f"{title}: {namespace} {name} {dims} is published by nothing")
        for expression in expressions:
            for used in re.findall(r"\b(m\d+)\b", expression):
                if used not in ids:
                    problems.append(f"{title}: {expression} uses {used}, not in the widget")
        for line in widget["properties"].get("annotations", {}).get("horizontal", []):
            if not any(alarm.inputs.get("threshold") == line["value"] for alarm in alarms):
                problems.append(f"{title}: annotation {line} is no alarm's threshold")
    return problems


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_dashboard_draws_only_what_the_graph_publishes(graphs, stack):
    graph = graphs[stack]
    body = json.loads(graph.one(DASHBOARD).inputs["dashboardBody"])
    assert dashboard_problems(graph, body) == []
    titles = [widget["properties"]["title"] for widget in body["widgets"]]
    assert len(titles) == 9, titles  # distribution 4, resizer 4, WAF 1
    annotated = [w for w in body["widgets"] if w["properties"].get("annotations")]
    # 5xx rate, origin latency p95 and Lambda@Edge errors: every alarm has its line.
    assert len(annotated) == len(graph.of_type(ALARM)) == 3
    assert graph.exports["dashboardName"] == f"edge-dashboard-edgekit-{stack}"


def test_a_renamed_resource_leaves_the_dashboard_pointing_at_nothing(graphs):
    """The check above can fail: the body drawn for other names is caught, line by line."""
    graph = graphs["staging"]
    text = graph.one(DASHBOARD).inputs["dashboardBody"]
    acl = graph.one(WEB_ACL).inputs["visibilityConfig"]["metricName"]
    stale = json.loads(text.replace(acl, "images-waf-old").replace('"value": 10', '"value": 11'))
    problems = dashboard_problems(graph, stale)
    assert any("AWS/WAFV2" in p for p in problems)
    assert any("annotation" in p for p in problems)


def test_local_declares_no_dashboard(graphs):
    assert graphs["local"].of_type(DASHBOARD) == []


# --- the same panels as a Grafana dashboard ------------------------------------------------


def grafana_problems(document: dict) -> list[str]:
    """What Grafana's import needs of a dashboard JSON model, checked by hand, and every key
    of it kept when decoded by the models generated from Grafana's schema (the Grafana
    Foundation SDK): a key those models do not know, or one in the wrong place, is lost."""
    from grafana_foundation_sdk.cog import plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    from edgekit_iac.grafana import variables_used

    problems = []
    for key, kind in (("title", str), ("uid", str), ("panels", list), ("schemaVersion", int),
                      ("templating", dict), ("time", dict)):
        if not isinstance(document.get(key), kind):
            problems.append(f"{key}: missing or not a {kind.__name__}")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", str(document.get("uid"))):
        problems.append(f"uid {document.get('uid')!r}: Grafana takes 1-40 of A-Za-z0-9_-")
    variables = {v["name"]: v for v in document.get("templating", {}).get("list", [])}
    for name in sorted(variables_used(document) - set(variables)):
        problems.append(f"${name} is used but no template variable defines it")
    ids = [panel.get("id") for panel in document.get("panels", [])]
    if len(set(ids)) != len(ids):
        problems.append(f"panel ids repeat: {ids}")
    for panel in document.get("panels", []):
        grid = panel.get("gridPos", {})
        if not (set(grid) >= {"x", "y", "w", "h"} and grid["x"] + grid["w"] <= 24):
            problems.append(f"panel {panel.get('title')}: gridPos {grid} off the 24-column grid")
        refs = [target.get("refId") for target in panel.get("targets", [])]
        if not refs or len(set(refs)) != len(refs):
            problems.append(f"panel {panel.get('title')}: refIds {refs} missing or repeated")
        source = panel.get("datasource", {}).get("uid", "")
        if variables.get(source.strip("${}"), {}).get("type") != "datasource":
            problems.append(f"panel {panel.get('title')}: data source {source} is no variable")
    plugins.register_default_plugins()
    decoded = json.loads(json.dumps(Dashboard.from_json(document).to_json(), default=_to_json))

    def lost(ours, theirs, path):
        if isinstance(ours, dict):
            for key, value in ours.items():
                if not isinstance(theirs, dict) or key not in theirs:
                    problems.append(f"{path}.{key}: not in Grafana's dashboard model")
                else:
                    lost(value, theirs[key], f"{path}.{key}")
        elif isinstance(ours, list):
            for index, (a, b) in enumerate(zip(ours, theirs, strict=False)):
                lost(a, b, f"{path}[{index}]")

    lost(document, decoded, "")
    return problems


def _to_json(value):
    return value.to_json()


def test_the_grafana_dashboard_has_the_same_panels_and_imports(graphs, tmp_path):
    from edgekit_iac import cli, dashboard_cli

    graph = graphs["prod"]
    cloudwatch, _ = dashboard_cli.build(graph, "cloudwatch", {})
    assert cloudwatch == json.loads(graph.one(DASHBOARD).inputs["dashboardBody"])
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({
        "imagesDistributionId": "E1DEPLOYED0001",
        "imageResizerArn": "arn:aws:lambda:us-east-1:123456789012:function:images-fn-real:7",
    }))
    document, notes = dashboard_cli.build(graph, "grafana", json.loads(outputs.read_text()))
    assert notes == [] and grafana_problems(document) == []
    titles = [panel["title"] for panel in document["panels"]]
    assert titles[: len(cloudwatch["widgets"])] == [
        w["properties"]["title"] for w in cloudwatch["widgets"]
    ]
    assert any(title.startswith("Workers") for title in titles)
    variables = {v["name"]: v["query"] for v in document["templating"]["list"]}
    assert variables["cloudwatch"] == "cloudwatch"
    assert variables["distribution_id"] == "E1DEPLOYED0001"
    assert variables["resizer_function"] == "images-fn-real"
    assert '"edge-cache"' in variables["workers_scripts"]
    thresholds = [
        step["value"]
        for panel in document["panels"]
        for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]
    ]
    assert sorted(thresholds) == sorted(a.inputs["threshold"] for a in graph.of_type(ALARM))

    broken = json.loads(json.dumps(document))
    broken["panels"][0]["gridpos"] = broken["panels"][0].pop("gridPos")
    broken["panels"][1]["targets"][0]["metric"] = "Requests"
    broken["panels"][2]["datasource"]["uid"] = "${prometheus}"
    problems = grafana_problems(broken)
    assert any("gridpos: not in Grafana's" in p for p in problems)
    assert any("targets[0].metric: not in" in p for p in problems)
    assert any("$prometheus is used" in p for p in problems)

    written = tmp_path / "dashboard.json"
    assert cli.main(["dashboard", "--stack", "local", "-o", str(written)]) == 2


def test_flags_have_one_store_per_provider_seeded_without_reverting_cli_changes(graphs):
    graph = graphs["prod"]
    namespace = graph.one("cloudflare:index/workersKvNamespace:WorkersKvNamespace")
    assert namespace.inputs["title"] == "edgekit-flags-prod"
    pairs = graph.of_type("cloudflare:index/workersKv:WorkersKv")
    keys = graph.of_type("aws:cloudfront/keyvaluestoreKey:KeyvaluestoreKey")
    store = graph.one("aws:cloudfront/keyValueStore:KeyValueStore")
    expected = {"auto_format": "true", "cache_enabled": "true",
                "geo_message": '"Hello from the edge"'}
    assert {p.inputs["keyName"]: p.inputs["value"] for p in pairs} == expected
    assert {k.inputs["key"]: k.inputs["value"] for k in keys} == expected
    for resource in pairs + keys:
        assert resource.options["ignoreChanges"] == ["value"]
    assert {p.inputs["namespaceId"] for p in pairs} == {namespace.id}
    assert {k.inputs["keyValueStoreArn"] for k in keys} == {store.outputs["arn"]}
    # One KeyValueStore write after the other (each needs the store's current ETag).
    assert keys[1].urn and keys[0].urn in keys[1].dependencies
    for script in graph.of_type(SCRIPT):
        kv = [b for b in script.inputs["bindings"] if b["type"] == "kv_namespace"]
        wants = script.inputs["scriptName"] in ("edge-cache", "hello-geo")
        assert kv == ([{"name": "FLAGS", "namespaceId": namespace.id,
                        "type": "kv_namespace"}] if wants else [])
    assert graph.exports["flagsNamespaceId"] == namespace.id


def test_the_format_function_reads_auto_format_from_the_flag_store(graphs):
    """The image_format CloudFront Function is associated with the stack's KeyValueStore and
    carries the flag's declared default, within CloudFront's 10 KB code limit."""
    for stack in ("local", "staging", "prod"):
        graph = graphs[stack]
        store = graph.one("aws:cloudfront/keyValueStore:KeyValueStore")
        (function,) = [f for f in graph.of_type("aws:cloudfront/function:Function")
                       if "edgekit image_format" in f.inputs["code"]]
        assert function.inputs["keyValueStoreAssociations"] == [store.outputs["arn"]], stack
        assert function.inputs["runtime"] == "cloudfront-js-2.0"
        assert '"autoFormatFlagDefault": true' in function.inputs["code"]
        assert len(function.inputs["code"].encode()) <= 10 * 1024


def test_auto_format_flag_default_reaches_the_resizer_args_and_must_be_a_bool():
    from edgekit_iac.stack_args import resizer_args

    def settings(flags: dict):
        return parse_settings({"environment": "staging", "flags": flags}, "Pulumi.t.yaml")

    off = settings({"auto_format": {"type": "bool", "default": False}})
    assert resizer_args(off).auto_format_flag_default is False
    assert resizer_args(settings({})).auto_format_flag_default is True  # undeclared
    with pytest.raises(ConfigError, match=r"auto_format: type 'string'; accepted: bool"):
        settings({"auto_format": {"type": "string", "default": "on"}})


def test_a_flag_default_of_the_wrong_type_is_refused_before_anything_is_declared():
    with pytest.raises(ConfigError, match=r"edgekit:flags\.cache_enabled: .*bool flag; got 'no'"):
        _run("staging", **{"edgekit:flags": {"cache_enabled": {"type": "bool", "default": "no"}}})


CANARY_PROD = {
    "edgekit:images": {
        "priceClass": "PriceClass_All", "aliases": ["img.example.com"],
        "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/"
                          "66666666-7777-8888-9999-000000000000",
        "canary": {"weightPercent": 10, "stableVersion": "7"},
    },
}


def test_prod_with_a_canary_declares_staging_distribution_policy_and_worker_deployment():
    config = stack_files.read_config("prod")
    wrapper = dict(config["edgekit:cloudflare"]["cacheWrapper"],
                   canary={"stableVersionId": "0f2ac74b-498b-4802-8cb6-8387c421e279",
                           "percent": 10})
    cloudflare = dict(config["edgekit:cloudflare"], cacheWrapper=wrapper)
    # prod's signing keys stay: the signed private/ behaviour is part of what is canaried.
    images = {**CANARY_PROD["edgekit:images"],
              "signingPublicKeys": config["edgekit:images"]["signingPublicKeys"]}
    graph = _run("prod", **{"edgekit:images": images, "edgekit:cloudflare": cloudflare})
    primary, staging = (graph.named("images-cdn"), graph.named("images-cdn-staging"))
    policy = graph.one("aws:cloudfront/continuousDeploymentPolicy:ContinuousDeploymentPolicy")
    assert staging.inputs["staging"] is True and "aliases" not in staging.inputs
    assert primary.inputs["continuousDeploymentPolicyId"] == policy.id
    assert policy.inputs["stagingDistributionDnsNames"]["items"] == [
        staging.outputs["domainName"]]
    weight = policy.inputs["trafficConfig"]["singleWeightConfig"]
    assert weight == {"weight": 0.1, "sessionStickinessConfig": {"idleTtl": 300,
                                                                 "maximumTtl": 600}}
    function = graph.named("images-fn")  # prod has a second Lambda (the log transform)

    def lambda_arn(distribution):
        return distribution.inputs["defaultCacheBehavior"]["lambdaFunctionAssociations"][0][
            "lambdaArn"]

    def private_lambda_arn(distribution):
        (private,) = distribution.inputs["orderedCacheBehaviors"]
        return private["lambdaFunctionAssociations"][0]["lambdaArn"]

    assert lambda_arn(primary) == private_lambda_arn(primary) == function.outputs["arn"] + ":7"
    assert lambda_arn(staging) == private_lambda_arn(staging) == function.outputs["qualifiedArn"]
    policy_doc = json.loads(graph.named("images-originals-policy").inputs["policy"])
    (reads,) = [s for s in policy_doc["Statement"] if s["Sid"] == "CloudFrontReadsThroughOac"]
    assert reads["Condition"]["StringEquals"]["AWS:SourceArn"] == [
        primary.outputs["arn"], staging.outputs["arn"]]
    version = graph.one("cloudflare:index/workerVersion:WorkerVersion")
    deployment = graph.one("cloudflare:index/workersDeployment:WorkersDeployment")
    assert deployment.inputs["strategy"] == "percentage"
    assert deployment.inputs["versions"] == [
        {"versionId": "0f2ac74b-498b-4802-8cb6-8387c421e279", "percentage": 90},
        {"versionId": version.id, "percentage": 10}]
    script = graph.named("api-cache-worker-script")
    assert "content" in script.options["ignoreChanges"]
    assert {m["name"] for m in version.inputs["modules"]} >= {"cache_worker.py", "edge_flags.py"}


def test_a_canary_weight_over_cloudfronts_limit_is_refused():
    bad = {"edgekit:images": {**CANARY_PROD["edgekit:images"], "canary": {"weightPercent": 20}}}
    with pytest.raises(ConfigError, match=r"edgekit:images\.canary\.weightPercent: got 20"):
        _run("prod", **bad)


@pytest.mark.parametrize(("guard", "message"), [
    ({"minRequests": 0}, r"canary\.minRequests: got 0"),
    ({"maxErrorRate": 101}, r"canary\.maxErrorRate: got 101"),
])
def test_promote_guard_thresholds_out_of_range_are_refused(guard, message):
    bad = {"edgekit:images": {**CANARY_PROD["edgekit:images"],
                              "canary": {"weightPercent": 5, **guard}}}
    with pytest.raises(ConfigError, match=message):
        _run("prod", **bad)
