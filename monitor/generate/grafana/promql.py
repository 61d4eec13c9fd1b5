"""PromQL shared by the dashboards: KPI status, targets and blockers, on the exported series only.

Grafana's `merge` transformation joins several instant queries into one table row per identical set
of label columns, so every KPI-table query returns the same labels: kpi, level, team, comparator.
Status is one number: 1 met, 0 unmet, 2 no data (value mappings colour it).
"""
from __future__ import annotations

from metrics.catalog import MAX_LEVEL

STATUS_MET, STATUS_UNMET, STATUS_NO_DATA = 1, 0, 2
KEY = "kpi, level, team"
TARGETS = "max by (kpi, level, comparator) (aiops_kpi_target)"


def _sel(*matchers: str) -> str:
    return "{" + ",".join(m for m in matchers if m) + "}"


def with_comparator(expr: str) -> str:
    """Add the target's comparator label to a (kpi, level, team) vector, keeping its value."""
    return f"({expr})\n* on(kpi, level) group_left(comparator) ({TARGETS} * 0 + 1)"


def status(team: str, extra: str = "") -> str:
    """1 met / 0 unmet / 2 no data, per kpi, level and team; `team` is a matcher like team="all"."""
    sel = _sel(team, extra)
    return with_comparator(f"max by ({KEY}) (aiops_kpi_met{sel})\n"
                           f"or on({KEY})\nmax by ({KEY}) (2 * aiops_kpi_no_data{sel} == 2)")


def value(team: str, extra: str = "") -> str:
    return with_comparator(f"max by ({KEY}) (aiops_kpi_value{_sel(team, extra)})")


def target(team: str, extra: str = "") -> str:
    """The target repeated on every team row that has the KPI (no_data rows included)."""
    return (f"{TARGETS}\n+ on(kpi, level) group_right(comparator)\n"
            f"(0 * max by ({KEY}) (aiops_kpi_no_data{_sel(team, extra)}))")


def gap(team: str, extra: str = "") -> str:
    """Distance from value to target in the KPI's unit (only where there is a value)."""
    return f"abs(\n{value(team, extra)}\n- on(kpi, level, comparator) group_left()\n{TARGETS})"


def blocking(model: str, team: str) -> str:
    """Status rows (unmet or no data) at the level right above each team's current level.

    A level label cannot be compared with a gauge value, so there is one branch per level."""
    model_sel = _sel(f'model="{model}"', team)
    levels = f"max by (team) (aiops_maturity_level{model_sel})"
    branches = []
    for level in range(1, MAX_LEVEL + 1):
        rows = status(team, f'level="{level}"')
        branches.append(f"(({rows}) != {STATUS_MET})\nand on(team) ({levels} == {level - 1})")
    return "\nor\n".join(branches)


def only_blocking(expr: str, model: str, team: str) -> str:
    """`expr` restricted to the rows `blocking` returns, so a merged table shows blockers only."""
    return f"({expr})\nand on(kpi, level, team)\n({blocking(model, team)})"
