"""EdgeDashboard: one CloudWatch dashboard per stack for the image edge.

What it shows, and where each number comes from:

- the distribution's requests, cache hit rate, 4xx/5xx error rates and origin latency
  p50/p95/p99 (AWS/CloudFront, DistributionId + Region=Global, us-east-1 only; the cache
  hit rate and origin latency exist once EdgeAlarms switched the additional metrics on);
- the resizer: CloudFront's per-distribution Lambda@Edge error counts, which cover every
  region, and, per region where replicas run (the regional edge cache regions), AWS/Lambda
  Duration p95, Errors and Throttles of `us-east-1.<function>`: Lambda@Edge writes its own
  metrics in the region that ran it, so one widget draws one line per region, each metric
  carrying its `region` (CloudWatch dashboards mix regions in a widget that way);
- the WAF web ACL's allowed and blocked requests (AWS/WAFV2, dimensions WebACL and Rule,
  both the visibility-config metric names; CloudFront-scoped ACLs have no Region dimension
  and report in us-east-1), all rules and per rate rule;
- every alarm's threshold as a horizontal annotation on the widget of the metric it
  watches.

The widgets are built from the names the alarms use (edgekit_iac.components.alarms:
namespaces, metric names, dimensions, thresholds from the same validated AlarmSettings) and
from the web ACL's own metric names (EdgeRateLimit.metric_names), so a rename changes the
dashboard with the alarm. The panels are a neutral description (`Panel`, `MetricRef`):
`cloudwatch_body` writes CloudWatch's dashboard body from them and `edgekit dashboard
--format grafana` writes a Grafana dashboard from the same panels (edgekit_iac.observe).

Body format: CloudWatch "Dashboard Body Structure and Syntax" (widgets with type, x, y,
width, height, properties; each metric an array `[namespace, name, dim, value, ...,
{rendering}]`, math as `{"expression", "id", "label"}`, thresholds as
`annotations.horizontal`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
from edgekit_iac.components import alarms as alarm_names
from edgekit_iac.components._args import ArgsError, check_region, documented, provider_module
from edgekit_iac.components._args import check_component_name as _check_name
from edgekit_iac.components._aws_helpers import is_tag_mapping
from edgekit_iac.components._component import EdgeComponent

if TYPE_CHECKING:
    import pulumi_aws as aws
else:
    aws = provider_module("pulumi_aws")

TYPE_TOKEN = "edgekit:aws:EdgeDashboard"

WAF_NAMESPACE = "AWS/WAFV2"
WAF_ALL_RULES = "ALL"
# Regions with a CloudFront regional edge cache, where Lambda@Edge replicas run and write
# their AWS/Lambda metrics (AWS lists them in the Lambda@Edge and CloudFront guides).
REGIONAL_EDGE_CACHE_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "sa-east-1",
)
# The regional edge caches a price class uses (PriceClass_100: North America and Europe;
# PriceClass_200 adds Asia; All adds South America and Oceania).
_NORTH_AMERICA_EUROPE = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
)
PRICE_CLASS_REGIONS = {
    "PriceClass_100": _NORTH_AMERICA_EUROPE,
    "PriceClass_200": (
        *_NORTH_AMERICA_EUROPE,
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-southeast-1",
    ),
    "PriceClass_All": REGIONAL_EDGE_CACHE_REGIONS,
}
WIDGET_WIDTH = 12  # two widgets per row of CloudWatch's 24-column grid
WIDGET_HEIGHT = 6


class DashboardArgsError(ArgsError):
    """A field of `EdgeDashboardArgs` is wrong; the message names it and what is accepted."""

    owner = "EdgeDashboardArgs"


@documented
@dataclass(frozen=True)
class EdgeDashboardArgs:
    """What the dashboard watches; which metrics, dimensions and regions follow from it."""

    distribution_id: pulumi.Input[str]
    """The CloudFront distribution, e.g. `EdgeImageResizer.distribution_id`. Required."""

    function_name: pulumi.Input[str] | None = None
    """The Lambda@Edge function (unqualified, as created in us-east-1), e.g.
    `EdgeImageResizer.function_name`. Default: None (no resizer widgets)."""

    alarms: alarm_names.EdgeAlarmsArgs | None = None
    """The arguments the stack's EdgeAlarms was given: its thresholds become annotations.
    Default: None (no annotations)."""

    web_acl_metric_names: Sequence[str] = ()
    """The web ACL's metric name first, then its rules' (`EdgeRateLimit.metric_names`).
    Default: none (no WAF widget)."""

    lambda_regions: Sequence[str] = PRICE_CLASS_REGIONS["PriceClass_100"]
    """Regions whose AWS/Lambda metrics of the replicas are drawn, e.g.
    `PRICE_CLASS_REGIONS[price_class]`. Default: PriceClass_100's regional edge caches."""

    period_seconds: int = 60
    """Period of every graph, 60..3600 in whole minutes. Default: 60."""

    tags: Mapping[str, str] = field(default_factory=dict)
    """Accepted for symmetry with the other components; CloudWatch dashboards take no
    tags. Must be a mapping of strings. Default: none."""


