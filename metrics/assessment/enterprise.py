"""The enterprise AI-operations model (seed 004): Experimental, Repeatable, Governed, Optimized,
Adaptive over its four assessment domains (AI observability, LLMOps, governance operations, agent
operations), derived from scored aiops answers by the crosswalk in models.yaml. The seed asks for
balance across domains, so the overall level is the weakest domain's."""
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
