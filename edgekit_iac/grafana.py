"""A Grafana dashboard from EdgeDashboard's panels, plus the Workers' analytics.

The same panels as the CloudWatch dashboard (components/dashboard.py builds both from one
list), drawn by Grafana's CloudWatch data source, which a `datasource` template variable
picks at import, so one file imports into any Grafana. Ids that differ per deployment (the
distribution, the resizer's function name, the Cloudflare account) are template variables
too, filled with the values the stack gave (`pulumi stack output --json`) or the graph's.

Alarm thresholds become the panels' threshold steps, drawn as lines. The Workers' panels
read Cloudflare's GraphQL Analytics API (dataset `workersInvocationsAdaptive`: sum of
requests, errors, subrequests; CPU time p50/p99; per script) through the Infinity data
source plugin (yesoreyeram-infinity-datasource), since Grafana ships no Cloudflare data
source; the API token belongs in that data source's settings, never in the dashboard.

Structure: Grafana's dashboard JSON model (schemaVersion 39: `panels` with `gridPos` on
a 24-column grid, `targets` with unique `refId`s, `templating.list`, `time`); the test
decodes it with the Grafana Foundation SDK's models generated from Grafana's schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from edgekit_iac.components.dashboard import WIDGET_HEIGHT, WIDGET_WIDTH, Panel

SCHEMA_VERSION = 39
CLOUDWATCH_PLUGIN = "cloudwatch"
INFINITY_PLUGIN = "yesoreyeram-infinity-datasource"
CLOUDWATCH_VAR = "cloudwatch"
CLOUDFLARE_VAR = "cloudflare"
CLOUDFLARE_GRAPHQL = "https://api.cloudflare.com/client/v4/graphql"
UNITS = {"%": "percent", "ms": "ms", "count": "short"}
# Dimension values that are per deployment: (dimension, template variable).
VARIABLE_DIMENSIONS = {"DistributionId": "distribution_id", "FunctionName": "resizer_function"}
# What the Workers' panels draw: (title, unit, GraphQL selection -> column, label).
WORKER_PANELS = (
    (
        "Workers requests, errors, subrequests",
        "short",
        (
            ("sum.requests", "requests"),
            ("sum.errors", "errors"),
            ("sum.subrequests", "subrequests"),
        ),
    ),
    (
        "Workers CPU time p50 / p99",
        "µs",
        (("quantiles.cpuTimeP50", "CPU p50"), ("quantiles.cpuTimeP99", "CPU p99")),
    ),
)


def _datasource(plugin: str, variable: str) -> dict[str, str]:
    return {"type": plugin, "uid": f"${{{variable}}}"}


def _grid(index: int) -> dict[str, int]:
    # CloudWatch's grid is 24 columns with ~6 rows per widget; Grafana's is 24 columns too.
    return {
        "x": (index % 2) * WIDGET_WIDTH,
        "y": (index // 2) * (WIDGET_HEIGHT + 2),
        "w": WIDGET_WIDTH,
        "h": WIDGET_HEIGHT + 2,
    }


def _ref_id(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"Q{index}"


def _dimension_value(key: str, value: str) -> str:
    variable = VARIABLE_DIMENSIONS.get(key)
    if variable is None:
        return value
    if key == "FunctionName":  # us-east-1.<function>: the prefix stays, the name varies
        prefix, _, _ = value.partition(".")
        return f"{prefix}.${variable}"
    return f"${variable}"


def cloudwatch_targets(panel: Panel) -> list[dict[str, Any]]:
    """One Grafana CloudWatch metric query per metric, math expressions as code queries."""
    source = _datasource(CLOUDWATCH_PLUGIN, CLOUDWATCH_VAR)
    targets: list[dict[str, Any]] = []
    for metric in panel.metrics:
        targets.append(
            {
                "refId": _ref_id(len(targets)),
                "datasource": source,
                "queryMode": "Metrics",
                "metricQueryType": 0,  # metric search
                "metricEditorMode": 0,  # builder
                "namespace": metric.namespace,
                "metricName": metric.name,
                "dimensions": {k: _dimension_value(k, v) for k, v in metric.dimensions.items()},
                "matchExact": True,
                "statistic": metric.stat,
                "region": metric.region,
                "id": metric.id,
                "label": metric.label,
                "hide": not metric.visible,
            }
        )
    for expression in panel.expressions:
        targets.append(
            {
                "refId": _ref_id(len(targets)),
                "datasource": source,
                "queryMode": "Metrics",
                "metricQueryType": 0,
                "metricEditorMode": 1,  # code: a math expression over the ids above
                "expression": expression.expression,
                "id": expression.id,
                "label": expression.label,
                "region": panel.metrics[0].region,
                "hide": False,
            }
        )
    return targets


def _field_config(unit: str, thresholds: Sequence[Any]) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    steps += [{"color": "red", "value": t.value} for t in sorted(thresholds, key=lambda t: t.value)]
    return {
        "defaults": {
            "unit": unit,
            "min": 0,
            "thresholds": {"mode": "absolute", "steps": steps},
            "custom": {"thresholdsStyle": {"mode": "line" if thresholds else "off"}},
        },
        "overrides": [],
    }


def _timeseries(
    panel_id: int,
    title: str,
    description: str,
    datasource: dict[str, str],
    targets: list[dict[str, Any]],
    field_config: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "description": description,
        "gridPos": _grid(panel_id - 1),
        "datasource": datasource,
        "targets": targets,
        "fieldConfig": field_config,
        "options": {
            "legend": {
                "showLegend": True,
                "displayMode": "list",
                "placement": "bottom",
                "calcs": [],
            },
            "tooltip": {"mode": "multi", "sort": "none"},
        },
    }


def workers_query(columns: Sequence[tuple[str, str]]) -> str:
    """Cloudflare's GraphQL query for the stack's scripts, per minute, in the time range."""
    selection = {}
    for path, _ in columns:
        group, _, name = path.partition(".")
        selection.setdefault(group, []).append(name)
    fields = " ".join(f"{group} {{ {' '.join(names)} }}" for group, names in selection.items())
    return (
        '{ viewer { accounts(filter: {accountTag: "$cloudflare_account"}) { '
        "workersInvocationsAdaptive(limit: 10000, filter: {scriptName_in: [$workers_scripts], "
        'datetime_geq: "${__from:date:iso}", datetime_leq: "${__to:date:iso}"}, '
        "orderBy: [datetimeMinute_ASC]) { dimensions { datetimeMinute scriptName } "
        f"{fields} }} }} }} }}"
    )


def _workers_target(columns: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {
        "refId": "A",
        "datasource": _datasource(INFINITY_PLUGIN, CLOUDFLARE_VAR),
        "type": "graphql",
        "source": "url",
        "parser": "backend",
        "format": "timeseries",
        "url": CLOUDFLARE_GRAPHQL,
        "url_options": {"method": "POST", "data": workers_query(columns)},
        "root_selector": "data.viewer.accounts[0].workersInvocationsAdaptive",
        "columns": [
            {"selector": "dimensions.datetimeMinute", "text": "time", "type": "timestamp"},
            {"selector": "dimensions.scriptName", "text": "script", "type": "string"},
            *({"selector": path, "text": label, "type": "number"} for path, label in columns),
        ],
    }


def _variable(name: str, label: str, kind: str, query: str, description: str) -> dict[str, Any]:
    variable: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": kind,
        "query": query,
        "description": description,
        "hide": 0,
        "skipUrlSync": False,
    }
    if kind == "datasource":
        variable.update({"current": {}, "options": [], "refresh": 1, "regex": ""})
    else:
        variable.update(
            {
                "current": {"selected": False, "text": query, "value": query},
                "options": [{"selected": True, "text": query, "value": query}],
            }
        )
    return variable


def dashboard(
    stack: str,
    panels: Sequence[Panel],
    *,
    distribution_id: str,
    resizer_function: str | None,
    cloudflare_account: str | None,
    workers_scripts: Sequence[str],
) -> dict[str, Any]:
    """The importable dashboard JSON (the object Grafana's Import shows as "JSON model")."""
    cw = _datasource(CLOUDWATCH_PLUGIN, CLOUDWATCH_VAR)
    built = []
    for panel in panels:
        built.append(
            _timeseries(
                len(built) + 1,
                panel.title,
                "; ".join(t.label for t in panel.thresholds),
                cw,
                cloudwatch_targets(panel),
                _field_config(UNITS.get(panel.unit, "short"), panel.thresholds),
            )
        )
    variables = [
        _variable(
            CLOUDWATCH_VAR,
            "CloudWatch",
            "datasource",
            CLOUDWATCH_PLUGIN,
            "the CloudWatch data source of the stack's AWS account",
        ),
        _variable(
            "distribution_id",
            "Distribution",
            "textbox",
            distribution_id,
            "CloudFront distribution id (pulumi stack output imagesDistributionId)",
        ),
    ]
    if resizer_function is not None:
        variables.append(
            _variable(
                "resizer_function",
                "Resizer function",
                "textbox",
                resizer_function,
                "Lambda@Edge function name (the name in pulumi stack output imageResizerArn)",
            )
        )
    if cloudflare_account is not None and workers_scripts:
        variables += [
            _variable(
                CLOUDFLARE_VAR,
                "Cloudflare GraphQL",
                "datasource",
                INFINITY_PLUGIN,
                "an Infinity data source with the Cloudflare API token (Analytics Read)",
            ),
            _variable(
                "cloudflare_account",
                "Cloudflare account",
                "textbox",
                cloudflare_account,
                "Cloudflare account id (edgekit:cloudflare.accountId)",
            ),
            _variable(
                "workers_scripts",
                "Workers scripts",
                "constant",
                ", ".join(f'"{name}"' for name in workers_scripts),
                "the stack's Worker script names, quoted for GraphQL",
            ),
        ]
        for title, unit, columns in WORKER_PANELS:
            built.append(
                _timeseries(
                    len(built) + 1,
                    title,
                    "Cloudflare GraphQL Analytics: workersInvocationsAdaptive",
                    _datasource(INFINITY_PLUGIN, CLOUDFLARE_VAR),
                    [_workers_target(columns)],
                    _field_config(unit, ()),
                )
            )
    return {
        "uid": uid(stack),
        "title": f"edgekit {stack}: edge",
        "description": f"edgekit stack {stack}: generated by `edgekit dashboard --format grafana`",
        "tags": ["edgekit", stack],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [],
        "panels": built,
    }


def uid(stack: str) -> str:
    """Grafana uids: at most 40 of letters, digits, '-' and '_'."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"edgekit-{stack}-edge")[:40]


def variables_used(document: Mapping[str, Any]) -> set[str]:
    """Every `$name` / `${name}` (built-ins `__from`/`__to` aside) the document refers to."""
    import json

    text = json.dumps(document)
    found = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
    return {name for name in found if not name.startswith("__")}
