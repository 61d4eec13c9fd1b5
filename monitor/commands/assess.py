"""`aiops-maturity assess`: score an answers file (or answer the questionnaire interactively and
write one), every model side by side or one with --model, optionally capped by live evidence, with
the roadmap to the target level and, with --report, the detailed assessment report.

    assess --answers FILE [--model NAME] [--format table|json] [--evidence REPORT_JSON|URL]
           [--report FILE.md|FILE.html] [--target-level N] [--organisation NAME] [--assessed-by NAME]
           [--date YYYY-MM-DD]
    assess --interactive --out FILE [--model NAME] [--format table|json] [--evidence REPORT_JSON|URL]

The evidence is a report JSON (collect/replay --format json) or the running service's
/api/report (an http(s) URL; AIOPS_READ_TOKEN is sent when set).

User mistakes raise AssessmentError, an AiopsError: the CLI prints one line naming the key, exit 2.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import orjson
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from metrics.assessment import (MODELS, Answers, AssessmentError, EvidenceError, ModelResult, assess_all,
                                assess_model, crosswalk_dict, dump_answers, load_answers)
from metrics.assessment.evidence import Evidence, from_document, read_document
from metrics.roadmap import claims_of, roadmap_from_report
from metrics.roadmap.report import build_assessment_report
from monitor.digest.roadmap_text import criterion_evidence, state_text

STATUS_STYLE = {"verified": "green", "partly_verified": "yellow", "capped": "red", "unverified": "grey50"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--answers", type=Path, help="answers file (YAML): model: aiops|selfhosted|platform")
    parser.add_argument("--model", choices=MODELS, default=None,
                        help="one model (default: every model the answers give, side by side)")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table for people (default) or json (the stable output contract) for programs")
    parser.add_argument("--evidence", default=None,
                        help="report JSON (collect/replay --format json, optional \"signals\"), or the running "
                             "service's /api/report URL, capping claims")
    parser.add_argument("--report", type=Path, default=None,
                        help="also write the detailed assessment report: FILE.md (Markdown) or FILE.html (one page)")
    parser.add_argument("--target-level", type=int, default=None,
                        help="the report's target level (default: the answers file's target_level, else one above "
                             "the current level)")
    parser.add_argument("--organisation", "--organization", dest="organisation", default=None,
                        help="organisation named in the report (default: the answers file's organisation)")
    parser.add_argument("--assessed-by", default=None, help="who assessed (default: the answers file's assessed_by)")
    parser.add_argument("--date", default=None,
                        help="assessment date YYYY-MM-DD (default: the answers file's date, else today in UTC)")
    parser.add_argument("--interactive", action="store_true", help="answer the questions in the terminal")
    parser.add_argument("--out", type=Path, default=None, help="with --interactive: where to write the answers file")


# ---------------------------------------------------------------- interactive questionnaire
def _questions(model: str) -> tuple[str, list[tuple[str, str, list[str], int]]]:
    """(file model, [(key, heading, option texts, lowest value)]) for the interactive mode."""
    from metrics.assessment.definitions import load_definitions
    from metrics.assessment.questionnaire import load_questionnaire

    if model == "selfhosted":
        sh = load_definitions().selfhosted
        return "selfhosted", [(d.id, f"{d.name} ({d.weight} %): which stage describes you best?",
                               [f"{name}: {text}" for name, text in zip(sh.stages, d.stages)], 1)
                              for d in sh.dimensions]
    if model == "platform":
        pf = load_definitions().platform
        options = [f"{name}: {text}" for name, text in zip(pf.levels, pf.descriptions)]
        return "platform", [(area, f"Platform area '{area.replace('_', ' ')}': which level is it at?", options, 1)
                            for area in pf.areas]
    q = load_questionnaire()
    return "aiops", [(x.id, f"[{x.dimension}] {x.text}", list(x.answers), q.scale.min) for x in q.questions]


def ask_all(model: str, read: Callable[[str], str] = input, write: Callable[[str], None] = print) -> Answers:
    file_model, questions = _questions(model)
    values: dict[str, int] = {}
    for number, (key, heading, options, low) in enumerate(questions, start=1):
        high = low + len(options) - 1
        write(f"\n{number}/{len(questions)}  {heading}")
        for value, text in enumerate(options, start=low):
            write(f"   ({value}) {text}")
        while True:
            try:
                reply = read(f"{key} [{low}-{high}]: ").strip()
            except EOFError:
                raise AssessmentError(f"{key}: input ended before it was answered") from None
            if reply.isdigit() and low <= int(reply) <= high:
                values[key] = int(reply)
                break
            write(f"   please answer {key} with a whole number from {low} to {high}")
    return Answers(file_model, values)


# ---------------------------------------------------------------- rendering
def _detail(result: ModelResult) -> str:
    if "total" in result.extra:
        return f", total {result.extra['total']}/{result.extra['max_total']}"
    if "percentage" in result.extra:
        return f", {result.extra['percentage']:g} % (Stage {result.extra['stage']})"
    return ""


def _numbers(answer: Any) -> str:
    parts = []
    for item in answer.sources:
        value = "—" if item.value is None else f"{item.value:.4g}"
        got = ("no evidence" if item.level is None else "not limiting" if item.level >= 5 else f"≤ {item.level}")
        parts.append(f"{item.source} {value} (n={item.samples}, {item.band}) → {got}")
    return "; ".join(parts)


def render_result(result: ModelResult) -> Group:
    parts: list[Any] = [Text(f"\n{result.model}: level {result.level} ({result.level_name}), "
                             f"score {result.score:.2f}{_detail(result)}", style="bold")]
    if result.dimensions:
        table = Table(show_header=True)
        table.add_column("dimension")
        table.add_column("level", justify="right")
        for name, value in result.dimensions.items():
            table.add_row(name, f"{value:g}")
        parts.append(table)
    if any(a.sources for a in result.answers.values()):
        answers = Table(title="claims and evidence", title_justify="left")
        for column in ("", "claim", "evidence", "scored", "status", "numbers"):
            answers.add_column(column, justify="right" if column in ("claim", "evidence", "scored") else "left")
        for key, a in result.answers.items():
            answers.add_row(key, str(a.claim), "—" if a.evidence is None else str(a.evidence), str(a.scored),
                            Text(a.status, style=STATUS_STYLE[a.status]), _numbers(a))
        parts.append(answers)
    for warning in result.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    return Group(*parts)


def render_crosswalk(results: dict[str, ModelResult]) -> Group:
    table = Table(title="Maturity models side by side", title_justify="left")
    for column in ("model", "level", "name", "score", "detail", "warnings"):
        table.add_column(column, justify="right" if column in ("level", "score", "warnings") else "left")
    for name, r in results.items():
        table.add_row(name, str(r.level), r.level_name, f"{r.score:.2f}", _detail(r).lstrip(", "), str(len(r.warnings)))
    return Group(table, *(render_result(r) for r in results.values()))


def to_json(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()


# ---------------------------------------------------------------- evidence, report, roadmap
def read_evidence(source: str | None, environ: dict[str, str]) -> tuple[Evidence | None, dict[str, Any] | None]:
    """(evidence, the document it came from) from a report file or the service's /api/report."""
    if not source:
        return None, None
    if not source.startswith(("http://", "https://")):
        doc = read_document(Path(source))
        return from_document(doc), doc
    import httpx

    token = environ.get("AIOPS_READ_TOKEN")
    try:
        answer = httpx.get(source, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=15,
                           trust_env=False)
    except httpx.HTTPError as exc:
        raise EvidenceError(f"--evidence: cannot reach {source}: {type(exc).__name__}: {exc}") from None
    if answer.status_code != 200:
        hint = " (no collection cycle has completed yet)" if answer.status_code == 503 else ""
        raise EvidenceError(f"--evidence: {source} answered HTTP {answer.status_code}{hint}")
    try:
        doc = answer.json()
    except ValueError:
        raise EvidenceError(f"--evidence: {source} did not answer JSON") from None
    if not isinstance(doc, dict):
        raise EvidenceError(f"--evidence: {source}: expected a JSON object")
    return from_document(doc), doc


