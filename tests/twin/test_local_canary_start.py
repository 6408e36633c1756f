"""`edgekit canary start --stack local` without `--candidate`: the image resizer's candidate
is built from the working tree by `edgekit bundle`'s own build and recorded; a build that
fails, or a start that is refused, records nothing. In-process, on a state directory laid
out as the twin lays it out (no twin needed), with a copy of functions/ as the working tree."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from edgekit_iac import paths
from edgekit_iac.release import canary
from edgekit_iac.twin import canary_split

REPO = Path(__file__).resolve().parents[2]
SIDE = "images-resizer"  # the twin names the folder after the function version resource


@pytest.fixture
def twin_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A twin state directory with one recorded resizer bundle and the local stack's image
    canary settings; functions/ copied as the working tree, bundles built under tmp_path."""
    tree = tmp_path / "functions"
    shutil.copytree(REPO / "functions", tree, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(paths, "functions_root", lambda: tree)
    monkeypatch.setenv("EDGEKIT_HOME", str(tmp_path / "project"))
    root = tmp_path / "state"
    deployed = tmp_path / "deployed.zip"
    with zipfile.ZipFile(deployed, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    canary_split.record_file(canary_split.bundles_root(root) / SIDE, deployed)
    canary_split.write_json(root / canary_split.SETTINGS_FILE, {
        "images": {"weightPercent": 0, "minRequests": 5, "maxErrorRate": 20}, "workers": {}})
    return root


def start(root: Path, *flags: str) -> list[str]:
    parser = argparse.ArgumentParser()
    canary.add_arguments(parser)
    said: list[str] = []
    canary.run_local(parser.parse_args(["start", "--stack", "local", "--state-dir", str(root),
                                        *flags]), said.append)
    return said


def recorded(root: Path) -> list[str]:
    return canary_split.history(canary_split.bundles_root(root) / SIDE)


def test_start_builds_the_candidate_from_the_working_tree(twin_state: Path):
    from edgekit_iac.components.image_resizer import FUNCTION_NAME

    assert canary.IMAGE_FUNCTION == FUNCTION_NAME
    before = recorded(twin_state)
    # A change in the working tree (no new module to byte-compile): a new version that
    # leaves one more Pillow module out.
    manifest = paths.functions_root() / FUNCTION_NAME / "function.toml"
    manifest.write_text(re.sub(r'version = "[^"]+"', 'version = "9.9.9"', manifest.read_text())
                        .replace('exclude = [', 'exclude = [\n  "PIL/ImageDraw.py",'))
    [line] = start(twin_state)
    [built] = (paths.project_root() / paths.BUNDLES_DIR).glob(f"{FUNCTION_NAME}-*.zip")
    version = hashlib.sha256(built.read_bytes()).hexdigest()
    assert "PIL/ImageDraw.py" not in zipfile.ZipFile(built).namelist()
    assert recorded(twin_state) == [*before, version]
    assert f"recorded {SIDE} {version[:12]} ({FUNCTION_NAME} 9.9.9 " in line
    assert "from the working tree" in line and built.name in line
    assert canary_split.read_canary(twin_state)["weight"] == 0
    entry = json.loads((twin_state / "local-canary.json").read_text())[-1]
    assert entry["sides"] == {SIDE: version}


def test_a_candidate_that_does_not_build_is_refused_and_nothing_is_recorded(twin_state: Path):
    manifest = paths.functions_root() / canary.IMAGE_FUNCTION / "function.toml"
    manifest.write_text(re.sub(r'version = "[^"]+"', 'version = "next"', manifest.read_text()))
    before = recorded(twin_state)
    with pytest.raises(canary.CanaryRefused) as refused:
        start(twin_state)
    message = str(refused.value)
    assert "candidate image_resizer bundle did not build from the working tree" in message
    assert "version = 'next' is not a semantic version" in message
    assert "--candidate ZIP" in message
    assert recorded(twin_state) == before
    assert not (twin_state / canary_split.CANARY_FILE).exists()
    assert not (twin_state / "local-canary.json").exists()


def test_a_refused_weight_records_no_candidate(twin_state: Path, tmp_path: Path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("handler.py", "# another bundle\n")
    before = recorded(twin_state)
    with pytest.raises(canary.CanaryRefused, match="accepted 0..15"):
        start(twin_state, "--candidate", str(other), "--weight", "50")
    assert recorded(twin_state) == before
    assert not (twin_state / canary_split.CANARY_FILE).exists()
