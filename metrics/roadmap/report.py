"""The detailed assessment report (seed 003, "Detailed Assessment Report Template") as data: who
and when, current and target level, each dimension's current, target and gap, strengths,
improvement areas with a priority, the action plan from the transition guides, resources and the
target level's expected outcomes, for the answers file's model and every model derived from it.
Rendering (Markdown, HTML) is monitor/digest/assessment_report.py.

One target for the whole report: `target` is a level of the report's own model (default: one above
its current level, as the seed advises); every other model shows the same target in its own scale,
and the action plan follows the aiops guides between the aiops equivalents (see `to_aiops`).
"""
from __future__ import annotations

from typing import Any, Mapping

from metrics.assessment.definitions import load_definitions
from metrics.assessment.errors import AnswersError
from metrics.assessment.questionnaire import load_questionnaire
from metrics.assessment.result import ModelResult
from metrics.catalog import MAX_LEVEL
from metrics.roadmap.guide import load_guide
from metrics.roadmap.live import claims_of
from metrics.roadmap.plan import action_plan, outcomes, resources

PRIORITY_ORDER = {"High": 0, "Medium": 1, "Low": 2}


def lowest_level(model: str) -> int:
    return 0 if model == "aiops" else 1


def level_name(model: str, level: int) -> str:
    definitions = load_definitions()
    names = {"aiops": load_questionnaire().levels, "selfhosted": [""] + definitions.selfhosted.stages,
             "platform": [""] + definitions.platform.levels, "enterprise": [""] + definitions.enterprise.levels,
             "stages": [""] + definitions.stages.levels}
    return names[model][level]


def to_aiops(model: str, level: int) -> int:
    """The aiops level a level of another model stands for: the crosswalk reads a 1-5 level as the
    floor of the mean aiops answer, so level L is aiops level L (level 1 also covers aiops 0); a
    `stages` stage is the lowest aiops level that maps to it or above."""
    if model == "stages":
        return min(a for a, stage in enumerate(load_definitions().from_aiops.stages.by_level) if stage >= level)
    return level


def from_aiops(model: str, aiops_level: int) -> int:
    if model == "aiops":
        return aiops_level
    if model == "stages":
        return load_definitions().from_aiops.stages.by_level[aiops_level]
    return max(1, aiops_level)


SPECIAL_NAMES = {"llmops": "LLMOps", "developer_experience": "Developer experience"}


def _dimension_names(model: str) -> dict[str, str]:
    if model == "selfhosted":
        return {d.id: d.name for d in load_definitions().selfhosted.dimensions}
    return dict(SPECIAL_NAMES)


def _capped_by_dimension(result: ModelResult) -> dict[str, list[str]]:
    """Dimension -> the answers in it that the telemetry capped."""
    out: dict[str, list[str]] = {}
    if result.model == "aiops":
        questionnaire = load_questionnaire()
        for qid in result.capped:
            out.setdefault(questionnaire.question(qid).dimension, []).append(qid)
    else:
        for key in result.capped:
            out.setdefault(key, []).append(key)
    return out


def _target_description(model: str, dimension: str, target: int) -> str | None:
    if model == "aiops" and 0 <= target <= MAX_LEVEL:
        return load_guide().level(target).capabilities.get(dimension)
    if model == "selfhosted":
        stages = {d.id: d.stages for d in load_definitions().selfhosted.dimensions}
        return stages[dimension][target - 1] if dimension in stages and 1 <= target <= 5 else None
    return None


def priority(gap: float, current: float, level: int) -> str:
    """High: a gap of `high_gap` levels or more, or a dimension below the level already reached
    (each level builds on the one before); Medium: a gap of `medium_gap` or more; else Low."""
    rule = load_guide().priority
    if gap >= rule.high_gap or current < level:
        return "High"
    return "Medium" if gap >= rule.medium_gap else "Low"