def live_roadmaps(doc: dict[str, Any] | None, claims: dict[str, int] | None) -> dict[str, Any]:
    """The telemetry's own roadmap per team, when the evidence is a whole report."""
    if not doc or not isinstance(doc.get("kpis"), dict) or not isinstance(doc.get("level"), int):
        return {}
    teams = doc.get("teams") if isinstance(doc.get("teams"), dict) else {}
    out = {"all": roadmap_from_report(doc, claims)}
    for team, row in sorted(teams.items()):
        if isinstance(row, dict) and isinstance(row.get("kpis"), dict) and isinstance(row.get("level"), int):
            out[team] = roadmap_from_report(row, claims)
    return out


def _date(args: argparse.Namespace, answers: Answers, clock: Callable[[], float]) -> str:
    if args.date is not None:
        try:
            return dt.date.fromisoformat(args.date).isoformat()
        except ValueError:
            raise AssessmentError(f"--date: expected YYYY-MM-DD, got {args.date!r}") from None
    return answers.metadata.get("date") or dt.datetime.fromtimestamp(clock(), dt.timezone.utc).date().isoformat()


def report_document(args: argparse.Namespace, answers: Answers, results: dict[str, ModelResult],
                    evidence: Evidence | None, doc: dict[str, Any] | None, clock: Callable[[], float]) -> dict[str, Any]:
    meta = answers.metadata
    source = args.answers.name if args.answers is not None else (args.out.name if args.out else "the questionnaire")
    primary = args.model or answers.model
    chosen = results if args.model is None else {primary: results[primary], **({"aiops": results["aiops"]}
                                                                                if "aiops" in results else {})}
    # the file's target_level is a level of the file's own model
    target = args.target_level if args.target_level is not None else \
        meta.get("target_level") if primary == answers.model else None
    report = build_assessment_report(
        chosen, primary, target=target,
        organisation=args.organisation or meta.get("organisation") or "Unnamed organisation",
        assessed_by=args.assessed_by or meta.get("assessed_by") or f"self-assessment ({source}), aiops-maturity",
        date=_date(args, answers, clock), evidence=evidence, live=live_roadmaps(doc, claims_of(results.get("aiops"))))
    if args.model is not None and primary != "aiops":  # --model: the report is that model's alone
        report["sections"] = report["sections"][:1]
    return report


