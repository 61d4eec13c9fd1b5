"""The live roadmap in every report: per team, the next guide's checklist from the engine's KPIs and
the team's counted signals; the same numbers from the report's JSON (a file, /api/report)."""
from __future__ import annotations

import pytest

from collectors.litellm.payload import parse_attempt
from collectors.litellm.requests import aggregate_by_team, gateway_result, group_requests
from metrics.catalog import load_catalog
from metrics.report import build_report
from metrics.roadmap import roadmap_from_report, with_claims
from monitor.runtime.windows import windows_by_team
from tests.payloads import payload

T0 = 1_800_000_000.0


def report_of(items):
    per_team = aggregate_by_team(group_requests(map(parse_attempt, items)).values())
    spans = {"evaluation": (T0, T0 + 3600), "30d": (T0, T0 + 3600)}
    return build_report(load_catalog(), windows_by_team(spans, [gateway_result({n: per_team for n in spans})], [], 10),
                        T0 + 3600)


@pytest.fixture(scope="module")
def report():
    """search: 30 requests, all attributed, 6 of them fell back (5 then succeeded); anonymous: 25 with no team."""
    items = []
    for i in range(30):
        start = T0 + 10 + i
        if i < 6:  # a failed first attempt (priced 0), then a second one: a fallback
            items.append(payload(f"s{i}", 0, start=start, team_alias="search", status="failure", error_code="429",
                                 cost=0.0))
            items.append(payload(f"s{i}", 1, start=start + 0.5, team_alias="search",
                                 status="success" if i < 5 else "failure", error_code=None if i < 5 else "503",
                                 cost=0.001 if i < 5 else 0.0))
        else:
            items.append(payload(f"s{i}", start=start, team_alias="search"))
    items += [payload(f"a{i}", start=T0 + 100 + i) for i in range(25)]
    return report_of(items)


def test_every_row_has_its_roadmap_to_the_next_level(report):
    doc = report.as_dict()
    assert doc["roadmap"] == report.roadmap["all"]
    assert set(doc["teams"]) == {"search", "unattributed"}
    for team, row in doc["teams"].items():
        assert row["roadmap"] == report.roadmap[team]
        assert row["roadmap"]["level"] == row["level"]
        assert row["roadmap"]["next_level"] == row["level"] + 1
        assert [c["level"] for c in row["roadmap"]["criteria"]] == [row["level"] + 1] * 4
        assert set(row["roadmap"]["levels"]) == {"1", "2", "3", "4", "5"}


def test_fallback_counts_per_team_prove_or_disprove(report):
    level2 = report.roadmap["search"]["levels"]["2"]
    assert sum(level2.values()) == 4
    fallback = _criterion(report, "search", "basic_fallback")
    assert fallback["state"] == "proven"
    assert fallback["checks"][0]["numbers"] == {"fallback_successes": 5.0, "fallback_requests": 6.0}
    assert fallback["checks"][0]["value"] == pytest.approx(5 / 6)
    assert report.roadmap["search"]["signals"] == {"fallback_successes": 5.0, "fallback_requests": 6.0}
    assert _criterion(report, "unattributed", "basic_fallback")["state"] == "no_data"


def test_cost_visibility_proven_for_the_team_and_disproven_for_the_anonymous_traffic(report):
    assert _criterion(report, "search", "realtime_cost")["state"] == "proven"
    anonymous = _criterion(report, "unattributed", "realtime_cost")
    assert anonymous["state"] == "disproven" and anonymous["checks"][0]["value"] == 0.0
    org = _criterion(report, "all", "realtime_cost")
    assert org["checks"][0]["value"] == pytest.approx(29 / 54)  # $0.001 per request; s5 failed and cost nothing
    assert org["state"] == "disproven"


def test_the_json_gives_the_same_roadmap(report):
    doc = report.as_dict()
    assert roadmap_from_report(doc) == report.roadmap["all"]
    for team, row in doc["teams"].items():
        assert roadmap_from_report(row) == report.roadmap[team]


def test_claims_stand_in_where_telemetry_cannot_decide(report):
    claimed = with_claims(report.roadmap["all"], {"q1": 3, "q2": 1, "q9": 2})
    by_id = {c["id"]: c for c in claimed["criteria"]}
    assert by_id["all_traffic_via_gateway"]["claim"] == {"question": "q1", "answer": 3, "at_least": 2, "holds": True}
    assert by_id["all_traffic_via_gateway"]["state"] == "unmeasurable"
    assert by_id["realtime_cost"]["claim"] is None  # decided by telemetry
    assert claimed["counts"] == report.roadmap["all"]["counts"]


def _criterion(report, team, cid):
    rm = report.roadmap[team]
    assert (rm["level"], rm["next_level"]) == (1, 2), team  # every row is at level 1: its checklist is the L1->L2 guide
    return next(c for c in rm["criteria"] if c["id"] == cid)
