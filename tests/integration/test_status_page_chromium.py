"""The status page of the live demo in a real browser (Debian's headless Chromium, driven over its
DevTools protocol): the demo names the page first; the page shows the numbers of the report it
was rendered from (the same cycle's /api/report, compared number by number); a click and the
<select> switch teams without a round-trip; the choice survives a reload and the page's own
refresh; the browser reports no error and the page asks nothing of any other host; when the
monitor stops, the page says so and keeps the last numbers.

With AIOPS_UPDATE_DOCS=1 the screenshot is saved to docs/status-page.png.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from matplotlib.image import imread

from metrics.catalog import load_catalog
from monitor.render import format_value
from tests.integration.devtools import Chromium
from tests.integration.integration_support import ManagedProcess, clean_env, free_port, require_executable, wait_until

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1366, 900

# Everything the page shows, read in one synchronous evaluation so it is one consistent state.
READ_PAGE = """JSON.stringify((() => {
  const app = document.getElementById('app');
  const visible = el => el.getClientRects().length > 0;
  const teams = {};
  for (const s of app.querySelectorAll('section.team')) {
    const kpis = {};
    for (const r of s.querySelectorAll('tr[data-kpi]')) {
      kpis[r.dataset.kpi] = {value: r.dataset.value === '' ? null : Number(r.dataset.value),
        status: r.dataset.status, level: Number(r.dataset.level), samples: Number(r.dataset.samples),
        shown: r.querySelector('.value').textContent, visible: visible(r)};
    }
    teams[s.dataset.team] = {level: Number(s.dataset.level), score: Number(s.dataset.score), kpis,
      shownLevel: s.querySelector('.level').textContent, visible: visible(s),
      blocking: [...s.querySelectorAll('li[data-kpi]')].map(li => [li.dataset.kpi, Number(li.dataset.level)])};
  }
  const current = app.querySelector('tr.current');
  return {generatedAt: Number(app.dataset.generatedAt), teams, hash: location.hash,
          select: (document.getElementById('team-select') || {}).value,
          current: current && current.dataset.teamRow,
          shown: Object.keys(teams).filter(t => teams[t].visible)};
})())"""


def read_page(browser: Chromium) -> dict:
    return json.loads(browser.evaluate(READ_PAGE))


@pytest.fixture
def demo(aiops_bin, tmp_path):
    """The real demo on a free port, and its first line of output."""
    port = free_port()
    process = ManagedProcess("demo", [aiops_bin, "demo", "--port", port, "--duration", "120", "--rate", "20",
                                      "--data-dir", tmp_path / "data"], tmp_path / "demo.log",
                             env=clean_env(COLUMNS="120"), cwd=tmp_path)
    try:
        lines = wait_until(lambda: process.log_path.read_text().splitlines()[:1], 60, "the demo's first line",
                           on_timeout=process.log_tail)
        yield f"http://127.0.0.1:{port}", lines[0], process
    finally:
        process.stop(grace=30)


@pytest.fixture
def browser(tmp_path):
    chromium = Chromium(require_executable(["/usr/bin/chromium", "chromium"], "Chromium (Debian package `chromium`)"),
                        tmp_path, WIDTH, HEIGHT)
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            chromium.send(f"{domain}.enable")
        yield chromium
    finally:
        chromium.close()


def settled_report(http: httpx.Client, base: str) -> dict:
    """A report with several teams measured: the demo's first seconds have none yet."""
    def ready():
        body = http.get(f"{base}/api/report").json()
        measured = [t for t, a in body.get("teams", {}).items() if a["kpis"]["api_error_rate"]["samples"] > 0]
        return body if len(measured) >= 3 else None
    return wait_until(ready, 40, "a demo report with three measured teams", interval=0.5)


def page_and_its_report(browser: Chromium, http: httpx.Client, base: str) -> tuple[dict, dict]:
    """The page and /api/report of the same cycle. The demo runs a cycle every 5 s, so one may
    fall between reading the page and fetching the report: then reload and read both again."""
    for _ in range(8):
        page = read_page(browser)
        report = http.get(f"{base}/api/report").json()
        if page["generatedAt"] == report["generated_at"]:
            return page, report
        browser.reload()
    pytest.fail("the page and /api/report never showed the same cycle")


