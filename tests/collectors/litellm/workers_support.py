"""Proof that the parallel readers ran: worker processes counted as they start, and small chunks so
that small test inputs are split over several workers."""
from __future__ import annotations

from collectors.litellm import parallel_files, shards


class CountingWorkers(shards.Workers):
    started = 0

    def __enter__(self):
        CountingWorkers.started += self.count
        return super().__enter__()


def count_workers(monkeypatch, chunk_weight: int):
    """Patch both readers to count their workers and cut chunks of `chunk_weight`; returns how many
    workers have been started since."""
    CountingWorkers.started = 0
    for module in (shards, parallel_files):
        monkeypatch.setattr(module, "Workers", CountingWorkers)
        monkeypatch.setattr(module, "CHUNK_WEIGHT", chunk_weight)
    return lambda: CountingWorkers.started
