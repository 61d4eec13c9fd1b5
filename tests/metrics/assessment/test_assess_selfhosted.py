"""The self-hosted model (seed 000): the seed's worked example, stage bands, evidence caps."""
from __future__ import annotations

from fractions import Fraction

import pytest

from metrics.assessment import assess_all, assess_model
from metrics.assessment.selfhosted import percentage, stage_of

EXAMPLE = {"model": "selfhosted",
           "stages": {"infrastructure": 2, "data": 1, "security": 2, "developer": 2, "operations": 1, "governance": 2}}


def stages(**overrides: int) -> dict[str, int]:
    return {**EXAMPLE["stages"], **overrides}


def test_seed_worked_example_is_exact():
    result = assess_model("selfhosted", EXAMPLE)
    assert result.extra["percentage"] == 23.0
    assert result.extra["stage"] == 2 and result.level == 2 and result.level_name == "Basic"
    assert result.extra["weighted"] == {"infrastructure": 6.0, "data": 2.0, "security": 6.0, "developer": 3.0,
                                        "operations": 1.5, "governance": 4.5}
    assert result.dimensions == EXAMPLE["stages"]
    assert percentage(EXAMPLE["stages"]) == Fraction(23)


def test_selfhosted_file_gives_selfhosted_only():
    assert list(assess_all(EXAMPLE)) == ["selfhosted"]


@pytest.mark.parametrize(("value", "stage"), [(0, 1), (10, 1), (Fraction(1999, 100), 1), (20, 2), (39.5, 2), (40, 3),
                                              (60, 4), (79, 4), (80, 5), (90, 5)])
def test_stage_bands_edge_goes_up(value, stage):
    assert stage_of(Fraction(value)) == stage


@pytest.mark.parametrize(("level", "percent"), [(1, 10.0), (2, 30.0), (3, 50.0), (4, 70.0), (5, 90.0)])
def test_uniform_stages_give_the_midpoint(level, percent):
    result = assess_model("selfhosted", {"model": "selfhosted", "stages": {k: level for k in EXAMPLE["stages"]}})
    assert result.extra["percentage"] == percent
    assert result.level == level
    assert result.score == level


def test_exact_twenty_percent_is_stage_two():
    # infrastructure + data + developer (50 % of the weight) at stage 2, the rest at 1: 10 + 0.5 * 20 = 20 %
    doc = {"model": "selfhosted", "stages": {"infrastructure": 2, "data": 2, "security": 1, "developer": 2,
                                             "operations": 1, "governance": 1}}
    result = assess_model("selfhosted", doc)
    assert result.extra["percentage"] == 20.0 and result.level == 2


def entry(value, samples=100, **extra):
    return {"value": value, "samples": samples, **extra}


@pytest.mark.parametrize(("mttr", "expected"), [(3599.0, 4), (3600.0, 3), (86399.0, 3), (86400.0, 2)])
def test_operations_capped_by_mttr(mttr, expected):
    doc = {"model": "selfhosted", "stages": stages(operations=4)}
    result = assess_model("selfhosted", doc, {"mttr_seconds": entry(mttr, 5, min_samples=3)})
    assert result.dimensions["operations"] == expected
    assert result.answers["operations"].claim == 4
    assert ("operations" in result.capped) == (expected < 4)


def test_operations_capped_by_slo_and_failover():
    doc = {"model": "selfhosted", "stages": stages(operations=5)}
    health = {"system_health_score": entry(0.99, 120, min_samples=60)}
    assert assess_model("selfhosted", doc, health).dimensions["operations"] == 3
    health = {"system_health_score": entry(0.9901, 120, min_samples=60)}
    assert assess_model("selfhosted", doc, health).dimensions["operations"] == 5
    failover = {"fallback_requests": 20, "fallback_successes": 18}
    assert assess_model("selfhosted", doc, failover).dimensions["operations"] == 3
    failover = {"fallback_requests": 20, "fallback_successes": 19}
    assert assess_model("selfhosted", doc, failover).dimensions["operations"] == 5


def test_security_capped_by_gateway_auth_and_guardrails():
    doc = {"model": "selfhosted", "stages": stages(security=3)}
    result = assess_model("selfhosted", doc, {"requests": 100, "authenticated_requests": 98, "guardrail_requests": 100})
    assert result.dimensions["security"] == 1
    assert result.extra["percentage"] < result.extra["claimed"]["percentage"]
    result = assess_model("selfhosted", doc, {"requests": 100, "authenticated_requests": 99, "guardrail_requests": 94})
    assert result.dimensions["security"] == 2
    result = assess_model("selfhosted", doc, {"requests": 100, "authenticated_requests": 100, "guardrail_requests": 95})
    assert result.dimensions["security"] == 3
    assert result.answers["security"].status == "verified"


def test_no_evidence_leaves_the_worked_example_alone():
    result = assess_model("selfhosted", EXAMPLE, {"mttr_seconds": entry(None, 0, status="no_data")})
    assert result.extra["percentage"] == 23.0
    assert result.answers["operations"].status == "unverified"
