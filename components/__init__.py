"""edgekit's reusable Pulumi components.

Import what you need: `from edgekit_iac.components import EdgeImageResizer, EdgeImageResizerArgs`.
Each component lives in its own module and is imported on first use, so a
program that uses only the Cloudflare components never imports pulumi_aws.
"""

from __future__ import annotations

import importlib
from typing import Any

# This folder ships as `edgekit_iac.components` (pyproject.toml maps it there). Imported under any
# other name (the checkout on sys.path as a top-level `components`) its modules would exist twice,
# with two copies of every class, so that name is refused.
if __name__ != "edgekit_iac.components":
    raise ImportError(
        f"edgekit's components are imported as `edgekit_iac.components`, not as `{__name__}`: "
        "install the edgekit-iac distribution (`make .venv/.installed-stamp` in a checkout) "
        "and import `edgekit_iac.components`"
    )

_EXPORTS: dict[str, str] = {
    "EdgeImageResizer": "edgekit_iac.components.image_resizer",
    "EdgeImageResizerArgs": "edgekit_iac.components.image_resizer",
    "EdgeWorker": "edgekit_iac.components.worker",
    "EdgeWorkerArgs": "edgekit_iac.components.worker",
    "CachedWorker": "edgekit_iac.components.cached_worker",
    "CachedWorkerArgs": "edgekit_iac.components.cached_worker",
    "OriginDnsRecord": "edgekit_iac.components.cached_worker",
    "EdgeRateLimit": "edgekit_iac.components.rate_limit",
    "EdgeRateLimitArgs": "edgekit_iac.components.rate_limit",
    "CloudflareRateLimit": "edgekit_iac.components.cloudflare_rate_limit",
    "CloudflareRateLimitArgs": "edgekit_iac.components.cloudflare_rate_limit",
    "EdgeLogPipeline": "edgekit_iac.components.log_pipeline",
    "EdgeLogPipelineArgs": "edgekit_iac.components.log_pipeline",
    "CloudflareLogpush": "edgekit_iac.components.logpush",
    "CloudflareLogpushArgs": "edgekit_iac.components.logpush",
    "EdgeAlarms": "edgekit_iac.components.alarms",
    "EdgeAlarmsArgs": "edgekit_iac.components.alarms",
    "DnsTarget": "edgekit_iac.components.domains",
    "EdgeCertificate": "edgekit_iac.components.domains",
    "EdgeCertificateArgs": "edgekit_iac.components.domains",
    "EdgeDnsRecords": "edgekit_iac.components.domains",
    "EdgeDnsRecordsArgs": "edgekit_iac.components.domains",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'edgekit_iac.components' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)


def __dir__() -> list[str]:
    return __all__
