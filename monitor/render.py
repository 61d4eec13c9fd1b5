"""Terminal rendering of a report (rich) and the contract's JSON."""
from __future__ import annotations

from typing import Any

import orjson
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from metrics.catalog import Catalog, SYMBOL
from metrics.report import Report

STATUS_STYLE = {"met": "green", "unmet": "red", "no_data": "grey50"}


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    if unit == "seconds":
        if value >= 3600:
            return f"{value / 3600:.1f} h"
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "usd":
        return f"${value:,.4f}" if value < 100 else f"${value:,.0f}"
    if unit == "requests_per_day":
        return f"{value:,.0f}/day"
    return f"{value:.3g}"


def to_json(report: Report) -> str:
    return orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode()


def kpi_table(report: Report, catalog: Catalog, show_no_data: bool = True) -> Table:
    table = Table(title=f"{catalog.title}: level {report.org.level}, score {report.org.score:.2f}",
                  title_justify="left", expand=False)
    for column in ("lvl", "KPI", "value", "target", "status", "samples"):
        table.add_column(column, justify="right" if column in ("value", "samples", "lvl") else "left")
    by_level = sorted((c.level, kpi.id, c) for kpi in catalog.kpis for c in report.org.kpis[kpi.id].checks)
    for level, kpi_id, check in by_level:
        if check.status == "no_data" and not show_no_data:
            continue
        kpi = catalog.kpi(kpi_id)
        result = report.org.kpis[kpi_id]
        table.add_row(str(level), kpi.name, format_value(result.value, kpi.unit),
                      f"{SYMBOL[check.comparator]} {format_value(check.target, kpi.unit)}",
                      Text(check.status, style=STATUS_STYLE[check.status]), str(result.samples))
    return table


def team_table(report: Report) -> Table:
    table = Table(title="Teams", title_justify="left")
    for column in ("team", "level", "score", "requests", "error rate", "cost attributed"):
        table.add_column(column, justify="left" if column == "team" else "right")
    for team, assessment in sorted(report.teams.items(), key=lambda kv: -kv[1].kpis["api_error_rate"].samples):
        error = assessment.kpis["api_error_rate"]
        coverage = assessment.kpis["cost_attribution_coverage"]
        table.add_row(team, str(assessment.level), f"{assessment.score:.2f}", str(error.samples),
                      format_value(error.value, "ratio"), format_value(coverage.value, "ratio"))
    return table


def blockers(report: Report, catalog: Catalog) -> Text:
    pending = report.org.blocking()
    if not pending:
        return Text("Nothing blocks the next level." if report.org.level < 5 else "Top level reached.")
    lines = Text(f"Blocking level {report.org.level + 1}:\n", style="bold")
    for check in pending:
        kpi = catalog.kpi(check.kpi)
        if check.status == "no_data":
            lines.append(f"  • {kpi.name}: no data (needs {kpi.min_samples} samples)\n", style="grey50")
        else:
            lines.append(f"  • {kpi.name}: {format_value(check.value, kpi.unit)}, target "
                         f"{SYMBOL[check.comparator]} {format_value(check.target, kpi.unit)} "
                         f"(gap {format_value(check.gap, kpi.unit)})\n", style="red")
    return lines


def render(report: Report, catalog: Catalog, show_no_data: bool = True) -> Group:
    parts: list[Any] = [kpi_table(report, catalog, show_no_data)]
    if report.teams:
        parts.append(team_table(report))
    parts.append(blockers(report, catalog))
    return Group(*parts)


def print_report(report: Report, catalog: Catalog, fmt: str, console: Console | None = None) -> None:
    if fmt == "json":
        print(to_json(report))
    else:
        (console or Console()).print(render(report, catalog))
