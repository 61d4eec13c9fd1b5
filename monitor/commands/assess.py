"""`aiops-maturity assess`: score an answers file (or answer the questionnaire interactively and
write one), every model side by side or one with --model, optionally capped by live evidence.

    assess --answers FILE [--model NAME] [--format table|json] [--evidence REPORT_JSON]
    assess --interactive --out FILE [--model NAME] [--format table|json] [--evidence REPORT_JSON]

User mistakes raise AssessmentError, an AiopsError: the CLI prints one line naming the key, exit 2.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

import orjson
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from metrics.assessment import (MODELS, Answers, AssessmentError, ModelResult, assess_all, assess_model,
                                crosswalk_dict, dump_answers, load_answers, load_evidence)

STATUS_STYLE = {"verified": "green", "partly_verified": "yellow", "capped": "red", "unverified": "grey50"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--answers", type=Path, help="answers file (YAML): model: aiops|selfhosted|platform")
    parser.add_argument("--model", choices=MODELS, default=None,
                        help="one model (default: every model the answers give, side by side)")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table for people (default) or json (the stable output contract) for programs")
    parser.add_argument("--evidence", type=Path, default=None,
                        help="report JSON (collect/replay --format json, optional \"signals\") capping claims")
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


# ---------------------------------------------------------------- the command
def run(args: argparse.Namespace, console: Console | None = None) -> int:
    if args.interactive:
        if args.answers is not None:
            raise AssessmentError("--answers: not used with --interactive (the answers are asked for)")
        if args.out is None:
            raise AssessmentError("--out: required with --interactive (where to write the answers file)")
        evidence = load_evidence(args.evidence) if args.evidence else None   # fail before the questions
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
        evidence = load_evidence(args.evidence) if args.evidence else None
    if args.model is not None:
        result = assess_model(args.model, answers, evidence)
        if args.format == "json":
            print(to_json(result.as_dict()))
        else:
            (console or Console()).print(render_result(result))
        return 0
    results = assess_all(answers, evidence)
    if args.format == "json":
        print(to_json(crosswalk_dict(results, answers.model)))
    else:
        (console or Console()).print(render_crosswalk(results))
    return 0
