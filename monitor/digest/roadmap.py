"""The digest's roadmap and assessment-report sections, from the week's last snapshots.

- `team_roadmaps(current, model, claims)`: per team (the organisation first), the checklist of the
  guide to its next level, evaluated on the KPIs of its last snapshot of the week and the counts
  behind them. Signals that no KPI keeps (the fallback counts) are not in the history, so a
  criterion that needs them reads "no data" here, while /api/report has them live.
- `assessment_report(path, report, tz, when)`: the detailed assessment report of the configured
  answers, capped by the week's organisation-wide evidence (metrics.roadmap.report).
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from metrics.roadmap import roadmap_from_report
from signals.teams import ALL


def snapshot_report(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The contract's report shape from a stored snapshot: level and each KPI's value, status,
    samples, minimum and evidence (the counts behind it)."""
    return {"level": snapshot["level"], "score": snapshot["score"],
            "kpis": {kpi: {k: row.get(k) for k in ("value", "status", "samples", "min_samples", "evidence")}
                     for kpi, row in snapshot["kpis"].items()}}


def claims_from_crosswalk(crosswalk: dict[str, Any] | None) -> dict[str, int] | None:
    """The aiops answers as scored (capped by evidence), where a self-assessment is configured."""
    models = (crosswalk or {}).get("models") or {}
    answers = (models.get("aiops") or {}).get("answers") or {}
    return {qid: int(a["scored"]) for qid, a in answers.items()} or None


def team_roadmaps(current: dict[tuple[str, str], dict[str, Any]], model: str | None,
                  claims: dict[str, int] | None = None) -> dict[str, dict[str, Any]]:
    teams = sorted((team for (m, team) in current if m == model), key=lambda t: (t != ALL, t))
    return {team: roadmap_from_report(snapshot_report(current[(model, team)]), claims) for team in teams}


def assessment_report(path: Path, report: dict[str, Any], tz: ZoneInfo, when: float) -> tuple[dict, dict]:
    """(crosswalk JSON, assessment report) of the answers file at `path`, capped by `report`'s
    evidence; dated by the answers file, else by `when` in the digest's time zone."""
    from metrics.assessment import assess_all, crosswalk_dict, load_answers
    from metrics.roadmap.live import kpi_evidence_signals
    from metrics.roadmap.report import build_assessment_report
    from metrics.assessment.evidence import from_report

    answers = load_answers(path)
    evidence = from_report(report, kpi_evidence_signals(report)) if report.get("kpis") else None
    results = assess_all(answers, evidence)
    meta = answers.metadata
    doc = build_assessment_report(
        results, answers.model, target=meta.get("target_level"),
        organisation=meta.get("organisation") or "Unnamed organisation",
        assessed_by=meta.get("assessed_by") or f"self-assessment ({Path(path).name}), aiops-maturity weekly digest",
        date=meta.get("date") or datetime.fromtimestamp(when, tz).date().isoformat(), evidence=evidence)
    return crosswalk_dict(results, answers.model), doc
