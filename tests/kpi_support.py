"""A KPI's value from one team's signals, the way the engine computes it (the catalog's formula)."""
from __future__ import annotations

from metrics.catalog import load_catalog
from metrics.engine import WindowSignals, compute


def kpi(signals: dict, kpi_id: str, start: float = 0.0, end: float = 86400.0) -> tuple[float | None, int]:
    """(value, samples) of `kpi_id` over these signals."""
    value, samples, _evidence = compute(load_catalog().kpi(kpi_id), WindowSignals(start, end, dict(signals)))
    return value, samples
