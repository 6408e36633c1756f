"""The image_format CloudFront Function: its Node tests, its deploy-time rendering, its limits."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from edgekit_iac.functions.image_format import render

FOLDER = Path(render.__file__).parent


def test_the_functions_own_node_tests_pass():
    node = shutil.which("node")
    assert node, "Node.js 20+ is required (README: the two commands)"
    result = subprocess.run([node, "--test", str(FOLDER)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"^# pass [1-9]", result.stdout, re.M), result.stdout[-2000:]
    assert re.search(r"^# fail 0$", result.stdout, re.M)


@pytest.mark.parametrize(("auto_format", "avif"), [(True, True), (True, False), (False, True)])
def test_settings_are_rendered_into_the_one_settings_line(auto_format, avif):
    code = render.render(auto_format=auto_format, avif=avif)
    settings = [line for line in code.splitlines() if line.startswith(render.SETTINGS_PREFIX)]
    expected = render.settings_json(auto_format=auto_format, avif=avif)
    assert settings == [f"{render.SETTINGS_PREFIX}{expected};"]
    assert len(code.encode()) <= render.MAX_CODE_BYTES


def test_the_flags_declared_default_is_rendered_beside_the_settings():
    code = render.render(flag_default=False)
    assert '"autoFormatFlagDefault": false' in code
    assert '"autoFormatFlagDefault": true' in render.render()
    with pytest.raises(render.RenderError, match="flag_default must be True or False"):
        render.render(flag_default="false")


def test_the_function_reads_the_flag_through_the_documented_kvs_helpers():
    # AWS, "Helper methods for key value stores": import cf from 'cloudfront' in the first
    # lines, cf.kvs() for the associated store, await get(key, {format}) in an async handler.
    code = render.render()
    assert code.splitlines()[0] == "import cf from 'cloudfront';"
    assert "cf.kvs()" in code and 'flags.get(FLAG, {format: "json"})' in code
    assert 'const FLAG = "auto_format";' in code
    assert re.search(r"^async function handler\(event\)", code, re.M)


def test_settings_must_be_booleans():
    with pytest.raises(render.RenderError, match="avif must be True or False, got 'yes'"):
        render.render(auto_format=True, avif="yes")


def test_a_source_over_the_10_kb_limit_is_refused_with_its_size():
    source = render.SOURCE_FILE.read_text() + "// " + "x" * render.MAX_CODE_BYTES + "\n"
    with pytest.raises(render.RenderError, match=r"renders to \d+ bytes; .* at most 10240"):
        render.render(source=source)


def test_a_source_without_the_settings_line_is_refused():
    with pytest.raises(render.RenderError, match="edgekit:settings"):
        render.render(source="function handler(event) { return event.request; }\n")


# cloudfront-js-2.0 is ES 5.1 plus listed ES6-12 features (AWS, "JavaScript runtime 2.0
# features for CloudFront Functions"). Syntax Node accepts but that runtime does not list:
UNSUPPORTED = {
    "for-of loop": r"\bfor\s*\([^)]*\bof\b",
    "spread/rest in literals": r"\.\.\.",
    "optional chaining": r"\?\.",
    "nullish coalescing": r"\?\?",
    "class": r"^\s*class\s",
    # The one import the runtime documents: its own `cloudfront` module, for cf.kvs().
    "modules other than cloudfront": r"^\s*(import|export)\s(?!cf from 'cloudfront';$)",
    "async closures or arrows": r"\basync\s*(\(|[\w$]+\s*=>|function\s*\()",
    "require": r"\brequire\s*\(",
    "timers": r"\bset(Timeout|Interval)\s*\(",
    "eval": r"\b(eval|Function)\s*\(",
}


@pytest.mark.parametrize("feature", sorted(UNSUPPORTED))
def test_the_function_uses_only_syntax_the_runtime_lists(feature):
    code = "\n".join(line for line in render.render().splitlines()
                     if not line.lstrip().startswith("//"))
    assert not re.search(UNSUPPORTED[feature], code, re.M), feature