@dataclass(frozen=True)
class DashboardSettings:
    distribution_id: pulumi.Input[str]
    function_name: pulumi.Input[str] | None
    alarms: alarm_names.AlarmSettings | None
    web_acl_metric_names: tuple[str, ...]
    lambda_regions: tuple[str, ...]
    period_seconds: int


def validate_args(args: EdgeDashboardArgs) -> DashboardSettings:
    """Check every field and return the normalized settings, or raise naming the field."""
    if args.distribution_id is None or args.distribution_id == "":
        raise DashboardArgsError(
            "distribution_id", f"got {args.distribution_id!r}", "a distribution id"
        )
    if args.period_seconds not in range(60, 3601, 60):
        raise DashboardArgsError(
            "period_seconds", f"got {args.period_seconds!r}", "60..3600 in steps of 60"
        )
    names = args.web_acl_metric_names
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise DashboardArgsError(
            "web_acl_metric_names",
            f"got {names!r}",
            "a list of WAF metric names, the web ACL's first",
        )
    regions = args.lambda_regions
    if isinstance(regions, str) or not regions:
        raise DashboardArgsError(
            "lambda_regions", f"got {regions!r}", "a non-empty list of AWS regions"
        )
    for region in regions:
        check_region(DashboardArgsError, "lambda_regions", region)
    if not is_tag_mapping(args.tags):
        raise DashboardArgsError("tags", f"got {args.tags!r}", "a mapping of strings to strings")
    return DashboardSettings(
        distribution_id=args.distribution_id,
        function_name=args.function_name,
        alarms=alarm_names.validate_args(args.alarms) if args.alarms is not None else None,
        web_acl_metric_names=tuple(names),
        lambda_regions=tuple(dict.fromkeys(regions)),
        period_seconds=args.period_seconds,
    )


def check_component_name(name: str) -> str:
    return _check_name(DashboardArgsError, "EdgeDashboard", name, "dashboard names")


# --- the neutral panels, shared by CloudWatch and Grafana -----------------------------------


@dataclass(frozen=True)
class MetricRef:
    """One CloudWatch metric as a graph line."""

    namespace: str
    name: str
    dimensions: dict[str, str]
    stat: str
    region: str
    label: str
    id: str = ""
    visible: bool = True


@dataclass(frozen=True)
class Expression:
    """CloudWatch metric math over the panel's metric ids."""

    id: str
    expression: str
    label: str


