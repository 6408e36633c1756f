"""Node >= 20 is a prerequisite of the Workers runtime; without it the error says what to do."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edgekit_iac.twin.cloudflare import node_setup


def fake_node(tmp_path: Path, version: str) -> Path:
    script = tmp_path / "node"
    script.write_text(f"#!/bin/sh\necho {version}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_an_old_node_is_refused_naming_the_version_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_NODE", str(fake_node(tmp_path, "v18.19.1")))

    with pytest.raises(node_setup.NodeRuntimeError) as refused:
        node_setup.ensure()

    assert "v18.19.1" in str(refused.value)
    assert "Node.js 20 or newer" in str(refused.value)


def test_no_node_on_path_says_what_to_install(monkeypatch):
    monkeypatch.delenv("EDGEKIT_NODE", raising=False)
    monkeypatch.setenv("PATH", os.devnull)

    with pytest.raises(node_setup.NodeRuntimeError, match="no `node` on PATH.*Node.js 20"):
        node_setup.ensure()


def test_a_read_only_package_installs_into_a_per_user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_NODE", str(fake_node(tmp_path, "v20.20.2")))
    monkeypatch.setenv("EDGEKIT_NODE_DIR", str(tmp_path / "user"))
    monkeypatch.setattr(node_setup, "_installed", lambda folder, digest: False)
    monkeypatch.setattr(node_setup, "_writable", lambda folder: False)
    installed_into = []
    monkeypatch.setattr(node_setup, "_npm_ci",
                        lambda folder, digest, say: installed_into.append(folder))

    runtime = node_setup.ensure()

    assert installed_into == [tmp_path / "user"]
    assert runtime.packages == tmp_path / "user"
    assert runtime.command()[1] == str(node_setup.HOST_SCRIPT)


def test_the_checkout_install_matches_the_lock_file():
    runtime = node_setup.ensure()  # `make test` ran `npm ci` from the lock file first
    pinned = (runtime.packages / "node_modules" / "pyodide" / "package.json").read_text()
    assert '"version": "0.28.2"' in pinned
