"""The gateway store's write port for importers (signals.source.GatewayImports): requests read from
somewhere other than the push route, today the proxy's own database (collectors.litellm.database).

Where an imported request goes depends on its age, so that it is counted once and the store keeps
working the way it does for pushed requests:
- from the raw-retention horizon on (rounded up to a whole hour): a request row, flagged
  `IMPORTED`, and its minute marked dirty, exactly as a pushed request. A request whose call id
  the store already holds is skipped: the push route saw it (its attempts say more), or this
  importer did before. When the push route delivers a request that was imported first, the push
  route's version replaces it (collectors.litellm.store).
- older: added into its hour bucket. Hours that already held a bucket when the backfill began came
  from the push route while it ran; they are kept as they are and the imported rows for them are
  skipped (counted in `skipped_pushed`).
- whole days of daily totals (where the proxy's spend-log rows are gone): one bucket at the day's
  first hour with requests, failures and spend only, under the same rule.
The importer's state (its watermark) is written in the same transaction as its requests, so a
restart neither skips nor repeats anything.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from sqlalchemy import Column, MetaData, String, Table, Text, and_, insert, select, tuple_
from sqlalchemy.engine import Connection

from collectors.litellm import model_mix
from collectors.litellm.requests import GatewayAggregate, Request
from collectors.litellm.store import (
    HOUR, IMPORTED, Store, _aggregate_from_row, _bucket_row, _chunks, _minute, _request_row, buckets, requests,
)
from collectors.sql import upsert
from signals.distribution import SketchDistribution
from signals.teams import UNATTRIBUTED

metadata = MetaData()
import_state = Table("gateway_import_state", metadata, Column("key", String(120), primary_key=True),
                     Column("value", Text, nullable=False))


@dataclass(frozen=True, slots=True)
class DayTotals:
    """One team's day as the proxy's daily aggregate table has it."""

    day: int  # unix time of 00:00 UTC
    team: str | None
    requests: int
    failed_requests: int
    cost_usd: float
    model_group: str = ""


class StoreImports:
    def __init__(self, store: Store) -> None:
        self.store = store

    def import_state(self, key: str) -> dict | None:
        with self.store.engine.connect() as conn:
            value = conn.execute(select(import_state.c.value).where(import_state.c.key == key)).scalar()
        return json.loads(value) if value else None

    def known_calls(self, call_ids: list[str]) -> set[str]:
        """The call ids the store holds request rows for (pushed or imported)."""
        found: set[str] = set()
        with self.store.engine.connect() as conn:
            for chunk in _chunks(sorted(set(call_ids))):
                found.update(conn.execute(select(requests.c.call_id).where(requests.c.call_id.in_(chunk))).scalars())
        return found

    def horizon(self, now: float) -> int:
        """Requests that start from here on are stored as rows; older ones go to hour buckets."""
        return int(math.ceil((now - self.store.raw_retention) / HOUR)) * HOUR

    def hours_with_buckets(self, start: float, end: float) -> list[int]:
        with self.store.engine.connect() as conn:
            return sorted(conn.execute(select(buckets.c.bucket_start).distinct().where(and_(
                buckets.c.resolution == HOUR, buckets.c.bucket_start >= start, buckets.c.bucket_start < end))).scalars())

    def import_batch(self, key: str, state: dict, requests_in: list[Request], day_totals: list[DayTotals] = (),
                     now: float = 0.0) -> dict:
        """Import in one transaction and save `state` under `key`. `state["pushed_hours"]` lists the
        hours the push route had filled when the backfill began. Returns counts by outcome."""
        pushed = set(state.get("pushed_hours", ()))
        horizon = self.horizon(now)
        counts = {"rows": 0, "known": 0, "bucketed": 0, "skipped_pushed": 0, "days": 0}
        recent = [r for r in requests_in if r.start >= horizon]
        old = [r for r in requests_in if r.start < horizon]
        with self.store._write_lock, self.store.engine.begin() as conn:
            if recent:
                counts["rows"], counts["known"] = self._insert_rows(conn, recent)
            per_hour: dict[tuple[int, str], GatewayAggregate] = {}
            per_model: dict[tuple[int, str, str], model_mix.GroupTotals] = {}
            for request in old:
                hour = int(request.start // HOUR) * HOUR
                if hour in pushed:
                    counts["skipped_pushed"] += 1
                    continue
                _aggregate(per_hour, hour, request.team).add(request)
                per_model.setdefault((hour, request.team or UNATTRIBUTED, request.model_group or model_mix.UNKNOWN_GROUP),
                                     model_mix.GroupTotals()).add_request(request)
                counts["bucketed"] += 1
            for day in day_totals:
                if any(day.day + h * HOUR in pushed for h in range(24)):
                    counts["skipped_pushed"] += 1
                    continue
                aggregate = _aggregate(per_hour, day.day, day.team)
                aggregate.requests += day.requests
                aggregate.failed_requests += day.failed_requests
                aggregate.cost_usd += day.cost_usd
                aggregate.attributed_cost_usd += day.cost_usd if day.team is not None else 0.0
                # Requests and spend only: a daily total does not say which requests the cache answered.
                model = per_model.setdefault((day.day, day.team or UNATTRIBUTED,
                                              day.model_group or model_mix.UNKNOWN_GROUP), model_mix.GroupTotals())
                model.requests += day.requests
                model.cost_usd += day.cost_usd
                counts["days"] += 1
            if per_hour:
                self._add_to_hours(conn, per_hour)
            model_mix.add_hours(conn, per_model)
            statement = upsert(conn, import_state)
            conn.execute(statement.on_conflict_do_update(index_elements=["key"], set_={"value": statement.excluded.value}),
                         [{"key": key, "value": json.dumps(state)}])
        return counts

    def _insert_rows(self, conn: Connection, batch: list[Request]) -> tuple[int, int]:
        by_call: dict[str, Request] = {}
        for request in batch:
            by_call.setdefault(request.call_id, request)  # one row per call id (a re-read row is the same)
        known: set[str] = set()
        for chunk in _chunks(list(by_call)):
            known.update(conn.execute(select(requests.c.call_id).where(requests.c.call_id.in_(chunk))).scalars())
        fresh = [r for cid, r in by_call.items() if cid not in known]
        if fresh:
            rows = [_request_row(r) for r in fresh]
            for row in rows:
                row["flags"] |= IMPORTED
            conn.execute(insert(requests), rows)
            self.store._mark_dirty(conn, {_minute(r.start) for r in fresh})
        return len(fresh), len(batch) - len(fresh)

    @staticmethod
    def _add_to_hours(conn: Connection, per_hour: dict[tuple[int, str], GatewayAggregate]) -> None:
        """Add into the hour buckets (read, merge, write), so batches of one hour add up."""
        keys = sorted(per_hour)
        for chunk in _chunks(keys):
            in_chunk = and_(buckets.c.resolution == HOUR, tuple_(buckets.c.bucket_start, buckets.c.team).in_(chunk))
            for row in conn.execute(select(buckets).where(in_chunk)):
                per_hour[(row.bucket_start, row.team)].merge(_aggregate_from_row(row))
            conn.execute(buckets.delete().where(in_chunk))
        conn.execute(insert(buckets), [_bucket_row(HOUR, hour, team, a) for (hour, team), a in per_hour.items()])


def _aggregate(per_hour: dict, hour: int, team: str | None) -> GatewayAggregate:
    key = (hour, team or UNATTRIBUTED)
    aggregate = per_hour.get(key)
    if aggregate is None:
        aggregate = per_hour[key] = GatewayAggregate(latency=SketchDistribution())
    return aggregate
