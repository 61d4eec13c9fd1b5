"""The aiops model from its 12 answers: each claim capped by evidence, total out of 60, the seed's
bands for the level, six dimensions (mean of each dimension's two scored answers)."""
from __future__ import annotations

from typing import Mapping

from metrics.assessment.evidence import Evidence, cap
from metrics.assessment.questionnaire import load_questionnaire
from metrics.assessment.result import ModelResult, kpi_entries, lopsided


def summarize(answers: Mapping[str, int]) -> dict[str, object]:
    """Total, level, score and dimensions of a complete set of answers (no evidence)."""
    q = load_questionnaire()
    total = sum(answers[qid] for qid in q.ids)
    return {"total": total, "level": q.level_of(total), "score": q.score_of(total),
            "dimensions": q.dimension_scores(answers)}


def score_aiops(claims: Mapping[str, int], evidence: Evidence | None = None) -> ModelResult:
    q = load_questionnaire()
    answers = {qid: cap("aiops", qid, claims[qid], evidence) for qid in q.ids}
    scored = summarize({qid: a.scored for qid, a in answers.items()})
    claimed = summarize(claims)
    level = int(scored["level"])  # type: ignore[call-overload]
    dimensions: dict[str, float] = scored["dimensions"]  # type: ignore[assignment]
    result = ModelResult(
        model="aiops", level=level, level_name=q.levels[level], score=float(scored["score"]),  # type: ignore[arg-type]
        dimensions=dict(dimensions), answers=answers, kpis=kpi_entries(answers) if evidence else {},
        extra={"total": scored["total"], "max_total": q.max_total, "source": "answers",
               "claimed": claimed},
    )
    result.warnings.extend(lopsided(dimensions))
    if claimed["total"] != scored["total"]:
        result.warnings.append(
            f"evidence lowered the total from {claimed['total']} to {scored['total']} "
            f"(capped: {', '.join(result.capped)})")
    return result
