"""The catalog as a Markdown table, for the README (a test keeps the two in step).

    python -m metrics.docs [MODEL]
"""
from __future__ import annotations

import sys

from metrics.catalog import Catalog, load_catalog

SYMBOL = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥"}


def kpi_table(catalog: Catalog) -> str:
    lines = ["| level | KPI id | target | window | min. sample | definition |",
             "|---|---|---|---|---|---|"]
    rows = sorted(((t.level, kpi, t) for kpi in catalog.kpis for t in kpi.targets), key=lambda r: (r[0], r[1].id))
    for level, kpi, target in rows:
        definition = " ".join(kpi.definition.split()).replace("|", "\\|")
        lines.append(f"| {level} | `{kpi.id}` | {SYMBOL[target.comparator]} {target.value:g} {kpi.unit} | "
                     f"{kpi.window} | {kpi.min_samples} | {definition} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(kpi_table(load_catalog(sys.argv[1] if len(sys.argv) > 1 else "aiops")))
