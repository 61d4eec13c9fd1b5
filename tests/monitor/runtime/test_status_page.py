"""The status page at `/` through Starlette's test client: it shows the report's own numbers, for
every team and KPI, escapes what users' data puts in it, loads nothing from elsewhere and keeps
the read token. (tests/integration/test_status_page_chromium.py runs it in a real browser.)"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from monitor.runtime.config import build_config
from monitor.runtime.http import create_app
from monitor.runtime.service import Monitor
from monitor.runtime.status_page import key_values
from signals.source import SourceResult
from tests.payloads import payload
from tests.scenario import expected, scenario_payloads

NOW = 1_800_000_000.0 + 3600
READ = "read-token-5a7e"
EVIL = "<script>alert('team')</script>&\""


class Page(HTMLParser):
    """Every element's attributes, in order, plus the text of each <script>."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data

    def having(self, attribute: str, tag: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.elements if attribute in a and (tag is None or t == tag)]


class FailingSource:
    """A source whose upstream is down: its error text (with markup in it) must show, escaped."""

    name = "flaky_upstream"
    stale_after = 60.0

    def collect(self, window) -> SourceResult:
        raise RuntimeError("upstream answered 502 <b>Bad Gateway</b>")

    def routes(self) -> list:
        return []

    def families(self) -> list:
        return []

    def close(self) -> None:
        pass


def make_monitor(tmp_path, read_token: str | None = None, sources=None) -> Monitor:
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "scheduler": {"interval_seconds": 7}},
                          environ={"AIOPS_READ_TOKEN": read_token} if read_token else {})
    return Monitor(config, clock=lambda: NOW, sources=sources)


@pytest.fixture
def monitor(tmp_path):
    m = make_monitor(tmp_path, sources=[FailingSource()])
    yield m
    m.close()


@pytest.fixture
def client(monitor):
    with TestClient(create_app(monitor)) as c:
        yield c


