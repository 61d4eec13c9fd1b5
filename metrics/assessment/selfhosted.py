"""The self-hosted model (seed 000): six weighted dimensions, each at a stage 1-5 worth its
midpoint (10/30/50/70/90 %); the weighted sum is the overall percentage, whose band (0-20, 20-40,
40-60, 60-80, 80-100 %; an edge belongs to the higher stage) is the overall stage. The operations and
security stages are capped by evidence where it exists. Integer arithmetic keeps the seed's worked
example (2,1,2,2,1,2 -> 23.0 %, Stage 2) exact."""
from __future__ import annotations

from fractions import Fraction
from typing import Mapping

from metrics.assessment.definitions import load_definitions
from metrics.assessment.evidence import Evidence, cap
from metrics.assessment.result import ModelResult, kpi_entries, lopsided


def percentage(stages: Mapping[str, int]) -> Fraction:
    """Overall maturity in percent: sum of midpoint(stage) x weight / 100."""
    model = load_definitions().selfhosted
    return Fraction(sum(model.midpoints[stages[d.id] - 1] * d.weight for d in model.dimensions), 100)


def stage_of(percent: Fraction) -> int:
    bands = load_definitions().selfhosted.bands
    return max(stage for stage, low in enumerate(bands, start=1) if percent >= low)


def weighted_stage(stages: Mapping[str, int]) -> Fraction:
    """The continuous score: the weight-averaged stage, 1.0-5.0."""
    model = load_definitions().selfhosted
    return Fraction(sum(stages[d.id] * d.weight for d in model.dimensions), 100)


def score_selfhosted(claims: Mapping[str, int], evidence: Evidence | None = None,
                     source: str = "answers") -> ModelResult:
    model = load_definitions().selfhosted
    answers = {d.id: cap("selfhosted", d.id, claims[d.id], evidence) for d in model.dimensions}
    stages = {key: answer.scored for key, answer in answers.items()}
    percent = percentage(stages)
    stage = stage_of(percent)
    weighted = {d.id: float(Fraction(model.midpoints[stages[d.id] - 1] * d.weight, 100)) for d in model.dimensions}
    claimed_percent = percentage(claims)
    result = ModelResult(
        model="selfhosted", level=stage, level_name=model.stages[stage - 1],
        score=round(float(weighted_stage(stages)), 4), dimensions=dict(stages), answers=answers,
        kpis=kpi_entries(answers) if evidence else {},
        extra={"percentage": round(float(percent), 4), "stage": stage, "weighted": weighted, "source": source,
               "claimed": {"percentage": round(float(claimed_percent), 4), "stage": stage_of(claimed_percent)}},
    )
    result.warnings.extend(lopsided(stages))
    if claimed_percent != percent:
        result.warnings.append(f"evidence lowered the percentage from {float(claimed_percent):g} % to "
                               f"{float(percent):g} % (capped: {', '.join(result.capped)})")
    return result
