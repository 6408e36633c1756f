"""edgekit's reusable Pulumi components.

Import what you need: `from components import EdgeImageResizer, EdgeImageResizerArgs`.
Each component lives in its own module and is imported on first use, so a
program that uses only the Cloudflare components never imports pulumi_aws.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "EdgeImageResizer": "components.image_resizer",
    "EdgeImageResizerArgs": "components.image_resizer",
    "EdgeWorker": "components.worker",
    "EdgeWorkerArgs": "components.worker",
    "DurableObjectMigration": "components.durable_objects",
    "CachedWorker": "components.cached_worker",
    "CachedWorkerArgs": "components.cached_worker",
    "OriginDnsRecord": "components.cached_worker",
    "EdgeRateLimit": "components.rate_limit",
    "EdgeRateLimitArgs": "components.rate_limit",
    "CloudflareRateLimit": "components.cloudflare_rate_limit",
    "CloudflareRateLimitArgs": "components.cloudflare_rate_limit",
    "EdgeLogPipeline": "components.log_pipeline",
    "EdgeLogPipelineArgs": "components.log_pipeline",
    "CloudflareLogpush": "components.logpush",
    "CloudflareLogpushArgs": "components.logpush",
    "EdgeAlarms": "components.alarms",
    "EdgeAlarmsArgs": "components.alarms",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'components' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)


def __dir__() -> list[str]:
    return __all__