def feed(client, items) -> None:
    for i in range(0, len(items), 8):
        r = client.post("/ingest/litellm", content=json.dumps(items[i:i + 8]), headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text


def evil_team_payloads() -> list[dict]:
    return [payload(f"evil-{k}", start=1_800_000_000.0 + k, team_alias=EVIL) for k in range(3)]


def test_before_the_first_cycle_the_page_says_so_and_refreshes(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = Page(r.text)
    assert "No collection cycle has completed yet" in r.text
    assert page.having("data-generated-at", "main")[0]["data-generated-at"] == ""
    assert page.having("data-refresh", "html")[0]["data-refresh"] == "7"  # scheduler.interval_seconds
    assert '<meta http-equiv="refresh" content="7">' in r.text  # inside <noscript>: without the script too
    assert page.having("data-kpi") == [] and len(page.scripts) == 1


def test_every_kpi_of_every_team_shows_the_reports_numbers(client, monitor):
    feed(client, scenario_payloads())
    report = monitor.run_cycle().as_dict()
    page = Page(client.get("/").text)
    assert page.having("data-generated-at", "main")[0]["data-generated-at"] == repr(report["generated_at"])
    teams = {"all": report, **report["teams"]}
    assert set(teams) == {"all", "search", "unattributed"}
    sections = {a["data-team"]: a for a in page.having("data-team", "section")}
    rows = {(a["data-team"], a["data-kpi"]): a for a in page.having("data-kpi", "tr")}
    assert len(rows) == len(teams) * len(report["kpis"])
    for team, body in teams.items():
        assert int(sections[team]["data-level"]) == body["level"]
        assert float(sections[team]["data-score"]) == body["score"]
        for kpi, result in body["kpis"].items():
            row = rows[(team, kpi)]
            assert (row["data-status"], int(row["data-level"]), int(row["data-samples"])) == \
                (result["status"], result["level"], result["samples"]), (team, kpi)
            shown = float(row["data-value"]) if row["data-value"] else None
            assert shown == result["value"], (team, kpi)  # exact: repr round-trips as the JSON does
    # And against numbers worked out by hand from the contract's definitions, not by the monitor.
    hand = expected()
    for kpi in ("api_error_rate", "provider_availability", "cache_hit_rate"):
        assert float(rows[("all", kpi)]["data-value"]) == pytest.approx(hand[kpi])
    assert int(rows[("all", "api_error_rate")]["data-samples"]) == hand["requests"]


def test_the_value_cell_and_the_blockers_are_the_reports(client, monitor):
    feed(client, scenario_payloads())
    report = monitor.run_cycle().as_dict()
    text = client.get("/").text
    # api_error_rate is 2/6 of 30 requests: the org's row reads 33.33 % against < 10.00 %.
    row = re.search(r'<tr data-kpi="api_error_rate" data-team="all".*?</tr>', text, re.S).group(0)
    assert "33.33 %" in row and "&lt; 10.00 %" in row and "✗ unmet" in row
    page = Page(text)
    blockers = [(a["data-kpi"], int(a["data-level"]), a["data-status"]) for a in page.having("data-kpi", "li")]
    org_blockers = blockers[:len(report["blocking"])]
    assert org_blockers == [(b["kpi"], b["level"], b["status"]) for b in report["blocking"]]
    assert f"What blocks level {report['level'] + 1}" in text
    assert "Next: Add error handling and retries" in text  # the catalog's remediation for api_error_rate


def test_collector_health_shows_up_down_age_and_the_error_escaped(client, monitor):
    feed(client, scenario_payloads())
    monitor.run_cycle()
    text = client.get("/").text
    page = Page(text)
    state = {a["data-collector"]: a["data-up"] for a in page.having("data-collector", "tr")}
    assert state == {"litellm_push": "1", "flaky_upstream": "0"}
    assert "▼ down" in text and "▲ up" in text and "never" in text
    assert "upstream answered 502 &lt;b&gt;Bad Gateway&lt;/b&gt;" in text and "<b>Bad" not in text


def test_team_selection_by_query_and_an_unknown_team(client, monitor):
    feed(client, scenario_payloads())
    monitor.run_cycle()
    page = Page(client.get("/?team=search").text)
    hidden = {a["data-team"]: "hidden" in a for a in page.having("data-team", "section")}
    assert hidden == {"all": True, "search": False, "unattributed": True}
    assert page.having("data-selected", "main")[0]["data-selected"] == "search"
    assert [a["value"] for a in page.having("selected", "option")] == ["search"]
    text = client.get("/?team=nobody").text
    assert "No team “nobody” in this report" in text
    assert Page(text).having("data-selected", "main")[0]["data-selected"] == "all"


def test_team_names_from_users_data_are_escaped(client, monitor):
    feed(client, scenario_payloads() + evil_team_payloads())
    monitor.run_cycle()
    for path in ("/", "/?team=" + EVIL):
        text = client.get(path).text
        assert EVIL not in text and "<script>alert" not in text
        assert "&lt;script&gt;alert(&#39;team&#39;)&lt;/script&gt;&amp;&#34;" in text
        page = Page(text)
        assert len(page.scripts) == 1 and "alert(" not in page.scripts[0]  # only the page's own script
        assert EVIL in {a["data-team"] for a in page.having("data-team", "section")}  # the name survives intact
    assert 'href="?team=%3Cscript%3Ealert' in client.get("/").text


def test_nothing_is_loaded_from_elsewhere_and_the_script_is_allowed_by_its_hash(client, monitor):
    feed(client, scenario_payloads())
    monitor.run_cycle()
    r = client.get("/")
    page = Page(r.text)
    for tag, attrs in page.elements:
        for name in ("src", "href", "action", "srcset", "poster"):
            url = attrs.get(name)
            if url is None:
                continue
            assert not re.match(r"^\s*([a-z][a-z0-9+.-]*:|//|\\)", url, re.I) or url == "data:,", (tag, name, url)
    assert "http://" not in r.text and "https://" not in r.text and "url(" not in r.text and "@import" not in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "connect-src 'self'" in csp
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp  # else the browser would refuse to run it
    assert r.headers["cache-control"] == "no-store"
    links = {a["href"] for a in page.having("href", "a")}
    assert {"metrics", "api/report"} <= links  # relative: they work behind a path prefix too


def test_the_read_token_guards_the_page_as_it_guards_the_report(tmp_path):
    monitor = make_monitor(tmp_path, read_token=READ)
    try:
        with TestClient(create_app(monitor)) as client:
            monitor.run_cycle()
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": READ}):
                r = client.get("/", headers=headers)
                assert r.status_code == 401 and r.json() == client.get("/api/report", headers=headers).json()
            assert client.get(f"/?token={READ}").status_code == 401  # no secrets in URLs
            good = client.get("/", headers={"Authorization": f"Bearer {READ}"})
            assert good.status_code == 200 and "AI-ops maturity" in good.text and READ not in good.text
    finally:
        monitor.close()


def test_evidence_reads_compactly():
    text = key_values({"window_start": 100.0, "window_end": 3700.0, "requests": 25, "cost_usd": 0.1234567,
                       "teams": ["a", "b"], "ok": True})
    assert text == 'window=60 min · requests=25 · cost_usd=0.1235 · teams=["a","b"] · ok=true'


def test_each_team_shows_its_roadmap_to_the_next_level(client, monitor):
    feed(client, scenario_payloads())
    report = monitor.run_cycle().as_dict()
    text = client.get("/").text
    page = Page(text)
    tables = {a["data-team"]: int(a["data-next-level"]) for a in page.having("data-next-level", "table")}
    rows = [(a["data-criterion"], a["data-state"]) for a in page.having("data-criterion", "tr")]
    teams = {"all": report, **report["teams"]}
    assert tables == {team: body["roadmap"]["next_level"] for team, body in teams.items()}
    assert rows == [(c["id"], c["state"]) for body in teams.values() for c in body["roadmap"]["criteria"]]
    # the organisation is at level 0: the level-1 guide; half of the spend has no team (50.00 % < 99 %)
    org = re.search(r'<table class="roadmap" data-team="all".*?</table>', text, re.S).group(0)
    assert "Roadmap to level 1: Foundation" in text
    assert re.search(r'data-criterion="team_accounts" data-state="disproven".*?✗ disproven.*?'
                     r'cost_attribution_coverage 50.00 %, needs ≥ 99.00 % \(n=30\)', org, re.S)
    assert re.search(r'data-criterion="guidelines_known" data-state="unmeasurable".*?not measurable from telemetry',
                     org, re.S)


def test_a_self_assessment_stands_in_as_a_claim(tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("model: aiops\nanswers: {q1: 2, q2: 2, q3: 3, q4: 1, q5: 0, q6: 3, q7: 2, q8: 2, q9: 3, "
                       "q10: 2, q11: 2, q12: 1}\n")
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "assessment": {"answers": str(answers)}},
                          environ={})
    m = Monitor(config, clock=lambda: NOW)
    try:
        with TestClient(create_app(m)) as c:
            feed(c, scenario_payloads())
            report = m.run_cycle().as_dict()
            text = c.get("/").text
    finally:
        m.close()
    guidelines = next(x for x in report["roadmap"]["criteria"] if x["id"] == "guidelines_known")
    assert guidelines["claim"] == {"question": "q12", "answer": 1, "at_least": 1, "holds": True}
    assert "claim: q12 answered 1 (needs ≥ 1), holds as a claim, not proven" in text
