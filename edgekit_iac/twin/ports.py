"""Which port each listener gets: stable defaults from a base port, or free ports. Pure.

With `--port-base 8700` (the default): the status page 8700, S3 8701, then the
distributions and Workers in the order of their logical names from 8702; the demo origin
listens where the stack's origin URL says (8790 in the local stack) or else after them.
`--port-base 0` gives every listener a free port (tests, several twins side by side).
`--port NAME=PORT` pins one listener; it wins over both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from edgekit_iac.errors import UserError

STATUS, S3, DEMO_ORIGIN = "status", "s3", "demo-origin"
DEFAULT_BASE = 8700


def parse_port_overrides(values: Iterable[str]) -> dict[str, int]:
    """`["s3=9000", "images-cdn=9001"]` -> {"s3": 9000, ...}, or a UserError naming the value."""
    overrides = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not name.strip() or not number.strip().isdigit() or not (
                0 <= int(number) <= 65535):
            raise UserError(f"--port {value!r}: expected NAME=PORT with PORT 0..65535 "
                            "(0 = a free port), e.g. --port images-cdn=8080")
        overrides[name.strip()] = int(number)
    return overrides


def check_base(base: int) -> int:
    if not (base == 0 or 1024 <= base <= 65000):
        raise UserError(f"--port-base {base}: expected 0 (free ports) or 1024..65000")
    return base


def plan(names: Sequence[str], base: int, overrides: Mapping[str, int],
         first_offset: int = 2) -> dict[str, int]:
    """Ports for graph listeners `names` (sorted), after the fixed status and S3 ports."""
    ports = {}
    for index, name in enumerate(sorted(names)):
        default = 0 if base == 0 else base + first_offset + index
        ports[name] = overrides.get(name, default)
    return ports


def fixed_port(name: str, base: int, overrides: Mapping[str, int]) -> int:
    offset = {STATUS: 0, S3: 1}[name]
    return overrides.get(name, 0 if base == 0 else base + offset)


def demo_origin_port(base: int, overrides: Mapping[str, int], stack_port: int | None,
                     after: int) -> int:
    """The stack's loopback origin port by default; free with base 0; else `base + after`."""
    if DEMO_ORIGIN in overrides:
        return overrides[DEMO_ORIGIN]
    if base == 0:
        return 0
    return stack_port if stack_port else base + after


def unknown_overrides(overrides: Mapping[str, int], known: Iterable[str]) -> list[str]:
    return sorted(set(overrides) - set(known))
