"""edgekit's reusable Pulumi components.

Import what you need: `from edgekit_iac.components import EdgeImageResizer, EdgeImageResizerArgs`.
Each component lives in its own module; this package re-exports their public classes.
"""

from __future__ import annotations

# This folder ships as `edgekit_iac.components` (pyproject.toml maps it there). Imported under any
# other name (the checkout on sys.path as a top-level `components`) its modules would exist twice,
# with two copies of every class, so that name is refused.
if __name__ != "edgekit_iac.components":
    raise ImportError(
        f"edgekit's components are imported as `edgekit_iac.components`, not as `{__name__}`: "
        "install the edgekit-iac distribution (`make .venv/.installed-stamp` in a checkout) "
        "and import `edgekit_iac.components`"
    )

# Plain imports, not a lazy module __getattr__: type checkers and editors see every class
# (a typo like `EdgeImageResizerArgs(qualty=80)` is a type error). Each component loads its
# provider SDK on first use, so these imports stay cheap.
from edgekit_iac.components.alarms import EdgeAlarms, EdgeAlarmsArgs
from edgekit_iac.components.auth_worker import AuthWorker, AuthWorkerArgs
from edgekit_iac.components.cached_worker import CachedWorker, CachedWorkerArgs, OriginDnsRecord
from edgekit_iac.components.cloudflare_rate_limit import (
    CloudflareRateLimit,
    CloudflareRateLimitArgs,
)
from edgekit_iac.components.dashboard import EdgeDashboard, EdgeDashboardArgs
from edgekit_iac.components.domains import (
    DnsTarget,
    EdgeCertificate,
    EdgeCertificateArgs,
    EdgeDnsRecords,
    EdgeDnsRecordsArgs,
)
from edgekit_iac.components.durable_objects import DurableObjectMigration
from edgekit_iac.components.edge_flags import EdgeFlags, EdgeFlagsArgs
from edgekit_iac.components.image_resizer import EdgeImageResizer, EdgeImageResizerArgs
from edgekit_iac.components.log_pipeline import EdgeLogPipeline, EdgeLogPipelineArgs
from edgekit_iac.components.logpush import CloudflareLogpush, CloudflareLogpushArgs
from edgekit_iac.components.rate_limit import EdgeRateLimit, EdgeRateLimitArgs
from edgekit_iac.components.signed_paths import SignedPaths, SignedPathsArgs
from edgekit_iac.components.worker import EdgeWorker, EdgeWorkerArgs

__all__ = [
    "AuthWorker",
    "AuthWorkerArgs",
    "CachedWorker",
    "CachedWorkerArgs",
    "CloudflareLogpush",
    "CloudflareLogpushArgs",
    "CloudflareRateLimit",
    "CloudflareRateLimitArgs",
    "DnsTarget",
    "DurableObjectMigration",
    "EdgeAlarms",
    "EdgeAlarmsArgs",
    "EdgeCertificate",
    "EdgeCertificateArgs",
    "EdgeDashboard",
    "EdgeDashboardArgs",
    "EdgeDnsRecords",
    "EdgeDnsRecordsArgs",
    "EdgeFlags",
    "EdgeFlagsArgs",
    "EdgeImageResizer",
    "EdgeImageResizerArgs",
    "EdgeLogPipeline",
    "EdgeLogPipelineArgs",
    "EdgeRateLimit",
    "EdgeRateLimitArgs",
    "EdgeWorker",
    "EdgeWorkerArgs",
    "OriginDnsRecord",
    "SignedPaths",
    "SignedPathsArgs",
]
