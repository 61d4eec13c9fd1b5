"""Team folding is exact for every source: additive signals of the teams beyond top N add up into
`other`; a Measured value stays with its own team; `all` is what a source says for it, else the
sum of its teams."""
from __future__ import annotations

from metrics.catalog import load_catalog
from metrics.engine import compute
from monitor.runtime.windows import windows_by_team
from signals.intervals import Intervals
from signals.measured import Measured
from signals.source import SourceResult

SPANS = {"evaluation": (0.0, 3600.0), "30d": (0.0, 86400.0)}


def gateway(volumes: dict[str, int]) -> SourceResult:
    per_team = {team: {"requests": n, "failed_requests": n // 10} for team, n in volumes.items()}
    return SourceResult(windows={name: per_team for name in SPANS})


def value(row, kpi_id: str, window: str = "evaluation"):
    return compute(load_catalog().kpi(kpi_id), row[window])[0]


def test_other_gets_the_exact_ratio_of_the_folded_teams_sums():
    traces = SourceResult({
        "a": {"traced_requests": 90, "gateway_requests": 100},
        "b": {"traced_requests": 1, "gateway_requests": 10},
        "c": {"traced_requests": 3, "gateway_requests": 30},
        "all": {"traced_requests": 94, "gateway_requests": 140},
    })
    rows = windows_by_team(SPANS, [gateway({"a": 1000, "b": 20, "c": 10}), traces], [], top_n=1)
    assert set(rows) == {"all", "a", "other"}
    assert value(rows["other"], "trace_coverage") == 4 / 40          # (1 + 3) / (10 + 30), not a mean of ratios
    assert value(rows["a"], "trace_coverage") == 0.9
    assert value(rows["all"], "trace_coverage") == 94 / 140          # the source's own organisation row
    assert rows["other"]["evaluation"].signals["requests"] == 30 and rows["all"]["evaluation"].signals["requests"] == 1030


def test_intervals_fold_into_one_median_and_measured_values_stay_with_their_team():
    incidents = SourceResult({
        "a": {"incident_durations": Intervals([60.0]), "open_incident_age": Measured(5.0, 1)},
        "b": {"incident_durations": Intervals([600.0, 1200.0]), "open_incident_age": Measured(7.0, 1)},
        "c": {"incident_durations": Intervals([30.0])},
    })
    rows = windows_by_team(SPANS, [gateway({"a": 1000, "b": 20, "c": 10}), incidents], [], top_n=1)
    other = rows["other"]["evaluation"].signals
    assert sorted(other["incident_durations"].values) == [30.0, 600.0, 1200.0]
    assert value(rows["other"], "mttr_seconds") == 600.0
    assert "open_incident_age" not in other                           # not additive: no value for `other`
    assert rows["a"]["evaluation"].signals["open_incident_age"] == Measured(5.0, 1)
    # no `all` from the source: the merge of every team, inputs untouched
    assert sorted(rows["all"]["evaluation"].signals["incident_durations"].values) == [30.0, 60.0, 600.0, 1200.0]
    assert incidents.signals["b"]["incident_durations"].values == [600.0, 1200.0]


def test_window_specific_signals_win_over_the_every_window_ones():
    result = SourceResult({"a": {"cost_usd": 1.0}}, windows={"30d": {"a": {"cost_usd": 30.0}}})
    rows = windows_by_team(SPANS, [gateway({"a": 100}), result], [], top_n=5)
    assert rows["a"]["evaluation"].signals["cost_usd"] == 1.0 and rows["a"]["30d"].signals["cost_usd"] == 30.0
