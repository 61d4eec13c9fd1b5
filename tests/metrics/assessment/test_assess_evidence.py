"""Evidence caps: each rule at, just under and just over its thresholds; sample minimums; no_data;
the evidence input built from a real engine Report; bad evidence named by key."""
from __future__ import annotations

import json

import pytest

from metrics.assessment import EvidenceError, assess_model, evidence_from_report, load_evidence
from metrics.assessment.evidence import load_evidence_map, normalize
from metrics.catalog import load_catalog
from metrics.engine import WindowSignals
from metrics.report import build_report

CLAIMS = {"q1": 2, "q2": 2, "q3": 3, "q4": 1, "q5": 0, "q6": 3, "q7": 2, "q8": 2, "q9": 3, "q10": 2, "q11": 2, "q12": 1}
EPS = 1e-4


def kpi(value, samples=100, min_samples=20, status=None):
    out = {"value": value, "samples": samples, "min_samples": min_samples}
    if status:
        out["status"] = status
    return out


def answer(qid: str, claim: int, evidence: dict):
    result = assess_model("aiops", {"model": "aiops", "answers": {**CLAIMS, qid: claim}}, evidence)
    return result.answers[qid], result


@pytest.mark.parametrize(("value", "claim", "scored", "status"), [
    (0.95, 3, 3, "verified"), (0.95 + EPS, 3, 3, "verified"), (0.95 - EPS, 3, 2, "capped"),
    (0.95, 5, 5, "partly_verified"),
    (0.50, 2, 2, "verified"), (0.50 - EPS, 2, 1, "capped"), (0.50 + EPS, 3, 2, "capped"), (0.0, 4, 1, "capped"),
])
def test_q3_trace_coverage(value, claim, scored, status):
    a, _ = answer("q3", claim, {"trace_coverage": kpi(value)})
    assert (a.claim, a.scored, a.status) == (claim, scored, status)
    assert a.sources[0].source == "trace_coverage" and a.sources[0].value == value


@pytest.mark.parametrize(("value", "claim", "scored"), [
    (0.80, 3, 2), (0.80 + EPS, 3, 3), (0.80 - EPS, 3, 2), (EPS, 3, 2), (0.0, 3, 1), (0.0, 1, 1),
])
def test_q4_evaluation_coverage(value, claim, scored):
    a, _ = answer("q4", claim, {"evaluation_coverage": kpi(value)})
    assert a.scored == scored


@pytest.mark.parametrize(("value", "claim", "scored"), [
    (0.99, 3, 3), (0.99 - EPS, 3, 2), (0.99 + EPS, 3, 3), (0.90, 3, 2), (0.90 - EPS, 3, 1), (0.90 + EPS, 2, 2),
])
def test_q9_cost_attribution(value, claim, scored):
    a, _ = answer("q9", claim, {"cost_attribution_coverage": kpi(value)})
    assert a.scored == scored


@pytest.mark.parametrize(("successes", "requests", "claim", "scored", "status"), [
    (19, 20, 2, 2, "verified"), (20, 20, 3, 3, "partly_verified"), (18, 20, 3, 2, "capped"),
    (10, 20, 2, 2, "verified"), (9, 20, 2, 1, "capped"),
    (0, 4, 3, 3, "unverified"),     # fewer than 5 fallbacks: no evidence
])
def test_q2_fallbacks_actually_succeeding(successes, requests, claim, scored, status):
    a, _ = answer("q2", claim, {"fallback_requests": requests, "fallback_successes": successes})
    assert (a.scored, a.status) == (scored, status)
    if status != "unverified":
        assert a.sources[0].numbers == {"fallback_successes": successes, "fallback_requests": requests}


@pytest.mark.parametrize(("authenticated", "claim", "scored"), [(99, 2, 2), (100, 3, 3), (98, 2, 1), (0, 1, 1)])
def test_q11_gateway_auth(authenticated, claim, scored):
    a, _ = answer("q11", claim, {"requests": 100, "authenticated_requests": authenticated})
    assert a.scored == scored


@pytest.mark.parametrize(("guarded", "claim", "scored"), [(95, 3, 3), (96, 4, 4), (94, 3, 2), (0, 2, 2)])
def test_q12_guardrails(guarded, claim, scored):
    a, _ = answer("q12", claim, {"requests": 100, "guardrail_requests": guarded})
    assert a.scored == scored


def test_q10_budget_events_verify_but_never_cap():
    a, _ = answer("q10", 3, {"budget_blocked_requests": 2})
    assert (a.scored, a.status) == (3, "verified")
    a, _ = answer("q10", 5, {"budget_blocked_requests": 0})
    assert (a.scored, a.status) == (5, "unverified")


def test_too_few_samples_or_no_data_is_no_evidence():
    a, result = answer("q3", 3, {"trace_coverage": kpi(0.10, samples=19)})
    assert (a.scored, a.evidence, a.status) == (3, None, "unverified")
    assert result.kpis["trace_coverage"]["status"] == "no_data"
    a, _ = answer("q3", 3, {"trace_coverage": kpi(0.10, samples=500, status="no_data")})
    assert a.status == "unverified"
    a, _ = answer("q3", 3, {"trace_coverage": kpi(0.10, samples=20)})
    assert a.status == "capped"


