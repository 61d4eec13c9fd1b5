"""The level rule, score, blockers and dimensions on a small synthetic catalog."""
import pytest

from metrics.catalog import parse_catalog
from metrics.engine import WindowSignals, decide_level, evaluate
from signals.measured import Measured

CATALOG = """
model: toy
title: Toy
dimensions: [a, b]
signals:
  x: {unit: ratio, source: t, kind: measurement, description: x}
  y: {unit: ratio, source: t, kind: measurement, description: y}
  z: {unit: seconds, source: t, kind: measurement, description: z}
kpis:
  - {id: k1, name: K1, unit: ratio, dimension: a, formula: {kind: measurement, signal: x, reason: "a test value set by hand"}, min_samples: 5,
     targets: [{level: 1, comparator: lt, value: 0.1}], definition: d, remediation: r}
  - {id: k2, name: K2, unit: ratio, dimension: b, formula: {kind: measurement, signal: y, reason: "a test value set by hand"}, min_samples: 5,
     targets: [{level: 2, comparator: gt, value: 0.9}], definition: d, remediation: r}
  - {id: k3, name: K3, unit: seconds, dimension: a, formula: {kind: measurement, signal: z, reason: "a test value set by hand"}, min_samples: 3,
     targets: [{level: 2, comparator: lt, value: 86400}, {level: 3, comparator: lt, value: 3600}],
     definition: d, remediation: r}
"""


def run(x=None, y=None, z=None, samples=10):
    catalog = parse_catalog(CATALOG)
    signals = {name: Measured(v, samples) for name, v in (("x", x), ("y", y), ("z", z)) if v is not None}
    window = WindowSignals(0, 86400, signals)
    return evaluate(catalog, {"evaluation": window, "30d": window})


def test_level_needs_every_target_up_to_it():
    assert run(x=0.05, y=0.95, z=100).level == 3
    assert run(x=0.05, y=0.95, z=7200).level == 2          # k3 met at 2, unmet at 3
    assert run(x=0.05, y=0.5, z=100).level == 1
    assert run(x=0.2, y=0.95, z=100).level == 0            # level 1 fails: nothing above counts


def test_score_is_level_plus_share_of_next_level_met():
    a = run(x=0.05, y=0.5, z=100)                          # level 1; level 2 has k2 (unmet) and k3 (met)
    assert a.score == pytest.approx(1.5)
    assert run(x=0.05, y=0.95, z=100).score == 3.0         # nothing at level 4: score stays at the level


def test_no_data_blocks_like_unmet_but_is_reported_apart():
    a = run(x=0.05, z=7200)                                # y missing
    assert a.level == 1
    blocking = a.blocking()
    assert [(c.kpi, c.status) for c in blocking] == [("k2", "no_data")]


def test_too_few_samples_is_no_data():
    a = run(x=0.05, samples=4)
    assert a.kpis["k1"].checks[0].status == "no_data"
    assert a.kpis["k1"].value == 0.05 and a.level == 0


def test_blockers_sorted_by_gap_with_values():
    a = run(x=0.05, y=0.5, z=90000)
    gaps = [(c.kpi, round(c.gap, 3)) for c in a.blocking()]
    assert gaps == [("k3", 3600.0), ("k2", 0.4)]


def test_headline_of_multi_level_kpi_is_first_unmet():
    d = run(x=0.05, y=0.95, z=7200).kpis["k3"].as_dict()
    assert (d["level"], d["status"], d["target"]) == (3, "unmet", 3600)
    assert [t["status"] for t in d["targets"]] == ["met", "unmet"]


def test_dimensions_never_credited_beyond_their_evidence():
    a = run(x=0.05, y=0.95, z=100)
    assert a.dimensions == {"a": 3, "b": 2}
    assert run(x=0.05).dimensions == {"a": 1, "b": 0}


def test_top_level_scores_five():
    from metrics.engine import LevelCheck
    checks = [LevelCheck("k", lvl, "lt", 1, "met", 0, 0) for lvl in range(1, 6)]
    assert decide_level(checks) == (5, 5.0)


@pytest.mark.parametrize("comparator,value,met", [("lt", 0.1, False), ("le", 0.1, True), ("gt", 0.1, False),
                                                  ("ge", 0.1, True)])
def test_comparators_at_the_boundary(comparator, value, met):
    catalog = parse_catalog(CATALOG.replace("comparator: lt, value: 0.1", f"comparator: {comparator}, value: 0.1"))
    window = WindowSignals(0, 1, {"x": Measured(value, 10)})
    assert evaluate(catalog, {"evaluation": window, "30d": window}).kpis["k1"].checks[0].status == (
        "met" if met else "unmet")
