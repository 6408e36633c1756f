"""`edgekit smoke`: the checks on canned answers, endpoint resolution from outputs and from the
twin's files, and the command against a running local twin (all checks pass; a stopped origin
or a closed port fails the check that depends on it with exit status 1; bad input is 2)."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
from PIL import Image

from edgekit_iac import cli
from edgekit_iac.errors import UserError
from edgekit_iac.smoke.checks import (
    CheckResult,
    HttpAnswer,
    Verdict,
    check_auth_accepted,
    check_auth_refused,
    check_cache_fill,
    check_cache_hit,
    check_geo,
    check_image,
    edge_cacheable,
    report_lines,
)
from edgekit_iac.smoke.targets import (
    DEFAULT_IMAGE_KEY,
    choose_size,
    deployed_targets,
    url_for_route,
)
from edgekit_iac.twin import sample_images
from edgekit_iac.twin.cloudflare.workers_host import CfDefaults
from edgekit_iac.twin.supervisor import TwinOptions, start_twin
from tests.twin.client import request

CACHEABLE = {"cache-control": "public, max-age=31536000, immutable"}
JSON_TYPE = {"content-type": "application/json"}


def encoded(size: tuple[int, int], image_format: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, image_format)
    return out.getvalue()


def answer(status: int | None = 200, body: bytes = b"", **headers: str) -> HttpAnswer:
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return HttpAnswer("http://127.0.0.1:9/x", status, named, body, 3.0)


def image_answer(size=(400, 250), image_format="JPEG", content_type="image/jpeg",
                 cache_control=CACHEABLE["cache-control"]) -> HttpAnswer:
    return answer(200, encoded(size, image_format), content_type=content_type,
                  cache_control=cache_control)


def api_answer(state: str | None, body: bytes = b'{"city": "Oslo"}', status: int = 200,
               **headers: str) -> HttpAnswer:
    if state:
        headers["x_edge_cache"] = state
    return answer(status, body, content_type="application/json; charset=utf-8", **headers)


def geo_answer(document, cache_control: str = "no-store") -> HttpAnswer:
    return answer(200, json.dumps(document).encode(), content_type="application/json",
                  cache_control=cache_control)


# --- the checks on canned answers -------------------------------------------------------------


def test_a_resized_cacheable_image_within_the_box_passes():
    verdict = check_image(image_answer(), (400, 300))
    assert verdict.passed, verdict
    assert verdict.got.startswith("200 image/jpeg 400x250")


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (image_answer(size=(500, 300)), "larger than 400x300"),
        (image_answer(image_format="PNG"), "but the bytes are image/png"),
        (answer(200, b"<html>not an image", content_type="image/jpeg"), "does not decode"),
        (image_answer(cache_control="no-store"), "not cacheable (Cache-Control: no-store)"),
        (image_answer(cache_control=""), "not cacheable (Cache-Control: absent)"),
        (answer(200, b"<html></html>", content_type="text/html"), "200 text/html"),
        (answer(404, b'{"error": "no original"}', content_type="application/json"),
         '404 application/json: {"error": "no original"}'),
        (HttpAnswer("http://127.0.0.1:9/", None, error="ConnectionRefusedError"),
         "no answer (ConnectionRefusedError)"),
    ],
)
def test_an_image_answer_fails_with_what_was_wrong(reply, problem):
    verdict = check_image(reply, (400, 300))
    assert not verdict.passed
    assert problem in verdict.got


@pytest.mark.parametrize(
    ("cache_control", "cacheable"),
    [
        ("public, max-age=60", True),
        ("s-maxage=30, max-age=0", True),
        ("max-age=0", False),
        ("public, max-age=60, private", False),
        ("no-cache, max-age=60", False),
        ("NO-STORE", False),
        ("public", False),
        ("max-age=abc", False),
        ("", False),
    ],
)
def test_edge_cacheable_needs_a_positive_age_and_no_veto(cache_control, cacheable):
    assert edge_cacheable(cache_control) is cacheable


@pytest.mark.parametrize("state", ["MISS", "HIT", "miss", "REVALIDATED"])
def test_the_first_api_answer_may_be_a_miss_or_a_hit(state):
    assert check_cache_fill(api_answer(state)).passed


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (api_answer("BYPASS", x_edge_cache_reason="set-cookie"),
         "BYPASS (set-cookie): the answer may not be cached"),
        (api_answer("STALE"), "STALE: the origin is failing"),
        (api_answer(None), "without X-Edge-Cache: not answered by the cache wrapper"),
        (api_answer("MISS", b'{"error": "bad_gateway"}', status=502),
         '502 application/json, X-Edge-Cache MISS: {"error": "bad_gateway"}'),
        (answer(200, b"hi", content_type="text/plain", x_edge_cache="MISS"), "200 text/plain"),
    ],
)
def test_a_first_api_answer_that_cannot_fill_the_cache_fails(reply, problem):
    verdict = check_cache_fill(reply)
    assert not verdict.passed
    assert problem in verdict.got


def test_the_second_api_answer_must_be_a_hit_of_the_first():
    first = api_answer("MISS", b'{"observed_at": 1}')
    assert check_cache_hit(first, api_answer("HIT", b'{"observed_at": 1}')).passed

    twice_missed = check_cache_hit(first, api_answer("MISS", b'{"observed_at": 2}'))
    assert not twice_missed.passed
    assert "MISS: the first answer was not stored" in twice_missed.got

    other_body = check_cache_hit(first, api_answer("HIT", b'{"observed_at": 2}'))
    assert not other_body.passed
    assert "body other than the first answer's" in other_body.got


def test_a_geo_answer_with_its_fields_and_no_store_passes():
    verdict = check_geo(geo_answer({"message": "hi", "country": "NO", "colo": "OSL",
                                    "city": "Oslo"}))
    assert verdict.passed, verdict
    assert "country=NO, colo=OSL, city=Oslo" in verdict.got


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (geo_answer({"country": "NO", "colo": "", "message": "hi"}), "without colo, city"),
        (geo_answer({"country": "NO", "colo": "OSL", "city": "Oslo"}, "public, max-age=60"),
         "cacheable by others (Cache-Control: public, max-age=60)"),
        (geo_answer(["NO", "OSL", "Oslo"]), "list, not an object"),
        (answer(200, b"{nope", content_type="application/json", cache_control="no-store"),
         "that is not JSON"),
        (answer(405, b"", content_type="application/json"), "405 application/json"),
    ],
)
def test_a_geo_answer_fails_with_what_was_wrong(reply, problem):
    verdict = check_geo(reply)
    assert not verdict.passed
    assert problem in verdict.got


BEARER = 'Bearer realm="edgekit"'


def test_the_auth_route_must_refuse_a_request_without_a_token_with_a_bearer_challenge():
    assert check_auth_refused(answer(401, b"{}", www_authenticate=BEARER)).passed
    for reply, problem in [
        (answer(200, b'{"auth_headers": {}}', content_type="application/json"),
         '200 application/json'),
        (answer(401, b"{}"), "401 without a Bearer challenge (WWW-Authenticate: absent)"),
        (answer(403, b"denied", content_type="text/plain"), "403 text/plain: denied"),
    ]:
        verdict = check_auth_refused(reply)
        assert not verdict.passed and problem in verdict.got, verdict


def test_the_auth_route_must_pass_a_good_token_to_the_origin():
    assert check_auth_accepted(answer(200, b"{}", content_type="application/json")).passed
    refused = check_auth_accepted(answer(
        401, b"{}", www_authenticate=f'{BEARER}, error="invalid_token", '
                                     'error_description="token has expired"'))
    assert not refused.passed and "the token was refused" in refused.got
    assert "token has expired" in refused.got
    down = check_auth_accepted(answer(502, b"bad gateway", content_type="text/plain"))
    assert not down.passed and down.got == "502 text/plain: bad gateway"


def test_the_report_has_one_line_per_check_and_names_the_failed_ones():
    results = [
        CheckResult("image", "http://127.0.0.1:1/images/400x300/k.jpg",
                    Verdict(True, "200 image/*", "200 image/jpeg 400x250"), 12.4),
        CheckResult("cached-api-1", "http://127.0.0.1:2/api",
                    Verdict(False, "200 application/json", "502 application/json"), 3.0,
                    note="start the origin"),
        CheckResult("geo-api", "", None, note="the stack has no geoWorker output"),
    ]
    lines = report_lines(results)
    assert lines[0].startswith("PASS  image ")
    assert "12 ms  GET http://127.0.0.1:1/images/400x300/k.jpg" in lines[0]
    assert "expected 200 image/*; got 200 image/jpeg 400x250" in lines[0]
    assert lines[1].startswith("FAIL  cached-api-1")
    assert lines[2] == "      hint: start the origin"
    assert lines[3].startswith("SKIP  geo-api") and "no geoWorker output" in lines[3]
    assert lines[-1] == "1 passed, 1 failed, 1 skipped: cached-api-1 failed"


# --- where the endpoints are -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "url"),
    [
        ("api.example.com/*", "https://api.example.com"),
        ("API.example.com/v1/*", "https://api.example.com/v1"),
        ("https://api.example.com/*", "https://api.example.com"),
        ("api.example.com", "https://api.example.com"),
    ],
)
def test_a_route_pattern_gives_the_url_it_serves(pattern, url):
    assert url_for_route(pattern) == url


@pytest.mark.parametrize("pattern", ["*.example.com/*", "*example.com/*", "/*"])
def test_a_route_without_a_concrete_host_is_refused(pattern):
    with pytest.raises(UserError, match="no concrete hostname"):
        url_for_route(pattern)


STAGING_OUTPUTS = {
    "imagesDomain": "d111.cloudfront.net",
    "originalsBucket": "images-originals-1234567",
    "cacheWorker": "edge-cache-staging",
    "cacheWorkerRoutes": ["api.staging.example.com/*"],
    "cacheWorkerHostnames": [],
    "geoWorker": "hello-geo-staging",
    "geoWorkerRoutes": [],
    "geoWorkerHostnames": ["geo.staging.example.com"],
    "authWorker": "edge-auth-staging",
    "authWorkerRoutes": ["secure.staging.example.com/api/*"],
    "authWorkerHostnames": [],
}


def test_deployed_endpoints_come_from_the_outputs():
    targets = deployed_targets(STAGING_OUTPUTS, "staging.json")
    assert targets.images_url == "https://d111.cloudfront.net"
    assert targets.cached_api_url == "https://api.staging.example.com"
    assert targets.geo_api_url == "https://geo.staging.example.com"
    assert targets.originals_bucket == "images-originals-1234567"
    # The auth path is from the host's root: its route's /api is part of /api/whoami.
    assert targets.auth_url == "https://secure.staging.example.com"
    assert targets.auth_token is None and "EDGEKIT_SMOKE_TOKEN" in targets.auth_token_note
    assert deployed_targets(STAGING_OUTPUTS, "s.json", "eyJ.t.s").auth_token == "eyJ.t.s"


def test_a_stack_without_workers_has_no_worker_endpoints():
    targets = deployed_targets({"imagesDomain": "d1.cloudfront.net"}, "prod.json")
    assert (targets.cached_api_url, targets.geo_api_url, targets.auth_url) == (None,) * 3


def test_a_worker_whose_outputs_do_not_say_where_it_answers_is_refused():
    outputs = {"imagesDomain": "d1.cloudfront.net", "cacheWorker": "edge-cache"}
    with pytest.raises(UserError, match="export cacheWorkerHostnames and cacheWorkerRoutes"):
        deployed_targets(outputs, "prod.json")


def test_outputs_without_an_images_domain_are_refused():
    with pytest.raises(UserError, match=r"prod.json: no imagesDomain output \(outputs: "
                                        r"artifacts\)"):
        deployed_targets({"artifacts": {}}, "prod.json")


def test_the_size_is_400x300_when_allowed_else_the_first_allowed():
    assert choose_size(None, ()) == (400, 300)
    assert choose_size(None, ("150x150", "400x300")) == (400, 300)
    assert choose_size(None, ("150x150", "800x600")) == (150, 150)
    assert choose_size("800X600", ("150x150", "800x600")) == (800, 600)
    with pytest.raises(UserError, match="not one of the stack's allowed sizes: 150x150"):
        choose_size("401x300", ("150x150",))
    with pytest.raises(UserError, match="not WIDTHxHEIGHT"):
        choose_size("big", ())


def test_the_default_image_key_is_one_the_twin_seeds():
    assert DEFAULT_IMAGE_KEY in [sample.key for sample in sample_images.samples()]


# --- the command ------------------------------------------------------------------------------

CF = CfDefaults(country="NO", colo="OSL", city="Oslo")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory):
    """A project home whose .edgekit/local/ is a running twin of the local stack."""
    root = tmp_path_factory.mktemp("smoke-home")
    twin = start_twin(TwinOptions(stack="local", state_dir=root / ".edgekit" / "local",
                                  port_base=0, cf=CF), say=lambda _line: None)
    try:
        yield root, twin
    finally:
        twin.stop()


def smoke(capsys, *args: str) -> tuple[int, list[str], str]:
    code = cli.main(["smoke", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_smoke_of_the_local_twin_passes_every_check(home, capsys, monkeypatch):
    root, twin = home
    monkeypatch.setenv("EDGEKIT_HOME", str(root))
    code, lines, err = smoke(capsys, "--stack", "local")
    assert code == 0, "\n".join(lines) + err
    endpoints = twin.endpoints
    assert lines[0] == (f"edgekit smoke: stack 'local', endpoints from the twin's "
                        f"{root / '.edgekit' / 'local' / 'endpoints.json'}")
    image, api_1, api_2, geo, no_token, token, summary = lines[1:]
    assert image.startswith("PASS  image")
    assert f"GET {endpoints['images-cdn']}/images/400x300/{DEFAULT_IMAGE_KEY}" in image
    assert "got 200 image/jpeg 400x250" in image
    assert api_1.startswith("PASS  cached-api-1")
    assert f"GET {endpoints['api-cache-worker-script']}/api/weather?city=Oslo" in api_1
    assert api_2.startswith("PASS  cached-api-2") and "X-Edge-Cache HIT, same body" in api_2
    assert geo.startswith("PASS  geo-api") and "country=NO, colo=OSL, city=Oslo" in geo
    whoami = f"GET {endpoints['api-auth-worker-script']}/api/whoami"
    assert no_token.startswith("PASS  auth-no-token") and whoami in no_token
    assert "got 401, WWW-Authenticate: Bearer" in no_token
    # Signed with the twin's own keys, accepted by the Worker, answered by the origin.
    assert token.startswith("PASS  auth-token") and whoami in token, token
    assert summary == "6 passed, 0 failed, 0 skipped"


def test_smoke_fails_the_auth_check_for_a_token_the_twin_did_not_sign(home, capsys,
                                                                      monkeypatch):
    root, _ = home
    monkeypatch.setenv("EDGEKIT_SMOKE_TOKEN", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
    code, lines, _ = smoke(capsys, "--endpoints",
                           str(root / ".edgekit" / "local" / "endpoints.json"))
    assert code == 1
    assert lines[5].startswith("PASS  auth-no-token")
    assert lines[6].startswith("FAIL  auth-token") and "the token was refused" in lines[6]
    assert 'error="invalid_token"' in lines[6]


def test_smoke_fails_the_cached_api_when_the_origin_is_down(home, capsys):
    root, twin = home
    status = twin.endpoints["status"]
    assert request(f"{status}/control/demo-origin/stop", "POST").status == 200
    try:
        # A city nobody asked for yet: nothing cached, nothing stale to fall back on.
        code, lines, _ = smoke(capsys, "--endpoints",
                               str(root / ".edgekit" / "local" / "endpoints.json"),
                               "--api-path", "/api/weather?city=Lima",
                               "--image-size", "150x150")
    finally:
        assert request(f"{status}/control/demo-origin/start", "POST").status == 200
    assert code == 1
    report = "\n".join(lines)
    assert lines[1].startswith("PASS  image") and "150x94" in lines[1]
    assert lines[2].startswith("FAIL  cached-api-1"), report
    assert "got 502 application/json, X-Edge-Cache MISS" in lines[2]
    assert lines[3].startswith("FAIL  cached-api-2")
    assert lines[4].startswith("PASS  geo-api")
    assert lines[5].startswith("PASS  auth-no-token")  # the Worker refuses by itself
    assert lines[6].startswith("FAIL  auth-token") and "got 502" in lines[6]  # no origin
    assert lines[-1] == ("3 passed, 3 failed, 0 skipped: cached-api-1, cached-api-2, "
                         "auth-token failed")


def test_smoke_reports_a_missing_original_with_the_bucket_to_upload_to(home, capsys):
    root, twin = home
    code, lines, _ = smoke(capsys, "--endpoints",
                           str(root / ".edgekit" / "local" / "endpoints.json"),
                           "--image-key", "samples/missing.jpg")
    assert code == 1
    assert lines[1].startswith("FAIL  image") and "got 404" in lines[1]
    bucket = twin.graph.exports["originalsBucket"]
    assert lines[2] == (f"      hint: {bucket} must hold samples/missing.jpg (upload it, or "
                        "pass --image-key)")


def test_smoke_against_closed_ports_fails_every_check(home, capsys, tmp_path):
    root, twin = home
    port = closed_port()
    state = tmp_path / "state"
    state.mkdir()
    (state / "graph.json").write_text((root / ".edgekit" / "local" / "graph.json").read_text())
    (state / "endpoints.json").write_text(
        json.dumps({name: f"http://127.0.0.1:{port}" for name in twin.endpoints}))
    code, lines, _ = smoke(capsys, "--endpoints", str(state / "endpoints.json"),
                           "--timeout", "2")
    assert code == 1
    assert [line.split()[:2] for line in lines[1:7]] == [
        ["FAIL", "image"], ["FAIL", "cached-api-1"], ["FAIL", "cached-api-2"],
        ["FAIL", "geo-api"], ["FAIL", "auth-no-token"], ["SKIP", "auth-token"]]
    assert all("got no answer (ConnectionRefusedError" in line for line in lines[1:6])
    # This copied state directory holds no twin keys to sign with: said, not guessed.
    assert "no token: the twin's keys are not in" in lines[6]


def test_a_deployed_stack_is_smoked_at_its_outputs_and_skips_absent_workers(capsys, tmp_path):
    outputs = tmp_path / "prod-outputs.json"
    outputs.write_text(json.dumps({"imagesDomain": f"127.0.0.1:{closed_port()}"}))
    code, lines, _ = smoke(capsys, "--stack", "prod", "--outputs", str(outputs),
                           "--timeout", "2")
    assert code == 1
    assert lines[0] == f"edgekit smoke: stack 'prod', endpoints from {outputs}"
    assert lines[1].startswith("FAIL  image") and "GET https://127.0.0.1:" in lines[1]
    assert not any("hint:" in line for line in lines)  # no answer says nothing of the bucket
    assert [line.split()[:2] for line in lines[2:7]] == [
        ["SKIP", "cached-api-1"], ["SKIP", "cached-api-2"], ["SKIP", "geo-api"],
        ["SKIP", "auth-no-token"], ["SKIP", "auth-token"]]
    assert lines[-1] == "0 passed, 1 failed, 5 skipped: image failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "local"], "no twin is serving stack 'local': "),
        (["--stack", "local", "--outputs", "x.json"], "--outputs is for deployed stacks"),
        (["--stack", "staging", "--outputs", "missing.json"], "missing.json does not exist"),
        (["--stack", "staging", "--outputs", "{outputs}"],
         "export cacheWorkerHostnames and cacheWorkerRoutes from __main__.py"),
        (["--stack", "local", "--timeout", "0"], "--timeout 0: give a positive number"),
    ],
)
def test_bad_input_exits_2_with_what_was_wrong(args, message, capsys, monkeypatch,
                                               tmp_path: Path):
    monkeypatch.setenv("EDGEKIT_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"imagesDomain": "d1.cloudfront.net",
                                   "cacheWorker": "edge-cache-staging"}))
    code, lines, err = smoke(capsys, *[arg.format(outputs=outputs) for arg in args])
    assert code == 2
    assert lines == []
    assert err.startswith("edgekit smoke: ") and message in err
