"""The fast sketch decoder gives what ddsketch's own decoder gives."""
import random

import pytest

from collectors.litellm.rebuild import sketch_from_bytes
from signals.distribution import SketchDistribution


def sketch(values) -> SketchDistribution:
    s = SketchDistribution()
    for v in values:
        s.add(v)
    return s


def store_state(store) -> tuple:
    counts = {i + store.offset: c for i, c in enumerate(store.bins) if c}
    return counts, store.min_key, store.max_key, store.count


@pytest.mark.parametrize("values", [
    [],
    [0.0],
    [0.25],
    [0.0, 0.0, 3.0],
    [random.Random(1).lognormvariate(0, 1.5) for _ in range(2000)],
    [random.Random(2).uniform(0, 600) for _ in range(500)] + [0.0] * 7,
])
def test_decoded_sketches_match_ddsketchs_decoder(values):
    data = sketch(values).to_bytes()
    fast, reference = sketch_from_bytes(data), SketchDistribution.from_bytes(data)
    assert fast.count == reference.count == len(values)
    for attribute in ("_store", "_negative_store"):
        assert store_state(getattr(fast.sketch, attribute)) == store_state(getattr(reference.sketch, attribute))
    assert fast.sketch._zero_count == reference.sketch._zero_count
    for q in (0.0, 0.01, 0.5, 0.9, 0.99, 1.0):
        assert fast.quantile(q) == reference.quantile(q)
    # Merged with another sketch (as hour buckets and windows are), both still agree.
    other = sketch([random.Random(3).expovariate(2.0) for _ in range(300)] + [900.0])
    for decoded in (fast, reference):
        decoded.merge(SketchDistribution.from_bytes(other.to_bytes()))
    for q in (0.1, 0.5, 0.95, 0.999):
        assert fast.quantile(q) == reference.quantile(q)
    assert fast.to_bytes() == sketch_from_bytes(fast.to_bytes()).to_bytes()
