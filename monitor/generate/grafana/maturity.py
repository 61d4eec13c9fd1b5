"""The maturity dashboards: Overview (the organisation), Team view, KPI detail."""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from metrics.catalog import SYMBOL, Catalog
from monitor.generate.grafana import kit, promql

ORG = 'team="all"'
TEAMS = 'team=~"$team"'
STATUS_NOTE = "Status: met (green), unmet (red), no data (blue: too few samples; blocks a level like unmet)."


def _kpi_columns(team: str) -> list[tuple[str, str]]:
    return [("status", promql.status(team)), ("value", promql.value(team)), ("target", promql.target(team))]


def _blocking_columns(model: str, team: str) -> list[tuple[str, str]]:
    return [("status", promql.blocking(model, team)),
            ("value", promql.only_blocking(promql.value(team), model, team)),
            ("target", promql.only_blocking(promql.target(team), model, team)),
            ("gap", promql.only_blocking(promql.gap(team), model, team))]


def overview(catalog: Catalog) -> db.Dashboard:
    model = catalog.model
    board = kit.new_dashboard("aiops-overview", "AI-Ops maturity: overview",
                              f"Maturity level, score and KPIs of the organisation ({catalog.title}).", [])
    board = board.with_row(db.Row("Where we stand"))
    board = board.with_panel(kit.stat_panel(
        "Maturity level", f'max(aiops_maturity_level{{model="{model}",{ORG}}})', "level",
        "Highest level whose KPI targets (levels 1..L) are all met, organisation-wide.", levels=True, w=4, decimals=0))
    board = board.with_panel(kit.stat_panel(
        "Score", f'max(aiops_maturity_score{{model="{model}",{ORG}}})', "score",
        "Level plus the share of next-level KPI targets met (5.0 at the top).", w=4, decimals=2))
    board = board.with_panel(kit.bar_panel(
        "Level per dimension", f'max by (dimension) (aiops_dimension_level{{model="{model}"}})', "{{dimension}}",
        "A dimension is credited up to the highest level whose KPIs in that dimension are all met.", "none", w=16, h=5,
        levels=True))
    board = board.with_panel(kit.timeseries_panel(
        "Level per model over time", [("max by (model) (aiops_maturity_level{team=\"all\"})", "{{model}}")],
        "Organisation-wide level of every model the monitor exports.", stepped=True, soft_max=5))
    board = board.with_panel(kit.timeseries_panel(
        "Score per model over time", [("max by (model) (aiops_maturity_score{team=\"all\"})", "{{model}}")],
        "Level plus the share of next-level targets met.", soft_max=5))
    board = board.with_row(db.Row("KPIs"))
    board = board.with_panel(kit.kpi_table(
        "What blocks the next level", _blocking_columns(model, ORG),
        "KPI targets of the level right above the current one that are not met, with the gap to the target. "
        + STATUS_NOTE, h=7))
    board = board.with_panel(kit.kpi_table(
        "KPIs per level", _kpi_columns(ORG), "Every KPI target of the catalog, organisation-wide. " + STATUS_NOTE,
        h=16))
    board = board.with_panel(kit.status_timeline(
        "KPI status over time", promql.status(ORG), "L{{level}} {{kpi}}",
        "Status history of every KPI target. " + STATUS_NOTE, h=14))
    return board


