"""A throwaway edgekit project (EDGEKIT_HOME): stack files, built zips, exported outputs."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgekit_iac import cli
from edgekit_iac.release.pins import Pin

FUNCTIONS = ("cache_wrapper", "hello_geo", "image_resizer")

STAGING_FILE = """\
# Staging: built from the checkout on every merge.
config:
  aws:region: us-east-1
  edgekit:environment: staging
"""

PROD_FILE = """\
# Prod: runs only artifacts promoted from staging, pinned by content hash.
secretsprovider: awskms://alias/edgekit-prod?region=us-east-1
config:
  aws:region: us-east-1
  # Only the Pulumi CLI can decrypt this.
  cloudflare:apiToken:
    secure: v1:AAAABBBBccccDDDD==
  edgekit:environment: prod   # prod-only policies apply
  edgekit:images:
    aliases:
      - "img.example.com"
    certificateArn: arn:aws:acm:us-east-1:123456789012:certificate/66666666
  edgekit:alarms: {enabled: true, paging: true}

# A comment between config and the next key.
encryptionsalt: v1:c2FsdA==:v1:aXY=:Y2lwaGVy
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Project:
    root: Path
    run: Callable[..., Result]

    @property
    def prod(self) -> Path:
        return self.root / "stacks" / "Pulumi.prod.yaml"

    @property
    def history(self) -> Path:
        return self.root / "stacks" / ".history" / "prod.json"

    def artifact(self, name: str, version: str, store: Path | None = None) -> Pin:
        """A built zip for `name` at `version` (content differs per version), and its pin."""
        store = store or self.root / ".edgekit" / "bundles"
        store.mkdir(parents=True, exist_ok=True)
        path = store / f"{name}-{hashlib.sha256(version.encode()).hexdigest()[:12]}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            info = zipfile.ZipInfo("main.py", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, f"# {name} {version}\n")
        return Pin(version, hashlib.sha256(path.read_bytes()).hexdigest())

    def release(self, version: str, names: tuple[str, ...] = FUNCTIONS) -> dict[str, Pin]:
        return {name: self.artifact(name, version) for name in names}

    def outputs(self, pins: dict[str, Pin], name: str = "staging-outputs.json") -> Path:
        """What `pulumi stack output --json --show-secrets` prints for a deployed staging."""
        path = self.root / name
        artifacts = {n: {**p.to_config(), "bytes": 1234} for n, p in pins.items()}
        path.write_text(
            json.dumps({"imagesDomain": "d111.cloudfront.net", "artifacts": artifacts}, indent=2)
        )
        return path

    def promote(self, pins: dict[str, Pin], *extra: str) -> Result:
        return self.run(
            "promote", "--from", "staging", "--to", "prod", "--outputs", str(self.outputs(pins)),
            *extra,
        )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Project:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.staging.yaml").write_text(STAGING_FILE)
    (stacks / "Pulumi.prod.yaml").write_bytes(PROD_FILE.encode())
    monkeypatch.setenv("EDGEKIT_HOME", str(tmp_path))

    def run(*argv: str) -> Result:
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return Project(tmp_path, run)
