"""Intervals: a mergeable list of durations (incident time to restore, change lead time).

Additive like a count: the intervals of two teams are the concatenation of each team's, so a
median over a folded team (`other`) or the organisation is exact. The median is
`statistics.median` (the mean of the two middle values for an even count)."""
from __future__ import annotations

import statistics


class Intervals:
    __slots__ = ("values",)

    def __init__(self, values: list[float] | None = None) -> None:
        self.values: list[float] = list(values) if values is not None else []

    @property
    def count(self) -> int:
        return len(self.values)

    def add(self, value: float) -> None:
        self.values.append(value)

    def merge(self, other: "Intervals") -> None:
        self.values.extend(other.values)

    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Intervals) and sorted(self.values) == sorted(other.values)

    def __repr__(self) -> str:
        return f"Intervals({self.values!r})"
