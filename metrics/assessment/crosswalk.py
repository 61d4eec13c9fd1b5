"""Every model side by side. An aiops answers file yields all five models (the others derived by
the documented crosswalk in models.yaml, see MAPPING.md); a selfhosted or platform answers file
yields its own model only. Evidence caps apply in every model that has rules for it."""
from __future__ import annotations

from typing import Any

from metrics.assessment.answers import Answers, AnswersError, validate
from metrics.assessment.definitions import derive_levels, load_definitions
from metrics.assessment.derived import score_enterprise, score_stages
from metrics.assessment.evidence import normalize
from metrics.assessment.platform import score_platform
from metrics.assessment.questionnaire import score_aiops
from metrics.assessment.result import ModelResult
from metrics.assessment.selfhosted import score_selfhosted

MODELS = ("aiops", "selfhosted", "platform", "enterprise", "stages")
DERIVABLE: dict[str, tuple[str, ...]] = {"aiops": MODELS, "selfhosted": ("selfhosted",), "platform": ("platform",)}


def _from_aiops(answers: Answers, evidence: dict[str, Any]) -> dict[str, ModelResult]:
    definitions = load_definitions()
    crosswalk = definitions.from_aiops
    aiops = score_aiops(answers.values, evidence)
    scored = {qid: answer.scored for qid, answer in aiops.answers.items()}

    stages, stage_means = derive_levels(scored, crosswalk.selfhosted)
    selfhosted = score_selfhosted(stages, evidence, source="aiops answers")
    selfhosted.extra["derived_from"] = {d: {"questions": crosswalk.selfhosted[d], "mean": stage_means[d]}
                                        for d in crosswalk.selfhosted}

    areas, area_means = derive_levels(scored, crosswalk.platform)
    missing = tuple(a for a in definitions.platform.areas if a not in areas)
    platform = score_platform(areas, evidence, source="aiops answers", missing=missing)
    platform.extra["derived_from"] = {a: {"questions": crosswalk.platform[a], "mean": area_means[a]}
                                      for a in crosswalk.platform}
    return {"aiops": aiops, "selfhosted": selfhosted, "platform": platform,
            "enterprise": score_enterprise(aiops), "stages": score_stages(aiops)}


def assess_all(answers_doc: dict[str, Any] | Answers, evidence: dict[str, Any] | None = None) -> dict[str, ModelResult]:
    """Every model the answers can give, by name. `answers_doc` is the answers file as loaded
    from YAML; `evidence` is {name: {"value", "samples"}} (see metrics.assessment.evidence)."""
    answers = answers_doc if isinstance(answers_doc, Answers) else validate(answers_doc)
    ev = normalize(evidence)
    if answers.model == "aiops":
        return _from_aiops(answers, ev)
    if answers.model == "selfhosted":
        return {"selfhosted": score_selfhosted(answers.values, ev)}
    return {"platform": score_platform(answers.values, ev)}


def assess_model(name: str, answers_doc: dict[str, Any] | Answers,
                 evidence: dict[str, Any] | None = None) -> ModelResult:
    """One model's result; AnswersError when the answers file cannot give it."""
    answers = answers_doc if isinstance(answers_doc, Answers) else validate(answers_doc)
    if name not in MODELS:
        raise AnswersError(f"--model: unknown model {name!r} (one of {', '.join(MODELS)})")
    if name not in DERIVABLE[answers.model]:
        raise AnswersError(f"--model: {name} cannot be computed from a {answers.model} answers file "
                           f"(it gives {', '.join(DERIVABLE[answers.model])}; use an aiops answers file)")
    return assess_all(answers, evidence)[name]


def crosswalk_dict(results: dict[str, ModelResult], primary: str) -> dict[str, Any]:
    """The side-by-side JSON: the answers file's own model at the top level (the contract's shape)
    and every model under "models"."""
    return {**results[primary].as_dict(), "models": {name: result.as_dict() for name, result in results.items()}}
