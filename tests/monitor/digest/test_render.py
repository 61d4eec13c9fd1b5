"""Rendering and writing a digest: Markdown with chart files, self-contained HTML (PNG charts
inlined, nothing loaded from anywhere), JSON; the no-data week; the CLI's function; the demo's."""
from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
import yaml

from monitor.runtime.config import build_config
from monitor.digest.builder import build_digest
from monitor.digest.config import DigestConfig
from monitor.digest.render import render, write_files
from monitor.digest.runner import DigestRunner, digest_command
from monitor.digest.week import WeekError
from monitor.storage.history import History
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.monitor.digest.digest_support import DAY, W02, fake_report, seed_weeks

PNG = b"\x89PNG\r\n\x1a\n"
HEADLINE = ["api_error_rate", "cache_hit_rate", "latency_p95_seconds"]


class Assets(HTMLParser):
    """Every URL-bearing attribute of the page, and the CSP meta tag."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.csp: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href", "srcset", "poster", "data", "action"):
            if attrs.get(name):
                self.urls.append((tag, name, attrs[name]))
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = attrs.get("content")


@pytest.fixture
def store(tmp_path):
    s = Store(open_database(f"sqlite:///{tmp_path / 'h.db'}"))
    seed_weeks(History(s.engine), W02, 8, [{"error_rate": 0.12 - 0.012 * k, "cache_rate": 0.1 + 0.04 * k}
                                            for k in range(8)])
    yield s
    s.close()


def test_markdown_html_json_and_charts_are_written(store, tmp_path):
    digest = build_digest(History(store.engine), "2026-W09", "UTC", "aiops", HEADLINE, now=W02 + 60 * DAY)
    rendered = render(digest)
    paths = write_files(rendered, tmp_path / "out")
    folder = tmp_path / "out" / "2026-W09"
    assert paths == {"markdown": folder / "digest.md", "html": folder / "digest.html", "json": folder / "digest.json"}
    markdown = paths["markdown"].read_text()
    for heading in ("# AI-ops maturity digest — 2026-W09", "## Maturity by model", "## KPIs:", "## Biggest movers",
                    "## What blocks level", "## Alerts of the week", "## Incidents of the week",
                    "## Claims vs evidence", "## Trends (last 8 weeks)"):
        assert heading in markdown
    assert rendered.headline in markdown and "None this week." in markdown
    charts = re.findall(r"!\[[^\]]*\]\((charts/[^)]+)\)", markdown)
    assert len(charts) == 1 + len(HEADLINE)
    for chart in charts:
        assert (folder / chart).read_bytes().startswith(PNG)
    data = json.loads(paths["json"].read_text())
    assert data["week"] == "2026-W09" and data["has_data"] is True and len(data["trends"]) == 3
    assert not list(folder.glob(".*"))  # no temporary files left


def test_html_is_self_contained(store):
    rendered = render(build_digest(History(store.engine), "2026-W09", "UTC", "aiops", HEADLINE, now=W02 + 60 * DAY))
    assets = Assets()
    assets.feed(rendered.html)
    assert assets.csp is not None and "default-src 'none'" in assets.csp and "img-src data: cid:" in assets.csp
    images = [url for tag, name, url in assets.urls if tag == "img"]
    assert len(images) == len(rendered.charts) == 4
    assert all(tag == "img" for tag, _, _ in assets.urls)  # no links, scripts, stylesheets or fonts
    for url in images:
        assert url.startswith("data:image/png;base64,")
        assert base64.b64decode(url.split(",", 1)[1]).startswith(PNG)
    assert "<script" not in rendered.html and "@import" not in rendered.html and "url(" not in rendered.html


def test_a_week_without_data_says_so_without_charts(store):
    rendered = render(build_digest(History(store.engine), "2026-W30", "UTC", "aiops", HEADLINE, now=W02 + 300 * DAY))
    assert rendered.charts == []
    assert "No data was recorded this week." in rendered.markdown
    assert "No data was recorded this week." in rendered.html and "<img" not in rendered.html
    assert "## Trends" not in rendered.markdown
    assert rendered.headline == "AI-ops maturity 2026-W30: no data recorded this week"


def test_claims_vs_evidence_from_an_answers_file(store, tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"model": "aiops", "answers": {f"q{i}": 4 for i in range(1, 13)}}))
    late = W02 + 7 * 7 * DAY + 6 * DAY  # the week's last snapshot: half the spend has no team
    History(store.engine).record(fake_report(late, attributed=0.5), late)
    config = SimpleNamespace(model="aiops", digest=DigestConfig(answers=answers, headline_kpis=HEADLINE))
    runner = DigestRunner(store.engine, config, environ={}, clock=lambda: W02 + 60 * DAY, channels=[])
    rendered = runner.render_week("2026-W09")
    claims = rendered.digest.claims
    assert [m["model"] for m in claims["models"]] == ["aiops", "selfhosted", "platform", "enterprise", "stages"]
    aiops = claims["models"][0]
    capped = {a["question"]: a for a in aiops["capped"]}  # claimed 4 everywhere; the telemetry supports less
    assert capped["q9"]["evidence"] == 1  # 50 % of spend attributed: "only totals"
    assert "| aiops |" in rendered.markdown and "Capped in aiops" in rendered.markdown
    rows = [(m["model"], m["source"]) for m in rendered.digest.models]
    assert rows[:3] == [("aiops", "telemetry"), ("aiops", "self-assessment"), ("selfhosted", "self-assessment")]


def test_a_failing_incident_provider_is_reported_not_fatal(store, monkeypatch):
    def broken(engine, start, end):
        raise ConnectionError("incident system down")

    monkeypatch.setattr("monitor.digest.hooks.plugins.load", lambda group, name, where: broken)
    config = SimpleNamespace(model="aiops", digest=DigestConfig(incidents_provider="alertmanager"))
    rendered = DigestRunner(store.engine, config, environ={}, channels=[]).render_week("2026-W09")
    assert "Unavailable: the incidents provider failed (ConnectionError" in rendered.markdown


def test_an_unknown_incident_provider_fails_at_config_load():
    with pytest.raises(ValueError, match="unknown incident provider 'no_such' \\(known: alertmanager"):
        DigestConfig(incidents_provider="no_such")


def test_digest_command_writes_the_folder(store, tmp_path):
    config = build_config({"store": {"url": str(store.engine.url)}}, environ={})
    week, html, outcomes = digest_command(config, tmp_path / "digests", "2026-W05")
    assert week == "2026-W05" and html == tmp_path / "digests" / "2026-W05" / "digest.html" and outcomes == []
    assert "AI-ops maturity 2026-W05: level" in html.read_text()
    with pytest.raises(WeekError):
        digest_command(config, tmp_path / "digests", "2026-5")


HOSTILE = '<script>alert(1)</script> & "x"'
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;"


def test_html_escapes_team_names_and_incident_titles_but_keeps_its_charts(tmp_path):
    """Team names and incident titles come from users: the HTML digest shows them as text (no element
    of theirs reaches the page), the charts are still inline images and the Markdown is not escaped."""
    s = Store(open_database(f"sqlite:///{tmp_path / 'h.db'}"))
    teams = (HOSTILE, "search")
    seed_weeks(History(s.engine), W02, 8, [{"error_rate": 0.12 - 0.012 * k, "cache_rate": 0.1 + 0.04 * k,
                                            "teams": teams} for k in range(8)])
    late = W02 + 7 * 7 * DAY + 6 * DAY
    incidents = [{"id": "a", "title": HOSTILE, "team": HOSTILE, "severity": "<b>page</b>",
                  "opened_at": late - 7200, "resolved_at": late - 5400}]
    digest = build_digest(History(s.engine), "2026-W09", "UTC", "aiops", HEADLINE, incidents=incidents,
                          now=W02 + 60 * DAY)
    s.close()
    assert any(t["team"] == HOSTILE for m in digest.models for t in m["teams"])
    rendered = render(digest)
    html = rendered.html

    assert "<script" not in html and "</script" not in html and "<b>page</b>" not in html
    teams_table = re.search(r'<table class="teams">.*?</table>', html, re.S).group(0)
    assert f"<td>{HOSTILE_ESCAPED}</td>" in teams_table
    incidents_list = re.search(r'<ul id="incidents">.*?</ul>', html, re.S).group(0)
    assert f" · {HOSTILE_ESCAPED} · {HOSTILE_ESCAPED} · &lt;b&gt;page&lt;/b&gt;</li>" in incidents_list
    assert f" · {HOSTILE_ESCAPED} after " in incidents_list

    class Elements(HTMLParser):  # what a browser would build: only the template's own elements
        def __init__(self) -> None:
            super().__init__()
            self.tags: set[str] = set()
            self.text: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)

        def handle_data(self, data):
            self.text.append(data)

    page = Elements()
    page.feed(html)
    assert "script" not in page.tags and "b" not in page.tags
    assert HOSTILE in "".join(page.text)  # shown as the text the user typed

    assert len(rendered.charts) == 4  # charts are deliberate HTML values and stay inline images
    images = re.findall(r'<img src="(data:image/png;base64,[A-Za-z0-9+/=]+)"', html)
    assert images == [chart.data_uri for chart in rendered.charts]
    assert all(base64.b64decode(url.split(",", 1)[1]).startswith(PNG) for url in images)

    assert HOSTILE in rendered.markdown and "&lt;" not in rendered.markdown  # Markdown: not escaped
