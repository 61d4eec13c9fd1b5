"""The package shape is enforced, not described: import-linter's contracts (pyproject.toml,
[tool.importlinter]) run here, grimp (the import graph library import-linter is built on) finds
import cycles, and the catalog says for every KPI how the engine computes it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

from metrics.catalog import Measurement, load_catalog

REPO = Path(__file__).resolve().parents[1]


PACKAGES = ("signals", "collectors", "metrics", "monitor")


def test_import_contracts_hold():
    """collectors and metrics never import monitor, metrics never imports collectors, signals
    imports none of them."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def graph_edges(graph, collapse_to_children_of: str | None = None) -> dict[str, set[str]]:
    """Module -> imported modules; or, collapsed, child of a package -> its sibling children it imports."""
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = module, imported
            if collapse_to_children_of is not None:
                prefix = collapse_to_children_of + "."
                if not (a.startswith(prefix) and b.startswith(prefix)):
                    continue
                a = prefix + a[len(prefix):].split(".")[0]
                b = prefix + b[len(prefix):].split(".")[0]
                if a == b:
                    continue
            edges.setdefault(a, set()).add(b)
    return edges


def test_no_import_cycles_between_modules_or_between_sibling_packages():
    graph = grimp.build_graph(*PACKAGES)
    assert cycles(graph_edges(graph)) == []
    packages = {m for m in graph.modules if graph.find_children(m)}
    sibling_cycles = {p: cycles(graph_edges(graph, p)) for p in sorted(packages)}
    assert {p: c for p, c in sibling_cycles.items() if c} == {}


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_broken_contract_fails(tmp_path):
    """The check can fail: a metrics module importing monitor breaks the contract."""
    bad = REPO / "metrics" / "_architecture_probe.py"
    bad.write_text("import monitor.runtime.service  # noqa: F401\n")
    try:
        lint = Path(sys.executable).parent / "lint-imports"
        result = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    finally:
        bad.unlink()
    assert result.returncode != 0
    assert "metrics._architecture_probe -> monitor.runtime.service" in result.stdout


def test_every_kpi_not_computed_from_signals_says_why():
    catalog = load_catalog("aiops")
    measured = [k for k in catalog.kpis if isinstance(k.formula, Measurement)]
    assert all(len(k.formula.reason) >= 10 for k in measured)
    # 22 of the 28 KPIs are computed by the engine from additive signals (ratios of sums, a
    # quantile of a sketch, a median of intervals, per day); the rest are listed with a reason.
    assert (len(catalog.kpis), len(measured)) == (28, 6)
    assert {k.id for k in measured} == {"cost_per_quality_point", "self_improvement_rate", "cost_prediction_accuracy",
                                        "deployment_frequency", "emergent_capability_detection", "system_health_score"}
