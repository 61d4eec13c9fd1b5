"""The assessment report's HTML (assess --report FILE.html) and the digest's roadmap and report
sections in a real browser (Debian's headless Chromium, as test_digest_chromium.py): the page
renders, the browser reports no error and no Content-Security-Policy violation, it requests
nothing, and the numbers of the report are in the rendered DOM."""
from __future__ import annotations

import html as html_lib
import re
from types import SimpleNamespace

import pytest
import yaml

from collectors.litellm.store import Store
from monitor.commands.assess import run
from monitor.commands.cli import build_parser
from monitor.digest.config import DigestConfig
from monitor.digest.render import write_files
from monitor.digest.runner import DigestRunner
from monitor.storage.database import open_database
from monitor.storage.history import History
from tests.integration.test_digest_chromium import chromium, probe, proxy  # noqa: F401 - fixtures
from tests.monitor.commands.assess_support import report_json
from tests.monitor.digest.digest_support import DAY, W02, fake_report

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0 + 3600
ANSWERS = ("model: aiops\norganisation: Acme & <Sons>\nassessed_by: Platform team\ndate: 2026-02-02\n"
           "answers: {q1: 2, q2: 2, q3: 1, q4: 1, q5: 0, q6: 1, q7: 1, q8: 1, q9: 2, q10: 1, q11: 2, q12: 1}\n")


def dom_text(dom: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


@pytest.fixture
def report_page(tmp_path):
    evidence = report_json(tmp_path, NOW)
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS)
    page = tmp_path / "report.html"
    args = build_parser().parse_args(["assess", "--answers", str(answers), "--evidence", str(evidence),
                                      "--report", str(page)])
    assert run(args, clock=lambda: NOW, environ={}) == 0
    return page


def test_the_assessment_report_renders_offline_with_its_numbers(chromium, report_page, proxy, tmp_path):  # noqa: F811
    result = probe(chromium, report_page, tmp_path, proxy)
    assert result["violations"] == [] and result["errors"] == []
    assert result["resources"] == [] and proxy.page_requests() == [], "\n".join(proxy.requests)
    assert result["title"] == "AI Operations Maturity Assessment Report — Acme & <Sons>"
    text = dom_text(result["dom"])
    assert "Organization Acme & <Sons>" in text and "Assessment Date 2026-02-02" in text
    assert "Current Maturity Level: Level 1 (Reactive), score 1.40 , total 15/60" in text
    assert "Target Maturity Level: Level 2 (Organized), one level above the current one" in text
    assert "Memory 0.5 2.0 1.5" in text and "Memory - Priority: High (0.5 → 2.0, gap 1.5, below the current level)" in text
    assert ("☑ Add a fallback provider — done: “Basic fallback works” proven by fallback_successes/fallback_requests "
            "100.00 %, needs ≥ 50.00 % (8 fallback_successes of 8 fallback_requests; n=8)") in text
    assert "People: a part-time AI operations role, for 4-8 weeks (0.9-1.8 months)" in text
    assert "search : level 1 → 2 (Consolidation, 4-8 weeks): 2 proven, 0 disproven, 0 no data, 2 unmeasurable" in text
    assert 'data-state="disproven"' in result["dom"]  # billing: no cache hit, the 30 % saving is disproven


def test_the_digest_with_its_roadmap_and_assessment_sections_renders(chromium, proxy, tmp_path):  # noqa: F811
    store = Store(open_database(f"sqlite:///{tmp_path / 'h.db'}"))
    late = W02 + 7 * 7 * DAY + 6 * DAY
    History(store.engine).record(fake_report(late, attributed=0.85), late)
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"model": "aiops", "organisation": "<b>Acme</b>",
                                       "answers": {f"q{i}": 2 for i in range(1, 13)}}))
    config = SimpleNamespace(model="aiops", digest=DigestConfig(answers=answers, headline_kpis=["api_error_rate"]))
    rendered = DigestRunner(store.engine, config, environ={}, clock=lambda: late + DAY, channels=[]) \
        .render_week("2026-W09")
    store.close()
    page = write_files(rendered, tmp_path / "out")["html"]
    result = probe(chromium, page, tmp_path, proxy)
    assert result["violations"] == [] and result["errors"] == []
    assert result["resources"] == [] and proxy.page_requests() == []
    text = dom_text(result["dom"])
    assert "Roadmap to the next level" in text and "Assessment report" in text
    assert "Real-time cost visibility ✗ disproven cost_attribution_coverage 85.00 %, needs ≥ 90.00 % (n=200)" in text
    assert "Organization: <b>Acme</b>" in text  # escaped, shown as text
