import numpy as np
import pytest

from signals.distribution import ExactDistribution, SketchDistribution


@pytest.mark.parametrize("n", [20, 21, 57, 500, 5000])
@pytest.mark.parametrize("shape", ["lognormal", "bimodal", "uniform"])
def test_sketch_stays_within_one_percent_of_numpy(n, shape):
    rng = np.random.default_rng(n)
    values = {"lognormal": rng.lognormal(-1, 1.2, n),
              "bimodal": np.concatenate([rng.normal(0.05, 0.005, n // 2), rng.normal(3.0, 0.3, n - n // 2)]),
              "uniform": rng.uniform(0.001, 10, n)}[shape].clip(1e-4)
    sketch = SketchDistribution()
    for v in values:
        sketch.add(float(v))
    restored = SketchDistribution.from_bytes(sketch.to_bytes())
    for q in (0.5, 0.9, 0.95, 0.99):
        exact = np.percentile(values, q * 100)
        assert restored.quantile(q) == pytest.approx(exact, rel=0.01)


def test_merged_sketches_equal_one_sketch():
    rng = np.random.default_rng(3)
    values = rng.lognormal(-1, 1, 1000)
    whole, parts = SketchDistribution(), [SketchDistribution() for _ in range(7)]
    for i, v in enumerate(values):
        whole.add(v)
        parts[i % 7].add(v)
    merged = SketchDistribution()
    for p in parts:
        merged.merge(SketchDistribution.from_bytes(p.to_bytes()))
    assert merged.count == 1000
    assert merged.quantile(0.95) == pytest.approx(whole.quantile(0.95), rel=1e-9)


def test_empty_distributions_have_no_quantile():
    assert ExactDistribution().quantile(0.5) is None
    assert SketchDistribution.from_bytes(b"").quantile(0.5) is None
