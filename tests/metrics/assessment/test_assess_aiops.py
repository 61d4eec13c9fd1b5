"""The aiops questionnaire: the contract's example, the seed's band edges, each dimension."""
from __future__ import annotations

import pytest

from metrics.assessment import assess_all, assess_model
from metrics.assessment.questionnaire import load_questionnaire, summarize

CONTRACT = {"model": "aiops",
            "answers": {"q1": 2, "q2": 2, "q3": 3, "q4": 1, "q5": 0, "q6": 3, "q7": 2, "q8": 2, "q9": 3,
                        "q10": 2, "q11": 2, "q12": 1}}
IDS = [f"q{i}" for i in range(1, 13)]
DIMENSIONS = {"gateway": ("q1", "q2"), "observability": ("q3", "q4"), "memory": ("q5", "q6"),
              "orchestration": ("q7", "q8"), "cost": ("q9", "q10"), "security": ("q11", "q12")}


def with_total(total: int) -> dict[str, int]:
    """Twelve answers 0-5 adding up to `total`, filled from q1."""
    answers, left = {}, total
    for qid in IDS:
        answers[qid] = min(5, left)
        left -= answers[qid]
    assert left == 0
    return answers


def test_questionnaire_has_the_seed_structure():
    q = load_questionnaire()
    assert q.ids == IDS
    assert q.max_total == 60
    assert q.dimensions == list(DIMENSIONS)
    for dimension, qids in DIMENSIONS.items():
        assert [x.id for x in q.questions if x.dimension == dimension] == list(qids)
    assert all(len(x.answers) == 6 for x in q.questions)
    assert q.levels == ["Ad-Hoc", "Reactive", "Organized", "Systematic", "Intelligent", "Autonomous"]


def test_contract_example():
    result = assess_model("aiops", CONTRACT)
    assert result.extra["total"] == 23
    assert result.level == 2 and result.level_name == "Organized"
    assert result.score == pytest.approx(2.2)
    assert result.dimensions == {"gateway": 2.0, "observability": 2.0, "memory": 1.5, "orchestration": 2.0,
                                 "cost": 2.5, "security": 1.5}
    doc = result.as_dict()
    assert doc["model"] == "aiops" and doc["total"] == 23 and doc["teams"] == {} and doc["kpis"] == {}
    assert doc["answers"]["q3"] == {"claim": 3, "evidence": None, "scored": 3, "status": "unverified", "sources": []}
    assert doc["capped"] == []


@pytest.mark.parametrize(("total", "level"), [
    (0, 0), (10, 0), (11, 1), (20, 1), (21, 2), (30, 2), (31, 3), (40, 3), (41, 4), (50, 4), (51, 5), (60, 5),
])
def test_band_edges(total, level):
    result = assess_model("aiops", {"model": "aiops", "answers": with_total(total)})
    assert result.extra["total"] == total
    assert result.level == level
    assert int(result.score) == level
    assert result.level_name == load_questionnaire().levels[level]


@pytest.mark.parametrize(("total", "score"), [(0, 0.0), (10, 10 / 11), (11, 1.0), (25, 2.4), (50, 4.9), (51, 5.0),
                                              (60, 5.0)])
def test_score_is_level_plus_position_in_band(total, score):
    assert summarize(with_total(total))["score"] == pytest.approx(score, abs=1e-4)


@pytest.mark.parametrize("dimension", list(DIMENSIONS))
@pytest.mark.parametrize(("first", "second"), [(0, 0), (5, 5), (1, 2), (5, 0), (3, 4)])
def test_each_dimension_is_the_mean_of_its_two_answers(dimension, first, second):
    answers = {qid: 0 for qid in IDS}
    a, b = DIMENSIONS[dimension]
    answers[a], answers[b] = first, second
    result = assess_model("aiops", {"model": "aiops", "answers": answers})
    assert result.dimensions[dimension] == pytest.approx((first + second) / 2)
    assert all(value == 0 for name, value in result.dimensions.items() if name != dimension)


def test_aiops_answers_give_every_model():
    results = assess_all(CONTRACT)
    assert list(results) == ["aiops", "selfhosted", "platform", "enterprise", "stages"]
    for name, result in results.items():
        doc = result.as_dict()
        assert doc["model"] == name
        assert isinstance(doc["level"], int) and isinstance(doc["score"], float)
        assert set(doc) >= {"model", "level", "score", "kpis", "teams", "dimensions", "answers", "capped"}
