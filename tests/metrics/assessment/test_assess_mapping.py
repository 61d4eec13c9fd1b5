"""The data files load and MAPPING.md is what the data says."""
from __future__ import annotations

from importlib import resources

import pytest

from metrics.assessment.errors import DefinitionError
from metrics.assessment.definitions import load_definitions, parse_definitions
from metrics.assessment.evidence import load_evidence_map, parse_evidence_map
from metrics.assessment.mapping_doc import render
from metrics.assessment.questionnaire import parse_questionnaire


def test_mapping_md_is_in_sync_with_the_data():
    shipped = resources.files("metrics.assessment").joinpath("MAPPING.md").read_text(encoding="utf-8")
    assert shipped == render(), "regenerate: python -m metrics.assessment.mapping_doc > metrics/assessment/MAPPING.md"


def test_seed_numbers_carry_over():
    sh = load_definitions().selfhosted
    assert {d.id: d.weight for d in sh.dimensions} == {"infrastructure": 20, "data": 20, "security": 20,
                                                       "developer": 10, "operations": 15, "governance": 15}
    assert sh.midpoints == [10, 30, 50, 70, 90]
    assert sh.stages == ["Ad-Hoc", "Basic", "Defined", "Managed", "Optimized"]
    assert load_definitions().enterprise.levels == ["Experimental", "Repeatable", "Governed", "Optimized", "Adaptive"]
    assert load_definitions().stages.levels == ["Awareness", "Active", "Operational", "Systemic", "Transformational"]


def _text(name: str) -> str:
    return resources.files("metrics.assessment").joinpath(name).read_text(encoding="utf-8")


@pytest.mark.parametrize(("parse", "name", "old", "new", "message"), [
    (parse_questionnaire, "aiops_questions.yaml", "{level: 1, low: 11, high: 20}", "{level: 1, low: 12, high: 20}",
     "bands must cover"),
    (parse_questionnaire, "aiops_questions.yaml", "dimension: cost\n    text: What budget", "dimension: money\n    text: What budget",
     "unknown dimension 'money'"),
    (parse_definitions, "models.yaml", "weight: 10", "weight: 11", "weights must add up to 100"),
    (parse_definitions, "models.yaml", "operations: [q3, q4]", "operations: [q3, q99]", "unknown or no questions"),
    (parse_evidence_map, "evidence_map.yaml", "comparator: ge, value: 0.95, level: 5}, {comparator: ge, value: 0.50",
     "comparator: about, value: 0.95, level: 5}, {comparator: ge, value: 0.50", "comparator"),
])
def test_broken_data_files_fail_loudly(parse, name, old, new, message):
    text = _text(name)
    assert old in text
    with pytest.raises(DefinitionError, match=message):
        parse(text.replace(old, new, 1))


def test_each_model_uses_a_source_once():
    rules = load_evidence_map().rules
    pairs = [(r.model, r.source) for r in rules]
    assert len(pairs) == len(set(pairs))
