"""The shared reduction of trace and score counts to the catalog's signals (OTLP and Langfuse both
use it): normalisation, count-weighted means, escalation, the `all` row, the publish list and the
week-over-week values, each against numbers computed by hand (dyadic fractions: exact in floats)."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from collectors.observability_kpis import (PARTS, SIGNALS, KpiMapping, ScoreSpec, TeamCounts, WeeklyCounts, _mean,
                                           _points, build_signals, team_signals, weekly_signals, with_org_total)
from metrics.catalog import load_catalog
from metrics.engine import WindowSignals, compute
from signals.measured import Measured
from signals.teams import ALL


def spec(name: str, low: float = 0.0, high: float = 1.0) -> ScoreSpec:
    return ScoreSpec(name=name, min=low, max=high)


# ---------------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(("low", "high", "mean", "expected"), [
    (0, 1, 0.25, 0.25),
    (0, 1, 1.5, 1.0),           # clamped above
    (0, 1, -0.5, 0.0),          # clamped below
    (1, 5, 1, 0.0),
    (1, 5, 2, 0.25),
    (1, 5, 4, 0.75),
    (1, 5, 5, 1.0),
    (1, 5, 0, 0.0),
    (1, 5, 9, 1.0),
    (-1, 1, 0, 0.5),
    (0, 10, 7.5, 0.75),
])
def test_normalise_maps_the_range_to_0_1_and_clamps(low, high, mean, expected):
    assert spec("s", low, high).normalise(mean) == expected


def test_a_plain_name_is_the_default_range_and_an_empty_range_is_refused():
    assert ScoreSpec.model_validate("helpfulness") == ScoreSpec(name="helpfulness", min=0.0, max=1.0)
    assert KpiMapping(quality=["a", {"name": "b", "min": 1, "max": 5}]).quality == [spec("a"), spec("b", 1, 5)]
    for low, high in ((1, 1), (5, 1)):
        with pytest.raises(ValidationError, match="score 'x': max must be above min"):
            ScoreSpec(name="x", min=low, max=high)


# -------------------------------------------------------------------------- count-weighted means
QUALITY = [spec("quality"), spec("correctness", 0, 10), spec("helpfulness", 1, 5), spec("unseen")]


def test_points_weight_each_names_normalised_mean_by_its_count():
    scores = {"quality": [4.0, 3.0],        # mean 0.75 -> 0.75, x4 = 3.0
              "correctness": [2.0, 15.0],   # mean 7.5  -> 0.75, x2 = 1.5
              "helpfulness": [2.0, 12.0],   # mean 6    -> 1.0 (clamped), x2 = 2.0
              "unseen": [0.0, 0.0],         # no scores: skipped (no division by zero)
              "csat": [100.0, 100.0]}       # not in these specs
    assert _points(QUALITY, scores) == (6.5, 8.0)
    assert _mean(QUALITY, scores) == (0.8125, 8)   # not the mean of means (0.8333), nor of raw values (3.75)
    assert _points(QUALITY, {}) == (0.0, 0.0)
    assert _mean(QUALITY, {"csat": [3.0, 3.0]}) == (None, 0)


def test_csat_from_a_1_5_rating_and_a_thumbs_score_through_the_catalog():
    mapping = KpiMapping(csat=[{"name": "rating", "min": 1, "max": 5}, "thumbs"])
    counts = TeamCounts(scores={"rating": [4.0, 14.0],   # mean 3.5 -> 0.625, x4 = 2.5
                                "thumbs": [4.0, 3.0]})   # mean 0.75 -> 0.75, x4 = 3.0
    signals = team_signals(counts, mapping)
    assert (signals["csat_points"], signals["csat_scores"]) == (5.5, 8.0)
    value, samples, evidence = compute(load_catalog().kpi("csat"), WindowSignals(0.0, 3600.0, signals))
    assert (value, samples) == (3.75, 8)          # 1 + 4 * 5.5 / 8
    assert (evidence["csat_points"], evidence["csat_scores"]) == (5.5, 8.0)


# ---------------------------------------------------------------------------------- team signals
def test_team_signals_are_the_additive_parts_of_every_kpi():
    mapping = KpiMapping(rag_relevance=["context_relevance"], agent_success=[{"name": "task", "min": 0, "max": 4}])
    counts = TeamCounts(traces=40, evaluated_pool=20, scored_traces=10, gateway_requests=50, traced_requests=45,
                        escalated=3, escalated_by_score=1.0, memory_enabled=8, memory_used=6,
                        scores={"quality": [2.0, 1.5], "context_relevance": [4.0, 1.0], "task": [2.0, 6.0],
                                "personalization": [1.0, 0.25], "csat": [2.0, 8.0]})
    assert team_signals(counts, mapping) == {
        "traced_requests": 45, "gateway_requests": 50, "scored_traces": 10, "traces_examined": 20,
        "escalated_traces": 3.0, "traces": 40, "memory_used_traces": 6, "memory_enabled_traces": 8,
        "quality_score_points": 1.5, "quality_scores": 2.0,
        "rag_relevance_points": 1.0, "rag_relevance_scores": 4.0,
        "csat_points": 1.5, "csat_scores": 2.0,                       # csat mean 4 on 1-5 -> 0.75, x2
        "personalization_points": 0.25, "personalization_scores": 1.0,
        "agent_success_points": 1.5, "agent_success_scores": 2.0,     # mean 3 on 0-4 -> 0.75, x2
    }


@pytest.mark.parametrize(("tagged", "by_score", "escalated"), [
    (3, 1.0, 3.0), (1, 2.5, 2.5), (2, 2.0, 2.0), (0, 0.0, 0.0), (0, 4.0, 4.0),
])
def test_escalation_is_the_larger_of_tag_count_and_score_sum_not_their_sum(tagged, by_score, escalated):
    counts = TeamCounts(traces=10, escalated=tagged, escalated_by_score=by_score)
    assert team_signals(counts, KpiMapping())["escalated_traces"] == escalated


def test_merge_adds_every_count_and_score_without_sharing_lists():
    a = TeamCounts(traces=1, evaluated_pool=2, scored_traces=3, gateway_requests=4, traced_requests=5, escalated=6,
                   escalated_by_score=0.5, memory_enabled=7, memory_used=8, scores={"quality": [1.0, 0.5]})
    b = TeamCounts(traces=10, evaluated_pool=20, scored_traces=30, gateway_requests=40, traced_requests=50,
                   escalated=60, escalated_by_score=1.5, memory_enabled=70, memory_used=80,
                   scores={"quality": [2.0, 1.0], "csat": [1.0, 5.0]})
    a.merge(b)
    assert a == TeamCounts(traces=11, evaluated_pool=22, scored_traces=33, gateway_requests=44, traced_requests=55,
                           escalated=66, escalated_by_score=2.0, memory_enabled=77, memory_used=88,
                           scores={"quality": [3.0, 1.5], "csat": [1.0, 5.0]})
    a.scores["csat"][0] += 1
    assert b.scores == {"quality": [2.0, 1.0], "csat": [1.0, 5.0]}


# ---------------------------------------------------------------------------------- build_signals
def _teams() -> dict[str, TeamCounts]:
    return {"search": TeamCounts(traces=30, evaluated_pool=30, scored_traces=12, gateway_requests=40,
                                 traced_requests=36, escalated=3, escalated_by_score=1.0, memory_enabled=10,
                                 memory_used=4, scores={"quality": [4.0, 3.0], "csat": [2.0, 10.0]}),
            "ads": TeamCounts(traces=10, evaluated_pool=5, scored_traces=5, gateway_requests=8, traced_requests=8,
                              escalated=1, escalated_by_score=0.0, memory_enabled=2, memory_used=2,
                              scores={"quality": [4.0, 1.0], "helpfulness": [8.0, 8.0]})}


def test_build_signals_adds_an_all_row_from_the_merged_counts():
    per_team = _teams()
    rows = build_signals(per_team, None, KpiMapping())
    assert set(rows) == {"search", "ads", ALL}
    assert rows["search"] == team_signals(per_team["search"], KpiMapping())
    assert rows["ads"] == team_signals(per_team["ads"], KpiMapping())
    merged = TeamCounts()
    for counts in per_team.values():
        merged.merge(counts)
    assert rows[ALL] == team_signals(merged, KpiMapping())
    assert rows[ALL] == {
        "traced_requests": 44, "gateway_requests": 48, "scored_traces": 17, "traces_examined": 35,
        "escalated_traces": 4.0, "traces": 40, "memory_used_traces": 6, "memory_enabled_traces": 12,
        "quality_score_points": 12.0, "quality_scores": 16.0,   # quality 8 scores sum 4 -> 0.5 x8; helpfulness 1.0 x8
        "rag_relevance_points": 0.0, "rag_relevance_scores": 0.0,
        "csat_points": 2.0, "csat_scores": 2.0,                  # mean 5 on 1-5 -> 1.0, x2
        "personalization_points": 0.0, "personalization_scores": 0.0,
        "agent_success_points": 0.0, "agent_success_scores": 0.0,
    }
    assert per_team == _teams()                                  # the inputs are not modified
    assert with_org_total(per_team)[ALL] == merged


@pytest.mark.parametrize(("publish", "names"), [
    (["trace_coverage"], {"traced_requests", "gateway_requests"}),
    (["csat", "human_escalation_rate"], {"csat_points", "csat_scores", "escalated_traces", "traces"}),
    ([], set()),
])
def test_build_signals_publishes_only_the_named_kpis_parts(publish, names):
    rows = build_signals(_teams(), None, KpiMapping(publish=publish))
    assert {team: set(signals) for team, signals in rows.items()} == {"search": names, "ads": names, ALL: names}
    if publish == ["trace_coverage"]:
        assert rows == {"search": {"traced_requests": 36, "gateway_requests": 40},
                        "ads": {"traced_requests": 8, "gateway_requests": 8},
                        ALL: {"traced_requests": 44, "gateway_requests": 48}}


def test_the_default_publish_list_is_every_part_and_both_weekly_values():
    rows = build_signals(_teams(), {"search": WeeklyCounts()}, KpiMapping())
    parts = {name for pair in PARTS.values() for name in pair}
    weekly = {"self_improvement_rate", "cost_per_quality_point_change_wow"}
    assert set(rows["search"]) == set(rows[ALL]) == parts | weekly
    assert set(rows["ads"]) == parts                             # no weekly counts for ads


def test_parts_are_the_catalog_formulas_signals():
    catalog = load_catalog()
    assert set(PARTS) | {"self_improvement_rate", "cost_per_quality_point_change_wow"} == set(SIGNALS)
    for kpi, (numerator, denominator) in PARTS.items():
        formula = catalog.kpi(kpi).formula
        assert (formula.kind, formula.numerator, formula.denominator) == ("ratio", numerator, denominator), kpi
    measured = {kpi.formula.signal for kpi in catalog.kpis if kpi.formula.kind == "measurement"}
    assert set(SIGNALS) - set(PARTS) <= measured      # published under the catalog's signal name


def test_an_unknown_publish_name_is_refused_with_the_known_names():
    with pytest.raises(ValidationError) as raised:
        KpiMapping(publish=["trace_coverage", "latency_p95", "csat_points"])
    message = str(raised.value)
    assert "publish: unknown signal(s) ['csat_points', 'latency_p95']" in message
    assert f"(known: {', '.join(SIGNALS)})" in message


# --------------------------------------------------------------------------------- week over week
THIS = {"quality": [8.0, 6.0], "helpfulness": [8.0, 7.0]}   # (6 + 7) / 16 = 0.8125
LAST = {"quality": [4.0, 2.5]}                              # 0.625


def test_weekly_signals_week_over_week():
    week = WeeklyCounts(this_cost=19.5, last_cost=5.0, this_scores=THIS, last_scores=LAST)
    evidence = {"this_week_quality": 0.8125, "last_week_quality": 0.625, "this_week_scores": 16,
                "last_week_scores": 4, "this_week_cost_usd": 19.5, "last_week_cost_usd": 5.0,
                "this_week_cost_per_point": 1.5,     # 19.5 / (0.8125 * 16)
                "last_week_cost_per_point": 2.0}     # 5 / (0.625 * 4)
    assert weekly_signals(week, KpiMapping()) == {
        "self_improvement_rate": Measured(0.3, 4, evidence),                 # (0.8125 - 0.625) / 0.625
        "cost_per_quality_point_change_wow": Measured(-0.25, 4, evidence),   # (1.5 - 2) / 2
    }
    signals = weekly_signals(week, KpiMapping())
    window = WindowSignals(0.0, 7 * 86400.0, signals)
    catalog = load_catalog()
    assert compute(catalog.kpi("self_improvement_rate"), window)[:2] == (0.3, 4)
    assert compute(catalog.kpi("cost_per_quality_point"), window)[:2] == (-0.25, 4)


@pytest.mark.parametrize(("week", "improvement", "change", "samples"), [
    (WeeklyCounts(19.5, 5.0, THIS, {}), None, None, 0),                              # no scores last week
    (WeeklyCounts(19.5, 5.0, {}, LAST), None, None, 0),                              # none this week
    (WeeklyCounts(19.5, 5.0, {"csat": [8.0, 32.0]}, {"csat": [4.0, 16.0]}), None, None, 0),   # not quality scores
    (WeeklyCounts(19.5, 0.0, THIS, LAST), 0.3, None, 4),                             # no cost last week
    (WeeklyCounts(19.5, 5.0, THIS, {"quality": [4.0, 0.0]}), None, None, 4),        # last week's mean 0
    (WeeklyCounts(0.0, 5.0, THIS, LAST), 0.3, -1.0, 4),                              # no cost this week
])
def test_weekly_signals_without_a_comparable_week(week, improvement, change, samples):
    signals = weekly_signals(week, KpiMapping())
    assert (signals["self_improvement_rate"].value, signals["cost_per_quality_point_change_wow"].value) == \
        (improvement, change)
    assert signals["self_improvement_rate"].samples == signals["cost_per_quality_point_change_wow"].samples == samples


def test_build_signals_weekly_rows_per_team_and_for_all():
    weekly = {"search": WeeklyCounts(6.0, 2.5, {"quality": [4.0, 3.0]}, LAST),                          # 0.75, 0.625
              "ads": WeeklyCounts(13.5, 2.5, {"quality": [4.0, 3.0], "helpfulness": [8.0, 7.0]}, {})}   # no last week
    rows = build_signals({"search": TeamCounts()}, weekly,
                         KpiMapping(publish=["self_improvement_rate", "cost_per_quality_point_change_wow"]))
    values = {team: {name: (m.value, m.samples) for name, m in signals.items()} for team, signals in rows.items()}
    assert values == {
        # (0.75 - 0.625) / 0.625; cost per point 6 / (0.75 * 4) = 2 vs 2.5 / (0.625 * 4) = 1
        "search": {"self_improvement_rate": (0.2, 4), "cost_per_quality_point_change_wow": (1.0, 4)},
        "ads": {"self_improvement_rate": (None, 0), "cost_per_quality_point_change_wow": (None, 0)},
        # the merged weeks: 19.5 and 5.0 of cost, THIS and LAST of scores
        ALL: {"self_improvement_rate": (0.3, 4), "cost_per_quality_point_change_wow": (-0.25, 4)},
    }
    assert weekly["search"].this_scores == {"quality": [4.0, 3.0]} and LAST == {"quality": [4.0, 2.5]}
