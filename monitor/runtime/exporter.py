"""Prometheus exporter: the contract's series, built from the latest snapshot (never at scrape time)."""
from __future__ import annotations

from typing import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from metrics.engine import Assessment
from metrics.roadmap import STATES
from signals.teams import ALL
from signals.labels import BoundedGaugeMetricFamily
from monitor.runtime.dashboard_series import dashboard_families
from monitor.runtime.service import Snapshot


def report_model(snapshot: Snapshot) -> str | None:
    return snapshot.catalog.model if snapshot.catalog is not None else None


class MaturityCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot], sources: list | None = None,
                 budgets: dict[str, float] | None = None) -> None:
        self._snapshot = snapshot
        self._sources = sources or []
        self._budgets = budgets or {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self._snapshot()
        level = BoundedGaugeMetricFamily("aiops_maturity_level", "Maturity level reached (0-5).",
                                         labels=["model", "team"])
        score = BoundedGaugeMetricFamily("aiops_maturity_score", "Level plus the share of next-level KPIs met.",
                                         labels=["model", "team"])
        value = BoundedGaugeMetricFamily("aiops_kpi_value", "KPI value; absent while no_data.",
                                         labels=["kpi", "level", "team"])
        target = BoundedGaugeMetricFamily("aiops_kpi_target", "KPI target per level.",
                                          labels=["kpi", "level", "comparator"])
        met = BoundedGaugeMetricFamily("aiops_kpi_met", "1 met, 0 unmet; absent while no_data.",
                                       labels=["kpi", "level", "team"])
        no_data = BoundedGaugeMetricFamily("aiops_kpi_no_data", "1 while the KPI has too little data.",
                                           labels=["kpi", "level", "team"])
        dimension = BoundedGaugeMetricFamily("aiops_dimension_level", "Level per dimension of the model.",
                                             labels=["model", "dimension"])
        up = BoundedGaugeMetricFamily("aiops_collector_up", "1 while the collector's last attempt succeeded.",
                                      labels=["collector"])
        last_success = BoundedGaugeMetricFamily("aiops_collector_last_success_timestamp_seconds",
                                                "Unix time of the collector's last success.", labels=["collector"])
        if snapshot.catalog is not None:
            for kpi in snapshot.catalog.kpis:
                for t in kpi.targets:
                    target.add_metric([kpi.id, str(t.level), t.comparator], t.value)
        report = snapshot.report
        if report is not None:
            rows: list[tuple[str, Assessment]] = [(ALL, report.org), *sorted(report.teams.items())]
            for team, assessment in rows:
                level.add_metric([report.model, team], assessment.level)
                score.add_metric([report.model, team], assessment.score)
                for result in assessment.kpis.values():
                    for check in result.checks:
                        labels = [check.kpi, str(check.level), team]
                        no_data.add_metric(labels, 1.0 if check.status == "no_data" else 0.0)
                        if check.status != "no_data":
                            value.add_metric(labels, float(check.value))
                            met.add_metric(labels, 1.0 if check.status == "met" else 0.0)
            for name, dim_level in report.org.dimensions.items():
                dimension.add_metric([report.model, name], dim_level)
        lopsided = BoundedGaugeMetricFamily("aiops_model_lopsided", "1 when one area of the model is two or more "
                                            "levels ahead of another.", labels=["model"])
        for name, result in snapshot.models.items():
            # The telemetry-based aiops level keeps model="aiops"; the aiops questionnaire is apart.
            model = f"{name}_questionnaire" if name == report_model(snapshot) else name
            level.add_metric([model, "all"], result.level)
            score.add_metric([model, "all"], result.score)
            for dim_name, dim_level in result.dimensions.items():
                dimension.add_metric([model, dim_name], float(dim_level))
            lopsided.add_metric([model], 1.0 if any(w.startswith("lopsided:") for w in result.warnings) else 0.0)
        for name, status in snapshot.collectors.items():
            up.add_metric([name], 1.0 if status.up else 0.0)
            if status.last_success is not None:
                last_success.add_metric([name], status.last_success)
        yield from (level, score, value, target, met, no_data, dimension, up, last_success, lopsided)
        yield roadmap_family(snapshot)
        windows = {kpi.id: kpi.window for kpi in snapshot.catalog.kpis} if snapshot.catalog is not None else {}
        yield from dashboard_families(snapshot.periods, self._budgets, snapshot.period_kpis, windows)  # KPI dashboard
        # Gauges the sources built in the snapshot's cycle (the leader's, on every replica); counters
        # of what this replica received, live (summed over replicas, they count each payload once).
        yield from snapshot.families
        for source in self._sources:
            yield from (family for family in source.families() if family.type == "counter")


ROADMAP_STATES = STATES  # proven, disproven, no_data, unmeasurable


def roadmap_family(snapshot: Snapshot) -> GaugeMetricFamily:
    """aiops_roadmap_criteria{team, level, state}: how many success criteria of the transition guide
    to `level` are in each state. The organisation (`all`) has every guide (5 levels x 4 states); each
    other row the guide to its own next level only (4 states, none at the top level), so a team adds
    4 series whatever it does."""
    family = BoundedGaugeMetricFamily("aiops_roadmap_criteria", "Success criteria of the transition guide to "
                                      "the level, by state (proven, disproven, no_data, unmeasurable); team=all: "
                                      "every level, other teams: their next level.", labels=["team", "level", "state"])
    report = snapshot.report
    if report is None:
        return family
    for team in [ALL, *sorted(report.teams)]:
        doc = report.roadmap.get(team) or {}
        levels = doc.get("levels") or {}
        if team != ALL:
            following = doc.get("next_level")
            levels = {str(following): doc.get("counts") or {}} if following is not None else {}
        for guide_level, counts in sorted(levels.items(), key=lambda item: int(item[0])):
            for state in ROADMAP_STATES:
                family.add_metric([team, str(guide_level), state], float(counts.get(state, 0)))
    return family
