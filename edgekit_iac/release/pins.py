"""Artifact pins: which zip each function of a stack deploys, and where the stack file says so.

A pin is `{version, sha256}` per function, kept under `edgekit:artifacts` in
`stacks/Pulumi.<stack>.yaml`. `edgekit promote` and `edgekit rollback` rewrite that one
entry and nothing else: the stack file is edited as text, line by line, so comments, key
order, quoting and `secure:` values outside the pins block stay byte for byte as they were
(a YAML load/dump round trip would reorder keys and drop comments). The edited text is then
parsed again and must equal the old config with only the pins changed, or nothing is
written.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edgekit_iac.config import NAMESPACE, SEMVER_PATTERN, SHA256_PATTERN
from edgekit_iac.errors import UserError

PINS_KEY = f"{NAMESPACE}:artifacts"
PINS_COMMENT = "# The artifacts this stack deploys, by content hash: `edgekit promote` writes them."
_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SEMVER = re.compile(SEMVER_PATTERN)
_SHA256 = re.compile(SHA256_PATTERN)
_CONFIG_LINE = re.compile(r"^config:[ \t]*(#.*)?$")
_PINS_LINE = re.compile(r"^(?P<indent>[ ]*)(?P<q>[\"']?)" + re.escape(PINS_KEY) + r"(?P=q)[ \t]*:")


@dataclass(frozen=True)
class Pin:
    version: str
    sha256: str

    def to_config(self) -> dict[str, str]:
        return {"version": self.version, "sha256": self.sha256}

    def __str__(self) -> str:
        return f"{self.version} (sha256 {self.sha256[:12]})"


def parse_pins(value: Any, where: str, *, allow_empty: bool = False) -> dict[str, Pin]:
    """`{name: {version, sha256, ...}}` as Pins; other fields (like `bytes`) are ignored.

    Every problem is reported at once, each naming the function and what is accepted.
    """
    if not isinstance(value, Mapping) or (not value and not allow_empty):
        raise UserError(
            f"{where}: expected a mapping of function name to {{version, sha256}}, "
            f"got {value!r}"
        )
    pins: dict[str, Pin] = {}
    problems: list[str] = []
    for name, pin in value.items():
        if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
            problems.append(f"{name!r}: not a function name (lowercase letters, digits, _)")
            continue
        if not isinstance(pin, Mapping):
            problems.append(f"{name}: expected {{version, sha256}}, got {pin!r}")
            continue
        version, sha256 = pin.get("version"), pin.get("sha256")
        good_version = isinstance(version, str) and bool(_SEMVER.match(version))
        good_sha256 = isinstance(sha256, str) and bool(_SHA256.match(sha256.lower()))
        if not good_version:
            problems.append(f"{name}.version: {version!r} is not a version like 1.2.0")
        if not good_sha256:
            problems.append(f"{name}.sha256: {sha256!r} is not 64 hex digits")
        if good_version and good_sha256:
            pins[name] = Pin(version=version, sha256=sha256.lower())
    if problems:
        raise UserError(f"{where}: bad artifact pins:\n  " + "\n  ".join(problems))
    return pins


def pins_from_outputs(outputs: Mapping[str, Any], stack: str) -> dict[str, Pin]:
    """The pins a deployed stack reports in its `artifacts` output."""
    if not outputs:
        raise UserError(
            f"stack {stack!r} has no outputs: it has not been deployed (run `pulumi up` on it "
            "first), or the outputs file is empty"
        )
    if "artifacts" not in outputs:
        raise UserError(
            f"the outputs of stack {stack!r} have no 'artifacts' (they have: "
            f"{', '.join(sorted(outputs))}); deploy it with this edgekit version, whose "
            "program exports the artifacts it deployed"
        )
    artifacts = outputs["artifacts"]
    if artifacts == "[secret]":
        raise UserError(
            f"the 'artifacts' output of stack {stack!r} is hidden as [secret]; export the "
            "outputs with `pulumi stack output --json --show-secrets`"
        )
    return parse_pins(artifacts, f"the 'artifacts' output of stack {stack!r}")


def changed(old: Mapping[str, Pin], new: Mapping[str, Pin]) -> list[str]:
    """One line per function whose pin differs."""
    lines = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before != after:
            lines.append(f"{name}: {before or 'not pinned'} -> {after or 'not pinned'}")
    return lines


# --- reading and editing a stack file -------------------------------------------------------


def read_text(path: Path) -> str:
    """The file's exact text: bytes decoded, line endings untouched."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text ({error})") from None