def team_view(catalog: Catalog) -> db.Dashboard:
    model = catalog.model
    team = kit.query_variable("team", "Team", f'label_values(aiops_maturity_level{{model="{model}"}}, team)',
                              True, "all")
    board = kit.new_dashboard("aiops-team", "AI-Ops maturity: team view",
                              "Each team's level, score and KPIs; `all` is the organisation, `other` the folded tail.",
                              [team])
    board = board.with_panel(kit.timeseries_panel(
        "Level per team", [(f'max by (team) (aiops_maturity_level{{model="{model}",{TEAMS}}})', "{{team}}")],
        "Level reached per team over time.", stepped=True, soft_max=5))
    board = board.with_panel(kit.timeseries_panel(
        "Score per team", [(f'max by (team) (aiops_maturity_score{{model="{model}",{TEAMS}}})', "{{team}}")],
        "Level plus the share of next-level targets met, per team.", soft_max=5))
    # One row per selected team (Grafana repeats the row and the panels under it).
    board = board.with_row(db.Row("Team $team").repeat("team"))
    board = board.with_panel(kit.stat_panel(
        "Level", f'max by (team) (aiops_maturity_level{{model="{model}",{TEAMS}}})', "{{team}}", "Level reached by the team.",
        levels=True, w=3, decimals=0, h=7))
    board = board.with_panel(kit.stat_panel(
        "Score", f'max by (team) (aiops_maturity_score{{model="{model}",{TEAMS}}})', "{{team}}", "Team score.", w=3, decimals=2, h=7))
    board = board.with_panel(kit.kpi_table(
        "What blocks the team's next level", _blocking_columns(model, TEAMS),
        "Targets of the level above the team's current one that are not met. " + STATUS_NOTE, w=18, h=7))
    board = board.with_panel(kit.kpi_table("KPIs of the team", _kpi_columns(TEAMS), STATUS_NOTE, h=14))
    return board


def _definitions(catalog: Catalog) -> str:
    """The catalog's own words, so the dashboard says what a KPI counts and what to do about it."""
    lines = ["| KPI | targets | definition | remediation |", "|---|---|---|---|"]
    for kpi in sorted(catalog.kpis, key=lambda k: (min(t.level for t in k.targets), k.id)):
        targets = ", ".join(f"L{t.level} {SYMBOL[t.comparator]} {t.value:g}" for t in kpi.targets)
        definition, remediation = (" ".join(s.split()).replace("|", "\\|") for s in (kpi.definition, kpi.remediation))
        lines.append(f"| `{kpi.id}` ({kpi.unit}) | {targets} | {definition} | {remediation} |")
    return "\n".join(lines)


def kpi_detail(catalog: Catalog) -> db.Dashboard:
    kpi = kit.query_variable("kpi", "KPI", "label_values(aiops_kpi_target, kpi)", False, "api_error_rate")
    team = kit.query_variable("team", "Team", 'label_values(aiops_kpi_no_data{kpi="$kpi"}, team)', True, "all")
    board = kit.new_dashboard("aiops-kpi", "AI-Ops maturity: KPI detail",
                              "One KPI (variable `kpi`) against its target(s) over time, per team.", [kpi, team])
    sel = 'kpi="$kpi",' + TEAMS
    board = board.with_panel(kit.timeseries_panel(
        "$kpi: value and target", [
            (f"max by (team, level) (aiops_kpi_value{{{sel}}})", "{{team}} (L{{level}})"),
            ('max by (level, comparator) (aiops_kpi_target{kpi="$kpi"})', "target L{{level}} ({{comparator}})")],
        "Value per team (absent while no data) and the target of each level, dashed. Units follow the KPI "
        "(ratios are 0-1).", w=24, h=10, dashed="^target"))
    board = board.with_panel(kit.status_timeline(
        "$kpi: status per team", promql.status(TEAMS, 'kpi="$kpi"'), "{{team}} L{{level}}",
        "Met / unmet / no data per team and level target. " + STATUS_NOTE, h=8))
    board = board.with_panel(kit.kpi_table(
        "$kpi now", [("status", promql.status(TEAMS, 'kpi="$kpi"')), ("value", promql.value(TEAMS, 'kpi="$kpi"')),
                     ("target", promql.target(TEAMS, 'kpi="$kpi"')), ("gap", promql.gap(TEAMS, 'kpi="$kpi"'))],
        "Current value, target and gap per team. " + STATUS_NOTE, h=10))
    board = board.with_row(db.Row("Definitions and remediation (from the catalog)")
                           .with_panel(kit.text_panel("KPI catalog", _definitions(catalog), h=24)))
    return board
