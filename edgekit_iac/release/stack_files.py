"""Read a stack's config file (`stacks/Pulumi.<stack>.yaml`) the way the Pulumi CLI hands it over.

The CLI passes each config value to the program as a string, objects as JSON. Secrets
(`secure:` values) are encrypted with the stack's secrets provider, which only the CLI can
open: offline they become a placeholder that is still marked secret, so the program treats
them exactly as it would the real value and nothing prints them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from edgekit_iac.errors import UserError
from edgekit_iac.paths import project_root

# Shaped as an https URL on a reserved TLD so that components validating a secret URL (the
# incident endpoint) accept it offline; it can never reach anything.
OFFLINE_SECRET_PLACEHOLDER = "https://offline-placeholder.invalid/secret"


def stack_file(stack: str) -> Path:
    return project_root() / "stacks" / f"Pulumi.{stack}.yaml"


def known_stacks() -> list[str]:
    folder = project_root() / "stacks"
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in folder.glob("Pulumi.*.yaml"))


def read_config(stack: str) -> dict[str, Any]:
    """The `config:` mapping of a stack file, keys as written (`edgekit:images`, ...)."""
    path = stack_file(stack)
    if not path.is_file():
        known = ", ".join(known_stacks()) or "none"
        raise UserError(f"no stack file {path} for stack {stack!r} (stacks here: {known})")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise UserError(f"{path}: expected a mapping with a 'config:' key")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise UserError(f"{path}: 'config:' must be a mapping of 'namespace:key: value'")
    for key in config:
        if not isinstance(key, str) or ":" not in key:
            raise UserError(
                f"{path}: config key {key!r} needs a namespace, e.g. 'edgekit:{key}'"
            )
    return config


def is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def to_runtime_config(config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Config as the Pulumi runtime receives it: string values and the list of secret keys."""
    plain: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in config.items():
        if is_secure(value):
            plain[key] = OFFLINE_SECRET_PLACEHOLDER
            secret_keys.append(key)
        elif isinstance(value, str):
            plain[key] = value
        else:
            plain[key] = json.dumps(value)
    return plain, secret_keys