def test_the_status_page_shows_the_live_demo(demo, browser, http, tmp_path):
    base, first_line, process = demo
    assert first_line == f"Status page: {base}/"
    settled_report(http, base)
    browser.navigate(first_line.split(": ", 1)[1])
    page, report = page_and_its_report(browser, http, base)

    # Every team, every KPI: the report's numbers, and the organisation shown first.
    teams = {"all": report, **report["teams"]}
    assert set(page["teams"]) == set(teams)
    assert page["shown"] == ["all"] and page["select"] == "all" and page["current"] == "all"
    units = {k.id: k.unit for k in load_catalog(report["model"]).kpis}
    for name, body in teams.items():
        shown = page["teams"][name]
        assert (shown["level"], shown["score"]) == (body["level"], body["score"]), name
        assert shown["blocking"] == [[b["kpi"], b["level"]] for b in body["blocking"]], name
        assert set(shown["kpis"]) == set(body["kpis"])
        for kpi, result in body["kpis"].items():
            row = shown["kpis"][kpi]
            assert (row["value"], row["status"], row["level"], row["samples"]) == \
                (result["value"], result["status"], result["level"], result["samples"]), (name, kpi)
            assert row["shown"] == format_value(result["value"], units[kpi]), (name, kpi)  # what one reads
            assert row["visible"] == (name == "all")
    assert report["kpis"]["api_error_rate"]["samples"] > 0  # live numbers, not an empty report

    shot = browser.screenshot()
    pixels = imread(io.BytesIO(shot), format="png")
    assert pixels.shape[:2] == (HEIGHT, WIDTH) and float(np.std(pixels[:, :, :3])) > 0.05
    (tmp_path / "status-page.png").write_bytes(shot)
    if os.environ.get("AIOPS_UPDATE_DOCS") == "1":
        shutil.copyfile(tmp_path / "status-page.png", REPO / "docs" / "status-page.png")

    # Choose a team with a real click in the teams table: the page switches without loading.
    team = max(report["teams"], key=lambda t: report["teams"][t]["kpis"]["api_error_rate"]["samples"])
    browser.evaluate("window.__sameDocument = true")
    browser.click(f'a[data-team-link="{team}"]')
    page = read_page(browser)
    assert page["shown"] == [team] and page["hash"] == f"#team={team}"
    assert page["select"] == team and page["current"] == team
    assert page["teams"][team]["shownLevel"] == str(page["teams"][team]["level"])
    assert all(row["visible"] for row in page["teams"][team]["kpis"].values())
    assert browser.evaluate("window.__sameDocument") is True

    # And with the <select>, as a keyboard user would change it.
    other = sorted(set(report["teams"]) - {team})[0]
    browser.evaluate(f"(() => {{ const s = document.getElementById('team-select'); s.value = {other!r};"
                     "s.dispatchEvent(new Event('change', {bubbles: true})); })()")
    assert read_page(browser)["shown"] == [other]

    # A reload keeps the choice (the URL's hash); so does the page's own refresh, which fetches
    # the page again and swaps the numbers in place (same document: the marker stays).
    browser.reload()
    page = read_page(browser)
    assert page["shown"] == [other] and page["select"] == other
    browser.evaluate("window.__sameDocument = true")
    before = page["generatedAt"]
    deadline = time.monotonic() + 20
    while (page := read_page(browser))["generatedAt"] == before:
        assert time.monotonic() < deadline, "the page did not refresh itself within 20 s (cycle: 5 s)"
        browser.listen(0.5)
    assert page["shown"] == [other] and browser.evaluate("window.__sameDocument") is True

    browser.listen(0.5)
    assert browser.errors() == [], "\n".join(browser.errors())
    foreign = [url for url in browser.requested() if not url.startswith((f"{base}/", "data:"))]
    assert foreign == [], foreign

    # The monitor goes away (the demo ends as on Ctrl-C): the page says so and keeps its numbers.
    process.stop(grace=30)
    assert process.proc.returncode == 0 and "Traceback" not in process.log_path.read_text(), process.log_tail()
    banner = wait_until(lambda: browser.evaluate("(b => b.hidden ? '' : b.textContent)(document.getElementById('stale'))"),
                        15, "the page's banner once the monitor is gone")
    assert "did not answer" in banner and "last successful load" in banner
    page = read_page(browser)
    assert page["shown"] == [other] and page["teams"][other]["kpis"]
