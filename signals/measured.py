"""`Measured`: a value a source computed itself, for the few KPIs that are not additive.

Most signals are additive (counts, sums, distributions, intervals): the engine computes each KPI
from them with the formula the catalog names, per team, and folding teams stays exact. A
`Measured` value cannot be folded (a week-over-week change, a forecast's accuracy): the catalog
says for each such KPI why (`formula.reason`), and folded teams (`other`) get no value for it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Measured:
    value: float | None
    samples: int
    evidence: dict[str, Any] = field(default_factory=dict)
