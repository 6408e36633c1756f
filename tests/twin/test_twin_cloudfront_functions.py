"""CloudFront Functions in the twin: the real image_format code runs in Node before the cache.

A small program (the rendered function, a cache policy keyed on the contract's query
parameters, a distribution) in front of a loopback origin that answers like the resizer
does for format=auto (Content-Type from ?accept=, Vary: Accept) and counts what reaches it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pulumi_aws as aws
import pytest
from edgekit_iac.functions.image_format import render as image_format
from edgekit_iac.functions.image_resizer import contract

from edgekit_iac.twin import flag_stores
from edgekit_iac.twin.aws import cloudfront_functions as cf
from edgekit_iac.twin.supervisor import TwinOptions, start_twin

from .client import request

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
SAFARI_17 = ("image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,"
             "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5")
SAFARI_14 = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
FIREFOX = "image/avif,image/webp,*/*"
CURL = "*/*"
TYPES = {"avif": "image/avif", "webp": "image/webp", "original": "image/jpeg"}


class _Origin(BaseHTTPRequestHandler):
    seen: Counter = Counter()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        _, _, query = self.path.partition("?")
        self.seen[self.path] += 1
        params = dict(item.partition("=")[::2] for item in query.split("&") if item)
        body = query.encode()
        self.send_response(200)
        self.send_header("Content-Type", TYPES.get(params.get("accept", ""), "image/png"))
        self.send_header("Vary", "Accept")
        self.send_header("Cache-Control", "public, max-age=3600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def program(origin_port: int, code: str):
    def declare() -> None:
        function = aws.cloudfront.Function("fmt", runtime=image_format.RUNTIME, code=code,
                                           publish=True)
        policy = aws.cloudfront.CachePolicy(
            "img-cache", min_ttl=0, default_ttl=60, max_ttl=3600,
            parameters_in_cache_key_and_forwarded_to_origin={
                "cookies_config": {"cookie_behavior": "none"},
                "headers_config": {"header_behavior": "none"},
                "query_strings_config": {"query_string_behavior": "whitelist",
                                         "query_strings": {"items": list(
                                             contract.QUERY_PARAMETERS)}}})
        aws.cloudfront.Distribution(
            "img-cdn", enabled=True,
            origins=[{"origin_id": "o", "domain_name": "127.0.0.1",
                      "custom_origin_config": {"http_port": origin_port, "https_port": 443,
                                               "origin_protocol_policy": "http-only",
                                               "origin_ssl_protocols": ["TLSv1.2"]}}],
            default_cache_behavior={
                "target_origin_id": "o", "viewer_protocol_policy": "allow-all",
                "allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": policy.id,
                "function_associations": [{"event_type": "viewer-request",
                                           "function_arn": function.arn}]},
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={"cloudfront_default_certificate": True})
    return declare


@pytest.fixture(scope="module")
def cdn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    twin = start_twin(TwinOptions(stack="fmt", state_dir=tmp_path_factory.mktemp("fmt"),
                                  port_base=0, bundle_first=False,
                                  program=program(server.server_port, image_format.render()),
                                  config={"aws:region": "us-east-1"}),
                      say=lambda _line: None)
    try:
        yield twin.endpoints["img-cdn"]
    finally:
        twin.stop()
        server.shutdown()


def test_browsers_share_at_most_three_cache_entries_with_the_right_type(cdn):
    _Origin.seen.clear()
    url = f"{cdn}/images/400x300/cat.jpg"
    replies = {}
    for name, accept in [("chrome", CHROME), ("safari17", SAFARI_17), ("safari14", SAFARI_14),
                         ("firefox", FIREFOX), ("curl", CURL), ("chrome2", CHROME),
                         ("curl2", CURL)]:
        replies[name] = request(url, headers={"Accept": accept})
    replies["none"] = request(url)
    assert {name: r.header("content-type") for name, r in replies.items()} == {
        "chrome": "image/avif", "safari17": "image/avif", "safari14": "image/webp",
        "firefox": "image/avif", "curl": "image/jpeg", "chrome2": "image/avif",
        "curl2": "image/jpeg", "none": "image/jpeg"}
    assert all(r.header("vary") == "Accept" for r in replies.values())
    # Three variants reached the origin, once each; everything else was a hit.
    assert sorted(_Origin.seen.values()) == [1, 1, 1]
    assert sorted(_Origin.seen) == sorted(
        f"/images/400x300/cat.jpg?format=auto&accept={v}" for v in ("avif", "webp", "original"))
    assert [replies[n].header("x-cache") for n in ("safari14", "chrome2", "curl2", "none")] == [
        "Miss from cloudfront", "Hit from cloudfront", "Hit from cloudfront",
        "Hit from cloudfront"]


def test_only_allow_listed_parameters_reach_the_key_and_the_origin(cdn):
    _Origin.seen.clear()
    base = f"{cdn}/images/150x150/dog.jpg"
    first = request(f"{base}?format=png&utm_source=mail&accept=avif", headers={"Accept": CHROME})
    again = request(f"{base}?format=png&dpr=1&utm_source=web", headers={"Accept": CURL})
    assert first.header("content-type") == "image/png"  # explicit format, accept dropped
    assert again.header("x-cache") == "Hit from cloudfront"  # dpr=1 and utm_* do not split
    assert list(_Origin.seen) == ["/images/150x150/dog.jpg?format=png"]


def test_a_client_cannot_pick_the_negotiated_value(cdn):
    forged = request(f"{cdn}/images/150x150/forged.jpg?accept=avif", headers={"Accept": CURL})
    assert forged.header("content-type") == "image/jpeg"
    assert forged.body == b"format=auto&accept=original"


# --- the pieces, without HTTP ----------------------------------------------------------------


def test_the_event_has_cloudfronts_documented_shape():
    event = cf.viewer_request_event(
        domain="d1.cloudfront.net", distribution_id="E1", request_id="r1", client_ip="192.0.2.1",
        method="GET", uri="/images/1x1/a.jpg", query="a=1&a=2&b=",
        headers=[("Accept", "image/webp"), ("Cookie", "s=1; t=2"), ("X-Two", "1"),
                 ("x-two", "2")])
    assert event["version"] == "1.0"
    assert event["context"]["eventType"] == "viewer-request"
    assert event["viewer"] == {"ip": "192.0.2.1"}
    request_ = event["request"]
    assert request_["querystring"] == {
        "a": {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]}, "b": {"value": ""}}
    assert request_["headers"] == {
        "accept": {"value": "image/webp"},
        "x-two": {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]}}
    assert request_["cookies"] == {"s": {"value": "1"}, "t": {"value": "2"}}


@pytest.mark.parametrize(("result", "message"), [
    ({"uri": "relative"}, "does not start with /"),
    ({"uri": "/x", "querystring": {"a": "1"}}, "must be an object with a value"),
    ({"statusCode": 999}, "no HTTP status"),
    ({"uri": "/x", "headers": {"h": {"value": None}}}, "not a string"),
])
def test_results_that_are_no_request_or_response_are_validation_errors(result, message):
    with pytest.raises(cf.FunctionValidationError, match=message):
        cf.result_of(result)


def test_a_generated_response_and_a_throwing_or_endless_function():
    host = cf.CloudFrontFunctionHost()
    try:
        event = cf.viewer_request_event(domain="d", distribution_id="E", request_id="r",
                                        client_ip="192.0.2.1", method="GET", uri="/",
                                        query="", headers=[])
        generated = host.run('function handler(e) { return {statusCode: 302, '
                             'headers: {location: {value: "/x"}}}; }', event)
        assert generated == cf.GeneratedResponse(302, [("location", "/x")], b"")
        with pytest.raises(cf.FunctionExecutionError, match="boom"):
            host.run('function handler(e) { throw new Error("boom"); }', event)
        with pytest.raises(cf.FunctionExecutionError, match="timed out"):
            host.run("function handler(e) { for (;;) {} }", event)
        with pytest.raises(cf.FunctionValidationError, match="not a request or response"):
            host.run("function handler(e) { return 7; }", event)
        # The runtime keeps serving after all of that.
        assert host.run(image_format.render(), event).query == "format=auto&accept=original"
    finally:
        host.close()


KVS_PROBE = """import cf from 'cloudfront';
const store = cf.kvs();
async function handler(event) {
  const seen = [];
  try { await store.get("nope"); } catch (e) {
    seen.push("get(missing) rejects: " + (e instanceof Error));
  }
  seen.push("exists: " + (await store.exists("auto_format")) + " " + (await store.exists("nope")));
  seen.push("string: " + (await store.get("auto_format")));
  seen.push("json: " + typeof (await store.get("auto_format", {format: "json"})));
  seen.push("bytes: " + (await store.get("auto_format", {format: "bytes"})).length);
  seen.push("keyCount: " + (await store.meta()).keyCount);
  try { cf.kvs("another-store"); } catch (e) { seen.push("kvs(other id) throws"); }
  seen.push("kvs(own id): " + (cf.kvs("4f1c") === store));
  return {statusCode: 200, body: seen.join("; ")};
}"""


def test_the_runtime_models_the_associated_key_value_store(tmp_path):
    """cf.kvs() as AWS documents it, backed by the twin's store file and re-read on every
    call: a write (what `edgekit flags set --stack local` does) is seen by the next run."""
    host = cf.CloudFrontFunctionHost(state_root=tmp_path)
    store = cf.AssociatedStore("4f1c", "edgekit-flags-t")
    path = flag_stores.kvs_file(tmp_path, store.name)
    event = cf.viewer_request_event(domain="d", distribution_id="E", request_id="r",
                                    client_ip="192.0.2.1", method="GET", uri="/i.jpg",
                                    query="format=auto", headers=[("accept", CHROME)])
    code = image_format.render()
    try:
        assert host.run(code, event, store).query == "format=auto&accept=avif"  # no key yet
        etag = flag_stores.write_kvs(path, "auto_format", "false", "E0")
        assert host.run(code, event, store).query == "format=auto&accept=original"
        flag_stores.write_kvs(path, "auto_format", "true", etag)
        assert host.run(code, event, store).query == "format=auto&accept=avif"
        assert host.run(KVS_PROBE, event, store).body.decode() == (
            "get(missing) rejects: true; exists: true false; string: true; json: boolean; "
            "bytes: 4; keyCount: 1; kvs(other id) throws; kvs(own id): true")
        # No store associated: cf.kvs() throws at load, a 503 for a function that needs it.
        with pytest.raises(cf.FunctionExecutionError, match="No KeyValueStore is associated"):
            host.run(KVS_PROBE, event)
        with pytest.raises(cf.FunctionExecutionError, match="'cloudfront' module only"):
            host.run("import crypto from 'crypto';\nfunction handler(e) { return e.request; }",
                     event)
    finally:
        host.close()
