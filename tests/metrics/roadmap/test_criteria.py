"""Success criteria against evidence: proven only when every check holds, disproven by one unmet
check, no data below a check's minimum sample, unmeasurable without checks; claims stand in only
where telemetry cannot decide, and say so."""
from __future__ import annotations

import pytest

from metrics.roadmap.criteria import evaluate_criterion, evaluate_transition
from metrics.roadmap.guide import load_guide

BY_ID = {c.id: (t.to, c) for t in load_guide().transitions for c in t.criteria}


def judge(cid: str, evidence: dict, answers: dict | None = None):
    level, criterion = BY_ID[cid]
    return evaluate_criterion(criterion, level, evidence, answers)


def kpi(value, samples=100, min_samples=20, **extra):
    return {"value": value, "samples": samples, "min_samples": min_samples, **extra}


@pytest.mark.parametrize(("coverage", "state"), [(0.90, "proven"), (0.8999, "disproven"), (1.0, "proven")])
def test_real_time_cost_reads_the_level_2_attribution_target(coverage, state):
    result = judge("realtime_cost", {"cost_attribution_coverage": kpi(coverage), "monthly_spend_usd": kpi(12.5)})
    assert result.state == state
    attribution = result.checks[0]
    assert (attribution.source, attribution.comparator, attribution.target, attribution.value) == \
        ("cost_attribution_coverage", "ge", 0.9, coverage)
    assert attribution.unit == "ratio" and result.level == 2


def test_one_unmet_check_disproves_even_without_data_elsewhere():
    result = judge("realtime_cost", {"cost_attribution_coverage": kpi(0.5), "monthly_spend_usd": kpi(None, 0)})
    assert result.state == "disproven"
    assert [c.status for c in result.checks] == ["unmet", "no_data"]


def test_below_the_minimum_sample_is_no_data_not_a_verdict():
    result = judge("monthly_cost_tracked", {"monthly_spend_usd": kpi(3.0, samples=19)})
    assert result.state == "no_data" and result.checks[0].min_samples == 20
    assert judge("monthly_cost_tracked", {"monthly_spend_usd": kpi(3.0, samples=20)}).state == "proven"
    # a report that says no_data is no data, whatever its value
    assert judge("monthly_cost_tracked", {"monthly_spend_usd": kpi(3.0, status="no_data")}).state == "no_data"


@pytest.mark.parametrize(("successes", "fallbacks", "state", "value"), [
    (3, 6, "proven", 0.5), (2, 5, "disproven", 0.4), (4, 4, "no_data", 1.0), (0, 0, "no_data", None)])
def test_basic_fallback_from_the_fallback_counts(successes, fallbacks, state, value):
    evidence = {"fallback_successes": {"value": successes, "samples": successes},
                "fallback_requests": {"value": fallbacks, "samples": fallbacks}}
    result = judge("basic_fallback", evidence)
    check = result.checks[0]
    assert result.state == state and check.value == value and check.samples == fallbacks
    assert check.min_samples == 5 and check.source == "fallback_successes/fallback_requests"
    if fallbacks:
        assert check.numbers == {"fallback_successes": successes, "fallback_requests": fallbacks}


def test_unmeasurable_criteria_take_the_answer_as_a_claim():
    result = judge("all_traffic_via_gateway", {}, answers={"q1": 2})
    assert result.state == "unmeasurable" and result.checks == []
    assert result.claim == {"question": "q1", "answer": 2, "at_least": 2, "holds": True}
    assert judge("all_traffic_via_gateway", {}, answers={"q1": 1}).claim["holds"] is False
    assert judge("all_traffic_via_gateway", {}).claim is None  # no self-assessment configured


def test_a_proven_or_disproven_criterion_never_shows_a_claim():
    answers = {"q3": 0}
    assert judge("full_tracing", {"trace_coverage": kpi(0.97)}, answers).claim is None
    assert judge("full_tracing", {"trace_coverage": kpi(0.2)}, answers).claim is None
    assert judge("full_tracing", {}, answers).claim == {"question": "q3", "answer": 0, "at_least": 3, "holds": False}


def test_measured_means_enough_samples_at_any_value():
    assert judge("rag_in_production", {"rag_relevance_score": kpi(0.1)}).state == "proven"
    assert judge("new_strategies", {"emergent_capability_detection": kpi(0.0, samples=1, min_samples=1)}).state \
        == "disproven"
    assert judge("new_strategies", {"emergent_capability_detection": kpi(2.0, samples=2, min_samples=1)}).state \
        == "proven"


def test_every_guide_evaluates_without_evidence():
    for transition in load_guide().transitions:
        states = {r.state for r in evaluate_transition(transition, {})}
        assert states <= {"no_data", "unmeasurable"}
