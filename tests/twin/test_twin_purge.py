"""`edgekit purge` against the running twin: after a purge the next request is a Miss and is
resized from the new original (the stored variant is gone, the CloudFront caches forgot it)."""

from __future__ import annotations

import io

import boto3
from edgekit_iac.functions.image_resizer import contract
from PIL import Image

from .client import request
from .conftest import RunningTwin, edgekit

KEY = "purge-test/swatch.png"


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), colour).save(out, "PNG")
    return out.getvalue()


def colour_of(body: bytes) -> tuple[int, int, int]:
    return Image.open(io.BytesIO(body)).convert("RGB").getpixel((10, 10))


def test_purge_deletes_variants_and_the_next_request_resizes_the_new_original(twin: RunningTwin):
    bucket = twin.graph()["exports"]["originalsBucket"]
    s3 = boto3.client("s3", endpoint_url=twin.endpoints["s3"], region_name="us-east-1",
                      aws_access_key_id="t", aws_secret_access_key="t")
    s3.put_object(Bucket=bucket, Key=KEY, Body=png("red"), ContentType="image/png")
    url = twin.url("images-cdn", f"/images/400x300/{KEY}?format=png")
    first = request(url)
    assert first.status == 200, first.body[:300]
    assert colour_of(first.body) == (255, 0, 0)
    assert request(url).header("x-cache") == "Hit from cloudfront"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=contract.variant_prefix(KEY))
    stored = [item["Key"] for item in listed.get("Contents", [])]
    assert stored and all(contract.is_variant_of(k, KEY) for k in stored)

    s3.put_object(Bucket=bucket, Key=KEY, Body=png("blue"), ContentType="image/png")
    assert colour_of(request(url).body) == (255, 0, 0)  # cached: the old original still

    state = ["--stack", "local", "--state-dir", str(twin.state_dir)]
    dry = edgekit("purge", *state, KEY, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"  delete s3://{bucket}/{stored[0]}" in dry.stdout
    assert f"  /images/400x300/{KEY}*" in dry.stdout
    assert request(url).header("x-cache") == "Hit from cloudfront"  # a dry run changes nothing

    done = edgekit("purge", *state, KEY)
    assert done.returncode == 0, done.stderr
    assert "twin invalidation: 1 cached responses removed" in done.stdout
    assert "twin Cloudflare purge: 0 cached responses removed" in done.stdout  # no images there
    after = request(url)
    assert after.header("x-cache") == "Miss from cloudfront"
    assert after.header("server") != "AmazonS3"  # resized again, not the deleted variant
    assert colour_of(after.body) == (0, 0, 255)


def test_purge_refuses_a_variant_key_naming_what_it_accepts(twin: RunningTwin):
    refused = edgekit("purge", "--stack", "local", "--state-dir", str(twin.state_dir),
                      "resized/purge-test/swatch.png/400x300/png")
    assert refused.returncode == 2
    assert "is a stored variant" in refused.stderr and "accepted:" in refused.stderr


def test_cloudflare_purge_by_prefix_empties_the_cache_wrappers_entries(twin: RunningTwin):
    from edgekit_iac.purge import cache_wrapper_hosts

    (host,) = cache_wrapper_hosts(twin.graph()["exports"])  # api.edgekit.localhost
    url = twin.url("api-cache-worker-script", "/api/weather?city=Bergen")
    assert request(url).header("x-edge-cache") == "MISS"
    assert request(url).header("x-edge-cache") == "HIT"
    other = request(twin.url("status", "/control/cloudflare-purge?prefix=elsewhere.example/api"),
                    method="POST")
    assert sum(other.json()["purged"].values()) == 0
    purged = request(twin.url("status", f"/control/cloudflare-purge?prefix={host}/api/weather"),
                     method="POST")
    assert purged.status == 200 and sum(purged.json()["purged"].values()) >= 1
    assert request(url).header("x-edge-cache") == "MISS"
    refused = request(twin.url("status", f"/control/cloudflare-purge?prefix=https://{host}/"),
                      method="POST")
    assert refused.status == 400
