"""The detailed assessment report (metrics.roadmap.report) as Markdown or as one self-contained
HTML page (inline style, a Content-Security-Policy that forbids loading anything, no script), and the
same body as a section of the weekly digest (the `_assessment.*.j2` partials).

The HTML templates autoescape: the organisation, the assessor and every other text reach the page
as text. The Markdown escapes table cells' pipes only (`md`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from metrics.assessment.definitions import load_definitions
from metrics.assessment.errors import AssessmentError
from metrics.catalog import load_catalog
from monitor.digest.roadmap_text import check_text, claim_text, counts_text, criterion_evidence, state_text
from monitor.digest.templating import environment
from monitor.render import format_value

FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


def model_title(model: str) -> str:
    definitions = load_definitions()
    titles = {"aiops": load_catalog("aiops").title, "selfhosted": definitions.selfhosted.title,
              "platform": definitions.platform.title, "enterprise": definitions.enterprise.title,
              "stages": definitions.stages.title}
    return titles.get(model, model)


def _detail(section: dict[str, Any]) -> str:
    extra = section.get("extra") or {}
    if "total" in extra:
        return f", total {extra['total']}/{extra['max_total']}"
    if "percentage" in extra:
        return f", {extra['percentage']:.1f} % (Stage {extra['stage']})"
    return ""


def _numbers(answer: dict[str, Any]) -> str:
    parts = []
    for item in answer.get("sources") or []:
        value = "—" if item["value"] is None else f"{item['value']:.4g}"
        got = ("no evidence" if item["level"] is None else "not limiting" if item["level"] >= 5
               else f"at most {item['level']}")
        parts.append(f"{item['source']} {value} (n={item['samples']}, {item['band']}) → {got}")
    return "; ".join(parts) or "no telemetry rule"


def helpers() -> dict[str, Any]:
    """What the report and roadmap partials call (also merged into the digest's view)."""
    return {"title": model_title, "detail": _detail, "numbers": _numbers, "fv": format_value,
            "state_text": state_text, "check_text": check_text, "claim_text": claim_text,
            "criterion_evidence": criterion_evidence, "counts_text": counts_text}


def render_report(doc: dict[str, Any], fmt: str) -> str:
    """`fmt`: markdown or html."""
    name = {"markdown": "assessment_report.md.j2", "html": "assessment_report.html.j2"}[fmt]
    return environment().get_template(name).render(r=doc, **helpers())


def report_format(path: Path) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise AssessmentError(f"--report: {path}: the name must end in .md (Markdown) or .html (a self-contained page)")
    return fmt


def write_report(doc: dict[str, Any], path: Path) -> Path:
    """Write the report in the format its name says; one-line errors."""
    path = Path(path)
    text = render_report(doc, report_format(path))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AssessmentError(f"--report: cannot write {path}: {exc.strerror or exc}") from None
    return path
