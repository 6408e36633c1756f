"""Typed feature flags: what a flag may hold, and how its value is written to the edge stores.

A stack declares its flags under `edgekit:flags` (see edgekit_iac.config.FlagSettings):

    edgekit:flags:
      cache_enabled: {type: bool, default: true}
      geo_message: {type: string, default: "Hello from the edge"}
      new_thumbnails: {type: percentage, default: 0, stickyBy: ip}

Both stores (the Workers KV namespace and the CloudFront KeyValueStore, see
components/edge_flags.py) hold each flag under its own name as JSON text: `true`, `12.5`,
`"Hello"`. A percentage flag's value is the share of requests, 0..100, that see it on,
stored as `{"percent": 10, "stickyBy": "ip"}`; the edge decides per request with a sticky
hash of that request attribute (the client IP, a header or a cookie), so a visitor keeps one
answer while the share is unchanged (functions/_shared/edge_flags.py `FlagReader.rollout`).
Pure: no provider SDK, no I/O.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from edgekit_iac.errors import UserError

FLAG_TYPES = ("bool", "number", "string", "percentage")
FLAG_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
STICKY_BY = re.compile(r"^(ip|header:[A-Za-z0-9-]{1,64}|cookie:[A-Za-z0-9_.-]{1,64})$")
# CloudFront KeyValueStore: values up to 1 KB (the tighter of the two stores; KV takes 25 MiB).
VALUE_LIMIT_BYTES = 1024
_TRUE = ("true", "on", "yes", "1")
_FALSE = ("false", "off", "no", "0")


class FlagError(UserError):
    """A flag name or value is not what the stack declares."""


@dataclass(frozen=True)
class FlagSpec:
    """One declared flag: its type, the value the program seeds, and (percentage) its key."""

    name: str
    type: str
    default: Any
    sticky_by: str | None = None

    def __post_init__(self) -> None:
        if not FLAG_NAME.match(self.name):
            raise FlagError(
                f"flag name {self.name!r}: accepted: a lowercase letter, then lowercase "
                "letters, digits or '_', at most 64 characters"
            )
        if self.type not in FLAG_TYPES:
            raise FlagError(f"flag {self.name}: type {self.type!r}; accepted: {FLAG_TYPES}")
        if self.type == "percentage":
            if self.sticky_by is None or not STICKY_BY.match(self.sticky_by):
                raise FlagError(
                    f"flag {self.name}: stickyBy {self.sticky_by!r}; accepted for a percentage "
                    "flag: ip, header:<name> or cookie:<name>"
                )
        elif self.sticky_by is not None:
            raise FlagError(f"flag {self.name}: stickyBy is only for percentage flags")
        object.__setattr__(self, "default", check_value(self, self.default))

    @property
    def accepted(self) -> str:
        return {
            "bool": "true or false (also on/off, yes/no, 1/0)",
            "number": "a finite number, e.g. 3 or 2.5",
            "string": f"any text up to {VALUE_LIMIT_BYTES} bytes as JSON",
            "percentage": "a number from 0 to 100 (the share of requests that see it on)",
        }[self.type]


def check_value(spec: FlagSpec, value: Any) -> Any:
    """`value` as the flag's type (bool, float/int, str), or FlagError naming what is accepted."""
    ok = False
    if spec.type == "bool":
        ok = isinstance(value, bool)
    elif spec.type in ("number", "percentage"):
        ok = (isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value))
        if ok and spec.type == "percentage":
            ok = 0 <= value <= 100
    elif spec.type == "string":
        ok = isinstance(value, str)
    if not ok:
        raise FlagError(
            f"flag {spec.name} is a {spec.type} flag; got {value!r}; accepted: {spec.accepted}"
        )
    if len(encode(value).encode()) > VALUE_LIMIT_BYTES:
        raise FlagError(
            f"flag {spec.name}: the value is longer than {VALUE_LIMIT_BYTES} bytes as JSON "
            "(CloudFront KeyValueStore's limit)"
        )
    return value


def parse_text(spec: FlagSpec, text: str) -> Any:
    """A value typed on the command line, as the flag's type."""
    if spec.type == "bool":
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        return check_value(spec, text)  # raises, naming what is accepted
    if spec.type in ("number", "percentage"):
        try:
            number = float(text)
        except ValueError:
            return check_value(spec, text)
        return check_value(spec, int(number) if number.is_integer() else number)
    return check_value(spec, text)


def encode(value: Any) -> str:
    """The stored form of a value: compact JSON text."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def stored(spec: FlagSpec, value: Any) -> str:
    """What the stores hold for `value`: its JSON, and for a percentage flag the object
    {"percent": P, "stickyBy": ...}, so the edge knows which attribute to hash."""
    if spec.type == "percentage":
        return encode({"percent": value, "stickyBy": spec.sticky_by})
    return encode(value)


def decode(spec: FlagSpec, text: str | None) -> Any:
    """A stored value as the flag's type; None when absent. A value of the wrong type is an
    error (someone wrote the store by hand): the CLI says so rather than guess."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise FlagError(f"flag {spec.name}: the store holds {text!r}, which is not JSON") from None
    if spec.type == "percentage" and isinstance(value, dict):
        value = value.get("percent")
    return check_value(spec, value)


def lookup(specs: dict[str, FlagSpec], name: str) -> FlagSpec:
    """The declared flag `name`, or FlagError listing the declared ones."""
    if name not in specs:
        declared = ", ".join(sorted(specs)) or "none"
        raise FlagError(
            f"unknown flag {name!r}; this stack declares: {declared} "
            "(declare flags under edgekit:flags in its stack file)"
        )
    return specs[name]
