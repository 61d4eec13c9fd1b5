"""How a roadmap criterion and its numbers read, the same in the terminal, the digest, the
assessment report and the status page: a state word with a symbol (never colour alone), each check
as `source value comparator target (n samples)`, and a claim labelled as a claim."""
from __future__ import annotations

from typing import Any

from metrics.catalog import SYMBOL
from monitor.render import format_value

STATE_TEXT = {"proven": "✓ proven", "disproven": "✗ disproven", "no_data": "○ no data",
              "unmeasurable": "— not measurable from telemetry"}
STATE_ORDER = ("proven", "disproven", "no_data", "unmeasurable")


def state_text(state: str) -> str:
    return STATE_TEXT.get(state, state)


def check_text(check: dict[str, Any]) -> str:
    """`trace_coverage 95.95 %, needs ≥ 95.00 % (n=420)`; a ratio shows its two counts; without
    data, how many samples are still missing."""
    unit = check.get("unit") or ""
    target = f"{SYMBOL.get(check['comparator'], check['comparator'])} {format_value(check['target'], unit)}"
    numbers = check.get("numbers") or {}
    counts = " of ".join(f"{value:g} {name}" for name, value in numbers.items())
    if check["status"] == "no_data":
        seen = f"{check['samples']} of {check['min_samples']} samples" if check.get("samples") or numbers \
            else f"no samples yet, {check['min_samples']} needed"
        return f"{check['source']}: no data ({seen}; needs {target})"
    shown = format_value(check["value"], unit)
    detail = f"{counts}; n={check['samples']}" if counts else f"n={check['samples']}"
    return f"{check['source']} {shown}, needs {target} ({detail})"


def claim_text(claim: dict[str, Any] | None) -> str:
    if not claim:
        return ""
    verdict = "holds" if claim["holds"] else "does not hold"
    return (f"claim: {claim['question']} answered {claim['answer']} (needs ≥ {claim['at_least']}), "
            f"{verdict} as a claim, not proven")


def criterion_evidence(item: dict[str, Any]) -> str:
    """The numbers behind a criterion (or why there are none), then its claim if one stands in."""
    parts = [check_text(c) for c in item.get("checks") or []]
    if item["state"] == "unmeasurable":
        parts = [item.get("reading") or "not measurable from telemetry"]
    if item.get("claim"):
        parts.append(claim_text(item["claim"]))
    return "; ".join(parts)


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(state, 0)} {state.replace('_', ' ')}" for state in STATE_ORDER)
