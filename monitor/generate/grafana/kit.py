"""The few panel kinds the dashboards use, on top of the Grafana Foundation SDK's builders.

Every panel reads from the `datasource` variable (any Prometheus that scrapes the monitor), so the
same JSON works in the shipped stack and in an existing Grafana. Colours carry meaning only:
status met / unmet / no data, and one hue per level.
"""
from __future__ import annotations

from grafana_foundation_sdk.builders import (
    bargauge, common as cb, dashboard as db, piechart, prometheus, stat, statetimeline, table, text, timeseries,
)
from grafana_foundation_sdk.models import common, dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat
from grafana_foundation_sdk.models.text import TextMode

from monitor.generate.grafana.promql import STATUS_MET, STATUS_NO_DATA, STATUS_UNMET
from metrics.catalog import SYMBOL

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
PROVISIONED_DATASOURCE_UID = "aiops-prometheus"  # dashboards/grafana/provisioning/datasources
TAG = "aiops-maturity"
STATUS_COLOURS = {STATUS_MET: ("met", "green"), STATUS_UNMET: ("unmet", "red"), STATUS_NO_DATA: ("no data", "blue")}
LEVEL_COLOURS = {0: "#8e8e8e", 1: "#ca95e5", 2: "#b877d9", 3: "#8f3bb8", 4: "#5794f2", 5: "#1f60c4"}
REFS = "ABCDEFGH"


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False, as_table: bool = False):
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    q = q.instant() if instant else q.range()
    if as_table:
        q = q.format(PromQueryFormat.TABLE)
    return q.legend_format(legend) if legend else q


def _mapping(values: dict[object, tuple[str, str]]) -> dm.ValueMap:
    return dm.ValueMap(options={str(k): dm.ValueMappingResult(text=t, color=c, index=i)
                                for i, (k, (t, c)) in enumerate(values.items())})


def status_mapping() -> list[dm.ValueMap]:
    return [_mapping(STATUS_COLOURS)]


def level_mapping() -> list[dm.ValueMap]:
    return [_mapping({level: (f"L{level}", colour) for level, colour in LEVEL_COLOURS.items()})]


def level_thresholds() -> db.ThresholdsConfig:
    steps = [dm.Threshold(value=None if level == 0 else float(level), color=colour)
             for level, colour in LEVEL_COLOURS.items()]
    return db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(steps)


def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(
        [dm.Threshold(value=v, color=c) for v, c in steps])


def _cell(mode: common.TableCellDisplayMode) -> dm.DynamicConfigValue:
    options = common.TableColoredBackgroundCellOptions(mode=common.TableCellBackgroundDisplayMode.BASIC) \
        if mode == common.TableCellDisplayMode.COLOR_BACKGROUND else common.TableAutoCellOptions()
    return dm.DynamicConfigValue(id_val="custom.cellOptions", value=options)


def _last(calc: str = "lastNotNull") -> cb.ReduceDataOptions:
    return cb.ReduceDataOptions().calcs([calc]).values(False)


def stat_panel(title: str, expr: str, legend: str, description: str, unit: str = "none", w: int = 6, h: int = 5,
               levels: bool = False, decimals: float | None = None) -> stat.Panel:
    panel = (stat.Panel().title(title).description(description).datasource(DATASOURCE).span(w).height(h)
             .with_target(query(expr, legend, instant=True)).unit(unit).reduce_options(_last())
             .color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.NONE))
    if levels:
        panel = panel.thresholds(level_thresholds()).mappings(level_mapping())
    return panel.decimals(decimals) if decimals is not None else panel


def timeseries_panel(title: str, targets: list[tuple[str, str]], description: str, unit: str = "none",
                     w: int = 12, h: int = 8, stepped: bool = False, dashed: str | None = None,
                     soft_max: float | None = None) -> timeseries.Panel:
    """`targets` are (expr, legend); series whose name matches the regex `dashed` are drawn dashed (targets)."""
    panel = (timeseries.Panel().title(title).description(description).datasource(DATASOURCE).span(w).height(h)
             .unit(unit).line_width(2).fill_opacity(0).show_points(common.VisibilityMode.NEVER))
    if stepped:  # levels and statuses are steps, not slopes
        panel = panel.line_interpolation(common.LineInterpolation.STEP_AFTER)
    if soft_max is not None:
        panel = panel.axis_soft_min(0).axis_soft_max(soft_max)
    if dashed:
        panel = panel.override_by_regexp(dashed, [
            dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
            dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "orange"})])
    for ref, (expr, legend) in zip(REFS, targets):
        panel = panel.with_target(query(expr, legend, ref))
    return panel


def status_timeline(title: str, expr: str, legend: str, description: str, w: int = 24, h: int = 8,
                    collectors: bool = False) -> statetimeline.Panel:
    mapping = [_mapping({1: ("up", "green"), 0: ("down", "red")})] if collectors else status_mapping()
    return (statetimeline.Panel().title(title).description(description).datasource(DATASOURCE).span(w).height(h)
            .with_target(query(expr, legend)).mappings(mapping).show_value(common.VisibilityMode.NEVER)
            .thresholds(thresholds((None, "text"))))