@dataclass(frozen=True)
class Threshold:
    """An alarm's threshold, drawn as a horizontal line."""

    label: str
    value: float
    alarm: str  # the EdgeAlarms child suffix that uses it, e.g. "5xx-error-rate"


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str  # CloudWatch's label for the left axis: "%", "ms", "count"
    metrics: tuple[MetricRef, ...]
    expressions: tuple[Expression, ...] = ()
    thresholds: tuple[Threshold, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Panel:
        return cls(
            title=data["title"],
            unit=data["unit"],
            metrics=tuple(MetricRef(**m) for m in data["metrics"]),
            expressions=tuple(Expression(**e) for e in data.get("expressions", ())),
            thresholds=tuple(Threshold(**t) for t in data.get("thresholds", ())),
        )


def _cloudfront(name: str, stat: str, distribution_id: str, label: str, **extra: Any) -> MetricRef:
    return MetricRef(
        namespace=alarm_names.CLOUDFRONT_NAMESPACE,
        name=name,
        dimensions=dict(alarm_names.cloudfront_dimensions(distribution_id)),
        stat=stat,
        region=alarm_names.CLOUDFRONT_METRICS_REGION,
        label=label,
        **extra,
    )


def _thresholds(settings: DashboardSettings, metric_name: str) -> tuple[Threshold, ...]:
    """The thresholds of the alarms that watch `metric_name`, as EdgeAlarms declares them."""
    if settings.alarms is None:
        return ()
    return tuple(
        Threshold(f"alarm: {spec.description}", spec.threshold, spec.suffix)
        for spec in alarm_names.cloudfront_alarms(settings.alarms)
        if spec.metric_name == metric_name
    )


def panels(
    settings: DashboardSettings, distribution_id: str, function_name: str | None
) -> list[Panel]:
    """Every panel, with the ids resolved (the pure core of the component)."""
    result = [
        Panel("Requests", "count", (_cloudfront("Requests", "Sum", distribution_id, "requests"),)),
        Panel(
            "Cache hit rate",
            "%",
            (_cloudfront("CacheHitRate", "Average", distribution_id, "cache hit rate"),),
        ),
        Panel(
            "Error rates (4xx, 5xx)",
            "%",
            (
                _cloudfront("4xxErrorRate", "Average", distribution_id, "4xx"),
                _cloudfront("5xxErrorRate", "Average", distribution_id, "5xx"),
            ),
            thresholds=_thresholds(settings, "5xxErrorRate"),
        ),
        Panel(
            "Origin latency (cache misses: resizes)",
            "ms",
            tuple(
                _cloudfront("OriginLatency", stat, distribution_id, stat)
                for stat in ("p50", "p95", "p99")
            ),
            thresholds=_thresholds(settings, "OriginLatency"),
        ),
    ]
    if function_name is not None:
        result.extend(_resizer_panels(settings, distribution_id, function_name))
    if settings.web_acl_metric_names:
        result.append(_waf_panel(settings.web_acl_metric_names))
    return result


def _resizer_panels(
    settings: DashboardSettings, distribution_id: str, function_name: str
) -> list[Panel]:
    queries = [
        _cloudfront(metric, "Sum", distribution_id, metric, id=f"m{index}", visible=False)
        for index, metric in enumerate(alarm_names.EDGE_FUNCTION_ERROR_METRICS, start=1)
    ]
    filled = ", ".join(f"FILL({query.id}, 0)" for query in queries)
    errors_threshold = ()
    if settings.alarms is not None:
        errors_threshold = (
            Threshold(
                f"alarm: at least {settings.alarms.lambda_errors_per_period} per period",
                float(settings.alarms.lambda_errors_per_period),
                "edge-function-errors",
            ),
        )
    edge_name = alarm_names.edge_function_metric_name(function_name)

    def per_region(metric: str, stat: str) -> tuple[MetricRef, ...]:
        return tuple(
            MetricRef(
                alarm_names.LAMBDA_NAMESPACE,
                metric,
                {"FunctionName": edge_name},
                stat,
                region,
                region,
            )
            for region in settings.lambda_regions
        )

    return [
        Panel(
            "Resizer errors, every region (CloudFront's Lambda@Edge counts)",
            "count",
            tuple(queries),
            expressions=(Expression("errors", f"SUM([{filled}])", "Lambda@Edge errors"),),
            thresholds=errors_threshold,
        ),
        Panel("Resizer duration p95 per region", "ms", per_region("Duration", "p95")),
        Panel("Resizer errors per region (AWS/Lambda)", "count", per_region("Errors", "Sum")),
        Panel("Resizer throttles per region", "count", per_region("Throttles", "Sum")),
    ]


def _waf_panel(metric_names: Sequence[str]) -> Panel:
    acl, *rules = metric_names

    def waf(metric: str, rule: str, label: str) -> MetricRef:
        return MetricRef(
            WAF_NAMESPACE,
            metric,
            {"WebACL": acl, "Rule": rule},
            "Sum",
            alarm_names.CLOUDFRONT_METRICS_REGION,
            label,
        )

    lines = [
        waf("AllowedRequests", WAF_ALL_RULES, "allowed"),
        waf("BlockedRequests", WAF_ALL_RULES, "blocked"),
    ]
    lines.extend(waf("BlockedRequests", rule, f"blocked by {rule}") for rule in rules)
    return Panel("WAF allowed and blocked", "count", tuple(lines))


# --- CloudWatch's dashboard body -------------------------------------------------------------


def _metric_array(metric: MetricRef) -> list[Any]:
    line: list[Any] = [metric.namespace, metric.name]
    for key, value in metric.dimensions.items():
        line += [key, value]
    rendering: dict[str, Any] = {
        "stat": metric.stat,
        "region": metric.region,
        "label": metric.label,
    }
    if metric.id:
        rendering["id"] = metric.id
    if not metric.visible:
        rendering["visible"] = False
    return [*line, rendering]


def cloudwatch_widget(panel: Panel, x: int, y: int, period: int) -> dict[str, Any]:
    metrics: list[Any] = [
        [{"expression": e.expression, "id": e.id, "label": e.label}] for e in panel.expressions
    ]
    metrics += [_metric_array(metric) for metric in panel.metrics]
    properties: dict[str, Any] = {
        "title": panel.title,
        "view": "timeSeries",
        "stacked": False,
        "region": panel.metrics[0].region,
        "period": period,
        "metrics": metrics,
        "yAxis": {"left": {"label": panel.unit, "showUnits": False, "min": 0}},
    }
    if panel.thresholds:
        properties["annotations"] = {
            "horizontal": [{"label": t.label, "value": t.value} for t in panel.thresholds]
        }
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": WIDGET_WIDTH,
        "height": WIDGET_HEIGHT,
        "properties": properties,
    }


