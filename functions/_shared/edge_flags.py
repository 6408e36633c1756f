"""Feature flags at the edge: read from the ``FLAGS`` Workers KV binding, cached in the isolate.

Shipped into a Worker's bundle by ``[bundle] shared = ["edge_flags.py"]`` in its
function.toml (stdlib only: CPython 3.11+ and Pyodide). The stack declares the flags and
seeds the store (components/edge_flags.py); ``edgekit flags set`` changes them.

Bound: a flag is read from KV at most once per ``CACHE_SECONDS`` (5 s) per isolate, so a
change reaches every isolate within 5 s plus KV's own propagation (Cloudflare documents
up to 60 s for a write to be visible in every location; the local twin's KV is immediate).
Without the binding, with a missing key, an unreadable value or a value of another type
than the Worker's default, the Worker's default applies: a flag store problem never breaks
a request. When KV fails, the last value read is kept.

A percentage flag holds 0..100; ``in_rollout`` puts a request in or out by a sticky hash of
one attribute (client IP, a header, a cookie): the same visitor gets the same answer while
the share is unchanged, and raising the share only adds visitors.
"""

import hashlib
import json
import time

BINDING = "FLAGS"
CACHE_SECONDS = 5.0
# Buckets of 0.01 %: a 0.5 % rollout is 50 buckets out of 10000.
_BUCKETS = 10_000


class FlagReader:
    """One per isolate (module-level ``READER``): flag name -> (read at, raw text)."""

    def __init__(self, cache_seconds=CACHE_SECONDS, clock=time.monotonic):
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cache = {}

    async def get(self, env, name, default):
        """The flag's value as the type of ``default``, or ``default``."""
        return typed(await self._raw(env, name), default)

    async def rollout(self, env, name, headers):
        """Is this request inside percentage flag ``name``'s rollout? ``headers``: the
        request's headers, names lowercased. Off when the flag is absent or unreadable."""
        try:
            stored = json.loads(await self._raw(env, name) or "null")
            percent, sticky_by = stored["percent"], stored["stickyBy"]
        except (ValueError, TypeError, KeyError):
            return False
        return in_rollout(name, sticky_attribute(sticky_by, headers), percent)

    async def _raw(self, env, name):
        kv = getattr(env, BINDING, None)
        if kv is None:
            return None
        now = self._clock()
        cached = self._cache.get(name)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        try:
            raw = await kv.get(name)
        except Exception:  # KV unavailable (JsException in Pyodide): keep the last value
            raw = cached[1] if cached is not None else None
        raw = None if raw is None else str(raw)
        self._cache[name] = (now, raw)
        return raw


def sticky_attribute(sticky_by, headers):
    """The request attribute a rollout hashes: ``ip`` (CF-Connecting-IP), ``header:<name>``
    or ``cookie:<name>``; "" when the request has none (all such requests share a bucket)."""
    kind, _, name = str(sticky_by).partition(":")
    if kind == "ip":
        return headers.get("cf-connecting-ip", "")
    if kind == "header":
        return headers.get(name.lower(), "")
    if kind == "cookie":
        for part in headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
    return ""


def typed(raw, default):
    """``raw`` (JSON text) as the type of ``default``; ``default`` when it is not one."""
    if raw is None:
        return default
    try:
        value = json.loads(raw)
    except ValueError:
        return default
    if isinstance(default, bool):
        return value if isinstance(value, bool) else default
    if isinstance(default, int | float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return value if ok else default
    if isinstance(default, str):
        return value if isinstance(value, str) else default
    return default


def in_rollout(flag, attribute, percent):
    """Is the visitor identified by ``attribute`` inside a ``percent`` (0..100) rollout?"""
    if not isinstance(percent, int | float) or isinstance(percent, bool) or percent <= 0:
        return False
    if percent >= 100:
        return True
    digest = hashlib.sha256(f"{flag}\0{attribute}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % _BUCKETS < round(percent * _BUCKETS / 100)


READER = FlagReader()
