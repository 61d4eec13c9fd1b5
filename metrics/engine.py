"""Signals -> graded KPIs -> maturity level, score and blockers, each with its evidence.

Level rule (contract): level L is reached when every KPI target of levels 1..L is met; `no_data`
blocks like `unmet` but is reported apart. score = level + met(L+1) / targets(L+1), 5.0 at the top.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from metrics.catalog import MAX_LEVEL, Catalog, Kpi, Measurement, Median, PerDay, Quantile, Ratio, Sum, Target
from signals.measured import Measured

Status = Literal["met", "unmet", "no_data"]


@dataclass(slots=True)
class WindowSignals:
    start: float
    end: float
    signals: dict[str, Any]

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)


@dataclass(slots=True)
class LevelCheck:
    kpi: str
    level: int
    comparator: str
    target: float
    status: Status
    value: float | None
    gap: float | None


@dataclass(slots=True)
class KpiResult:
    kpi: str
    value: float | None
    samples: int
    min_samples: int
    checks: list[LevelCheck]
    evidence: dict[str, Any]

    @property
    def headline(self) -> LevelCheck:
        """The check that matters next: the lowest one not met, else the highest."""
        for check in self.checks:
            if check.status != "met":
                return check
        return self.checks[-1]

    def as_dict(self) -> dict[str, Any]:
        head = self.headline
        return {
            "value": self.value,
            "status": head.status,
            "level": head.level,
            "target": head.target,
            "comparator": head.comparator,
            "samples": self.samples,
            "min_samples": self.min_samples,
            "targets": [
                {"level": c.level, "comparator": c.comparator, "target": c.target, "status": c.status, "gap": c.gap}
                for c in self.checks
            ],
            "evidence": self.evidence,
        }


@dataclass(slots=True)
class Assessment:
    model: str
    level: int
    score: float
    kpis: dict[str, KpiResult]
    dimensions: dict[str, int]

    def checks(self) -> list[LevelCheck]:
        return [c for r in self.kpis.values() for c in r.checks]

    def blocking(self) -> list[LevelCheck]:
        """Checks at the next level that are not met, biggest gap first, no_data last."""
        if self.level >= MAX_LEVEL:
            return []
        pending = [c for c in self.checks() if c.level == self.level + 1 and c.status != "met"]
        return sorted(pending, key=lambda c: (c.status == "no_data", -(c.gap or 0.0)))

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "score": self.score,
            "kpis": {kpi_id: result.as_dict() for kpi_id, result in self.kpis.items()},
            "blocking": [
                {"kpi": c.kpi, "level": c.level, "status": c.status, "value": c.value,
                 "target": c.target, "comparator": c.comparator, "gap": c.gap}
                for c in self.blocking()
            ],
        }


def _number(signals: dict[str, Any], name: str) -> float:
    """A count or sum signal. A source that only knows a final number (a PromQL query) gives it as
    a `Measured`: its value is the number."""
    value = signals.get(name)
    if isinstance(value, Measured):
        value = value.value
    return float(value or 0)


def _count(signals: dict[str, Any], name: str) -> int:
    return int(_number(signals, name))


def compute(kpi: Kpi, window: WindowSignals) -> tuple[float | None, int, dict[str, Any]]:
    """The KPI's value, its sample count and the numbers it came from."""
    signals, formula = window.signals, kpi.formula
    evidence: dict[str, Any] = {"window_start": window.start, "window_end": window.end}
    if isinstance(formula, Ratio):
        numerator = _number(signals, formula.numerator)
        denominator = _number(signals, formula.denominator)
        samples = _count(signals, formula.samples or formula.denominator)
        evidence.update({formula.numerator: numerator, formula.denominator: denominator})
        if denominator <= 0:
            return None, samples, evidence
        ratio = numerator / denominator
        if formula.offset != 0.0 or formula.scale != 1.0:
            ratio = formula.offset + formula.scale * ratio
        return ratio, samples, evidence
    if isinstance(formula, PerDay):
        count = _number(signals, formula.signal)
        days = window.seconds / 86400.0
        evidence.update({formula.signal: count, "window_days": days})
        return (count / days if days > 0 else None), int(count), evidence
    if isinstance(formula, Sum):
        total = _number(signals, formula.signal)
        samples = _count(signals, formula.samples)
        evidence.update({formula.signal: total, formula.samples: samples})
        return total, samples, evidence
    if isinstance(formula, Quantile):
        distribution = signals.get(formula.distribution)
        if distribution is None or distribution.count == 0:
            return None, 0, evidence
        evidence.update({"q": formula.q, "count": distribution.count})
        return distribution.quantile(formula.q), distribution.count, evidence
    if isinstance(formula, Median):
        intervals = signals.get(formula.intervals)
        if intervals is None or intervals.count == 0:
            return None, 0, evidence
        evidence.update({"count": intervals.count})
        return intervals.median(), intervals.count, evidence
    assert isinstance(formula, Measurement)
    measured = signals.get(formula.signal)
    if not isinstance(measured, Measured):
        return None, 0, evidence
    evidence.update(measured.evidence)
    return measured.value, measured.samples, evidence


def grade(kpi: Kpi, target: Target, value: float | None, samples: int) -> LevelCheck:
    if value is None or samples < kpi.min_samples:
        return LevelCheck(kpi.id, target.level, target.comparator, target.value, "no_data", value, None)
    status: Status = "met" if target.holds(value) else "unmet"
    return LevelCheck(kpi.id, target.level, target.comparator, target.value, status, value, target.gap(value))


def decide_level(checks: list[LevelCheck]) -> tuple[int, float]:
    """A level with no KPI at all is never reached by default: evidence has to exist for it."""
    level = 0
    for candidate in range(1, MAX_LEVEL + 1):
        has_checks = any(c.level == candidate for c in checks)
        if has_checks and all(c.status == "met" for c in checks if c.level <= candidate):
            level = candidate
        else:
            break
    if level >= MAX_LEVEL:
        return MAX_LEVEL, float(MAX_LEVEL)
    upcoming = [c for c in checks if c.level == level + 1]
    met = sum(c.status == "met" for c in upcoming)
    return level, level + (met / len(upcoming) if upcoming else 0.0)


def dimension_levels(catalog: Catalog, kpis: dict[str, KpiResult]) -> dict[str, int]:
    """Per dimension: the highest level with a check of that dimension, all of whose checks up to
    it are met. A dimension is never credited beyond the levels it has evidence for."""
    result = {}
    for dimension in catalog.dimensions:
        checks = [c for k in catalog.kpis if k.dimension == dimension for c in kpis[k.id].checks]
        level = 0
        for candidate in sorted({c.level for c in checks}):
            if all(c.status == "met" for c in checks if c.level <= candidate):
                level = candidate
            else:
                break
        result[dimension] = level
    return result


def evaluate(catalog: Catalog, windows: dict[str, WindowSignals]) -> Assessment:
    results: dict[str, KpiResult] = {}
    for kpi in catalog.kpis:
        value, samples, evidence = compute(kpi, windows[kpi.window])
        checks = [grade(kpi, target, value, samples) for target in sorted(kpi.targets, key=lambda t: t.level)]
        results[kpi.id] = KpiResult(kpi.id, value, samples, kpi.min_samples, checks, evidence)
    checks = [c for r in results.values() for c in r.checks]
    level, score = decide_level(checks)
    return Assessment(catalog.model, level, round(score, 4), results, dimension_levels(catalog, results))
