"""`assess --report`: the detailed assessment report in Markdown and in one HTML page, for every
model the answers give; who, when and the target from options or the answers file; the roadmap in
the command's output; evidence from a report file or from the running service's /api/report."""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from monitor.commands.assess import run
from monitor.commands.cli import build_parser, main as cli_main
from tests.monitor.commands.assess_support import report_json
from tests.payloads import payload

AIOPS = ("model: aiops\norganisation: Acme <Labs>\nassessed_by: Platform team\ndate: 2026-02-02\n"
         "answers: {q1: 2, q2: 2, q3: 3, q4: 1, q5: 0, q6: 3, q7: 2, q8: 2, q9: 3, q10: 2, q11: 2, q12: 1}\n")
SELFHOSTED = ("model: selfhosted\n"
              "stages: {infrastructure: 2, data: 1, security: 2, developer: 2, operations: 1, governance: 2}\n")
PLATFORM = ("model: platform\nareas: {data: 2, training: 2, registry: 1, serving: 3, observability: 2, governance: 2,"
            " developer_experience: 2}\n")
NOW = 1_800_000_000.0 + 3600   # 2027-01-15 09:00 UTC


class Text(HTMLParser):
    """The page's visible text: cells and blocks apart, inline elements joined, no style or title."""

    BLOCKS = {"p", "li", "td", "th", "tr", "dt", "dd", "h1", "h2", "h3", "h4", "div", "table", "ul", "ol"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.skip = tag in ("style", "title")
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        self.skip = False

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


def answers_file(tmp_path: Path, text: str = AIOPS, name: str = "answers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assess(*argv: str, clock=lambda: NOW, environ=None) -> int:
    return run(build_parser().parse_args(["assess", *argv]), clock=clock, environ=environ or {})


@pytest.mark.parametrize("model", [None, "aiops", "selfhosted", "platform", "enterprise", "stages"])
def test_both_formats_for_every_model_of_aiops_answers(tmp_path, capsys, model):
    answers = answers_file(tmp_path)
    extra = ["--model", model] if model else []
    for suffix in ("md", "html"):
        out = tmp_path / f"report-{model}.{suffix}"
        assert assess("--answers", str(answers), "--report", str(out), *extra) == 0
        text = out.read_text() if suffix == "md" else Text(out.read_text()).text
        assert "AI Operations Maturity Assessment Report" in text
        assert "Acme <Labs>" in text and "2026-02-02" in text and "Platform team" in text
        for heading in ("Executive Summary", "Dimension Scores", "Strengths", "Improvement Areas",
                        "Recommended Actions", "Short-term (0-3 months)", "Medium-term (3-6 months)",
                        "Long-term (6-12 months)", "Resource Requirements", "Expected Outcomes"):
            assert heading in text, (model, suffix, heading)
    capsys.readouterr()


def test_the_aiops_report_numbers(tmp_path):
    out = tmp_path / "r.md"
    assert assess("--answers", str(answers_file(tmp_path)), "--report", str(out)) == 0
    md = out.read_text()
    assert "**Current Maturity Level:** Level 2 (Organized), score 2.20, total 23/60" in md
    assert "**Target Maturity Level:** Level 3 (Systematic), one level above the current one" in md
    assert "| Memory | 1.5 | 3.0 | 1.5 |" in md and "| Cost | 2.5 | 3.0 | 0.5 |" in md
    assert "1. Memory - Priority: High (1.5 → 3.0, gap 1.5, below the current level)" in md
    assert "6. Cost - Priority: Low (2.5 → 3.0, gap 0.5)" in md
    assert "*Level 2 → 3 Systematization, weeks 1-4: Observability platform*" in md
    assert "- **People:** a dedicated AI/ML engineering team, for 8-12 weeks (1.8-2.8 months)" in md
    assert "| AI Platform maturity | 1 (Ad-hoc) | 3 (Managed) | 2 |" in md
    assert "- [x]" not in md  # no evidence, nothing done


def test_the_seed_000_worked_example_report(tmp_path):
    out = tmp_path / "sh.html"
    assert assess("--answers", str(answers_file(tmp_path, SELFHOSTED)), "--report", str(out)) == 0
    text = Text(out.read_text()).text
    assert "Level 2 (Basic), score 1.65, 23.0 % (Stage 2)" in text
    assert "Level 3 (Defined), one level above the current one" in text
    assert "Data Management - Priority: High (1.0 → 3.0, gap 2.0, below the current level)" in text
    assert "Unnamed organisation" in text and "self-assessment (answers.yaml), aiops-maturity" in text
    assert "2027-01-15" in text  # no date anywhere: today, from the clock


def test_a_platform_answers_file(tmp_path):
    out = tmp_path / "p.md"
    assert assess("--answers", str(answers_file(tmp_path, PLATFORM)), "--report", str(out), "--target-level", "3") == 0
    md = out.read_text()
    assert "**Current Maturity Level:** Level 1 (Ad-hoc)" in md and "**Target Maturity Level:** Level 3 (Managed)" in md
    assert "| Registry | 1.0 | 3.0 | 2.0 |" in md and "AI Platform maturity at that level: 40-70 %" in md


def test_options_win_over_the_answers_file(tmp_path):
    out = tmp_path / "r.md"
    assert assess("--answers", str(answers_file(tmp_path)), "--report", str(out), "--organisation", "Other Co",
                  "--assessed-by", "Jo", "--date", "2026-03-01", "--target-level", "4") == 0
    md = out.read_text()
    assert "**Organization:** Other Co" in md and "**Assessed By:** Jo" in md and "**Assessment Date:** 2026-03-01" in md
    assert "**Target Maturity Level:** Level 4 (Intelligent)\n" in md
    assert "level 2 → 3 Systematization (8-12 weeks), then level 3 → 4 Intelligence (12-16 weeks)" in md


def test_the_html_escapes_what_users_wrote(tmp_path):
    out = tmp_path / "r.html"
    assert assess("--answers", str(answers_file(tmp_path)), "--report", str(out),
                  "--organisation", "<script>alert(1)</script>") == 0
    html = out.read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Acme" not in html
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">' in html


@pytest.mark.parametrize(("argv", "message"), [
    (["--report", "r.txt"], "--report: r.txt: the name must end in .md (Markdown) or .html"),
    (["--report", "r.md", "--date", "2026-13-01"], "--date: expected YYYY-MM-DD, got '2026-13-01'"),
    (["--report", "r.md", "--target-level", "6"], "--target-level: 6 is not a level of the aiops model (0-5)"),
    (["--report", "no/such/dir/r.md"], "--report: cannot write no/such/dir/r.md"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    answers = answers_file(tmp_path)
    assert cli_main(["assess", "--answers", str(answers), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "r.md").exists()


def test_json_output_has_the_roadmap_and_each_teams_checklist(tmp_path, capsys):
    evidence = report_json(tmp_path, NOW)
    assert assess("--answers", str(answers_file(tmp_path)), "--format", "json", "--evidence", str(evidence)) == 0
    doc = json.loads(capsys.readouterr().out)
    roadmap = doc["roadmap"]
    assert (roadmap["current"], roadmap["target"]) == (doc["models"]["aiops"]["level"], doc["models"]["aiops"]["level"] + 1)
    assert set(roadmap["teams"]) == {"all", "billing", "search"}
    search = {c["id"]: c for c in roadmap["teams"]["search"]["criteria"]}
    assert roadmap["teams"]["search"]["next_level"] == 2
    # the fallback counts travel in the report's roadmap: 8 of 8 fallbacks succeeded
    assert search["basic_fallback"]["state"] == "proven"
    assert search["basic_fallback"]["checks"][0]["numbers"] == {"fallback_successes": 8.0, "fallback_requests": 8.0}
    assert search["all_traffic_via_gateway"]["claim"] == {"question": "q1", "answer": 2, "at_least": 2, "holds": True}
    billing = roadmap["teams"]["billing"]  # no failure at all: level 2, so its checklist is the level-3 guide
    assert (billing["level"], billing["next_level"], billing["transition"]["name"]) == (2, 3, "Systematization")
    cache = billing["criteria"][3]
    assert (cache["id"], cache["state"], cache["checks"][0]["value"], cache["checks"][0]["samples"]) == \
        ("cost_reduction_30", "disproven", 0.0, 30)


LEVEL_1 = "model: aiops\nanswers: {q1: 2, q2: 2, q3: 1, q4: 1, q5: 0, q6: 1, q7: 1, q8: 1, q9: 2, q10: 1, q11: 2, q12: 1}\n"


def test_the_report_marks_actions_done_with_the_numbers(tmp_path, capsys):
    evidence, out = report_json(tmp_path, NOW), tmp_path / "r.md"
    assert assess("--answers", str(answers_file(tmp_path, LEVEL_1)), "--evidence", str(evidence), "--report",
                  str(out)) == 0
    md = out.read_text()
    assert "**Current Maturity Level:** Level 1 (Reactive), score 1.40, total 15/60" in md
    assert "- [x] Add a fallback provider — done: “Basic fallback works” proven by " \
           "fallback_successes/fallback_requests " \
           "100.00 %, needs ≥ 50.00 % (8 fallback_successes of 8 fallback_requests; n=8)" in md
    assert "**all**: level 1 → 2 (Consolidation, 4-8 weeks)" in md
    assert "wrote " + str(out) in capsys.readouterr().out


def test_evidence_from_the_running_service(tmp_path, capsys):
    from monitor.runtime.config import build_config
    from monitor.runtime.server import RunningMonitor
    from monitor.runtime.service import Monitor

    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "scheduler": {"interval_seconds": 3600}},
                          environ={"AIOPS_READ_TOKEN": "read-5e3"})
    monitor = Monitor(config, clock=lambda: NOW)
    outcome = monitor.push.ingest([payload(f"c{i}", start=NOW - 600 + i, team_alias="search") for i in range(40)])
    assert outcome.accepted == 40
    with RunningMonitor(monitor, host="127.0.0.1", port=0) as running:
        url = f"{running.url}/api/report"
        assert assess("--answers", str(answers_file(tmp_path)), "--format", "json", "--evidence", url,
                      environ={"AIOPS_READ_TOKEN": "read-5e3"}) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["models"]["aiops"]["answers"]["q1"]["sources"][0]["samples"] == 40
        search = doc["roadmap"]["teams"]["search"]  # 40 good requests: level 2; no cache hit disproves the 30 % saving
        assert (search["level"], search["criteria"][3]["id"], search["criteria"][3]["state"]) == \
            (2, "cost_reduction_30", "disproven")
        assert search["criteria"][3]["checks"][0]["samples"] == 40
        assert cli_main(["assess", "--answers", str(answers_file(tmp_path)), "--evidence", url]) == 2
        assert f"--evidence: {url} answered HTTP 401" in capsys.readouterr().err
    assert cli_main(["assess", "--answers", str(answers_file(tmp_path)), "--evidence", url]) == 2
    assert f"--evidence: cannot reach {url}" in capsys.readouterr().err
