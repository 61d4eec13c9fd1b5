"""The transition guides' success criteria and how telemetry proves each, as Markdown for
docs/assessment.md (between the roadmap-criteria markers; a test keeps the two in step).

    python -m metrics.roadmap.doc
"""
from __future__ import annotations

from metrics.catalog import SYMBOL, load_catalog
from metrics.roadmap.guide import Check, load_guide


def _check(check: Check) -> str:
    if check.ratio is not None:
        return (f"`{check.ratio.numerator}` / `{check.ratio.denominator}` {SYMBOL[check.comparator]} "
                f"{check.value:g} (at least {check.min_samples or 20})")
    kpi = load_catalog(load_guide().model).kpi(check.kpi)
    if check.level is not None:
        target = next(t for t in kpi.targets if t.level == check.level)
        return f"`{check.kpi}` {SYMBOL[target.comparator]} {target.value:g} (its level-{check.level} target)"
    return f"`{check.kpi}` {SYMBOL[check.comparator]} {check.value:g}"


def criteria_table() -> str:
    guide = load_guide()
    lines = ["| guide | success criterion | proven when (all hold) | reading | stands in while telemetry cannot decide |",
             "|---|---|---|---|---|"]
    for t in guide.transitions:
        for c in t.criteria:
            proof = "; ".join(_check(check) for check in c.checks) or "not measurable from telemetry"
            claim = f"answer to `{c.claim.question}` ≥ {c.claim.at_least}, as a claim" if c.claim else "—"
            reading = " ".join(c.reading.split()).replace("|", "\\|")
            lines.append(f"| {t.from_level} → {t.to} {t.name} ({t.weeks.min}-{t.weeks.max} weeks) | {c.text} | "
                         f"{proof} | {reading} | {claim} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(criteria_table())
