"""platform (levels, DORA caps, lopsidedness), enterprise and stages (crosswalk from aiops), and
which model each answers file can give."""
from __future__ import annotations

import pytest

from metrics.assessment import AnswersError, assess_all, assess_model, crosswalk_dict
from metrics.assessment.definitions import load_definitions

AREAS = ["data", "training", "registry", "serving", "observability", "governance", "developer_experience"]
AIOPS = {"model": "aiops",
         "answers": {"q1": 2, "q2": 2, "q3": 3, "q4": 1, "q5": 0, "q6": 3, "q7": 2, "q8": 2, "q9": 3, "q10": 2,
                     "q11": 2, "q12": 1}}


def platform(**levels: int) -> dict:
    return {"model": "platform", "areas": {area: levels.get(area, 3) for area in AREAS}}


def test_platform_level_is_the_lowest_area_and_names_follow_the_seed():
    result = assess_model("platform", platform(governance=2))
    assert (result.level, result.level_name) == (2, "Repeatable")
    assert result.score == pytest.approx(2 + 6 / 7, abs=1e-4)
    assert load_definitions().platform.levels == ["Ad-hoc", "Repeatable", "Managed", "Governed", "Self-improving"]
    assert assess_model("platform", platform(**{a: 5 for a in AREAS})).score == 5.0
    assert assess_model("platform", platform(**{a: 1 for a in AREAS})).level_name == "Ad-hoc"


@pytest.mark.parametrize(("levels", "warned"), [
    ({"developer_experience": 4, "governance": 2}, True),     # two ahead: warned
    ({"developer_experience": 5, "governance": 2}, True),
    ({"developer_experience": 4}, False),                     # one ahead of the rest (3)
    ({}, False),
])
def test_lopsidedness_warning(levels, warned):
    result = assess_model("platform", platform(**levels))
    lopsided = [w for w in result.warnings if w.startswith("lopsided")]
    assert bool(lopsided) == warned
    if warned:
        assert "developer_experience" in lopsided[0] and "governance" in lopsided[0]


@pytest.mark.parametrize(("signal", "value", "samples", "level"), [
    ("deployment_frequency", 1.0, 10, 4), ("deployment_frequency", 0.99, 10, 3),
    ("lead_time_for_changes", 86399.0, 10, 4), ("lead_time_for_changes", 86400.0, 10, 3),
    ("change_failure_rate", 0.15, 10, 4), ("change_failure_rate", 0.1501, 10, 3),
    ("mttr_seconds", 3599.0, 5, 4), ("mttr_seconds", 3600.0, 5, 3), ("mttr_seconds", 86400.0, 5, 2),
    ("change_failure_rate", 0.9, 4, 4),                     # fewer than 5 deployments: no evidence
])
def test_dora_metrics_cap_the_platform_level(signal, value, samples, level):
    evidence = {signal: {"value": value, "samples": samples}}
    result = assess_model("platform", platform(**{a: 4 for a in AREAS}), evidence)
    assert result.level == level
    assert result.answers["overall"].claim == 4
    assert ("overall" in result.capped) == (level < 4)
    assert result.kpis[signal]["samples"] == samples


def test_absent_dora_metrics_are_no_evidence():
    result = assess_model("platform", platform(), {"requests": 100})
    assert result.level == 3 and result.answers["overall"].status == "unverified"


def test_enterprise_from_aiops_answers():
    result = assess_model("enterprise", AIOPS)
    # observability q3,q9 = 3; llmops q1,q2,q4 = 5/3 -> 1; governance q10-q12 = 5/3 -> 1; agents q7,q8 = 2
    assert result.dimensions == {"observability": 3, "llmops": 1, "governance": 1, "agent_operations": 2}
    assert (result.level, result.level_name) == (1, "Experimental")
    assert result.extra["derived_from"]["llmops"] == {"questions": ["q1", "q2", "q4"], "mean": pytest.approx(5 / 3, abs=1e-4)}
    assert any(w.startswith("lopsided") for w in result.warnings)


@pytest.mark.parametrize(("answers", "stage", "name"), [
    ({q: 0 for q in AIOPS["answers"]}, 1, "Awareness"),
    ({**{q: 0 for q in AIOPS["answers"]}, "q1": 1}, 2, "Active"),
    (AIOPS["answers"], 3, "Operational"),
    ({q: 4 for q in AIOPS["answers"]}, 4, "Systemic"),
    ({q: 5 for q in AIOPS["answers"]}, 5, "Transformational"),
])
def test_stages_from_aiops_level(answers, stage, name):
    result = assess_model("stages", {"model": "aiops", "answers": answers})
    assert (result.level, result.level_name) == (stage, name)
    assert result.level <= result.score <= 5 and int(result.score) == result.level
    assert result.dimensions == {}


def test_derived_models_use_scored_answers():
    evidence = {"trace_coverage": {"value": 0.2, "samples": 100}}
    plain, capped = assess_all(AIOPS), assess_all(AIOPS, evidence)
    assert capped["aiops"].answers["q3"].scored == 1
    assert capped["enterprise"].dimensions["observability"] == 2 < plain["enterprise"].dimensions["observability"]
    assert capped["selfhosted"].extra["derived_from"]["operations"]["mean"] == 1.0


def test_derived_platform_names_the_areas_it_cannot_cover():
    result = assess_all(AIOPS)["platform"]
    assert set(result.dimensions) == {"data", "serving", "observability", "governance"}
    assert any("training, registry, developer_experience" in w for w in result.warnings)


def test_which_models_an_answers_file_gives():
    assert list(assess_all(platform())) == ["platform"]
    with pytest.raises(AnswersError, match="--model: aiops cannot be computed from a selfhosted answers file"):
        assess_model("aiops", {"model": "selfhosted", "stages": {"infrastructure": 2, "data": 1, "security": 2,
                                                                 "developer": 2, "operations": 1, "governance": 2}})
    with pytest.raises(AnswersError, match="--model: unknown model 'nope'"):
        assess_model("nope", AIOPS)


def test_crosswalk_json_has_the_primary_model_on_top_and_every_model_under_models():
    doc = crosswalk_dict(assess_all(AIOPS), "aiops")
    assert doc["model"] == "aiops" and doc["total"] == 23
    assert list(doc["models"]) == ["aiops", "selfhosted", "platform", "enterprise", "stages"]
    assert doc["models"]["selfhosted"]["stage"] == doc["models"]["selfhosted"]["level"]
