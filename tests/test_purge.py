"""`edgekit purge`: the plan (pure), and the real-cloud calls checked against botocore's
service models (Stubber validates every request's parameters) and a loopback stand-in for
Cloudflare's purge_cache API. The twin run is in tests/twin/test_twin_purge.py."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.stub import ANY, Stubber
from edgekit_iac.functions.image_resizer import contract

from edgekit_iac import purge
from edgekit_iac.errors import UserError

SIZES = ("150x150", "400x300", "800x600")


@pytest.mark.parametrize(("key", "problem"), [
    ("/photos/cat.jpg", "starts with /"),
    ("resized/cat.jpg/400x300/original", "is a stored variant"),
    ("photos/*.jpg", "wildcard"),
    ("photos/\ncat.jpg", "control characters"),
    (" cat.jpg", "surrounding spaces"),
])
def test_keys_that_name_no_original_are_refused(key, problem):
    with pytest.raises(UserError, match=rf"key .* {problem}.*accepted: keys of originals"):
        purge.check_keys([key])


def test_duplicate_keys_count_once():
    assert purge.check_keys(["a.jpg", "b.jpg", "a.jpg"]) == ["a.jpg", "b.jpg"]


def test_one_wildcard_path_per_size_and_key_covers_every_query_variant():
    invalidation = purge.invalidation_paths(["photos/cat.jpg", "my dog.png"], SIZES)
    assert invalidation.note is None
    assert invalidation.paths == (
        "/images/150x150/photos/cat.jpg*", "/images/400x300/photos/cat.jpg*",
        "/images/800x600/photos/cat.jpg*", "/images/150x150/my%20dog.png*",
        "/images/400x300/my%20dog.png*", "/images/800x600/my%20dog.png*")
    # The wildcard is only ever the last character (CloudFront's rule).
    assert all("*" not in path[:-1] for path in invalidation.paths)


def test_past_15_wildcard_paths_the_paths_widen_and_say_so():
    keys = [f"photos/2024/{n}.jpg" for n in range(6)]
    invalidation = purge.invalidation_paths(keys, SIZES)  # 18 paths would be needed
    assert invalidation.paths == tuple(f"/images/{size}/photos/2024/*" for size in SIZES)
    assert "18 paths" in invalidation.note and "'photos/2024/'" in invalidation.note
    sizes = [f"{n}x{n}" for n in range(1, 17)]
    widest = purge.invalidation_paths(["a.jpg"], sizes)
    assert widest.paths == ("/images/*",) and "16 sizes" in widest.note


def test_cloudflare_prefixes_are_host_and_path_without_scheme():
    assert purge.cloudflare_prefixes(["a b.jpg"], ["150x150"], ["img.example.com"]) == [
        "img.example.com/images/150x150/a%20b.jpg"]


def test_the_cache_wrappers_hosts_are_its_domains_and_its_routes_hosts():
    assert purge.cache_wrapper_hosts({
        "cacheWorkerHostnames": ["api.example.com"],
        "cacheWorkerRoutes": ["api.example.com/*", "img.example.com/images/*", "*.example.com/*"],
    }) == ["api.example.com", "img.example.com"]


def test_an_invalidation_batch_has_at_least_one_and_at_most_3000_paths():
    with pytest.raises(UserError, match="1..3000"):
        purge.invalidation_batch([])
    with pytest.raises(UserError, match="1..3000"):
        purge.invalidation_batch(["/x"] * 3001)


# --- the real clouds, checked against botocore's models and a Cloudflare stand-in -----------


class _Cloudflare(BaseHTTPRequestHandler):
    calls: list = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append((self.path, self.headers["Authorization"], body))
        reply = json.dumps({"success": True, "errors": [], "messages": [],
                            "result": {"id": f"purge-{len(self.calls)}"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def cloudflare():
    _Cloudflare.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Cloudflare)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/client/v4"
    server.shutdown()


def _clients():
    kwargs = {"aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return (boto3.client("s3", region_name="eu-west-1", **kwargs),
            boto3.client("cloudfront", region_name="us-east-1", **kwargs))


def test_a_purge_deletes_listed_variants_then_invalidates_once_then_purges(cloudflare):
    s3, cloudfront = _clients()
    bucket, key = "originals-abc", "photos/cat.jpg"
    prefix = contract.variant_prefix(key)
    stored = [f"{prefix}400x300/original", f"{prefix}400x300/webp.dpr2",
              f"{prefix}150x150/avif"]
    hosts = [f"h{n}.example.com" for n in range(11)]  # 11 hosts x 3 sizes = 33 prefixes
    with Stubber(s3) as s3_stub, Stubber(cloudfront) as cf_stub:
        s3_stub.add_response("list_objects_v2", {
            "Contents": [{"Key": k} for k in [*stored, f"{prefix}b.jpg/400x300/original"]],
            "IsTruncated": False}, {"Bucket": bucket, "Prefix": prefix})
        s3_stub.add_response("delete_objects", {"Deleted": [{"Key": k} for k in stored]}, {
            "Bucket": bucket, "Delete": {"Objects": [{"Key": k} for k in stored],
                                         "Quiet": True}})
        cf_stub.add_response("create_invalidation", {
            "Location": "https://cloudfront.amazonaws.com/2020-05-31/distribution/E1/inv/I1",
            "Invalidation": {"Id": "I1", "Status": "InProgress",
                             "CreateTime": "2026-12-02T03:00:00Z",
                             "InvalidationBatch": {"Paths": {"Quantity": 3, "Items": [
                                 f"/images/{s}/{key}*" for s in SIZES]},
                                 "CallerReference": "r"}}},
            {"DistributionId": "E1", "InvalidationBatch": {
                "Paths": {"Quantity": 3, "Items": [f"/images/{s}/{key}*" for s in SIZES]},
                "CallerReference": ANY}})
        backend = purge.CloudBackend(bucket, s3, distribution_id="E1", zone_id="0" * 32,
                                     cloudfront=cloudfront, token="tok", api=cloudflare)
        plan = purge.plan(backend, [key], SIZES, hosts)
        assert plan.variants == {key: stored}  # a.jpg/b's variants are not cat.jpg's
        printed = io.StringIO()
        purge.execute(backend, plan, dry_run=False, say=lambda line: print(line, file=printed))
        s3_stub.assert_no_pending_responses()
        cf_stub.assert_no_pending_responses()
    assert [len(body["prefixes"]) for _, _, body in _Cloudflare.calls] == [30, 3]
    assert {auth for _, auth, _ in _Cloudflare.calls} == {"Bearer tok"}
    zone_path = f"/client/v4/zones/{'0' * 32}/purge_cache"
    assert {path for path, _, _ in _Cloudflare.calls} == {zone_path}
    assert "invalidation I1 (InProgress)" in printed.getvalue()


def test_a_dry_run_lists_and_changes_nothing(cloudflare):
    s3, cloudfront = _clients()
    key = "cat.jpg"
    with Stubber(s3) as s3_stub, Stubber(cloudfront):
        s3_stub.add_response("list_objects_v2", {"Contents": [
            {"Key": f"resized/{key}/150x150/original"}], "IsTruncated": False})
        backend = purge.CloudBackend("b", s3, distribution_id="E1", cloudfront=cloudfront,
                                     api=cloudflare)
        lines: list[str] = []
        purge.execute(backend, purge.plan(backend, [key], SIZES, ["img.example.com"]),
                      dry_run=True, say=lines.append)
    assert "  delete s3://b/resized/cat.jpg/150x150/original" in lines
    assert "  /images/150x150/cat.jpg*" in lines
    assert "  img.example.com/images/150x150/cat.jpg" in lines
    assert lines[-1] == "dry run: nothing changed in AWS and Cloudflare"
    assert _Cloudflare.calls == []


def test_cloudflare_needs_a_token_and_says_which_variable():
    s3, cloudfront = _clients()
    backend = purge.CloudBackend("b", s3, distribution_id="E1", zone_id="0" * 32,
                                 cloudfront=cloudfront, token=None)
    with pytest.raises(UserError, match="CLOUDFLARE_API_TOKEN"):
        backend.purge_cloudflare(["img.example.com/images/1x1/a.jpg"])
