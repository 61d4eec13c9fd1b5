"""The live roadmap of one team (or the organisation): the success criteria of the guide to its next
level, each proven, disproven, without data or unmeasurable, with the numbers behind it; and the
criteria counts of every guide, for the exported gauge.

    roadmap(level, evidence, answers)             -> the JSON of /api/report's `roadmap`
    evidence_from_assessment(assessment, signals) -> the evidence of one report row
    roadmap_from_report(report_dict, answers)     -> the same from a report JSON (a file, a snapshot)
"""
from __future__ import annotations

from typing import Any, Mapping

from metrics.assessment.evidence import Evidence, from_report, normalize
from metrics.catalog import MAX_LEVEL
from metrics.engine import Assessment
from metrics.roadmap.criteria import STATES, counts, evaluate_transition
from metrics.roadmap.guide import load_guide
from signals.measured import Measured

# Numbers in a KPI's evidence that are not counts of anything (window bounds, parameters).
_NOT_SIGNALS = frozenset({"window_start", "window_end", "window_days", "q", "count", "periods",
                          "backtested_periods", "synthetic_days", "span_days", "failure_window_seconds"})


def ratio_signals() -> list[str]:
    """The counted signals the guides' ratio checks read (kept with each roadmap, so a report file
    carries them to `assess --evidence`)."""
    names: list[str] = []
    for transition in load_guide().transitions:
        for criterion in transition.criteria:
            for check in criterion.checks:
                if check.ratio is not None:
                    names += [n for n in (check.ratio.numerator, check.ratio.denominator) if n not in names]
    return names


def _count(value: Any) -> float | None:
    if isinstance(value, Measured) or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value >= 0 else None


def evidence_from_assessment(assessment: Assessment, signals: Mapping[str, Any] | None = None) -> Evidence:
    """A report row's KPIs (value, samples, minimum) plus its counted signals (not the non-additive
    Measured values: those are KPIs already)."""
    evidence: Evidence = {kpi_id: {"value": None if r.value is None else float(r.value), "samples": int(r.samples),
                                   "min_samples": int(r.min_samples)} for kpi_id, r in assessment.kpis.items()}
    for name, raw in (signals or {}).items():
        value = _count(raw)
        if value is not None and name not in evidence:
            evidence[name] = {"value": value, "samples": int(value)}
    return evidence


def claims_of(answers: Any) -> dict[str, int] | None:
    """question -> answer from an aiops ModelResult (its scored, i.e. evidence-capped, answers), a
    mapping of answers, or None (no self-assessment, or a model without the aiops questions)."""
    if answers is None:
        return None
    if hasattr(answers, "answers") and getattr(answers, "model", None) == "aiops":
        return {qid: a.scored for qid, a in answers.answers.items()}
    if isinstance(answers, Mapping):
        return {str(k): int(v) for k, v in answers.items()}
    return None


def roadmap(level: int, evidence: Evidence, answers: Mapping[str, int] | None = None) -> dict[str, Any]:
    guide = load_guide()
    per_level = {t.to: evaluate_transition(t, evidence, answers) for t in guide.transitions}
    following = level + 1 if level < MAX_LEVEL else None
    doc: dict[str, Any] = {"level": level, "next_level": following, "transition": None, "criteria": [],
                           "counts": dict.fromkeys(STATES, 0),
                           "levels": {str(to): counts(results) for to, results in per_level.items()},
                           "signals": {name: evidence[name]["value"] for name in ratio_signals() if name in evidence}}
    if following is not None:
        step = guide.transition_to(following)
        doc["transition"] = {"from": level, "to": following, "name": step.name, "goal": step.goal,
                             "weeks": [step.weeks.min, step.weeks.max]}
        doc["criteria"] = [r.as_dict() for r in per_level[following]]
        doc["counts"] = counts(per_level[following])
    return doc


def with_claims(doc: dict[str, Any], answers: Mapping[str, int] | None) -> dict[str, Any]:
    """The same roadmap with the self-assessment standing in where telemetry cannot decide."""
    if answers is None:
        return doc
    criteria = {c.id: c for t in load_guide().transitions for c in t.criteria}
    out = {**doc, "criteria": []}
    for item in doc.get("criteria", []):
        item = dict(item)
        claim = criteria[item["id"]].claim if item["id"] in criteria else None
        if item["state"] in ("unmeasurable", "no_data") and claim is not None and claim.question in answers:
            answer = int(answers[claim.question])
            item["claim"] = {"question": claim.question, "answer": answer, "at_least": claim.at_least,
                             "holds": answer >= claim.at_least}
        out["criteria"].append(item)
    return out


def kpi_evidence_signals(report: Mapping[str, Any]) -> dict[str, float]:
    """The counts behind a report's KPIs (requests, failed_requests, traced_requests, ...), and the
    counts its roadmap kept, as signals."""
    kpis = report.get("kpis") or {}
    out: dict[str, float] = {}
    for row in kpis.values():
        for name, raw in ((row or {}).get("evidence") or {}).items():
            value = _count(raw)
            if value is not None and name not in kpis and name not in _NOT_SIGNALS:
                out[name] = value
    kept = (report.get("roadmap") or {}).get("signals") or {}
    out.update({name: float(v) for name, v in kept.items() if _count(v) is not None})
    return out


def roadmap_from_report(report: Mapping[str, Any], answers: Mapping[str, int] | None = None,
                        level: int | None = None) -> dict[str, Any]:
    """A roadmap from a report JSON (collect/replay/api/report, or a stored snapshot): its KPIs, the
    counts behind them and the signals its own roadmap kept; at the report's level unless given."""
    extra = normalize(report.get("signals")) if isinstance(report.get("signals"), dict) else {}
    evidence = from_report(dict(report), kpi_evidence_signals(report))
    evidence.update(extra)
    return roadmap(int(report.get("level", 0) if level is None else level), evidence, answers)