def _load(text: str, path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise UserError(f"{path}: expected a mapping with a 'config:' mapping")
    return document


def pins_in(text: str, path: Path) -> dict[str, Pin]:
    """The pins a stack file's text holds (none when it has no `edgekit:artifacts`)."""
    config = _load(text, path).get("config") or {}
    value = config.get(PINS_KEY)
    if value is None:
        return {}
    return parse_pins(value, f"{path}: {PINS_KEY}", allow_empty=True)


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_filler(line: str) -> bool:
    """Blank or comment-only: belongs to no key."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _render(pins: Mapping[str, Pin], indent: str, newline: str) -> list[str]:
    unit = indent or "  "
    if not pins:
        return [f"{indent}{PINS_KEY}: {{}}{newline}"]
    lines = [f"{indent}{PINS_KEY}:{newline}"]
    for name in sorted(pins):
        pin = pins[name]
        lines.append(f"{indent}{unit}{name}:{newline}")
        # Quoted: an all-digit hash would otherwise load as a number.
        lines.append(f'{indent}{unit}{unit}version: "{pin.version}"{newline}')
        lines.append(f'{indent}{unit}{unit}sha256: "{pin.sha256}"{newline}')
    return lines


def _config_span(lines: list[str], path: Path) -> tuple[int, int] | None:
    """[start, end) of the `config:` mapping's entries, or None without a `config:` key."""
    for index, line in enumerate(lines):
        if line.startswith("config:") and not _CONFIG_LINE.match(line.rstrip("\r\n")):
            raise UserError(
                f"{path}: 'config:' is written inline ({line.strip()!r}); write it as a block "
                "mapping (one key per line) so edgekit can change one key and leave the rest"
            )
        if _CONFIG_LINE.match(line.rstrip("\r\n")):
            end = index + 1
            for later in range(index + 1, len(lines)):
                if _is_filler(lines[later]):
                    continue
                if _indentation(lines[later]) == 0:
                    break
                end = later + 1
            return index + 1, end
    return None


def with_pins(text: str, pins: Mapping[str, Pin], path: Path) -> str:
    """`text` with its `edgekit:artifacts` entry replaced (or added) and nothing else changed."""
    document = _load(text, path)
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    span = _config_span(lines, path)
    if span is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += newline
        new_lines = [*lines, f"config:{newline}", *_render_new(pins, "  ", newline)]
    else:
        new_lines = _replace_in_config(lines, span, pins, newline)
    new_text = "".join(new_lines)
    _check_only_pins_changed(document, new_text, pins, path)
    return new_text


def _render_new(pins: Mapping[str, Pin], indent: str, newline: str) -> list[str]:
    return [f"{indent}{PINS_COMMENT}{newline}", *_render(pins, indent, newline)]


def _replace_in_config(
    lines: list[str], span: tuple[int, int], pins: Mapping[str, Pin], newline: str
) -> list[str]:
    start, end = span
    entries = [i for i in range(start, end) if not _is_filler(lines[i])]
    indent = " " * _indentation(lines[entries[0]]) if entries else "  "
    for index in entries:
        match = _PINS_LINE.match(lines[index])
        if match and match["indent"] == indent:
            block_end = index + 1
            for later in range(index + 1, end):
                if _is_filler(lines[later]):
                    continue
                if _indentation(lines[later]) <= len(indent):
                    break
                block_end = later + 1
            return [*lines[:index], *_render(pins, indent, newline), *lines[block_end:]]
    # No pins yet: add them as the last entry of the config mapping.
    before = lines[:end]
    if before and not before[-1].endswith("\n"):
        before[-1] += newline
    return [*before, *_render_new(pins, indent, newline), *lines[end:]]


def _check_only_pins_changed(
    document: dict[str, Any], new_text: str, pins: Mapping[str, Pin], path: Path
) -> None:
    expected = copy.deepcopy(document)
    config = expected.get("config") or {}
    config[PINS_KEY] = {name: pin.to_config() for name, pin in pins.items()}
    expected["config"] = config
    try:
        actual = yaml.safe_load(new_text)
    except yaml.YAMLError:
        actual = None
    if actual != expected:
        raise UserError(
            f"{path}: changing {PINS_KEY} here would change or lose other keys (an unusual "
            f"layout of the file?); nothing was written. Edit {PINS_KEY} by hand."
        )


def diff(old: str, new: str, label: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{label}",
            tofile=f"b/{label}",
        )
    )


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text.encode("utf-8"))
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
