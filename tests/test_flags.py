"""Feature flags: typed values, the Workers' flag reader and its cache bound, and
`edgekit flags` against the local twin's files and against the clouds' clients.

The cloud clients never reach a cloud here: Workers KV goes through the real `cloudflare`
SDK onto an httpx MockTransport that answers as the REST API documents; the KeyValueStore
goes through a real boto3 `cloudfront-keyvaluestore` client with botocore's Stubber, which
validates every call's parameters against the service model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import boto3
import cloudflare
import httpx
import pytest
from botocore.stub import Stubber

from edgekit_iac import flag_types, flags_cli
from edgekit_iac.cli import main
from edgekit_iac.errors import UserError
from edgekit_iac.flag_types import FlagError, FlagSpec
from edgekit_iac.function_modules import load_function_module
from edgekit_iac.twin import flag_stores

REPO = Path(__file__).resolve().parents[1]
edge_flags = load_function_module(REPO / "functions" / "_shared", "edge_flags.py")
ACCOUNT = "0123456789abcdef0123456789abcdef"
NAMESPACE = "dbf7531f837af7862b7bbddb59612236"
KVS_ARN = "arn:aws:cloudfront::123456789012:key-value-store/748eff57-a559-fdb2-0c84-d184f8474dc7"
SPECS = {
    "cache_enabled": FlagSpec("cache_enabled", "bool", True),
    "geo_message": FlagSpec("geo_message", "string", "Hello"),
    "rollout": FlagSpec("rollout", "percentage", 0, "ip"),
    "limit": FlagSpec("limit", "number", 3),
}


# --- types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "text", "value"), [
    ("cache_enabled", "off", False), ("cache_enabled", "TRUE", True),
    ("limit", "2.5", 2.5), ("limit", "7", 7), ("rollout", "10", 10),
    ("geo_message", "Hei fra kanten", "Hei fra kanten"),
])
def test_values_typed_on_the_command_line_become_the_flags_type(name, text, value):
    parsed = flag_types.parse_text(SPECS[name], text)
    assert parsed == value and type(parsed) is type(value)
    assert flag_types.decode(SPECS[name], flag_types.stored(SPECS[name], parsed)) == value


@pytest.mark.parametrize(("name", "text", "accepted"), [
    ("cache_enabled", "maybe", "true or false"),
    ("limit", "lots", "a finite number"),
    ("limit", "nan", "a finite number"),
    ("rollout", "101", "from 0 to 100"),
    ("rollout", "-1", "from 0 to 100"),
    ("geo_message", "x" * 1100, "longer than 1024 bytes"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_what_is_accepted(name, text, accepted):
    with pytest.raises(FlagError, match=accepted):
        flag_types.parse_text(SPECS[name], text)


def test_a_percentage_flag_needs_a_sticky_attribute_and_only_it_may_have_one():
    with pytest.raises(FlagError, match="ip, header:<name> or cookie:<name>"):
        FlagSpec("rollout", "percentage", 5)
    with pytest.raises(FlagError, match="only for percentage"):
        FlagSpec("cache_enabled", "bool", True, "ip")
    with pytest.raises(FlagError, match="bool flag; got 'yes'"):
        FlagSpec("cache_enabled", "bool", "yes")


# --- the Workers' reader ---------------------------------------------------------------------


def run(coroutine):
    """Run on a private loop: asyncio.run would leave the main thread without a current
    loop, which the Pulumi mock runtime of later tests in this process needs."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


class FakeKv:
    def __init__(self, values):
        self.values = values
        self.reads = 0

    async def get(self, name):
        self.reads += 1
        return self.values.get(name)


class Env:
    def __init__(self, kv):
        self.FLAGS = kv


def test_a_flag_is_read_at_most_once_per_cache_bound_and_a_change_shows_after_it():
    now = [100.0]
    reader = edge_flags.FlagReader(clock=lambda: now[0])
    kv = FakeKv({"cache_enabled": "true"})
    get = lambda: run(reader.get(Env(kv), "cache_enabled", True))  # noqa: E731
    assert get() is True and kv.reads == 1
    kv.values["cache_enabled"] = "false"
    now[0] += edge_flags.CACHE_SECONDS - 0.01
    assert get() is True and kv.reads == 1  # still within the bound: the cached value
    now[0] += 0.01
    assert get() is False and kv.reads == 2  # the bound passed: read again
    assert edge_flags.CACHE_SECONDS == 5.0


