"""The command line's manners, checked without starting a twin: --version, per-command
usage on a bad flag, bad paths and values refused in one line before any slow work."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edgekit_iac.cli import main
from edgekit_iac.progress import progress

REPO = Path(__file__).resolve().parents[1]


def edgekit(*args: str, env: dict | None = None, timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "edgekit_iac", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_version_prints_the_installed_version(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"edgekit {metadata.version('edgekit-iac')}"


@pytest.mark.parametrize("command", ["up", "down", "bundle", "preview", "smoke"])
def test_a_bad_flag_prints_that_commands_usage(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--no-such-flag"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: edgekit {command} ")
    assert "unrecognized arguments: --no-such-flag" in err
    assert "{bundle,preview" not in err  # not the top-level list of commands


def test_lambda_environments_zero_is_an_error_not_one(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["up", "--lambda-environments", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: edgekit up ")
    assert "--lambda-environments: '0': expected a whole number of environments, 1..64" in err


def _one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_bundle_to_a_directory_that_cannot_exist_is_one_line():
    result = edgekit("bundle", "--out-dir", "/proc/nope", "hello_geo")
    _one_line_error(result, "edgekit bundle: --out-dir /proc/nope: cannot write there")
    assert result.stdout == ""


@pytest.mark.parametrize("where", ["proc", "read-only"])
def test_up_with_a_state_dir_it_cannot_write_is_one_line(where, tmp_path):
    if where == "proc":
        state_dir = Path("/proc/edgekit-state")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes through directory permissions")
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        state_dir = locked / "state"
    started = time.monotonic()
    result = edgekit("up", "--port-base", "0", "--state-dir", str(state_dir))
    _one_line_error(result, f"--state-dir {state_dir}: cannot write there")
    assert "bundled" not in result.stdout and "starting" not in result.stdout
    assert time.monotonic() - started < 60  # refused before bundling or the program run


def test_up_with_an_unknown_stack_leaves_nothing_behind(tmp_path):
    result = edgekit("up", "--stack", "nosuch", env={"EDGEKIT_HOME": str(tmp_path)})
    _one_line_error(result, "stack 'nosuch'")
    assert list(tmp_path.iterdir()) == []  # no .edgekit/nosuch, no lock, no build/

    in_checkout = edgekit("up", "--stack", "nosuch")
    _one_line_error(in_checkout, "stack 'nosuch' (stacks here: local, prod, staging)")
    assert not (REPO / ".edgekit" / "nosuch").exists()


def test_bad_port_values_are_refused_before_anything_starts(tmp_path):
    result = edgekit("up", "--port", "images-cdn=99999", "--state-dir", str(tmp_path / "s"))
    _one_line_error(result, "expected NAME=PORT with PORT 0..65535")
    assert not (tmp_path / "s").exists()


def test_progress_is_silent_for_quick_work_and_speaks_for_slow_work():
    lines: list[str] = []
    with progress(lines.append, "bundling quick", after=0.5):
        pass
    assert lines == []
    with progress(lines.append, "bundling slow", after=0.05, every=0.1):
        time.sleep(0.35)
    assert lines[0].startswith("bundling slow ... (")
    assert len(lines) >= 3  # the first notice, at least one more, and the end
    assert lines[-1].startswith("bundling slow: done in ")
    assert not [t for t in threading.enumerate() if t.name.startswith("progress:")]


def test_an_unknown_port_name_is_refused_before_anything_listens(tmp_path):
    state_dir = tmp_path / "state"
    result = edgekit("up", "--port-base", "0", "--port", "bogus=1234", "--state-dir",
                     str(state_dir), timeout=600)
    _one_line_error(result, "--port names ['bogus'] are no listener of stack 'local'",
                    "its listeners: api-auth-worker-script, api-cache-worker-script, "
                    "edge-counter-script, "
                    "hello-geo-script, images-cdn")
    # Checked once the graph is known, before S3, the Lambda environments or any listener.
    assert "seeded s3://" not in result.stdout
    assert not (state_dir / "lambda").exists()
    assert not (state_dir / "twin.pid").exists() and not (state_dir / "endpoints.json").exists()