def test_capped_answers_are_reported_with_claim_evidence_and_numbers():
    _, result = answer("q3", 3, {"trace_coverage": kpi(0.6), "cost_attribution_coverage": kpi(0.5)})
    doc = result.as_dict()
    assert doc["capped"] == ["q3", "q9"]
    assert doc["total"] == 23 - 1 - 2 and doc["claimed"]["total"] == 23
    q3 = doc["answers"]["q3"]
    assert (q3["claim"], q3["evidence"], q3["scored"], q3["status"]) == (3, 2, 2, "capped")
    assert q3["sources"][0].items() >= {"source": "trace_coverage", "value": 0.6, "samples": 100, "band": "ge 0.5"}.items()
    assert doc["kpis"]["trace_coverage"] == {"value": 0.6, "status": "unmet", "level": 3, "target": 0.95,
                                             "comparator": "ge", "samples": 100, "min_samples": 20}
    assert any("lowered the total from 23 to 20" in w for w in doc["warnings"])


def test_evidence_from_a_real_engine_report():
    signals = {"requests": 200, "failed_requests": 4, "cost_usd": 10.0, "attributed_cost_usd": 9.5,
               "traced_requests": 188, "gateway_requests": 200, "scored_traces": 127.5, "traces_examined": 150}
    window = WindowSignals(0, 86400, signals)
    report = build_report(load_catalog(), {"all": {"evaluation": window, "30d": window}}, 86400.0).as_dict()
    report = json.loads(json.dumps(report, default=str))   # as a --evidence file would hold it
    evidence = evidence_from_report(report, {"authenticated_requests": 150})
    assert evidence["requests"] == {"value": 200.0, "samples": 200}            # from api_error_rate's evidence
    assert evidence["trace_coverage"]["value"] == pytest.approx(0.94)
    result = assess_model("aiops", {"model": "aiops", "answers": CLAIMS}, evidence)
    assert result.answers["q3"].scored == 2                                     # 94 % < 95 %
    assert result.answers["q9"].scored == 2                                     # 95 % attributed
    assert result.answers["q4"].status == "verified"
    assert result.answers["q11"].scored == 1                                    # 75 % authenticated
    assert result.answers["q12"].status == "unverified"                         # no guardrail signal


def test_evidence_file_report_or_plain(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"model": "aiops", "kpis": {"trace_coverage": kpi(0.5)},
                                  "signals": {"fallback_requests": 10}}))
    assert set(load_evidence(report)) == {"trace_coverage", "fallback_requests"}
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"trace_coverage": {"value": 0.5, "samples": 30}}))
    assert load_evidence(plain) == {"trace_coverage": {"value": 0.5, "samples": 30}}


@pytest.mark.parametrize(("doc", "message"), [
    ({"kpis": {"trace_coverage": {"value": "high", "samples": 3}}}, "evidence.kpis.trace_coverage.value: expected a number"),
    ({"kpis": {"trace_coverage": {"value": 0.5}}}, "evidence.kpis.trace_coverage.samples: expected a whole number"),
    ({"kpis": {"trace_coverage": {"samples": 3}}}, "evidence.kpis.trace_coverage.value: missing"),
    ({"kpis": [1]}, "evidence: kpis: expected"),
    ({"kpis": {}, "signals": {"fallback_requests": -1}}, "evidence.signals.fallback_requests: a count cannot be negative"),
    ({"trace_coverage": {"value": 0.5, "samples": 1, "status": "good"}}, "evidence.trace_coverage.status"),
])
def test_bad_evidence_names_the_key(tmp_path, doc, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(EvidenceError) as info:
        load_evidence(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_bad_evidence_file(tmp_path):
    with pytest.raises(EvidenceError, match="--evidence: cannot read"):
        load_evidence(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(EvidenceError, match=r"--evidence: .*not valid JSON \(line 1\)"):
        load_evidence(tmp_path / "x.json")


def test_every_rule_refers_to_known_targets_and_sources():
    from metrics.assessment.definitions import load_definitions
    from metrics.assessment.questionnaire import load_questionnaire

    known = {"aiops": set(load_questionnaire().ids), "selfhosted": set(load_definitions().selfhosted.ids),
             "platform": {"overall"}}
    catalog = load_catalog()
    kpi_ids = {k.id for k in catalog.kpis}
    extra = {"deployment_frequency", "lead_time_for_changes", "change_failure_rate"}
    for rule in load_evidence_map().rules:
        assert rule.target in known[rule.model], rule
        names = [rule.ratio.numerator, rule.ratio.denominator] if rule.ratio else [rule.source]
        for name in names:
            assert name in kpi_ids or name in catalog.signals or name in extra, name


def test_normalize_reads_bare_numbers_as_counts():
    assert normalize({"fallback_requests": 7}) == {"fallback_requests": {"value": 7.0, "samples": 7}}
    assert normalize(None) == {}


def test_a_report_file_carries_its_roadmaps_fallback_counts(tmp_path):
    doc = {"level": 1, "kpis": {"api_error_rate": {"value": 0.01, "samples": 100, "evidence": {"requests": 100}}},
           "roadmap": {"signals": {"fallback_successes": 3, "fallback_requests": 10}}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc))
    evidence = load_evidence(path)
    assert evidence["fallback_requests"] == {"value": 10.0, "samples": 10}
    q2 = assess_model("aiops", {"model": "aiops", "answers": {f"q{i}": 2 for i in range(1, 13)}}, evidence).answers["q2"]
    assert (q2.status, q2.evidence, q2.sources[0].value) == ("capped", 1, 0.3)  # 30 % of fallbacks saved: at most 1
    path.write_text(json.dumps({**doc, "signals": {"fallback_successes": 10}}))
    assert load_evidence(path)["fallback_successes"]["value"] == 10.0  # "signals" wins
