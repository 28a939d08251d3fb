"""The vsearch Grafana dashboard, generated in code (grafana-foundation-sdk) and committed as JSON.

`python infra/grafana/dashboard.py` rewrites `infra/grafana/vsearch.json` next to it;
`tests/infra/test_grafana_dashboard.py` checks the committed file is this output and runs every
panel's query against a real Prometheus scraping a real origin. Metric names: docs/operations.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.builders import common, prometheus, stat, timeseries
from grafana_foundation_sdk.builders import dashboard as board
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as viz
from grafana_foundation_sdk.models import dashboard as model

OUT = Path(__file__).with_name("vsearch.json")
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
# Grafana widens this to at least four scrape intervals: rates never straddle a single sample.
WINDOW = "$__rate_interval"
API = 'route=~"/v1/.*|/search"'
SEARCH = 'route=~"/v1/search|/search"'  # /search is the same handler (shopper page's form)
# Burn rate = error ratio / error budget (docs/operations.md, "Objectives").
AVAILABILITY_BUDGET = 0.001
LATENCY_BUDGET = 0.01


def _query(expr: str, legend: str, ref: str) -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref)
        .range()
        .datasource(DATASOURCE)
    )


def _quantiles(histogram: str, selector: str, quantiles: tuple[float, ...]) -> list[str]:
    return [
        f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket{selector}[{WINDOW}])))"
        for q in quantiles
    ]


def _series(
    title: str,
    unit: str,
    queries: list[tuple[str, str]],
    *,
    description: str = "",
    stacked: bool = False,
    width: int = 12,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .height(8)
        .span(width)
        .fill_opacity(20 if stacked else 5)
        .legend(
            common.VizLegendOptions()
            .show_legend(True)
            .display_mode(viz.LegendDisplayMode.LIST)
            .placement(viz.LegendPlacement.BOTTOM)
            .calcs([])
        )
    )
    if stacked:
        panel.stacking(common.StackingConfig().mode(viz.StackingMode.NORMAL))
    for index, (expr, legend) in enumerate(queries):
        panel.with_target(_query(expr, legend, chr(ord("A") + index)))
    return panel


def _stat(
    title: str, expr: str, *, mappings: dict[str, tuple[str, str]] | None = None
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .height(4)
        .span(6)
        .with_target(_query(expr, title, "A"))
    )
    if mappings:
        options = {
            value: model.ValueMappingResult(text=text, color=color, index=index)
            for index, (value, (text, color)) in enumerate(mappings.items())
        }
        panel.mappings([model.ValueMap(options=options)])
    return panel


def _burn(sli: str, budget: float) -> list[tuple[str, str]]:
    return [(f"{sli}:ratio_rate{w} / {budget}", w) for w in ("5m", "1h", "6h", "1d", "3d")]


def build() -> model.Dashboard:
    """The dashboard, panels numbered in order (Grafana's links and "view panel" need ids)."""
    dash = _builder().build()
    for number, panel in enumerate(dash.panels or [], start=1):
        panel.id_val = number
    return dash


def _builder() -> board.Dashboard:
    http = "vsearch_http_requests_total"
    p50, p95, p99 = _quantiles(
        "vsearch_http_request_seconds", "{" + SEARCH + "}", (0.5, 0.95, 0.99)
    )
    acquire_p95, acquire_p99 = _quantiles("vsearch_db_pool_acquire_seconds", "", (0.95, 0.99))
    (purge_p95,) = _quantiles("vsearch_purge_lag_seconds", "", (0.95,))
    cache = "vsearch_cache_requests_total"
    return (
        board.Dashboard("vsearch origin")
        .uid("vsearch-origin")
        .description("Edge-first vehicle search: the origin's RED, caches, pool, purge and SLOs.")
        .tags(["vsearch"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            board.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
        )
        .with_row(board.Row("Overview"))
        .with_panel(_stat("Instances up", 'sum(up{job="vsearch-origin"})'))
        .with_panel(_stat("Requests/s", "vsearch:http_requests:rate1m"))
        .with_panel(
            _stat(
                "Redis circuit",
                "max(vsearch_redis_circuit_open)",
                mappings={"0": ("closed", "green"), "1": ("OPEN", "red")},
            )
        )
        .with_panel(_stat("Outbox depth", "vsearch:outbox_depth:max"))
        .with_row(board.Row("Requests"))
        .with_panel(
            _series(
                "Request rate by route",
                "reqps",
                [(f"sum by (route) (rate({http}[{WINDOW}]))", "{{route}}")],
                stacked=True,
            )
        )
        .with_panel(
            _series(
                "API error ratio (5xx)",
                "percentunit",
                [
                    (
                        f'(sum(rate({http}{{{API},status=~"5.."}}[{WINDOW}])) or vector(0))'
                        f" / sum(rate({http}{{{API}}}[{WINDOW}]))",
                        "5xx share",
                    )
                ],
                # `or vector(0)`: with no 5xx series yet the ratio is 0, not "No data".
                description="Share of /v1/* and /search answers that were 5xx (availability SLI).",
            )
        )
        .with_panel(
            _series(
                "Search latency at the origin (/v1/search)",
                "s",
                [(p50, "p50"), (p95, "p95"), (p99, "p99")],
                description="From the histogram's buckets; the SLO is 99% within 100 ms.",
            )
        )
        .with_panel(
            _series(
                "Search strategy mix",
                "ops",
                [
                    (
                        f"sum by (strategy) (rate(vsearch_search_strategy_total[{WINDOW}]))",
                        "{{strategy}}",
                    )
                ],
                stacked=True,
            )
        )
        .with_panel(
            _series(
                "Facets computed by source",
                "ops",
                [
                    (
                        f"sum by (source) (rate(vsearch_facets_computed_total[{WINDOW}]))",
                        "{{source}}",
                    )
                ],
                stacked=True,
                description="Facets cache misses: counts = summed from facet_counts (ms); "
                "listings = a GROUP BY over every matching listing (colour, mileage, place, or "
                "a price between 5,000 steps), the expensive way.",
            )
        )
        .with_row(board.Row("Caches"))
        .with_panel(
            _series(
                "Hit rate per tier",
                "percentunit",
                [
                    (
                        f'sum by (tier) (rate({cache}{{result="hit"}}[{WINDOW}]))'
                        f" / sum by (tier) (rate({cache}[{WINDOW}]))",
                        "{{tier}}",
                    ),
                    ("vsearch:origin_cache_hit:ratio_rate30m", "origin (L1 or Redis), 30m"),
                ],
                description="Hits among the lookups that reached each tier; the SLO wants 85%.",
            )
        )
        .with_panel(
            _series(
                "Redis errors",
                "ops",
                [(f"sum(rate(vsearch_redis_errors_total[{WINDOW}]))", "errors/s")],
            )
        )
        .with_row(board.Row("Database pool"))
        .with_panel(
            _series(
                "DB pool connections",
                "short",
                [
                    ("sum(vsearch_db_pool_in_use)", "in use"),
                    ("sum(vsearch_db_pool_size)", "open"),
                    ("sum(vsearch_db_pool_max)", "max"),
                ],
            )
        )
        .with_panel(
            _series(
                "DB pool acquire wait",
                "s",
                [(acquire_p95, "p95"), (acquire_p99, "p99")],
            )
        )
        .with_row(board.Row("Purge path"))
        .with_panel(
            _series(
                "Outbox depth",
                "short",
                [("max(vsearch_outbox_depth)", "events waiting")],
                width=8,
            )
        )
        .with_panel(
            _series(
                "Purge lag",
                "s",
                [(purge_p95, "p95"), ("vsearch:purge_lag_seconds:p99_15m", "p99 (15m)")],
                description="From a change's commit to every cache tier purged.",
                width=8,
            )
        )
        .with_panel(
            _series(
                "Cloudflare API calls",
                "ops",
                [
                    (
                        f"sum by (operation, outcome) "
                        f"(rate(vsearch_cloudflare_api_calls_total[{WINDOW}]))",
                        "{{operation}} {{outcome}}",
                    )
                ],
                stacked=True,
                width=8,
            )
        )
        .with_row(board.Row("SLO burn rates"))
        .with_panel(
            _series(
                "Availability burn rate (99.9%)",
                "x",
                _burn("vsearch:availability_errors", AVAILABILITY_BUDGET),
                description="Pages at 14.4x (1h and 5m) or 6x (6h, 30m); tickets at 3x and 1x.",
            )
        )
        .with_panel(
            _series(
                "Latency burn rate (99% within 100 ms)",
                "x",
                _burn("vsearch:search_slow", LATENCY_BUDGET),
                description="Pages at 14.4x (1h and 5m) or 6x (6h, 30m); tickets at 3x and 1x.",
            )
        )
    )


def render() -> str:
    """The dashboard as committed: stable key order, two-space indents, a final newline."""
    return json.dumps(build(), cls=JSONEncoder, sort_keys=True, indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
