"""The transition guides as data: the seed's timelines and week ranges carry over exactly, every
name they use exists, and a broken file fails in one line naming what is wrong."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from metrics.assessment.errors import DefinitionError
from metrics.roadmap.doc import criteria_table
from metrics.roadmap.guide import load_guide, parse_guide

REPO = Path(__file__).resolve().parents[3]


def shipped() -> dict:
    return yaml.safe_load(resources.files("metrics.roadmap").joinpath("guide.yaml").read_text(encoding="utf-8"))


def test_the_seed_timelines_and_week_ranges():
    guide = load_guide()
    assert [(t.from_level, t.to, t.name) for t in guide.transitions] == [
        (0, 1, "Foundation"), (1, 2, "Consolidation"), (2, 3, "Systematization"), (3, 4, "Intelligence"),
        (4, 5, "Autonomy")]
    assert [(t.weeks.min, t.weeks.max) for t in guide.transitions] == [(2, 4), (4, 8), (8, 12), (12, 16), (16, 24)]
    assert [[p.weeks for p in t.phases] for t in guide.transitions] == [
        [(1, 2), (3, 4)], [(1, 2), (3, 4), (5, 6), (7, 8)], [(1, 4), (5, 8), (9, 10), (11, 12)],
        [(1, 4), (5, 8), (9, 12), (13, 16)], [(1, 6), (7, 12), (13, 18), (19, 24)]]
    assert [len(t.criteria) for t in guide.transitions] == [4, 4, 4, 4, 4]
    assert [sum(len(p.actions) for p in t.phases) for t in guide.transitions] == [10, 17, 18, 18, 16]
    assert [(h.first_week, h.last_week) for h in guide.horizons] == [(1, 13), (14, 26), (27, 52)]


def test_the_criteria_the_brief_names_map_to_their_evidence():
    by_id = {c.id: c for t in load_guide().transitions for c in t.criteria}
    assert [(k.kpi, k.level) for k in by_id["monthly_cost_tracked"].checks] == [("monthly_spend_usd", 1)]
    assert by_id["basic_fallback"].checks[0].ratio.numerator == "fallback_successes"
    assert by_id["basic_fallback"].checks[0].ratio.denominator == "fallback_requests"
    assert (by_id["basic_fallback"].checks[0].value, by_id["basic_fallback"].checks[0].min_samples) == (0.5, 5)
    assert [k.kpi for k in by_id["basic_logging"].checks] == ["trace_coverage"]
    assert [(k.kpi, k.level) for k in by_id["realtime_cost"].checks] == [
        ("cost_attribution_coverage", 2), ("monthly_spend_usd", 1)]
    assert by_id["all_traffic_via_gateway"].checks == [] and by_id["all_traffic_via_gateway"].claim.question == "q1"


def mutate(change) -> str:
    doc = shipped()
    change(doc)
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["transitions"][1]["criteria"][2]["checks"][0].update(kpi="no_such_kpi"),
     "criterion 'realtime_cost': unknown KPI 'no_such_kpi'"),
    (lambda d: d["transitions"][1]["criteria"][2]["checks"][0].update(level=4),
     "KPI 'cost_attribution_coverage' has no target at level 4"),
    (lambda d: d["transitions"][1]["criteria"][3]["checks"][0]["ratio"].update(numerator="nope"),
     "criterion 'basic_fallback': unknown signal 'nope'"),
    (lambda d: d["transitions"][0]["criteria"][0]["claim"].update(question="q99"),
     "criterion 'team_accounts': unknown question 'q99'"),
    (lambda d: d["transitions"][2]["phases"][1].update(weeks=[6, 8]),
     "transition 2->3: phases must cover the weeks in order without gaps (at week 5)"),
    (lambda d: d["transitions"][2]["weeks"].update(max=13),
     "transition 2->3: the phases end at week 12, the timeline at week 13"),
    (lambda d: d["transitions"][0]["phases"][0]["actions"][1].update(done_when="nothing"),
     "unknown criterion 'nothing'"),
    (lambda d: d["transitions"].pop(), "one guide per step"),
    (lambda d: d["horizons"][1].update(first_week=15), "horizons: must follow each other without gaps (at week 14)"),
    (lambda d: d["transitions"][1]["criteria"][2]["checks"][0].update(comparator="ge", value=1),
     "either a level (the catalog's target) or a comparator and a value"),
])
def test_a_broken_guide_fails_in_one_line(change, message):
    with pytest.raises(DefinitionError) as caught:
        parse_guide(mutate(change))
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("guide.yaml: ")


def test_docs_criteria_table_matches_the_guide():
    page = (REPO / "docs" / "assessment.md").read_text()
    start = page.index("<!-- roadmap-criteria:start -->\n") + len("<!-- roadmap-criteria:start -->\n")
    assert page[start:page.index("<!-- roadmap-criteria:end -->")].strip() == criteria_table(), \
        "docs/assessment.md is out of step with guide.yaml; regenerate with: python -m metrics.roadmap.doc"
