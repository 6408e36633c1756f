"""`edgekit url` and the README's example requests, which read the ports from the running
twin: they must work on whatever ports it got (the session twin uses free ports)."""

from __future__ import annotations

import re
import subprocess

from .conftest import REPO, RunningTwin, edgekit


def test_url_prints_one_listener_or_all(twin: RunningTwin):
    one = edgekit("url", "images-cdn", "--state-dir", str(twin.state_dir))
    assert one.returncode == 0 and one.stdout == twin.endpoints["images-cdn"] + "\n"
    listing = edgekit("url", "--state-dir", str(twin.state_dir))
    rows = dict(line.split() for line in listing.stdout.splitlines())
    assert rows == twin.endpoints


def test_url_names_what_exists_when_asked_for_what_does_not(twin: RunningTwin, tmp_path):
    unknown = edgekit("url", "images", "--state-dir", str(twin.state_dir))
    assert unknown.returncode == 2
    assert "has no listener 'images'; it has: api-auth-worker-script, api-cache-worker-script" \
        in unknown.stderr
    idle = edgekit("url", "--state-dir", str(tmp_path))
    assert idle.returncode == 2 and "no twin is running for stack 'local'" in idle.stderr


def test_the_readme_requests_work_on_the_ports_the_twin_chose(twin: RunningTwin, tmp_path):
    readme = (REPO / "README.md").read_text()
    block = next(b for b in re.findall(r"```sh\n(.*?)```", readme, re.S) if "EK=" in b)
    # The README reads .edgekit/local under the project directory; point that at the
    # session twin's state directory.
    (tmp_path / ".edgekit").mkdir()
    (tmp_path / ".edgekit" / "local").symlink_to(twin.state_dir)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=REPO,
                            capture_output=True, timeout=180,
                            env={"PATH": "/usr/bin:/bin", "EDGEKIT_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode("latin-1")  # an image is among the answers
    statuses = re.findall(r"HTTP/1\.[01] (\d{3}) ", out)  # a body may end without a newline
    assert statuses == ["200", "200", "200", "200"], out[:2000]
    assert "image/jpeg" in out or "image/webp" in out
    assert '"city": "Oslo"' in out and '"country": "NO"' in out
    assert '"name": "likes"' in out
