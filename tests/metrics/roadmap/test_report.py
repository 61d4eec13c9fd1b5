"""The detailed assessment report as data: current and target level (default one above), each
dimension's current, target and gap, strengths, improvement areas with the documented priority, and
the target in every other model; the seed-000 worked example and the seed-003 bands unchanged."""
from __future__ import annotations

import pytest

from metrics.assessment import AnswersError, assess_all
from metrics.roadmap.report import build_assessment_report, from_aiops, priority, to_aiops

AIOPS = {"model": "aiops", "answers": {"q1": 2, "q2": 2, "q3": 3, "q4": 1, "q5": 0, "q6": 3, "q7": 2, "q8": 2,
                                       "q9": 3, "q10": 2, "q11": 2, "q12": 1}}
SEED_000 = {"model": "selfhosted",
            "stages": {"infrastructure": 2, "data": 1, "security": 2, "developer": 2, "operations": 1, "governance": 2}}
META = {"organisation": "Acme", "assessed_by": "Ops", "date": "2026-02-02"}


def report(doc, primary=None, evidence=None, **kwargs):
    results = assess_all(doc, evidence)
    return build_assessment_report(results, primary or doc["model"], evidence=evidence, **META, **kwargs)


def rows(section):
    return {r["dimension"]: (r["current"], r["target"], r["gap"], r["priority"]) for r in section["dimensions"]}


def test_aiops_answers_total_23_is_level_2_and_target_3_by_default():
    doc = report(AIOPS)
    assert doc["current"] == {"level": 2, "name": "Organized", "score": 2.2}
    assert doc["target"] == {"level": 3, "name": "Systematic", "default": True}
    aiops = doc["sections"][0]
    assert aiops["extra"] == {"total": 23, "max_total": 60}
    assert rows(aiops) == {"gateway": (2.0, 3.0, 1.0, "Medium"), "observability": (2.0, 3.0, 1.0, "Medium"),
                           "memory": (1.5, 3.0, 1.5, "High"), "orchestration": (2.0, 3.0, 1.0, "Medium"),
                           "cost": (2.5, 3.0, 0.5, "Low"), "security": (1.5, 3.0, 1.5, "High")}
    assert [r["dimension"] for r in aiops["improvements"]] == ["memory", "security", "gateway", "observability",
                                                                "orchestration", "cost"]
    assert [r["dimension"] for r in aiops["strengths"]] == ["cost", "gateway", "observability"]
    assert doc["gap"] == ("1 level (level 2 Organized to level 3 Systematic); 6 of 6 dimensions below the target; "
                          "the transition guides take 8-12 weeks")
    assert doc["resources"]["weeks"] == [8, 12] and doc["outcomes"]["name"] == "Systematic"


def test_every_model_shows_the_same_target_in_its_own_scale():
    doc = report(AIOPS, target=4)
    assert [(s["model"], s["level"], s["target"]) for s in doc["sections"]] == [
        ("aiops", 2, 4), ("selfhosted", 2, 4), ("platform", 1, 4), ("enterprise", 1, 4), ("stages", 3, 4)]
    assert doc["aiops"] == {"current": 2, "target": 4} and doc["resources"]["weeks"] == [8 + 12, 12 + 16]
    assert rows(doc["sections"][0])["memory"] == (1.5, 4.0, 2.5, "High")


def test_seed_000_worked_example_report():
    doc = report(SEED_000)
    section = doc["sections"][0]
    assert section["extra"] == {"percentage": 23.0, "stage": 2}
    assert (doc["current"]["level"], doc["current"]["name"], doc["target"]["level"], doc["target"]["name"]) == \
        (2, "Basic", 3, "Defined")
    assert rows(section) == {"infrastructure": (2.0, 3.0, 1.0, "Medium"), "data": (1.0, 3.0, 2.0, "High"),
                             "security": (2.0, 3.0, 1.0, "Medium"), "developer": (2.0, 3.0, 1.0, "Medium"),
                             "operations": (1.0, 3.0, 2.0, "High"), "governance": (2.0, 3.0, 1.0, "Medium")}
    assert [r["name"] for r in section["improvements"][:2]] == ["Data Management", "Operations & Monitoring"]
    assert len(doc["sections"]) == 1  # a selfhosted file gives selfhosted only
    assert doc["aiops"] == {"current": 2, "target": 3}  # stage 2 stands for aiops level 2
    assert doc["outcomes"]["by_dimension"]["Data Management"].startswith("Catalog with lineage")


@pytest.mark.parametrize(("gap", "current", "level", "expected"), [
    (2.0, 1.0, 1, "High"), (1.5, 1.5, 2, "High"), (1.5, 2.5, 2, "Medium"), (1.0, 2.0, 2, "Medium"),
    (0.5, 2.5, 2, "Low")])
def test_priority_rule(gap, current, level, expected):
    assert priority(gap, current, level) == expected


def test_target_out_of_range_is_one_line():
    with pytest.raises(AnswersError, match=r"^--target-level: 0 is not a level of the selfhosted model \(1-5\)$"):
        report(SEED_000, target=0)
    with pytest.raises(AnswersError, match="6 is not a level of the aiops model"):
        report(AIOPS, target=6)


def test_a_target_already_reached_has_no_gap_and_no_resources():
    doc = report(AIOPS, target=2)
    assert doc["gap"].startswith("none: level 2 already reaches the target level 2")
    assert doc["resources"] is None and doc["plan"]["transitions"][0]["beyond_target"] is True


def test_level_equivalences_between_models():
    assert [from_aiops("stages", a) for a in range(6)] == [2, 2, 3, 3, 4, 5]
    assert [to_aiops("stages", s) for s in range(1, 6)] == [0, 0, 2, 4, 5]
    assert [from_aiops("selfhosted", a) for a in range(6)] == [1, 1, 2, 3, 4, 5]
    assert to_aiops("platform", 3) == 3


def test_evidence_caps_claims_and_marks_actions_done():
    evidence = {"cost_attribution_coverage": {"value": 0.95, "samples": 500},
                "trace_coverage": {"value": 0.99, "samples": 500}}
    doc = report(AIOPS, evidence=evidence)
    assert "q9" in doc["sections"][0]["capped"]  # 95 % attribution: at most 2, as before
    assert rows(doc["sections"][0])["cost"] == (2.0, 3.0, 1.0, "Medium")
    done = [a["text"] for h in doc["plan"]["horizons"] for i in h["items"] for a in i["actions"] if a["done"]]
    assert done == ["Connect the gateway to Langfuse"]
