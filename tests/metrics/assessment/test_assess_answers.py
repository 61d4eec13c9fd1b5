"""Answers files: bad ones give one line naming the key; the canonical dump round-trips."""
from __future__ import annotations

import pytest

from metrics.assessment import AnswersError, dump_answers, load_answers, validate_answers

GOOD = "model: aiops\nanswers: {q1: 2, q2: 2, q3: 3, q4: 1, q5: 0, q6: 3, q7: 2, q8: 2, q9: 3, q10: 2, q11: 2, q12: 1}\n"
SELFHOSTED = "model: selfhosted\nstages: {infrastructure: 2, data: 1, security: 2, developer: 2, operations: 1, governance: 2}\n"


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace("q5: 0", "q5: 6"), "answers.q5: 6 is out of range 0-5"),
    (GOOD.replace("q5: 0", "q5: -1"), "answers.q5: -1 is out of range 0-5"),
    (GOOD.replace("q5: 0, ", ""), "answers.q5: missing (answer 0-5)"),
    (GOOD.replace("q12: 1", "q12: 1, q13: 2"), "answers.q13: unknown key (expected q1..q12)"),
    (GOOD.replace("q7: 2", "q7: 2.5"), "answers.q7: expected a whole number 0-5, got 2.5"),
    (GOOD.replace("q7: 2", "q7: '2'"), "answers.q7: expected a whole number 0-5, got '2'"),
    (GOOD.replace("q7: 2", "q7: yes"), "answers.q7: expected a whole number 0-5, got True"),
    (GOOD.replace("q7: 2", "q7: "), "answers.q7: expected a whole number 0-5, got nothing"),
    (GOOD.replace("q7: 2", "q7: 2, q7: 3"), "q7: duplicated key (line 2)"),
    (GOOD.replace("model: aiops\n", ""), "model: missing (one of aiops, selfhosted, platform)"),
    (GOOD.replace("model: aiops", "model: cmm"), "model: unknown model 'cmm'"),
    (GOOD + "team: x\n", "team: unknown key in a aiops answers file"),
    ("model: aiops\n", "answers: missing (aiops needs answers:"),
    ("model: aiops\nanswers: [1, 2]\n", "answers: expected a mapping of q1"),
    ("- 1\n", "answers file: expected a mapping"),
    ("model: aiops\nanswers: {q1: [\n", "answers.yaml:3:1: not valid YAML:"),
    (SELFHOSTED.replace("data: 1", "data: 0"), "stages.data: 0 is out of range 1-5"),
    (SELFHOSTED.replace("data: 1, ", ""), "stages.data: missing (answer 1-5)"),
    (SELFHOSTED.replace("data: 1", "date: 1"), "stages.date: unknown key (expected infrastructure, data,"),
    (SELFHOSTED.replace("stages:", "answers:"), "answers: unknown key in a selfhosted answers file"),
    ("model: platform\nareas: {data: 6}\n", "areas.data: 6 is out of range 1-5"),
])
def test_bad_answers_name_the_key(tmp_path, text, message):
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    with pytest.raises(AnswersError) as info:
        load_answers(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(AnswersError, match=r"nope.yaml: no such file"):
        load_answers(tmp_path / "nope.yaml")


def test_metadata_keys_are_allowed(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("organization: ACME\ndate: 2025-01-31\n" + GOOD)
    assert load_answers(path).values["q3"] == 3


@pytest.mark.parametrize("text", [GOOD, SELFHOSTED])
def test_dump_is_the_contract_file(tmp_path, text):
    path = tmp_path / "a.yaml"
    path.write_text(text)
    answers = load_answers(path)
    assert dump_answers(answers) == text
    assert validate_answers({"model": answers.model, **({"answers": answers.values} if answers.model == "aiops"
                                                         else {"stages": answers.values})}) == answers


def test_metadata_for_the_report_is_checked_and_kept():
    answers = validate_answers({**_good(), "organization": " ACME ", "assessed_by": "Ops", "date": "2025-01-31",
                                "target_level": 3})
    assert answers.metadata == {"organisation": "ACME", "assessed_by": "Ops", "date": "2025-01-31", "target_level": 3}
    import datetime
    assert validate_answers({**_good(), "date": datetime.date(2025, 2, 1)}).metadata == {"date": "2025-02-01"}
    assert validate_answers(_good()).metadata == {}


@pytest.mark.parametrize(("extra", "message"), [
    ({"organisation": "A", "organization": "B"}, "organization: give organisation or organization, not both"),
    ({"date": "31/01/2025"}, "date: expected YYYY-MM-DD, got '31/01/2025'"),
    ({"target_level": 6}, "target_level: expected a level 0-5 of the aiops model, got 6"),
    ({"target_level": "3"}, "target_level: expected a level 0-5 of the aiops model, got '3'"),
    ({"assessed_by": ["x"]}, "assessed_by: expected a text, got ['x']"),
])
def test_bad_metadata_is_one_line(extra, message):
    with pytest.raises(AnswersError) as caught:
        validate_answers({**_good(), **extra})
    assert str(caught.value) == message


def test_a_selfhosted_target_starts_at_stage_1():
    import yaml
    with pytest.raises(AnswersError, match="target_level: expected a level 1-5 of the selfhosted model, got 0"):
        validate_answers({**yaml.safe_load(SELFHOSTED), "target_level": 0})


def _good() -> dict:
    import yaml
    return yaml.safe_load(GOOD)
