"""`edgekit up` / `edgekit down` as a user meets them: the files, the lock, the errors."""

from __future__ import annotations

import json

import boto3

from .client import request
from .conftest import RunningTwin, edgekit


def test_up_writes_endpoints_and_the_graph_with_computed_outputs(twin: RunningTwin):
    expected = {"status", "s3", "demo-origin", "images-cdn", "api-cache-worker-script",
                "hello-geo-script", "api-auth-worker-script"}
    assert expected <= set(twin.endpoints)
    assert all(url.startswith("http://127.0.0.1:") for url in twin.endpoints.values())

    buckets = [r for r in twin.graph()["resources"] if r["type"] == "aws:s3/bucket:Bucket"]
    names = {b["outputs"]["bucket"] for b in buckets}
    assert names, "the graph records each bucket's computed name"
    s3 = boto3.client("s3", endpoint_url=twin.endpoints["s3"], region_name="us-east-1",
                      aws_access_key_id="t", aws_secret_access_key="t")
    assert names <= {b["Name"] for b in s3.list_buckets()["Buckets"]}

    printed = twin.output.read_text()
    assert twin.endpoints["images-cdn"] in printed
    assert f"curl -i {twin.endpoints['images-cdn']}/images/" in printed  # an example URL


def test_the_cache_wrapper_origin_is_the_demo_origin_the_twin_started(twin: RunningTwin):
    script = next(r for r in twin.graph()["resources"]
                  if r["type"] == "cloudflare:index/workersScript:WorkersScript"
                  and r["inputs"]["mainModule"] == "cache_worker.py")
    bindings = {b["name"]: b.get("text") for b in script["inputs"]["bindings"]}
    assert bindings["ORIGIN_URL"] == twin.endpoints["demo-origin"]
    assert request(twin.endpoints["demo-origin"] + "/api/health").json() == {"ok": True}


def test_a_second_up_says_a_twin_runs_instead_of_fighting_over_ports(twin: RunningTwin):
    second = edgekit("up", "--stack", "local", "--port-base", "0", "--state-dir",
                     str(twin.state_dir))
    assert second.returncode == 2
    assert f"already running (pid {twin.process.pid}" in second.stderr
    assert "python -m edgekit_iac down --stack local" in second.stderr
    assert json.loads((twin.state_dir / "twin.pid").read_text())["pid"] == twin.process.pid


def test_a_busy_port_is_a_clear_error_and_leaves_nothing_behind(twin: RunningTwin, tmp_path):
    port = twin.endpoints["status"].rsplit(":", 1)[1]
    busy = edgekit("up", "--stack", "local", "--port-base", "0", "--port", f"status={port}",
                   "--state-dir", str(tmp_path))
    assert busy.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    assert "--port status=PORT" in busy.stderr
    assert not (tmp_path / "twin.pid").exists()


def test_bad_port_arguments_are_refused_by_name(tmp_path):
    bad = edgekit("up", "--port", "images-cdn=http", "--state-dir", str(tmp_path))
    assert bad.returncode == 2 and "expected NAME=PORT" in bad.stderr


def test_down_without_a_twin_says_so(tmp_path):
    down = edgekit("down", "--stack", "local", "--state-dir", str(tmp_path))
    assert down.returncode == 0
    assert "no twin is running" in down.stdout


def test_every_example_the_banner_prints_answers_2xx(twin: RunningTwin):
    printed = twin.output.read_text()
    # The image example is left to test_twin_images, whose first request must be a Miss in
    # this shared twin; the Workers' examples are asked here.
    examples = [line.strip() for line in printed.splitlines()
                if line.strip().startswith("curl -i ") and "$(" not in line
                and twin.endpoints["images-cdn"] not in line]
    assert len(examples) >= 3, printed
    for example in examples:
        words = example.split()
        method = words[words.index("-X") + 1] if "-X" in words else "GET"
        reply = request(words[-1], method=method)
        assert 200 <= reply.status < 300, (example, reply.status, reply.body[:200])


def test_the_banner_names_each_lambda_association_once_with_its_behaviours(twin: RunningTwin):
    # The resizer is on the default behaviour and the signed private/ one: one function, one
    # mention, both behaviours named.
    line = next(line for line in twin.output.read_text().splitlines()
                if line.strip().startswith("images-cdn "))
    assert line.count("origin-request images-fn:") == 1, line
    assert "origin-request images-fn:1 (default, /images/*/private/*)" in line, line
