"""Models derived from scored aiops answers by the crosswalk in models.yaml (see MAPPING.md).

- enterprise (seed 004): Experimental, Repeatable, Governed, Optimized, Adaptive over its four
  assessment domains (AI observability, LLMOps, governance operations, agent operations). The seed
  asks for balance across domains, so the overall level is the weakest domain's.
- stages (seed 002): Awareness, Active, Operational, Systemic, Transformational, from the aiops
  level. The seed has no dimensions. The score places the aiops score inside the range of aiops
  levels that map to the stage.
"""
from __future__ import annotations

from metrics.assessment.definitions import derive_levels, load_definitions
from metrics.assessment.result import ModelResult, lopsided, weakest_link


def score_enterprise(aiops: ModelResult) -> ModelResult:
    definitions = load_definitions()
    model, mapping = definitions.enterprise, definitions.from_aiops.enterprise
    scored = {qid: answer.scored for qid, answer in aiops.answers.items()}
    domains, means = derive_levels(scored, mapping)
    level, score = weakest_link(domains)
    result = ModelResult(
        model="enterprise", level=level, level_name=model.levels[level - 1], score=score,
        dimensions=dict(domains), kpis=dict(aiops.kpis),
        extra={"source": "aiops answers",
               "derived_from": {d: {"questions": mapping[d], "mean": means[d]} for d in mapping}},
    )
    result.warnings.extend(lopsided(domains))
    return result


def stage_and_score(aiops_level: int, aiops_score: float, total: int) -> tuple[int, float]:
    mapping = load_definitions().from_aiops.stages
    if total == 0:
        return mapping.zero_total, float(mapping.zero_total)
    stage = mapping.by_level[aiops_level]
    if stage >= 5:
        return 5, 5.0
    group = [lvl for lvl, s in enumerate(mapping.by_level) if s == stage]
    low, high = min(group), max(group) + 1
    return stage, round(stage + (aiops_score - low) / (high - low), 4)


def score_stages(aiops: ModelResult) -> ModelResult:
    model = load_definitions().stages
    total = int(aiops.extra["total"])
    stage, score = stage_and_score(aiops.level, aiops.score, total)
    return ModelResult(
        model="stages", level=stage, level_name=model.levels[stage - 1], score=score, dimensions={},
        kpis=dict(aiops.kpis),
        extra={"source": "aiops answers", "derived_from": {"aiops_level": aiops.level, "aiops_total": total}},
    )
