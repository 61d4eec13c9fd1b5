"""The AI-platform model (seed 001): seven capability areas at levels 1-5 (Ad-hoc ... Self-improving).
The model is additive, so the platform is at level L when every area is at L or above (the lowest
area); DORA-style delivery metrics for models and prompts cross-check that level and cap it where
they exist. score = level + share of areas already at level + 1 (when a DORA cap binds: the highest score at the
capped level, (n - 1) / n above it, so the score stays monotone in every claim).
Warns when one area is two or more levels ahead of another (the seed's lopsidedness)."""
from __future__ import annotations

from typing import Mapping

from metrics.assessment.definitions import load_definitions
from metrics.assessment.evidence import Evidence, cap
from metrics.assessment.result import ModelResult, ScoredAnswer, kpi_entries, lopsided, weakest_link

OVERALL = "overall"


def score_platform(claims: Mapping[str, int], evidence: Evidence | None = None, source: str = "answers",
                   missing: tuple[str, ...] = ()) -> ModelResult:
    """`claims` holds every area (answers file) or the areas a crosswalk could derive (`missing`
    names the rest)."""
    model = load_definitions().platform
    areas = {area: claims[area] for area in model.areas if area in claims}
    claimed_level, claimed_score = weakest_link(areas)
    overall = cap("platform", OVERALL, claimed_level, evidence)
    level = overall.scored
    # When the DORA cap binds, every area is above the capped level: score it as the best a platform
    # at that level can be, so raising a claim can never lower the score (monotone).
    score = claimed_score if level == claimed_level else round(level + (len(areas) - 1) / len(areas), 4)
    answers: dict[str, ScoredAnswer] = {area: ScoredAnswer(value, None, value, "unverified") for area, value in areas.items()}
    answers[OVERALL] = overall
    result = ModelResult(
        model="platform", level=level, level_name=model.levels[level - 1], score=score,
        dimensions=dict(areas), answers=answers, kpis=kpi_entries(answers) if evidence else {},
        extra={"source": source, "claimed": {"level": claimed_level, "score": claimed_score}},
    )
    if missing:
        result.warnings.append(f"areas not covered by the answers and left out: {', '.join(missing)}")
    result.warnings.extend(lopsided(areas, model.lopsided_gap))
    if overall.status == "capped":
        result.warnings.append(f"DORA evidence caps the level at {level} (claimed {claimed_level})")
    return result
