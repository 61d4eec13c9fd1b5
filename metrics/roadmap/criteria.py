"""Success criteria against telemetry: each check of a criterion is met, unmet or without data,
and the criterion is

- `proven`       every check is met;
- `disproven`    a check is unmet (the telemetry shows the opposite);
- `no_data`      measurable, but a check has fewer samples than its minimum (or no source yet);
- `unmeasurable` no telemetry can show it: the self-assessment answer named by its `claim` stands
                 in, labelled as a claim (never as proof).

The evidence is the self-assessment's input (metrics.assessment.evidence): `{name: {"value",
"samples", ["min_samples", "status"]}}` with the KPIs of a report and counted signals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from metrics.catalog import load_catalog
from metrics.roadmap.guide import Check, Criterion, Transition, load_guide

State = Literal["proven", "disproven", "no_data", "unmeasurable"]
STATES: tuple[State, ...] = ("proven", "disproven", "no_data", "unmeasurable")
DEFAULT_MIN_SAMPLES = 20
_HOLDS = {"lt": lambda v, t: v < t, "le": lambda v, t: v <= t, "gt": lambda v, t: v > t, "ge": lambda v, t: v >= t}


@dataclass(slots=True)
class CheckResult:
    source: str
    unit: str
    comparator: str
    target: float
    value: float | None
    samples: int
    min_samples: int
    status: Literal["met", "unmet", "no_data"]
    numbers: dict[str, float] = field(default_factory=dict)   # a ratio's numerator and denominator

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "unit": self.unit, "comparator": self.comparator, "target": self.target,
                "value": self.value, "samples": self.samples, "min_samples": self.min_samples,
                "status": self.status, "numbers": dict(self.numbers)}


@dataclass(slots=True)
class CriterionResult:
    id: str
    text: str
    level: int          # the level the criterion's guide reaches
    state: State
    reading: str
    checks: list[CheckResult]
    claim: dict[str, Any] | None = None   # {"question", "answer", "at_least", "holds"} where it stands in

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "level": self.level, "state": self.state, "reading": self.reading,
                "checks": [c.as_dict() for c in self.checks], "claim": self.claim}


def _threshold(check: Check) -> tuple[str, float, str, int | None]:
    """comparator, target, unit, catalog minimum sample."""
    if check.kpi is None:
        return check.comparator or "ge", float(check.value or 0.0), "ratio", None
    kpi = load_catalog(load_guide().model).kpi(check.kpi)
    if check.level is not None:
        target = next(t for t in kpi.targets if t.level == check.level)
        return target.comparator, target.value, kpi.unit, kpi.min_samples
    return check.comparator or "ge", float(check.value or 0.0), kpi.unit, kpi.min_samples


def evaluate_check(check: Check, evidence: Mapping[str, dict[str, Any]]) -> CheckResult:
    comparator, target, unit, catalog_min = _threshold(check)
    numbers: dict[str, float] = {}
    if check.kpi is not None:
        entry = evidence.get(check.kpi) or {}
        value, samples = entry.get("value"), int(entry.get("samples") or 0)
        min_samples = check.min_samples or entry.get("min_samples") or catalog_min or DEFAULT_MIN_SAMPLES
        no_data = entry.get("status") == "no_data"
    else:
        num, den = evidence.get(check.ratio.numerator), evidence.get(check.ratio.denominator)
        value, samples, no_data = None, 0, False
        if num is not None and den is not None and num.get("value") is not None and den.get("value") is not None:
            numbers = {check.ratio.numerator: float(num["value"]), check.ratio.denominator: float(den["value"])}
            samples = int(den["value"])
            value = num["value"] / den["value"] if den["value"] > 0 else None
        min_samples = check.min_samples or DEFAULT_MIN_SAMPLES
    value = None if value is None else float(value)
    if value is None or no_data or samples < min_samples:
        status: Literal["met", "unmet", "no_data"] = "no_data"
    else:
        status = "met" if _HOLDS[comparator](value, target) else "unmet"
    return CheckResult(check.source, unit, comparator, target, value, samples, int(min_samples), status, numbers)


def _claim(criterion: Criterion, answers: Mapping[str, int] | None) -> dict[str, Any] | None:
    if criterion.claim is None or answers is None or criterion.claim.question not in answers:
        return None
    answer = int(answers[criterion.claim.question])
    return {"question": criterion.claim.question, "answer": answer, "at_least": criterion.claim.at_least,
            "holds": answer >= criterion.claim.at_least}


def evaluate_criterion(criterion: Criterion, level: int, evidence: Mapping[str, dict[str, Any]],
                       answers: Mapping[str, int] | None = None) -> CriterionResult:
    """`answers`: the aiops self-assessment (question -> scored answer), for what telemetry cannot show."""
    checks = [evaluate_check(check, evidence) for check in criterion.checks]
    statuses = {c.status for c in checks}
    state: State
    if not checks:
        state = "unmeasurable"
    elif "unmet" in statuses:
        state = "disproven"
    elif statuses == {"met"}:
        state = "proven"
    else:
        state = "no_data"
    claim = _claim(criterion, answers) if state in ("unmeasurable", "no_data") else None
    return CriterionResult(criterion.id, criterion.text, level, state, " ".join(criterion.reading.split()), checks, claim)


def evaluate_transition(transition: Transition, evidence: Mapping[str, dict[str, Any]],
                        answers: Mapping[str, int] | None = None) -> list[CriterionResult]:
    return [evaluate_criterion(c, transition.to, evidence, answers) for c in transition.criteria]


def counts(results: list[CriterionResult]) -> dict[str, int]:
    return {state: sum(r.state == state for r in results) for state in STATES}
