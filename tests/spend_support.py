"""Spend history written straight into the store's hour buckets, as a cycle would have built it."""
from __future__ import annotations

from sqlalchemy import insert

from collectors.litellm.store import COUNT_FIELDS, HOUR, buckets


def add_spend(store, day_start: float, team: str, usd: float) -> None:
    """One hour bucket of spend at 10:00 of the UTC day starting at `day_start`."""
    row = {name: 0 for name in COUNT_FIELDS}
    row.update(resolution=HOUR, bucket_start=int(day_start + 10 * HOUR), team=team, cost_usd=usd,
               attributed_cost_usd=usd, first_start=None, last_end=None, latency=None)
    with store.engine.begin() as conn:
        conn.execute(insert(buckets), [row])
