"""The digest's roadmap (each team's checklist to its next level, from the week's last snapshots)
and its assessment report (the configured answers, capped by the week's evidence)."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import yaml

from collectors.litellm.store import Store
from monitor.digest.builder import build_digest
from monitor.digest.config import DigestConfig
from monitor.digest.render import render
from monitor.digest.runner import DigestRunner
from monitor.storage.database import open_database
from monitor.storage.history import History
from tests.monitor.digest.digest_support import DAY, W02, fake_report

LATE = W02 + 7 * 7 * DAY + 6 * DAY  # Sunday of 2026-W09
HEADLINE = ["api_error_rate", "cache_hit_rate"]


@pytest.fixture
def store(tmp_path):
    s = Store(open_database(f"sqlite:///{tmp_path / 'h.db'}"))
    yield s
    s.close()


def test_each_teams_checklist_from_its_last_snapshot(store):
    history = History(store.engine)
    history.record(fake_report(LATE - DAY, attributed=1.0), LATE - DAY)
    history.record(fake_report(LATE, attributed=0.85), LATE)  # the week's state: 85 % of spend with a team
    digest = build_digest(history, "2026-W09", "UTC", "aiops", HEADLINE, now=LATE + DAY)
    assert list(digest.roadmap) == ["all", "search", "support", "unattributed"]
    org = digest.roadmap["all"]
    assert (org["level"], org["next_level"], org["transition"]["name"]) == (1, 2, "Consolidation")
    states = {c["id"]: c["state"] for c in org["criteria"]}
    assert states == {"all_traffic_via_gateway": "unmeasurable", "config_only_switch": "unmeasurable",
                      "realtime_cost": "disproven", "basic_fallback": "no_data"}
    cost = next(c for c in org["criteria"] if c["id"] == "realtime_cost")["checks"][0]
    assert (cost["value"], cost["samples"]) == (pytest.approx(0.85), 200)
    assert digest.roadmap["search"]["criteria"][2]["state"] == "proven"  # a team's own spend is all attributed
    assert digest.roadmap["unattributed"]["criteria"][2]["checks"][0]["value"] == 0.0

    rendered = render(digest)
    assert "## Roadmap to the next level" in rendered.markdown
    assert ("| Real-time cost visibility | ✗ disproven | cost_attribution_coverage 85.00 %, needs ≥ 90.00 % (n=200); "
            "monthly_spend_usd $2.0000, needs ≥ $0.0000 (n=200) |") in rendered.markdown
    assert "**all**: level 1 → 2 (Consolidation, 4-8 weeks): 0 proven, 1 disproven, 1 no data, 2 unmeasurable" \
        in rendered.markdown
    html = rendered.html
    assert re.search(r'<div class="roadmap" data-roadmap-team="all" data-level="1">.*?'
                     r'data-criterion="realtime_cost" data-state="disproven"', html, re.S)
    assert 'data-roadmap-team="unattributed"' in html


def test_a_week_without_snapshots_has_no_roadmap(store):
    digest = build_digest(History(store.engine), "2026-W09", now=LATE + DAY)
    assert digest.roadmap == {} and "Roadmap to the next level" not in render(digest).markdown


def test_the_assessment_report_of_the_configured_answers(store, tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"model": "aiops", "organisation": "Acme", "target_level": 3,
                                       "answers": {f"q{i}": 2 for i in range(1, 13)}}))
    History(store.engine).record(fake_report(LATE, attributed=0.5), LATE)
    config = SimpleNamespace(model="aiops", digest=DigestConfig(answers=answers, headline_kpis=HEADLINE))
    rendered = DigestRunner(store.engine, config, environ={}, clock=lambda: W02 + 60 * DAY, channels=[]) \
        .render_week("2026-W09")
    report = rendered.digest.assessment
    assert (report["organisation"], report["date"], report["target"]["level"]) == ("Acme", "2026-03-01", 3)
    # claimed 2 everywhere (total 24: level 2); half the spend attributed caps q9 at 1
    assert report["sections"][0]["capped"] == ["q9"] and report["current"]["level"] == 2
    cost = {r["dimension"]: r for r in report["sections"][0]["dimensions"]}["cost"]
    assert (cost["current"], cost["gap"], cost["priority"]) == (1.5, 1.5, "High")
    md = rendered.markdown
    assert "## Assessment report" in md and "### Executive Summary" in md and "#### Short-term (0-3 months)" in md
    assert "| Cost | 1.5 | 3.0 | 1.5 |" in md
    assert "Organization: <strong>Acme</strong>" in rendered.html and 'id="assessment-report"' in rendered.html
    # the org-wide roadmap takes the scored answers as claims where telemetry cannot decide
    claim = next(c for c in rendered.digest.roadmap["all"]["criteria"] if c["id"] == "all_traffic_via_gateway")
    assert claim["claim"] == {"question": "q1", "answer": 2, "at_least": 2, "holds": True}


def test_without_answers_there_is_no_assessment_section(store):
    History(store.engine).record(fake_report(LATE), LATE)
    config = SimpleNamespace(model="aiops", digest=DigestConfig(headline_kpis=HEADLINE))
    rendered = DigestRunner(store.engine, config, environ={}, clock=lambda: LATE + DAY, channels=[]) \
        .render_week("2026-W09")
    assert rendered.digest.assessment is None and "## Assessment report" not in rendered.markdown
