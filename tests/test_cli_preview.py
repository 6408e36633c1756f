"""`edgekit preview` as a user reads it: stable, `+` per resource, a summary, fitted to the
terminal, warnings after the header, full inputs on request, and JSON for machines.

The commands run as users run them (a subprocess with COLUMNS set), started together so the
three mock-runtime runs overlap; `--show-inputs` is rendered from the JSON run's graph.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEADER = "Previewing stack 'prod' offline (Pulumi mock runtime; nothing was deployed)."
RUNS = {
    "first": (["--stack", "prod"], 80),
    "second": (["--stack", "prod"], 80),
    "json": (["--stack", "prod", "--json"], 80),
}


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.CompletedProcess]:
    started = {}
    for key, (args, columns) in RUNS.items():
        env = {**os.environ, "COLUMNS": str(columns), "PYTHONIOENCODING": "utf-8"}
        started[key] = subprocess.Popen(
            [sys.executable, "-m", "edgekit_iac", "preview", *args], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    done = {}
    for key, process in started.items():
        out, err = process.communicate(timeout=600)
        done[key] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
        assert process.returncode == 0, f"{key}: {err}"
    return done


def test_two_runs_print_the_same_bytes(runs):
    assert runs["first"].stdout == runs["second"].stdout
    assert runs["first"].stdout.count("\n") > 60


def test_every_line_fits_the_terminal_width(runs):
    too_long = [line for line in runs["first"].stdout.splitlines() if len(line) > 80]
    assert not too_long, too_long[:3]
    # ...and the elided values are marked, not silently cut.
    assert "…" in runs["first"].stdout


def test_the_header_comes_first_and_the_programs_warnings_after_it(monkeypatch, capsys):
    import pulumi

    from edgekit_iac import preview
    from edgekit_iac.cli import main
    from edgekit_iac.program import run_program

    def program() -> None:
        pulumi.log.warn("the sample stack has a caveat worth reading")
        pulumi.ComponentResource("edgekit:test:Sample", "sample")

    monkeypatch.setattr(preview, "run_program", lambda stack: run_program(stack, program=program,
                                                                          config={}))
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["preview", "--stack", "prod"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == HEADER
    assert lines[2] == "warning: the sample stack has a caveat worth reading"
    assert "caveat" not in captured.err
    assert " +   edgekit:test:Sample  sample  create" in lines[5]


def test_outputs_are_folded_never_cut(runs):
    lines = runs["first"].stdout.splitlines()
    start = lines.index("Outputs:")
    outputs = " ".join(line.strip() for line in lines[start:])
    for name in json.loads(runs["json"].stdout)["outputs"]["imagesAllowedSizes"]:
        assert f'"{name}"' in outputs


def test_resources_are_marked_plus_and_summed_up(runs):
    lines = runs["first"].stdout.splitlines()
    plus = [line for line in lines if line.startswith(" +   ")]
    document = json.loads(runs["json"].stdout)
    assert len(plus) == len(document["resources"]) > 40
    assert all(line.rstrip().endswith("create") or "create  " in line for line in plus)
    assert f"    + {len(plus)} to create" in lines
    # Children sit under their component, in name order.
    resizer = next(i for i, line in enumerate(lines) if "edgekit:aws:EdgeImageResizer" in line)
    assert "├─ aws:cloudfront:CachePolicy" in lines[resizer + 1]
    assert "images-cache" in lines[resizer + 1]


def test_json_holds_resources_outputs_and_violations(runs):
    document = json.loads(runs["json"].stdout)
    assert document["stack"] == "prod" and document["deployed"] is False
    assert document["summary"] == {"create": len(document["resources"])}
    types = {r["type"] for r in document["resources"]}
    assert "aws:lambda/function:Function" in types  # full tokens for machines
    function = next(r for r in document["resources"] if r["type"].endswith("function:Function"))
    assert function["inputs"]["region"] == "us-east-1" and function["op"] == "create"
    assert document["outputs"]["environment"] == "prod"
    assert document["outputs"]["imagesDomain"].endswith(".cloudfront.net")
    assert document["violations"] == [] and document["warnings"] == []


def test_show_inputs_prints_long_values_in_full_and_still_fits(runs):
    from edgekit_iac.preview import render
    from edgekit_iac.program import ProgramGraph

    document = json.loads(runs["json"].stdout)
    graph = ProgramGraph.from_json({**document, "exports": document["outputs"]})
    short = render(graph, [], width=60)
    text = render(graph, [], width=60, show_inputs=True)
    assert "expire-resized-variants" not in short  # the one-line view elides the rule...
    assert "expire-resized-variants" in text  # ...which --show-inputs prints whole
    assert '"prefix": "resized/"' in text
    # The resizer's block (prod also runs the OpenSearch transform Lambda, on arm64).
    lambda_block = text[text.index("aws:lambda:Function  images-fn"):]
    assert '"x86_64"' in lambda_block[:4000]
    assert max(len(line) for line in text.splitlines()) <= 60


def test_show_inputs_is_an_option_of_preview():
    import argparse

    from edgekit_iac import preview

    parser = argparse.ArgumentParser()
    preview.add_arguments(parser)
    assert parser.parse_args(["--show-inputs"]).show_inputs is True


def test_json_and_show_inputs_do_not_mix():
    from edgekit_iac.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["preview", "--json", "--show-inputs"])
    assert exit_info.value.code == 2
