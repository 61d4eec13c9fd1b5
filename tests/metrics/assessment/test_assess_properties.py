"""Property tests: every scoring function is bounded and monotone in each answer (and evidence
never raises an answer)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from metrics.assessment import assess_all, assess_model
from metrics.assessment.evidence import evaluate_rule, load_evidence_map
from metrics.assessment.questionnaire import summarize

IDS = [f"q{i}" for i in range(1, 13)]
SH = ["infrastructure", "data", "security", "developer", "operations", "governance"]
AREAS = ["data", "training", "registry", "serving", "observability", "governance", "developer_experience"]

aiops_answers = st.fixed_dictionaries({q: st.integers(0, 5) for q in IDS})
sh_stages = st.fixed_dictionaries({d: st.integers(1, 5) for d in SH})
pf_areas = st.fixed_dictionaries({a: st.integers(1, 5) for a in AREAS})
ratio = st.floats(0, 1, allow_nan=False)
evidence = st.fixed_dictionaries({}, optional={
    "trace_coverage": st.builds(lambda v, n: {"value": v, "samples": n}, ratio, st.integers(0, 200)),
    "evaluation_coverage": st.builds(lambda v, n: {"value": v, "samples": n}, ratio, st.integers(0, 200)),
    "cost_attribution_coverage": st.builds(lambda v, n: {"value": v, "samples": n}, ratio, st.integers(0, 200)),
    "mttr_seconds": st.builds(lambda v, n: {"value": v, "samples": n}, st.floats(0, 1e6), st.integers(0, 10)),
    "requests": st.integers(0, 200), "authenticated_requests": st.integers(0, 200),
    "fallback_requests": st.integers(0, 50), "fallback_successes": st.integers(0, 50),
})


def _bump(values: dict[str, int], key: str, top: int) -> dict[str, int] | None:
    return None if values[key] >= top else {**values, key: values[key] + 1}


@given(aiops_answers, st.sampled_from(IDS))
def test_aiops_bounded_and_monotone(answers, qid):
    s = summarize(answers)
    assert 0 <= s["total"] <= 60 and 0 <= s["level"] <= 5
    assert s["level"] <= s["score"] <= 5 and int(s["score"]) == s["level"]
    assert all(0 <= v <= 5 for v in s["dimensions"].values())
    bumped = _bump(answers, qid, 5)
    if bumped:
        t = summarize(bumped)
        assert t["total"] == s["total"] + 1
        assert t["level"] >= s["level"] and t["score"] > s["score"] - 1e-9
        assert all(t["dimensions"][d] >= s["dimensions"][d] for d in s["dimensions"])


@settings(max_examples=150)
@given(aiops_answers, evidence, st.sampled_from(IDS))
def test_evidence_never_raises_an_answer_and_keeps_monotonicity(answers, ev, qid):
    results = assess_all({"model": "aiops", "answers": answers}, ev)
    aiops = results["aiops"]
    for key, a in aiops.answers.items():
        assert a.scored <= a.claim == answers[key]
        assert a.scored == (a.claim if a.evidence is None else min(a.claim, a.evidence))
    bumped = _bump(answers, qid, 5)
    if bumped:
        more = assess_all({"model": "aiops", "answers": bumped}, ev)
        for name, result in results.items():
            assert more[name].level >= result.level, name
            assert more[name].score >= result.score - 1e-9, name
            assert all(more[name].dimensions[d] >= v for d, v in result.dimensions.items()), name


@given(sh_stages, st.sampled_from(SH))
def test_selfhosted_bounded_and_monotone(stages, dim):
    r = assess_model("selfhosted", {"model": "selfhosted", "stages": stages})
    pct = r.extra["percentage"]
    assert 10 <= pct <= 90 and 1 <= r.level <= 5 and 1 <= r.score <= 5
    assert r.level == min(5, int(pct // 20) + 1)
    bumped = _bump(stages, dim, 5)
    if bumped:
        s = assess_model("selfhosted", {"model": "selfhosted", "stages": bumped})
        assert s.extra["percentage"] > pct and s.level >= r.level and s.score > r.score


@given(pf_areas, st.sampled_from(AREAS))
def test_platform_bounded_and_monotone(areas, area):
    r = assess_model("platform", {"model": "platform", "areas": areas})
    assert 1 <= r.level <= 5 and r.level <= r.score <= 5 and int(r.score) == r.level
    assert r.level == min(areas.values())
    bumped = _bump(areas, area, 5)
    if bumped:
        s = assess_model("platform", {"model": "platform", "areas": bumped})
        assert s.level >= r.level and s.score >= r.score


@given(st.data())
def test_evidence_levels_are_monotone_in_the_value(data):
    rule = data.draw(st.sampled_from(load_evidence_map().rules))
    a, b = sorted(data.draw(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=2, max_size=2)))
    if rule.ratio:
        def ev(v):
            return {rule.ratio.numerator: {"value": v, "samples": 1000}, rule.ratio.denominator: {"value": 1e6, "samples": 1000}}
    else:
        def ev(v):
            return {rule.source: {"value": v, "samples": 1000}}
    low, high = evaluate_rule(rule, ev(a)).level, evaluate_rule(rule, ev(b)).level
    rank = {None: 5}   # no evidence caps nothing, like a met top band
    lower_is_better = rule.bands[0].comparator in ("lt", "le")
    if lower_is_better:
        assert rank.get(low, low) >= rank.get(high, high)
    else:
        assert rank.get(low, low) <= rank.get(high, high)
