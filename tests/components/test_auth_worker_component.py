"""AuthWorker under Pulumi's mock runtime: the auth Worker's settings as bindings, checked by
the Worker's own parser, composed over EdgeWorker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from edgekit_iac.components.auth_worker import AuthWorker, AuthWorkerArgs
from edgekit_iac.components.worker import WorkerArgsError

from edgekit_iac.bundle.build import Artifact
from edgekit_iac.function_modules import load_function_module
from edgekit_iac.program import ProgramGraph

from .test_worker_components import (
    ACCOUNT,
    EDGE_WORKER,
    ROUTE,
    ZONE,
    make_artifact,
    plain_bindings,
    record,
    script_of,
)

REPO = Path(__file__).resolve().parents[2]
rules = load_function_module(REPO / "functions" / "edge_auth", "auth_rules.py")
AUTH_WORKER = "edgekit:cloudflare:AuthWorker"
MODULES = {"auth_worker.py": "import auth_rules\n", "auth_rules.py": "BINDING_NAMES = ()\n"}


@pytest.fixture(scope="module")
def auth_artifact(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    return make_artifact(tmp_path_factory.mktemp("auth"), "edge_auth", MODULES, "auth_worker.py")


def auth_args(bundle: Artifact, **changes: Any) -> AuthWorkerArgs:
    return AuthWorkerArgs(**{
        "account_id": ACCOUNT, "zone_id": ZONE, "artifact": bundle, "script_name": "edge-auth",
        "route_pattern": "secure.example.com/api/*", "origin_url": "https://origin.example.com",
        "jwks_url": "https://login.example.com/.well-known/jwks.json",
        "issuer": "https://login.example.com/", "audiences": ["https://api.example.com"],
        **changes})


@pytest.fixture(scope="module")
def graph(auth_artifact: Artifact) -> ProgramGraph:
    return record(lambda: AuthWorker("api-auth", auth_args(
        auth_artifact, cookie_name="session_jwt", clock_skew_seconds=30,
        forward_claims={"sub": "X-Auth-Sub", "email": "X-Auth-Email"}, algorithms=["ES256"])))


def test_the_auth_worker_is_an_edge_worker_on_its_own_route(graph):
    component = graph.one(AUTH_WORKER)
    worker = next(r for r in graph.children(component) if r.type == EDGE_WORKER)
    route = next(r for r in graph.descendants(worker) if r.type == ROUTE)

    assert route.inputs["pattern"] == "secure.example.com/api/*"
    assert component.outputs["jwks_url"] == "https://login.example.com/.well-known/jwks.json"


def test_bindings_are_what_the_worker_parses(graph):
    bindings = plain_bindings(script_of(graph, "api-auth"))
    settings = rules.parse_settings(bindings)

    assert bindings["FORWARD_CLAIMS"] == "sub=X-Auth-Sub,email=X-Auth-Email"
    assert (settings.cookie_name, settings.skew, settings.algorithms) == (
        "session_jwt", 30, ("ES256",))
    assert settings.forward_token is False
    assert settings.audiences == ("https://api.example.com",)


def test_defaults_leave_the_cookie_unbound(auth_artifact):
    graph = record(lambda: AuthWorker("api-auth", auth_args(auth_artifact)))
    bindings = plain_bindings(script_of(graph, "api-auth"))

    assert "COOKIE_NAME" not in bindings
    assert rules.parse_settings(bindings).forward_claims == (("sub", "X-Auth-Sub"),)


@pytest.mark.parametrize("changes, field, words", [
    ({"jwks_url": "http://login.example.com/jwks"}, "jwks_url", "plain http"),
    ({"origin_url": "ftp://origin.example.com"}, "origin_url", "scheme"),
    ({"algorithms": ["HS256"]}, "algorithms", "ALGORITHMS may list"),
    ({"algorithms": []}, "algorithms", "empty"),
    ({"audiences": []}, "audiences", "AUDIENCES is required"),
    ({"audiences": "api"}, "audiences", "got 'api'"),
    ({"forward_claims": {"sub": "Authorization"}}, "forward_claims", "cannot write"),
    ({"cookie_name": "bad cookie"}, "cookie_name", "not a cookie name"),
    ({"clock_skew_seconds": 3600}, "clock_skew_seconds", "0..300"),
    ({"issuer": ""}, "issuer", "ISSUER is required"),
])
def test_bad_arguments_name_the_field_before_anything_is_declared(auth_artifact, changes,
                                                                  field, words):
    with pytest.raises(WorkerArgsError) as error:
        AuthWorker("api-auth", auth_args(auth_artifact, **changes))
    assert error.value.arg == field
    assert error.value.owner == "AuthWorkerArgs"
    assert words in str(error.value)
