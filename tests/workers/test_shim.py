"""The JS shim keeps Cloudflare's documented contracts, seen from a Python Worker on Pyodide.

Cache API: https://developers.cloudflare.com/workers/runtime-apis/cache/ (put throws for a
non-GET key, 206 and Vary: *, honours Cache-Control/Expires and the default edge TTLs,
skips Set-Cookie unless private=Set-Cookie; match is GET-only; delete says whether it
removed something). request.cf, Date.now() on the isolate clock, ctx.waitUntil, bindings.
"""

from __future__ import annotations

from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

import pytest

from .conftest import COMPATIBILITY_DATE, ManualClock, WorkerIsolate, sdk_modules

PROBE = Path(__file__).with_name("probe_worker.py")
KEY = "https://api.example/thing"
BINDINGS = [
    {"type": "plain_text", "name": "TEXT", "text": "hello"},
    {"type": "secret_text", "name": "SECRET", "text": "s3cret"},
    {"type": "json", "name": "DOC", "json": '{"a": [1, 2]}'},
    {"type": "kv_namespace", "name": "STORE", "namespaceId": "0123"},
]


@pytest.fixture(scope="module")
def probe_isolate(tmp_path_factory):
    isolate = WorkerIsolate.start({"probe_worker.py": PROBE.read_text(), **sdk_modules()},
                                  main_module="probe_worker.py", name="probe",
                                  compatibility_date=COMPATIBILITY_DATE, bindings=BINDINGS,
                                  state_dir=str(tmp_path_factory.mktemp("probe-state")))
    yield isolate
    isolate.close()


@pytest.fixture
def probe(probe_isolate, clock):
    probe_isolate.clock = clock
    probe_isolate.reset(BINDINGS)

    def call(target: str, **kwargs):
        result = probe_isolate.fetch("GET", f"https://probe.example{target}", **kwargs)
        assert result.status == 200, result.text
        return result.json()

    return call


def put(probe, *headers: str, status: int = 200, key: str = KEY) -> dict:
    query = "".join(f"&h={quote(h)}" for h in headers)
    return probe(f"/put?key={quote(key)}&status={status}{query}")


def stored(probe, key: str = KEY, **extra: str) -> dict:
    query = "".join(f"&{k}={v}" for k, v in extra.items())
    return probe(f"/match?key={quote(key)}{query}")


@pytest.mark.parametrize(
    ("headers", "lives"),
    [
        (["cache-control:max-age=60"], 60),
        (["cache-control:max-age=60, s-maxage=10"], 10),
        ([f"expires:{formatdate(ManualClock()() + 3600, usegmt=True)}"], 3600),
        ([], 7200),  # Cloudflare's default edge TTL for a 200
    ],
)
def test_put_honours_cache_control_and_expiry(probe, clock, headers, lives):
    assert put(probe, *headers) == {"error": None}
    clock.advance(lives - 1)
    assert stored(probe)["found"] is True
    clock.advance(1)
    assert stored(probe)["found"] is False


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, ["cache-control:no-store"]),
        (200, ["cache-control:private, max-age=60"]),
        (200, ["cache-control:no-cache"]),
        (200, ["cache-control:max-age=0"]),
        (200, ["set-cookie:a=1", "cache-control:max-age=60"]),
        (500, []),  # not in the default edge TTL table
    ],
)
def test_put_does_not_store_what_cloudflare_does_not(probe, status, headers):
    assert put(probe, *headers, status=status) == {"error": None}
    assert stored(probe)["found"] is False


def test_private_set_cookie_stores_the_response_without_the_cookie(probe):
    put(probe, "set-cookie:a=1", 'cache-control:max-age=60, private="Set-Cookie"')
    hit = stored(probe)
    assert hit["found"] is True
    assert "set-cookie" not in hit["headers"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/put-get", "non-GET"),
        ("/put?status=206", "206"),
        (f"/put?h={quote('vary:*')}", "Vary"),
    ],
)
def test_put_throws_for_non_get_partial_and_vary_star(probe, target, message):
    assert message in probe(target)["error"]


def test_match_and_delete_are_get_only_and_ignore_the_fragment(probe):
    put(probe, "cache-control:max-age=60")
    assert stored(probe, method="HEAD")["found"] is False
    assert stored(probe, method="GET")["body"] == "x"
    assert stored(probe, KEY + "#fragment")["found"] is True
    assert probe(f"/delete?key={quote(KEY)}") == {"deleted": True}
    assert probe(f"/delete?key={quote(KEY)}") == {"deleted": False}


def test_named_caches_are_one_object_per_name_apart_from_the_default(probe):
    assert probe("/named") == {"same": True, "default_differs": True}


def test_wait_until_work_is_done_before_the_next_request(probe):
    assert probe(f"/later?key={quote(KEY)}") == {"error": None}
    assert stored(probe)["body"] == "later"


def test_request_cf_is_what_the_host_passed_or_none(probe):
    cf = {"country": "NO", "colo": "OSL", "asn": 2119}
    assert probe("/cf", cf=cf) == {"cf": cf}
    assert probe("/cf") == {"cf": None}


def test_date_now_reads_the_isolate_clock(probe, clock):
    clock.advance(12.5)
    assert probe("/now") == {"now": clock() * 1000, "date": clock() * 1000}


def test_bindings_are_bound_by_type(probe):
    assert probe("/env") == {"text": "hello", "secret": "s3cret", "doc": {"a": [1, 2]},
                             "missing": False}


def test_kv_puts_gets_lists_and_expires_on_the_clock(probe, clock):
    assert probe("/kv?key=k1&value=v1&ttl=60") == {"value": "v1", "keys": ["k1"]}
    clock.advance(61)
    assert probe("/kv?key=k1") == {"value": None, "keys": []}


def test_a_throwing_worker_answers_500_with_the_error(probe_isolate):
    result = probe_isolate.fetch("GET", "https://probe.example/boom")
    assert (result.status, result.text) == (500, "Worker threw exception")
    assert "RuntimeError: boom" in result.error


def test_a_main_module_without_default_is_refused_by_name():
    from edgekit_iac.twin.cloudflare.isolate import WorkerLoadError

    with pytest.raises(WorkerLoadError, match="no 'Default' class derived from"):
        WorkerIsolate.start({"main.py": "x = 1\n", **sdk_modules()}, main_module="main.py",
                            name="empty", compatibility_date=COMPATIBILITY_DATE)


@pytest.mark.parametrize(
    ("bundle", "main", "options", "message"),
    [
        ({"main.py": "x = 1\n"}, "other.py", {}, "main module 'other.py' is not in"),
        ({"main.py": "x = 1\n"}, "main.py", {}, "pin workers-runtime-sdk"),
        ({"main.py": "x = 1\n"}, "main.py",
         {"compatibility_flags": ["python_workers", "python_workers_20260610"]}, "314.0.4"),
    ],
)
def test_bundles_the_runtime_cannot_run_are_refused_before_starting(bundle, main, options,
                                                                    message):
    from edgekit_iac.twin.cloudflare.isolate import WorkerLoadError

    with pytest.raises(WorkerLoadError, match=message):
        WorkerIsolate.spawn(bundle, main_module=main, name="x",
                            compatibility_date=COMPATIBILITY_DATE, **options)
