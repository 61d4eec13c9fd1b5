"""What every model's scoring returns: a level, a continuous score, per-dimension levels, the
answers with their claim/evidence/scored triple, and warnings; rendered as the contract's JSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AnswerStatus = Literal["verified", "partly_verified", "capped", "unverified"]


@dataclass(slots=True)
class EvidenceItem:
    """One rule applied to the evidence input: the numbers behind an evidence level."""

    source: str
    value: float | None
    samples: int
    min_samples: int
    level: int | None          # evidence level (the cap); None: no evidence from this rule
    attests: int               # highest answer this telemetry can show
    band: str                  # the band that held, e.g. "ge 0.95", or "otherwise" / "insufficient samples"
    status: Literal["met", "unmet", "no_data"]   # met: the top band holds (telemetry does not limit)
    comparator: str            # of the top band
    target: float              # of the top band
    numbers: dict[str, float] = field(default_factory=dict)   # numerator/denominator of a ratio

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "value": self.value, "samples": self.samples,
                "min_samples": self.min_samples, "level": self.level, "attests": self.attests,
                "band": self.band, **self.numbers}

    def kpi_entry(self) -> dict[str, Any]:
        """The contract's KPI shape: met when the top band holds, unmet below, no_data without samples."""
        return {"value": self.value, "status": self.status, "level": self.attests, "target": self.target,
                "comparator": self.comparator, "samples": self.samples, "min_samples": self.min_samples}


@dataclass(slots=True)
class ScoredAnswer:
    claim: int
    evidence: int | None
    scored: int
    status: AnswerStatus
    sources: list[EvidenceItem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "evidence": self.evidence, "scored": self.scored,
                "status": self.status, "sources": [s.as_dict() for s in self.sources]}


def apply_cap(claim: int, items: list[EvidenceItem]) -> ScoredAnswer:
    """min(claim, evidence) over the rules that gave evidence; no evidence: the claim stands."""
    levels = [i.level for i in items if i.level is not None]
    if not levels:
        return ScoredAnswer(claim, None, claim, "unverified", items)
    evidence = min(levels)
    attested = max(i.attests for i in items if i.level is not None)
    if claim > evidence:
        return ScoredAnswer(claim, evidence, evidence, "capped", items)
    status: AnswerStatus = "verified" if claim <= min(evidence, attested) else "partly_verified"
    return ScoredAnswer(claim, evidence, claim, status, items)


@dataclass(slots=True)
class ModelResult:
    model: str
    level: int
    level_name: str
    score: float
    dimensions: dict[str, int | float]
    answers: dict[str, ScoredAnswer] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    kpis: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)   # model-specific fields (total, percentage, ...)

    @property
    def capped(self) -> list[str]:
        return [key for key, answer in self.answers.items() if answer.status == "capped"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "level": self.level,
            "level_name": self.level_name,
            "score": self.score,
            **self.extra,
            "kpis": self.kpis,
            "teams": {},
            "dimensions": dict(self.dimensions),
            "answers": {key: answer.as_dict() for key, answer in self.answers.items()},
            "capped": self.capped,
            "warnings": list(self.warnings),
        }


def kpi_entries(answers: dict[str, ScoredAnswer]) -> dict[str, dict[str, Any]]:
    """Every evidence entry the answers used, keyed by source."""
    return {item.source: item.kpi_entry() for answer in answers.values() for item in answer.sources}


def lopsided(dimensions: dict[str, int | float], gap: float = 2) -> list[str]:
    """The seed-001 warning: one area `gap` or more levels ahead of another."""
    if len(dimensions) < 2:
        return []
    high = max(dimensions, key=lambda k: dimensions[k])
    low = min(dimensions, key=lambda k: dimensions[k])
    if dimensions[high] - dimensions[low] < gap:
        return []
    return [f"lopsided: {high} ({dimensions[high]:g}) is {dimensions[high] - dimensions[low]:g} levels ahead "
            f"of {low} ({dimensions[low]:g}); raise the lowest area before pushing the highest further"]


def weakest_link(levels: dict[str, int], top: int = 5) -> tuple[int, float]:
    """Additive models: level = the lowest dimension; score = level + share of dimensions already
    above it; `top` at the top."""
    level = min(levels.values())
    if level >= top:
        return top, float(top)
    ahead = sum(value >= level + 1 for value in levels.values())
    return level, round(level + ahead / len(levels), 4)