def test_the_workers_default_applies_without_binding_key_or_usable_value():
    reader = edge_flags.FlagReader(clock=lambda: 0.0)
    assert run(reader.get(object(), "cache_enabled", True)) is True
    kv = FakeKv({"cache_enabled": '"no"', "limit": "true", "geo_message": "{bad json"})
    assert run(reader.get(Env(kv), "cache_enabled", True)) is True
    assert run(reader.get(Env(kv), "limit", 3)) == 3
    assert run(reader.get(Env(kv), "geo_message", "Hi")) == "Hi"
    assert run(reader.get(Env(kv), "missing", "Hi")) == "Hi"


def test_kv_failing_keeps_the_last_value_read():
    now = [0.0]
    reader = edge_flags.FlagReader(clock=lambda: now[0])

    class Failing(FakeKv):
        async def get(self, name):
            if self.reads:
                raise RuntimeError("KV unavailable")
            return await super().get(name)

    kv = Failing({"cache_enabled": "false"})
    assert run(reader.get(Env(kv), "cache_enabled", True)) is False
    now[0] = 60
    assert run(reader.get(Env(kv), "cache_enabled", True)) is False


def test_a_rollout_is_sticky_and_grows_only_by_adding_visitors():
    visitors = [f"198.51.100.{n}" for n in range(256)] + [f"2001:db8::{n:x}" for n in range(744)]
    at10 = {v for v in visitors if edge_flags.in_rollout("rollout", v, 10)}
    at30 = {v for v in visitors if edge_flags.in_rollout("rollout", v, 30)}
    assert at10 <= at30
    assert 50 <= len(at10) <= 150 and 220 <= len(at30) <= 380  # ~10 % and ~30 % of 1000
    assert at10 == {v for v in visitors if edge_flags.in_rollout("rollout", v, 10)}
    assert not edge_flags.in_rollout("rollout", visitors[0], 0)
    assert edge_flags.in_rollout("rollout", visitors[0], 100)
    # Another flag's rollout picks other visitors.
    assert at10 != {v for v in visitors if edge_flags.in_rollout("other", v, 10)}


def test_a_percentage_flag_is_stored_with_its_sticky_attribute_and_read_by_it():
    text = flag_types.stored(SPECS["rollout"], 30)
    assert json.loads(text) == {"percent": 30, "stickyBy": "ip"}
    reader = edge_flags.FlagReader(clock=lambda: 0.0)
    env = Env(FakeKv({"rollout": text, "by_cookie": json.dumps(
        {"percent": 30, "stickyBy": "cookie:uid"})}))
    inside = {ip for ip in (f"203.0.113.{n}" for n in range(200))
              if run(reader.rollout(env, "rollout", {"cf-connecting-ip": ip}))}
    assert inside == {ip for ip in (f"203.0.113.{n}" for n in range(200))
                      if edge_flags.in_rollout("rollout", ip, 30)}
    assert 30 <= len(inside) <= 90
    cookie = {"cookie": "theme=dark; uid=u-42"}
    assert run(reader.rollout(env, "by_cookie", cookie)) == edge_flags.in_rollout(
        "by_cookie", "u-42", 30)
    assert run(reader.rollout(env, "missing", cookie)) is False


# --- the CLI on the local twin's files -------------------------------------------------------


