"""The action plan from the guides: phases in the horizon where they start, guides one after the
other over their longest timeline, the months after the target filled by the next guides (marked),
resources added up from the timelines, actions done only when telemetry proves their criterion."""
from __future__ import annotations

from metrics.roadmap.plan import action_plan, outcomes, resources


def phases(plan, horizon):
    return [(i["from"], i["to"], i["phase"], tuple(i["weeks"]), i["beyond_target"])
            for h in plan["horizons"] if h["id"] == horizon for i in h["items"]]


def test_level_2_to_3_fits_in_the_first_quarter_then_the_next_guides_follow():
    plan = action_plan(2, 3, None)
    assert phases(plan, "short") == [
        (2, 3, "Observability platform", (1, 4), False), (2, 3, "Evaluation pipeline", (5, 8), False),
        (2, 3, "Retrieval (RAG)", (9, 10), False), (2, 3, "Cost optimisation", (11, 12), False),
        (3, 4, "Agent framework", (13, 16), True)]  # starts in week 13: still the first quarter
    assert phases(plan, "medium") == [(3, 4, "Persistent memory", (17, 20), True),
                                      (3, 4, "Advanced orchestration", (21, 24), True),
                                      (3, 4, "Predictive systems", (25, 28), True)]
    assert [p[3] for p in phases(plan, "long")] == [(29, 34), (35, 40), (41, 46), (47, 52)]
    assert plan["later"] == [] and plan["has_evidence"] is False
    assert [(t["from"], t["start_week"], t["end_week"], t["beyond_target"]) for t in plan["transitions"]] == [
        (2, 1, 12, False), (3, 13, 28, True), (4, 29, 52, True)]
    done = [a for h in plan["horizons"] for i in h["items"] for a in i["actions"] if a["done"]]
    assert done == []  # no evidence: nothing is marked done


def test_from_level_0_to_5_the_last_phases_come_after_twelve_months():
    plan = action_plan(0, 5, None)
    # 4 + 8 + 12 + 16 weeks bring level 4 by week 40; the autonomy guide's phases start at weeks 41, 47, 53, 59
    assert [tuple(i["weeks"]) for i in plan["later"]] == [(53, 58), (59, 64)]
    assert [tuple(i["weeks"]) for i in next(h for h in plan["horizons"] if h["id"] == "short")["items"]] == [
        (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 16)]  # level 2 -> 3 starts in week 13
    assert not any(i["beyond_target"] for h in plan["horizons"] for i in h["items"])


def test_resources_add_up_the_guides_on_the_way():
    assert resources(3, 3) is None and resources(4, 2) is None
    one = resources(2, 3)
    assert one["weeks"] == [8, 12] and one["months"] == [1.8, 2.8] and one["actions"] == 18
    assert one["people"] == "a dedicated AI/ML engineering team" and one["budget"] == "a significant AI investment"
    every = resources(0, 5)
    assert every["weeks"] == [2 + 4 + 8 + 12 + 16, 4 + 8 + 12 + 16 + 24]
    assert every["actions"] == 10 + 17 + 18 + 18 + 16
    assert [g["to"] for g in every["guides"]] == [1, 2, 3, 4, 5]
    assert "LiteLLM or Portkey as the gateway" in every["technology"] and len(set(every["technology"])) == \
        len(every["technology"])


def test_an_action_is_done_when_its_criterion_is_proven_with_its_numbers():
    evidence = {"trace_coverage": {"value": 0.97, "samples": 400}, "evaluation_coverage": {"value": 0.5, "samples": 400}}
    plan = action_plan(2, 3, evidence)
    actions = {a["text"]: a for h in plan["horizons"] for i in h["items"] for a in i["actions"]}
    connect = actions["Connect the gateway to Langfuse"]
    assert connect["done"] and connect["criterion"] == "full_tracing"
    assert connect["evidence"]["checks"][0]["value"] == 0.97 and connect["evidence"]["checks"][0]["samples"] == 400
    assert not actions["Evaluate automatically"]["done"]  # 50 % is not above 80 %: disproven
    assert actions["Evaluate automatically"]["evidence"]["state"] == "disproven"
    assert not actions["Deploy Langfuse (cloud or self-hosted)"]["done"]  # no criterion of its own


def test_outcomes_of_the_target_level():
    three = outcomes(3)
    assert three["name"] == "Systematic" and len(three["outcomes"]) == 6
    assert set(three["capabilities"]) == {"gateway", "observability", "memory", "orchestration", "cost", "security"}
