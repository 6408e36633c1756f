"""Remove one nested key from a stack file, as text, keeping every other line as it was.

Like the artifact pins (pins.py), the file is edited line by line so comments, key order and
quoting stay; the edited text is parsed again and must equal the old config without that key,
or nothing is written. A key written in flow style (`canary: {stableVersion: "7"}`) is not
edited: the error says to remove it by hand.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml

from edgekit_iac.errors import UserError


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The index after the last line nested deeper than `indent` following `start`."""
    end = start + 1
    for index in range(start + 1, len(lines)):
        if _is_filler(lines[index]):
            continue
        if _indentation(lines[index]) <= indent:
            break
        end = index + 1
    return end


def _find(lines: list[str], begin: int, end: int, key: str) -> int | None:
    """The line of `key` among the entries of the block lines[begin:end] (its shallowest
    level)."""
    entries = [i for i in range(begin, end) if not _is_filler(lines[i])]
    if not entries:
        return None
    level = min(_indentation(lines[i]) for i in entries)
    pattern = re.compile(rf"^ {{{level}}}([\"']?){re.escape(key)}\1[ \t]*:(?:[ \t]|$)")
    return next((i for i in entries if pattern.match(lines[i])), None)


def without_key(text: str, keys: tuple[str, ...], label: str) -> str | None:
    """`text` without config[keys[0]][keys[1]]...; None when the key is not there."""
    document = yaml.safe_load(text) or {}
    holder = document.get("config") or {}
    for key in keys[:-1]:
        holder = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or keys[-1] not in holder:
        return None
    lines = text.splitlines(keepends=True)
    begin, end, parent = 0, len(lines), None
    for key in ("config", *keys):
        found = _find(lines, begin, end, key)
        if found is None:
            raise UserError(f"{label}: cannot find {'.'.join(keys)} line by line (flow style?); "
                            "nothing was written: remove it by hand")
        parent = begin - 1
        begin, end = found + 1, _block_end(lines, found, _indentation(lines[found]))
    removed = begin - 1
    new_lines = [*lines[:removed], *lines[end:]]
    siblings = [i for i in range(parent + 1, removed) if not _is_filler(lines[i])] + [
        i for i in range(end, _block_end(lines, parent, _indentation(lines[parent])))
        if not _is_filler(lines[i])]
    if not siblings:  # the mapping is empty now: say so, or YAML reads it as null
        line = new_lines[parent]
        body = line.rstrip("\r\n")
        new_lines[parent] = body + " {}" + line[len(body):]
    new_text = "".join(new_lines)
    expected = copy.deepcopy(document)
    holder = expected["config"]
    for key in keys[:-1]:
        holder = holder[key]
    del holder[keys[-1]]
    if yaml.safe_load(new_text) != expected:
        raise UserError(f"{label}: removing {'.'.join(keys)} as text would change other keys; "
                        "nothing was written: remove it by hand")
    return new_text


def remove_key(path: Path, keys: tuple[str, ...]) -> bool:
    """Remove config[keys...] from the stack file at `path`; whether it was there."""
    from edgekit_iac.release.pins import write_atomically

    new_text = without_key(path.read_text(), keys, str(path))
    if new_text is None:
        return False
    write_atomically(path, new_text)
    return True