def _recorded(type_token: str, name: str, inputs: dict, outputs=None, id=None) -> dict:
    return {"urn": f"urn:{name}", "type": type_token, "name": name, "parent": None,
            "custom": True, "id": id, "inputs": inputs, "outputs": outputs or inputs}


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A twin state directory whose graph.json declares the local stack's flag stores, as
    `edgekit up` writes it (so the CLI does not run the program)."""
    store = {"name": "edgekit-flags-local", "arn": KVS_ARN}
    defaults = {"auto_format": "true", "cache_enabled": "true",
                "geo_message": '"Hello from the edge"'}
    resources = [_recorded(flag_stores.KV_NAMESPACE, "flags-kv", {"title": "t"}, id=NAMESPACE),
                 _recorded(flag_stores.KEY_VALUE_STORE, "flags-kvs", store, id=store["name"])]
    for key, value in defaults.items():
        resources.append(_recorded(flag_stores.KV_PAIR, f"flags-kv-{key}", {
            "namespaceId": NAMESPACE, "keyName": key, "value": value}))
        resources.append(_recorded(flag_stores.KVS_KEY, f"flags-kvs-{key}", {
            "keyValueStoreArn": KVS_ARN, "key": key, "value": value}))
    graph = {"stack": "local", "resources": resources, "exports": {}}
    (tmp_path / "graph.json").write_text(json.dumps(graph))
    return tmp_path


def test_flags_cli_sets_and_unsets_in_both_local_stores_and_records_history(state_dir, capsys):
    tmp_path = state_dir
    base = ["--stack", "local", "--state-dir", str(tmp_path), "--who", "tester"]
    assert main(["flags", "set", "cache_enabled", "off", *base, "--reason", "incident"]) == 0
    printed = capsys.readouterr().out
    assert "cache_enabled: true -> false" in printed
    kv_files = list((tmp_path / "kv").glob("*.json"))
    assert len(kv_files) == 1
    assert flag_stores.read_kv(kv_files[0])["cache_enabled"] == "false"
    etag, items = flag_stores.read_kvs(tmp_path / "kvs" / "edgekit-flags-local.json")
    assert items == {"auto_format": "true", "cache_enabled": "false",
                     "geo_message": '"Hello from the edge"'}
    assert main(["flags", "unset", "cache_enabled", *base]) == 0
    assert "cache_enabled: false -> true" in capsys.readouterr().out
    assert main(["flags", "get", "cache_enabled", *base]) == 0
    assert capsys.readouterr().out.strip() == "cache_enabled: true"
    history = json.loads((tmp_path / "local-flags.json").read_text())
    assert [(h["action"], h["old"], h["new"], h["who"]) for h in history] == [
        ("set", "true", "false", "tester"), ("unset", "false", "true", "tester")]
    assert history[0]["reason"] == "incident"
    assert flag_stores.read_kvs(tmp_path / "kvs" / "edgekit-flags-local.json")[0] != etag


def test_options_may_come_before_the_flag_and_value_as_the_issue_writes_it(state_dir, capsys):
    base = ["--stack", "local", "--state-dir", str(state_dir), "--who", "tester"]
    assert main(["flags", "set", *base, "cache_enabled", "false"]) == 0
    assert "cache_enabled: true -> false" in capsys.readouterr().out
    assert main(["flags", "unset", *base, "cache_enabled"]) == 0
    assert "cache_enabled: false -> true" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["set", "nope", "1"], "unknown flag 'nope'; this stack declares: auto_format, "
                           "cache_enabled, geo_message"),
    (["set", "cache_enabled", "maybe"], "cache_enabled is a bool flag; got 'maybe'"),
    (["set", "cache_enabled"], "give a value; accepted: true or false"),
    (["get"], "name the flag"),
    (["get", "cache_enabled", "false"], "takes no value"),
])
def test_flags_cli_refusals_are_one_line_and_status_2(state_dir, capsys, argv, message):
    base = ["--stack", "local", "--state-dir", str(state_dir)]
    assert main(["flags", *argv, *base]) == 2
    assert message in capsys.readouterr().err


def test_a_stack_without_flags_is_refused(monkeypatch, tmp_path):
    from edgekit_iac.release import stack_files

    config = {"edgekit:environment": "staging"}
    monkeypatch.setattr(stack_files, "read_config", lambda stack: config)
    with pytest.raises(UserError, match="declares no flags; declare them under edgekit:flags"):
        flags_cli.declared_flags("staging")


def test_seeding_writes_only_absent_keys(tmp_path):
    path = flag_stores.kv_file(tmp_path, NAMESPACE)
    flag_stores.write_kv(path, "cache_enabled", "false")

    class Graph:
        def of_type(self, token):
            pairs = [{"namespaceId": NAMESPACE, "keyName": k, "value": v}
                     for k, v in (("cache_enabled", "true"), ("auto_format", "true"))]
            return [argparse.Namespace(inputs=p) for p in pairs] if token == \
                flag_stores.KV_PAIR else []

    assert flag_stores.seed(Graph(), tmp_path) == [f"kv:{NAMESPACE}/auto_format"]
    assert flag_stores.read_kv(path) == {"cache_enabled": "false", "auto_format": "true"}


def test_a_stale_etag_is_refused_by_the_twins_key_value_store(tmp_path):
    path = flag_stores.kvs_file(tmp_path, "store")
    etag = flag_stores.write_kvs(path, "a", "1", "E0")
    with pytest.raises(flag_stores.EtagMismatch, match="stale"):
        flag_stores.write_kvs(path, "a", "2", "E0")
    flag_stores.write_kvs(path, "a", "2", etag)
    assert flag_stores.read_kvs(path)[1] == {"a": "2"}


# --- the CLI's cloud stores (SDK and boto3, no network) ---------------------------------------


class KvApi:
    """Workers KV's REST API as documented: GET returns the raw value or 404, PUT stores."""

    def __init__(self):
        self.values = {"cache_enabled": "true"}
        self.requests = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        prefix = f"/client/v4/accounts/{ACCOUNT}/storage/kv/namespaces/{NAMESPACE}/values/"
        assert request.url.path.startswith(prefix)
        assert request.headers["authorization"] == "Bearer test-token"
        key = request.url.path[len(prefix):]
        if request.method == "GET":
            if key not in self.values:
                return httpx.Response(404, json={"success": False, "errors": [
                    {"code": 10009, "message": "get: 'key not found'"}], "messages": []})
            return httpx.Response(200, content=self.values[key].encode())
        if request.method == "PUT":
            body = request.read().decode()
            assert "multipart/form-data" in request.headers["content-type"]
            self.values[key] = body.split("\r\n\r\n", 1)[1].split("\r\n--", 1)[0]
            return httpx.Response(200, json={"success": True, "errors": [], "messages": [],
                                             "result": {}})
        return httpx.Response(405)