def model_section(result: ModelResult, target: int) -> dict[str, Any]:
    names, capped = _dimension_names(result.model), _capped_by_dimension(result)
    rows = []
    for dimension, value in result.dimensions.items():
        current = float(value)
        gap = round(max(0.0, target - current), 4)
        rows.append({"dimension": dimension, "name": names.get(dimension, dimension.replace("_", " ").capitalize()),
                     "current": current, "target": float(target), "gap": gap,
                     "priority": priority(gap, current, result.level) if gap > 0 else None,
                     "capped": capped.get(dimension, []),
                     "target_means": _target_description(result.model, dimension, target)})
    strengths = sorted((r for r in rows if r["current"] >= result.level), key=lambda r: -r["current"])[:3]
    improvements = sorted((r for r in rows if r["gap"] > 0),
                          key=lambda r: (PRIORITY_ORDER[r["priority"]], -r["gap"], rows.index(r)))
    return {"model": result.model, "level": result.level, "level_name": result.level_name, "score": result.score,
            "target": target, "target_name": level_name(result.model, target), "dimensions": rows,
            "strengths": strengths, "improvements": improvements, "warnings": list(result.warnings),
            "capped": list(result.capped), "extra": {k: v for k, v in result.extra.items() if k in
                                                   ("total", "max_total", "percentage", "stage")}}


def _gap_text(section: dict[str, Any], resources_doc: dict[str, Any] | None) -> str:
    levels = section["target"] - section["level"]
    if levels <= 0:
        return f"none: level {section['level']} already reaches the target level {section['target']}"
    below = sum(r["gap"] > 0 for r in section["dimensions"])
    text = (f"{levels} level{'s' if levels != 1 else ''} (level {section['level']} {section['level_name']} to "
            f"level {section['target']} {section['target_name']})")
    if section["dimensions"]:
        text += f"; {below} of {len(section['dimensions'])} dimensions below the target"
    if resources_doc:
        low, high = resources_doc["weeks"]
        text += f"; the transition guides take {low}-{high} weeks"
    return text


def _answers_table(result: ModelResult) -> list[dict[str, Any]]:
    return [{"key": key, **answer.as_dict()} for key, answer in result.answers.items()]


def build_assessment_report(results: Mapping[str, ModelResult], primary: str, *, target: int | None = None,
                            organisation: str, assessed_by: str, date: str,
                            evidence: Mapping[str, dict[str, Any]] | None = None,
                            live: dict[str, Any] | None = None) -> dict[str, Any]:
    """`results`: assess_all's models (claims already capped by `evidence`); `primary`: the model the
    report is about (its target level is `target`). `live`: the telemetry's own roadmaps per team
    (from a report given as evidence), shown beside the plan."""
    main = results[primary]
    top = MAX_LEVEL
    chosen = min(main.level + 1, top) if target is None else target
    if not lowest_level(primary) <= chosen <= top:
        raise AnswersError(f"--target-level: {chosen} is not a level of the {primary} model "
                           f"({lowest_level(primary)}-{top})")
    aiops_current = results["aiops"].level if "aiops" in results else to_aiops(primary, main.level)
    aiops_target = chosen if primary == "aiops" else to_aiops(primary, chosen)
    claims = claims_of(results.get("aiops"))
    sections = [model_section(main, chosen)] + [model_section(r, from_aiops(name, aiops_target))
                                                 for name, r in results.items() if name != primary]
    resources_doc = resources(aiops_current, aiops_target)
    plan = action_plan(aiops_current, aiops_target, evidence, claims)
    target_outcomes = outcomes(aiops_target)
    if primary == "selfhosted":
        target_outcomes["by_dimension"] = {r["name"]: r["target_means"] for r in sections[0]["dimensions"]}
    elif primary == "platform":
        target_outcomes["model_level"] = load_definitions().platform.descriptions[chosen - 1]
    return {
        "title": "AI Operations Maturity Assessment Report",
        "organisation": organisation, "assessed_by": assessed_by, "date": date, "model": primary,
        "current": {"level": main.level, "name": main.level_name, "score": main.score},
        "target": {"level": chosen, "name": level_name(primary, chosen), "default": target is None},
        "aiops": {"current": aiops_current, "target": aiops_target},
        "gap": _gap_text(sections[0], resources_doc),
        "sections": sections, "plan": plan, "resources": resources_doc, "outcomes": target_outcomes,
        "answers": _answers_table(main), "has_evidence": evidence is not None, "live": live or {},
    }
