"""`edgekit up` refuses bad flags and bad config before any bundling, even on a fresh clone:
the program first runs with its bundles described, not built (edgekit_iac.bundle.declared).

The "fresh clone" is a project folder (EDGEKIT_HOME) holding only the stack files, with its
own empty per-user cache: no .edgekit/bundles, no downloaded wheels. Building the bundles
there would download wheels and write zips; the checks must refuse first and leave neither.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from edgekit_iac.program import run_program
from edgekit_iac.release import artifacts, stack_files

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def clone(tmp_path) -> dict[str, Path]:
    home = tmp_path / "clone"
    shutil.copytree(REPO / "stacks", home / "stacks")
    return {"home": home, "cache": tmp_path / "user-cache", "state": tmp_path / "state"}


def _up(clone: dict[str, Path], monkeypatch, capsys, *flags: str) -> tuple[int, str, str]:
    """`edgekit up` in this process (the program and its providers load once per test run)."""
    from edgekit_iac.cli import main

    monkeypatch.setenv("EDGEKIT_HOME", str(clone["home"]))
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(clone["cache"]))
    monkeypatch.setenv("EDGEKIT_WHEEL_CACHE", str(clone["cache"] / "wheels"))
    monkeypatch.chdir(clone["home"])
    code = main(["up", "--port-base", "0", "--state-dir", str(clone["state"]), *flags])
    out, err = capsys.readouterr()
    return code, out, err


def _nothing_built(clone: dict[str, Path], code: int, out: str, err: str) -> None:
    assert code == 2, out + err
    assert "Traceback" not in err
    assert "bundl" not in out  # neither "bundling the functions" nor "bundled ..."
    assert "starting the twin" not in out
    assert not (clone["home"] / ".edgekit").exists()  # no bundle folder, no zip
    assert not clone["cache"].exists()  # no wheel downloaded
    assert not list(clone["home"].parent.rglob("*.zip"))
    assert not (clone["state"] / "twin.pid").exists()


def test_an_unknown_port_name_is_refused_before_any_bundle_on_a_fresh_clone(
    clone, monkeypatch, capsys
):
    code, out, err = _up(clone, monkeypatch, capsys, "--port", "unknown=1")
    _nothing_built(clone, code, out, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "--port names ['unknown'] are no listener of stack 'local'" in err
    assert "its listeners: api-auth-worker-script, api-cache-worker-script, edge-counter-script, " \
           "hello-geo-script, images-cdn, status, s3, demo-origin" in err


def test_bad_stack_config_is_refused_before_any_bundle_on_a_fresh_clone(
    clone, monkeypatch, capsys
):
    stack_file = clone["home"] / "stacks" / "Pulumi.local.yaml"
    stack = yaml.safe_load(stack_file.read_text())
    stack["config"]["edgekit:images"]["quality"] = 0
    stack_file.write_text(yaml.safe_dump(stack))
    code, out, err = _up(clone, monkeypatch, capsys)
    _nothing_built(clone, code, out, err)
    assert "edgekit:images.quality: got 0; accepted: an integer from 1 to 100" in err


def test_a_declare_only_run_describes_every_bundle_and_writes_nothing(tmp_path, monkeypatch):
    config = stack_files.read_config("prod")
    monkeypatch.setenv("EDGEKIT_HOME", str(tmp_path))
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    graph = run_program("prod", config=config, declare_only=True)
    pins = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"][
        "edgekit:artifacts"]
    # Pinned functions are described with their pins; nothing was looked up or built.
    assert {name: pin["sha256"] for name, pin in graph.exports["artifacts"].items()} == {
        name: pin["sha256"] for name, pin in pins.items()}
    assert list(tmp_path.iterdir()) == []
    script_type = "cloudflare:index/workersScript:WorkersScript"
    scripts = [r for r in graph.resources if r.type == script_type]
    assert scripts and all(r.inputs.get("mainModule") for r in scripts)
    # Outside the block, resolving builds again (the mode does not leak).
    assert not artifacts._DECLARE_ONLY.get()