def cloudwatch_body(panel_list: Sequence[Panel], period: int) -> dict[str, Any]:
    """The dashboard body: two widgets per row, in panel order."""
    widgets = []
    for index, panel in enumerate(panel_list):
        x = (index % 2) * WIDGET_WIDTH
        y = (index // 2) * WIDGET_HEIGHT
        widgets.append(cloudwatch_widget(panel, x, y, period))
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": widgets}


# --- the component ---------------------------------------------------------------------------


class EdgeDashboard(EdgeComponent):
    """One CloudWatch dashboard: distribution, resizer per region, WAF, alarm thresholds."""

    TYPE_TOKEN = TYPE_TOKEN

    dashboard_name: pulumi.Output[str]
    panels: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        name: str,
        args: EdgeDashboardArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        settings = validate_args(args)
        check_component_name(name)
        super().__init__(name, opts)
        self._settings = settings

        panel_list = pulumi.Output.all(settings.distribution_id, settings.function_name).apply(
            lambda ids: [p.to_json() for p in panels(settings, ids[0], ids[1])]
        )
        # Dashboard names are unique per account, not per stack: the stack is in the name.
        self.dashboard = aws.cloudwatch.Dashboard(
            self.child_name("dashboard"),
            region=alarm_names.CLOUDFRONT_METRICS_REGION,
            dashboard_name=f"{name}-{pulumi.get_project()}-{pulumi.get_stack()}",
            dashboard_body=panel_list.apply(
                lambda found: json.dumps(
                    cloudwatch_body([Panel.from_json(p) for p in found], settings.period_seconds),
                    sort_keys=True,
                )
            ),
            opts=self.child_opts(),
        )
        self.set_outputs(dashboard_name=self.dashboard.dashboard_name, panels=panel_list)
