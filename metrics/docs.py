"""The catalog as a Markdown table, for docs/kpis.md (a test keeps the two in step).

    python -m metrics.docs [MODEL]
"""
from __future__ import annotations

import sys

from metrics.catalog import SYMBOL, Catalog, Formula, Measurement, Median, PerDay, Quantile, Ratio, Sum, load_catalog


def computed_as(formula: Formula) -> str:
    """How the engine computes a KPI from signals, in one line (or why a source computes it)."""
    if isinstance(formula, Ratio):
        ratio = f"`{formula.numerator}` / `{formula.denominator}`"
        if formula.scale == -1 and formula.offset == 1:
            return f"1 − {ratio}"
        if formula.scale != 1 or formula.offset != 0:
            return f"{formula.offset:g} + {formula.scale:g} × {ratio}"
        return ratio
    if isinstance(formula, PerDay):
        return f"`{formula.signal}` per day"
    if isinstance(formula, Sum):
        return f"sum of `{formula.signal}`"
    if isinstance(formula, Quantile):
        return f"p{formula.q * 100:g} of `{formula.distribution}`"
    if isinstance(formula, Median):
        return f"median of `{formula.intervals}`"
    assert isinstance(formula, Measurement)
    return f"measured by the source (`{formula.signal}`): {formula.reason}"


def kpi_table(catalog: Catalog) -> str:
    lines = ["| level | KPI id | target | window | min. sample | computed as | definition |",
             "|---|---|---|---|---|---|---|"]
    rows = sorted(((t.level, kpi, t) for kpi in catalog.kpis for t in kpi.targets), key=lambda r: (r[0], r[1].id))
    for level, kpi, target in rows:
        definition = " ".join(kpi.definition.split()).replace("|", "\\|")
        how = computed_as(kpi.formula).replace("|", "\\|")
        lines.append(f"| {level} | `{kpi.id}` | {SYMBOL[target.comparator]} {target.value:g} {kpi.unit} | "
                     f"{kpi.window} | {kpi.min_samples} | {how} | {definition} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(kpi_table(load_catalog(sys.argv[1] if len(sys.argv) > 1 else "aiops")))
