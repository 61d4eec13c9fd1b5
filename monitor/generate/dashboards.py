"""Grafana dashboards generated from the KPI catalog (`aiops-maturity dashboards --out DIR`).

Built with the Grafana Foundation SDK (monitor/generate/grafana/), checked against the SDK's dashboard
schema before they are written, and written as stable JSON (sorted panel ids, fixed uids) so that
regenerating from an unchanged catalog gives no diff.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from metrics.catalog import Catalog, load_catalog
from monitor.generate.grafana import kpi_template, maturity, operations
from monitor.generate.grafana.schema import encode, validate_dashboard

# Series a dashboard reads that the monitor exports only once another collector is configured.
FUTURE_SERIES: dict[str, str] = {}  # series panels may read before any collector exports them
# Queries that may legitimately return nothing while the monitor runs, keyed by a fragment of the
# expression: every other panel query must return data against the demo (tests/dashboards).
EXPECTED_EMPTY: dict[str, str] = {
    'aiops_ingest_payloads_total{outcome=~"rejected': "counters for rejection reasons exist only after a rejection",
}


def build_dashboards(catalog: Catalog | None = None) -> dict[str, dict]:
    """File name -> dashboard JSON (a dict), validated."""
    catalog = catalog or load_catalog()
    builders = {
        "aiops-overview.json": maturity.overview(catalog),
        "aiops-team.json": maturity.team_view(catalog),
        "aiops-kpi-detail.json": maturity.kpi_detail(catalog),
        "aiops-collectors.json": operations.collector_health(),
        "aiops-cost.json": operations.cost(),
        "aiops-kpi-dashboard.json": kpi_template.kpi_dashboard(),
    }
    dashboards = {}
    for name, builder in builders.items():
        data = _number_panels(encode(builder.build()))
        validate_dashboard(data)
        dashboards[name] = data
    return dashboards


def _number_panels(data: dict) -> dict:
    """Panel ids in layout order: Grafana needs them unique, and fixed ids keep the output stable."""
    next_id = 1
    for panel in data.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            inner["id"] = next_id
            next_id += 1
    return data


def panel_queries(data: dict) -> Iterator[tuple[str, str, str]]:
    """(panel title, refId, PromQL) for every query of a dashboard, rows' panels included."""
    for panel in data.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner.get("title", ""), target.get("refId", ""), target["expr"]


def variable_queries(data: dict) -> Iterator[tuple[str, str]]:
    """(variable name, query) of every query variable, e.g. label_values(aiops_kpi_target, kpi)."""
    for variable in data.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            yield variable["name"], query["query"] if isinstance(query, dict) else query


def render(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_dashboards(directory: str | Path, model: str = "aiops") -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in build_dashboards(load_catalog(model)).items():
        path = directory / name
        path.write_text(render(data), encoding="utf-8")
        written.append(path)
    return written