def _cloud_flags(api: KvApi, kvs_client, tmp_path: Path) -> flags_cli.StackFlags:
    client = cloudflare.Cloudflare(api_token="test-token", max_retries=0,
                                   http_client=httpx.Client(transport=httpx.MockTransport(api)))
    stores = [flags_cli.CloudflareKv(client, ACCOUNT, NAMESPACE),
              flags_cli.CloudFrontKvs(kvs_client, KVS_ARN)]
    return flags_cli.StackFlags("prod", SPECS, stores, tmp_path / "prod-flags.json")


def _kvs_client():
    return boto3.client("cloudfront-keyvaluestore", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_set_writes_workers_kv_through_the_sdk_and_the_kvs_with_its_etag(tmp_path):
    api, kvs = KvApi(), _kvs_client()
    lines = []
    with Stubber(kvs) as stub:
        stub.add_response("get_key", {"Key": "cache_enabled", "Value": "true",
                                      "ItemCount": 3, "TotalSizeInBytes": 40},
                          {"KvsARN": KVS_ARN, "Key": "cache_enabled"})
        stub.add_response("describe_key_value_store", {
            "ItemCount": 3, "TotalSizeInBytes": 40, "KvsARN": KVS_ARN,
            "Created": "2026-12-01T00:00:00Z", "ETag": "ETAG1"}, {"KvsARN": KVS_ARN})
        # A concurrent writer: the first PutKey conflicts, the retry reads the ETag again.
        stub.add_client_error("put_key", "ConflictException", http_status_code=409,
                              expected_params={"KvsARN": KVS_ARN, "Key": "cache_enabled",
                                               "Value": "false", "IfMatch": "ETAG1"})
        stub.add_response("describe_key_value_store", {
            "ItemCount": 3, "TotalSizeInBytes": 40, "KvsARN": KVS_ARN,
            "Created": "2026-12-01T00:00:00Z", "ETag": "ETAG2"}, {"KvsARN": KVS_ARN})
        stub.add_response("put_key", {"ItemCount": 3, "TotalSizeInBytes": 41, "ETag": "ETAG3"},
                          {"KvsARN": KVS_ARN, "Key": "cache_enabled", "Value": "false",
                           "IfMatch": "ETAG2"})
        stub.add_response("get_key", {"Key": "cache_enabled", "Value": "false",
                                      "ItemCount": 3, "TotalSizeInBytes": 41},
                          {"KvsARN": KVS_ARN, "Key": "cache_enabled"})
        args = argparse.Namespace(action="set", name="cache_enabled", value="false",
                                  who="ci", reason=None)
        assert flags_cli.run_action(args, _cloud_flags(api, kvs, tmp_path), lines.append) == 0
        stub.assert_no_pending_responses()
    assert api.values["cache_enabled"] == "false"
    assert lines[0].startswith("cache_enabled: true -> false  (workers-kv, cloudfront-kvs;")
    history = json.loads((tmp_path / "prod-flags.json").read_text())
    assert history[0]["stores"] == ["workers-kv", "cloudfront-kvs"] and history[0]["who"] == "ci"


def test_a_flag_absent_from_a_store_shows_as_absent(tmp_path):
    api, kvs = KvApi(), _kvs_client()
    api.values.clear()
    lines = []
    with Stubber(kvs) as stub:
        stub.add_client_error("get_key", "ResourceNotFoundException", http_status_code=404)
        args = argparse.Namespace(action="get", name="cache_enabled", value=None)
        flags_cli.run_action(args, _cloud_flags(api, kvs, tmp_path), lines.append)
    assert lines == ["cache_enabled: (absent)"]


def test_cloud_stacks_need_the_deployed_stores_outputs(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"imagesDomain": "d111.cloudfront.net"}))
    args = argparse.Namespace(stack="prod", outputs=str(outputs))
    specs, settings = flags_cli.declared_flags("prod")
    unused = (lambda: None, lambda: None)
    with pytest.raises(UserError, match="no flagsNamespaceId; deploy the flags first"):
        flags_cli._cloud_stack(args, specs, settings, lambda: unused)


def test_the_cloudflare_client_needs_a_token(monkeypatch):
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(UserError, match="CLOUDFLARE_API_TOKEN is not set"):
        flags_cli.default_clients()[0]()