def bar_panel(title: str, expr: str, legend: str, description: str, unit: str, w: int = 12, h: int = 8,
              levels: bool = False):
    panel = (bargauge.Panel().title(title).description(description).datasource(DATASOURCE).span(w).height(h)
             .with_target(query(expr, legend, instant=True)).unit(unit).reduce_options(_last())
             .display_mode(common.BarGaugeDisplayMode.BASIC).orientation(common.VizOrientation.HORIZONTAL))
    if levels:  # a 0-5 scale in the level hues
        return panel.thresholds(level_thresholds()).min(0).max(5)
    return panel.thresholds(thresholds((None, "blue")))


def pie_panel(title: str, targets: list[tuple[str, str]], description: str, unit: str, w: int = 8, h: int = 8):
    panel = (piechart.Panel().title(title).description(description).datasource(DATASOURCE).span(w).height(h)
             .unit(unit).reduce_options(_last()))
    for ref, (expr, legend) in zip(REFS, targets):
        panel = panel.with_target(query(expr, legend, ref, instant=True))
    return panel


def kpi_table(title: str, columns: list[tuple[str, str]], description: str, w: int = 24, h: int = 10,
              units: dict[str, str] | None = None) -> table.Panel:
    """One row per kpi/level/team: `columns` are (column name, expr), merged on their common labels.

    The column named `status` is coloured met / unmet / no data; `level` gets one hue per level."""
    panel = (table.Panel().title(title).description(description).datasource(DATASOURCE).span(w).height(h)
             .cell_height(common.TableCellHeight.SM).show_header(True)
             .sort_by([cb.TableSortByFieldState().display_name(name) for name in ("level", "kpi")]))
    renames, order = {}, {"level": 0, "kpi": 1, "team": 2}
    for i, (ref, (name, expr)) in enumerate(zip(REFS, columns)):
        panel = panel.with_target(query(expr, ref=ref, instant=True, as_table=True))
        renames[f"Value #{ref}"] = name
        order[name] = 3 + i
    order["comparator"] = len(order)
    panel = panel.with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
    panel = panel.with_transformation(dm.DataTransformerConfig(id_val="organize", options={
        "excludeByName": {"Time": True}, "renameByName": renames, "indexByName": order}))
    panel = panel.override_by_name("status", [dm.DynamicConfigValue(id_val="mappings", value=status_mapping()),
                                              _cell(common.TableCellDisplayMode.COLOR_BACKGROUND)])
    panel = panel.override_by_name("level", [dm.DynamicConfigValue(id_val="mappings", value=level_mapping()),
                                             _cell(common.TableCellDisplayMode.COLOR_BACKGROUND)])
    panel = panel.override_by_name("comparator", [dm.DynamicConfigValue(
        id_val="mappings", value=[_mapping({k: (v, "text") for k, v in SYMBOL.items()})])])
    for name, unit in (units or {}).items():
        panel = panel.override_by_name(name, [dm.DynamicConfigValue(id_val="unit", value=unit)])
    return panel


def text_panel(title: str, markdown: str, w: int = 24, h: int = 6) -> text.Panel:
    return text.Panel().title(title).mode(TextMode.MARKDOWN).content(markdown).span(w).height(h)


def datasource_variable() -> db.DatasourceVariable:
    return (db.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
            .current(dm.VariableOption(selected=True, text="aiops-prometheus", value=PROVISIONED_DATASOURCE_UID)))


def query_variable(name: str, label: str, source: str, multi: bool, default: str) -> db.QueryVariable:
    variable = (db.QueryVariable(name).label(label).datasource(DATASOURCE)
                # A string, which Grafana's Prometheus variable support parses itself (label_values(...));
                # the editor's object form would need its metric/label fields filled in as well.
                .query(source)
                .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC))
    if multi:  # All = every team, as a regex, so `team=~"$team"` works with one value or many
        variable = variable.multi(True).include_all(True).all_value(".*")
        return variable.current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
    return variable.current(dm.VariableOption(selected=True, text=default, value=default))


def new_dashboard(uid: str, title: str, description: str, variables: list) -> db.Dashboard:
    board = (db.Dashboard(title).uid(uid).description(description).tags([TAG]).refresh("1m").time("now-6h", "now")
             .timezone("browser").readonly().tooltip(dm.DashboardCursorSync.CROSSHAIR)
             .link(db.DashboardLink("AI-Ops maturity").type(dm.DashboardLinkType.DASHBOARDS).tags([TAG])
                   .as_dropdown(True).include_vars(True).keep_time(True)))
    for variable in [datasource_variable(), *variables]:
        board = board.with_variable(variable)
    return board
