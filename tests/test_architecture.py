"""The package shape is enforced, not described: import-linter's contracts (pyproject.toml,
[tool.importlinter]) run here, and the catalog says for every KPI how the engine computes it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from metrics.catalog import Measurement, load_catalog

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    """collectors and metrics never import monitor, metrics never imports collectors, signals
    imports none of them, and no package has an import cycle among its modules."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


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
