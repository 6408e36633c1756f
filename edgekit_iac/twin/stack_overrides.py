"""Point the stack's cache wrapper at the twin's demo origin, through the stack config (and
trust the twin's own URL-signing key, `with_signing_key`).

The local stack names a loopback origin URL (`edgekit:cloudflare` ->
`cacheWrapper.originUrl`, e.g. http://127.0.0.1:8790): that is where the demo origin
listens by default. When the demo origin gets another port (`--port demo-origin=N`,
`--port-base 0`), the twin runs the program with that key set to the demo origin's real
URL, so the graph (and graph.json) records the URL the Worker actually calls. A non-loopback
origin URL (a real API) is left alone, and the Worker calls it. `edgekit up --origin-url URL`
points the cache wrapper at another origin instead (e.g. a test suite's own server).
The auth Worker's origin and JWKS URLs follow the demo origin when they name the same
loopback host and port as the cache wrapper's origin.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

CONFIG_KEY = "edgekit:cloudflare"
ORIGIN_URL_PATH = ("cacheWrapper", "originUrl")
# Other URLs of the demo origin: the auth Worker's origin and the twin's JWKS it serves.
DEMO_URL_PATHS = (("edgeAuth", "originUrl"), ("edgeAuth", "jwksUrl"))


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin_url(config: Mapping[str, Any]) -> str | None:
    node: Any = config.get(CONFIG_KEY)
    for part in ORIGIN_URL_PATH:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node if isinstance(node, str) else None


def loopback_origin_port(config: Mapping[str, Any]) -> int | None:
    """The port of the stack's origin URL when it is a loopback http URL (the demo origin's)."""
    url = _origin_url(config)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme != "http" or not _is_loopback(parts.hostname):
        return None
    return parts.port or 80


def with_demo_origin(config: Mapping[str, Any], demo_url: str) -> dict[str, Any]:
    """A copy of `config` whose loopback origin URL is `demo_url` (unchanged otherwise)."""
    updated = copy.deepcopy(dict(config))
    if loopback_origin_port(config) is None:
        return updated
    node = updated[CONFIG_KEY]
    for part in ORIGIN_URL_PATH[:-1]:
        node = node[part]
    stack_base = _base(node[ORIGIN_URL_PATH[-1]])
    node[ORIGIN_URL_PATH[-1]] = demo_url
    for section, key in DEMO_URL_PATHS:
        other = updated[CONFIG_KEY].get(section)
        url = other.get(key) if isinstance(other, dict) else None
        if isinstance(url, str) and _base(url) == stack_base:
            rest = urlsplit(url)
            other[key] = demo_url.rstrip("/") + rest.path + (f"?{rest.query}" if rest.query
                                                             else "")
    return updated


def _base(url: str) -> str:
    """scheme://host:port of a URL, the port spelled out."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 80}"


def with_origin_url(config: Mapping[str, Any], url: str) -> dict[str, Any]:
    """A copy of `config` whose cache wrapper calls `url` (whatever the stack says)."""
    updated = copy.deepcopy(dict(config))
    node = updated.get(CONFIG_KEY)
    if not isinstance(node, dict):
        return updated  # no Cloudflare section: no cache wrapper to point anywhere
    for part in ORIGIN_URL_PATH[:-1]:
        if not isinstance(node.get(part), dict):
            return updated  # no cache wrapper in this stack: nothing to point anywhere
        node = node[part]
    node[ORIGIN_URL_PATH[-1]] = url
    return updated


IMAGES_KEY = "edgekit:images"
SIGNING_KEYS = "signingPublicKeys"


def with_signing_key(config: Mapping[str, Any], name: str, public_pem: str) -> dict[str, Any]:
    """A copy of `config` trusting `public_pem` (the twin's own key) for signed URLs, when
    the stack trusts no key of its own (a stack's own keys are left as they are)."""
    updated = copy.deepcopy(dict(config))
    images = updated.get(IMAGES_KEY)
    if images is None:
        images = updated[IMAGES_KEY] = {}
    if not isinstance(images, dict) or images.get(SIGNING_KEYS):
        return updated
    images[SIGNING_KEYS] = {name: public_pem}
    return updated