def roadmap_json(report: dict[str, Any]) -> dict[str, Any]:
    return {"current": report["aiops"]["current"], "target": report["aiops"]["target"],
            "transitions": report["plan"]["transitions"], "teams": report["live"]}


def render_roadmap(report: dict[str, Any]) -> Group:
    path = Table(title=f"Roadmap: aiops level {report['aiops']['current']} → {report['aiops']['target']}, "
                       "success criteria", title_justify="left")
    for column in ("guide", "criterion", "state", "evidence"):
        path.add_column(column)
    for t in report["plan"]["transitions"]:
        for c in t["criteria"]:
            path.add_row(f"{t['from']} → {t['to']}" + (" (beyond)" if t["beyond_target"] else ""), c["text"],
                         state_text(c["state"]), criterion_evidence(c))
    parts: list[Any] = [path]
    if report["live"]:
        live = Table(title="Roadmap from telemetry: each team's next level", title_justify="left")
        for column in ("team", "next", "criterion", "state", "evidence"):
            live.add_column(column)
        for team, rm in report["live"].items():
            for c in rm["criteria"] or [{"text": "top level reached", "state": "", "checks": []}]:
                live.add_row(team, f"{rm['level']} → {rm['next_level']}" if rm["next_level"] else "top", c["text"],
                             state_text(c["state"]), criterion_evidence(c) if c["state"] else "")
        parts.append(live)
    return Group(*parts)


# ---------------------------------------------------------------- the command
def run(args: argparse.Namespace, console: Console | None = None, clock: Callable[[], float] = time.time,
        environ: dict[str, str] | None = None) -> int:
    env = dict(os.environ if environ is None else environ)
    if args.report is not None:
        from monitor.digest.assessment_report import report_format

        report_format(args.report)  # a bad name fails before any work
    if args.interactive:
        if args.answers is not None:
            raise AssessmentError("--answers: not used with --interactive (the answers are asked for)")
        if args.out is None:
            raise AssessmentError("--out: required with --interactive (where to write the answers file)")
        evidence, doc = read_evidence(args.evidence, env)   # fail before the questions
        answers = ask_all(args.model or "aiops")
        try:
            args.out.write_text(dump_answers(answers), encoding="utf-8")
        except OSError as exc:
            raise AssessmentError(f"--out: cannot write {args.out}: {exc.strerror or exc}") from None
        print(f"\nwrote {args.out}", flush=True)
    else:
        if args.answers is None:
            raise AssessmentError("--answers: required (or --interactive --out FILE)")
        if args.out is not None:
            raise AssessmentError("--out: only used with --interactive")
        answers = load_answers(args.answers)
        evidence, doc = read_evidence(args.evidence, env)
    results = assess_all(answers, evidence)
    if args.model is not None and args.model not in results:
        assess_model(args.model, answers, evidence)   # raises the one-line error naming what the answers give
    report = report_document(args, answers, results, evidence, doc, clock)
    out = console or Console()
    if args.model is not None:
        result = results[args.model]
        if args.format == "json":
            print(to_json({**result.as_dict(), "roadmap": roadmap_json(report)}))
        else:
            out.print(render_result(result), render_roadmap(report))
    elif args.format == "json":
        print(to_json({**crosswalk_dict(results, answers.model), "roadmap": roadmap_json(report)}))
    else:
        out.print(render_crosswalk(results), render_roadmap(report))
    if args.report is not None:
        from monitor.digest.assessment_report import write_report

        path = write_report(report, args.report)
        print(f"wrote {path}", file=sys.stderr if args.format == "json" else sys.stdout)
    return 0
