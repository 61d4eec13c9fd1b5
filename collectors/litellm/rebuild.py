"""The cycle's bucket rebuild, in two steps so that it never holds ingest back.

1. Read, outside any write lock and transaction: the dirty-minute marks with their versions, the
   request rows of those minutes, the other minute buckets of their hours, and the model-mix totals
   of those hours; compute the new minute and hour buckets. This is the CPU and the long reads.
   (SQLite's WAL readers do not block its one writer; PostgreSQL readers block no one.)
2. Write, one short transaction per hour: if the hour is still as it was read, its minute buckets,
   its hour buckets and model-mix rows, then delete the marks whose version is the one read.

Why this stays exact while ingest (this process or another replica) writes meanwhile: every change
to a request row bumps the mark of its minute in the same transaction. A mark bumped after step 1
read it no longer matches, so it stays and the next cycle rebuilds its minute and hour again from
scratch. And a mark that disappeared between the steps was deleted by another rebuild that read
later than this one (a `collect --once` beside the service): its buckets are newer, so this rebuild
leaves that hour alone and keeps its marks there for the next cycle.

The module also reads stored latency sketches back (`sketch_from_bytes`, for the store's windows too).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ddsketch.ddsketch import BaseDDSketch
from ddsketch.pb.ddsketch_pb2 import DDSketch as DDSketchMessage
from ddsketch.pb.proto import KeyMappingProto
from ddsketch.store import DenseStore
from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from collectors.litellm import model_mix
from collectors.litellm.merge import Sql, chunks
from collectors.litellm.requests import COUNT_FIELDS, UNATTRIBUTED, GatewayAggregate
from signals.distribution import SketchDistribution

MINUTE, HOUR = 60, 3600
# GatewayAggregate.add's rules as SQL sums over request rows, in COUNT_FIELDS order, then cost,
# attributed cost, first start, last end (tests/collectors/litellm/test_store.py compares the two).
MINUTE_SUMS = ", ".join((
    "COUNT(*)",
    "SUM(CASE WHEN success = 0 THEN 1 ELSE 0 END)",  # failed_requests
    "SUM(CASE WHEN cache_hit = 1 THEN 1 ELSE 0 END)",  # cache_hit_requests
    "SUM(attempts)", "SUM(provider_attempts)", "SUM(provider_successes)",
    "SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END)",  # fallback_requests
    "SUM(CASE WHEN attempts > 1 AND success = 1 THEN 1 ELSE 0 END)",  # fallback_successes
    "SUM(CASE WHEN (flags & 1) <> 0 THEN 1 ELSE 0 END)",  # authenticated_requests
    "SUM(CASE WHEN (flags & 2) <> 0 THEN 1 ELSE 0 END)",  # guardrail_requests
    "SUM(CASE WHEN (flags & 4) <> 0 THEN 1 ELSE 0 END)",  # budget_blocked_requests
    "SUM(cost)", "SUM(CASE WHEN team IS NOT NULL THEN cost ELSE 0 END)", "MIN(start)", 'MAX("end")',
))


@dataclass
class HourPlan:
    """What step 2 writes for one hour."""
    marks: dict[int, int] = field(default_factory=dict)  # minute -> version read
    minutes: dict[tuple[int, str], GatewayAggregate] = field(default_factory=dict)  # (minute, team)
    teams: dict[str, GatewayAggregate] = field(default_factory=dict)  # the hour's buckets
    model_rows: list[dict] | None = None  # None: keep the hour's model-mix rows as they are


class BucketRebuild:
    def __init__(self, engine: Engine, write_lock: threading.Lock, tables) -> None:
        self.engine = engine
        self.write_lock = write_lock
        self.t = tables  # the store's Table objects: requests, buckets, dirty_minutes
        # One rebuild at a time in this process (a cycle and a CLI call must not interleave).
        self._running = threading.Lock()
        # An in-memory database is one connection shared by every thread: a read there would run
        # inside an ingest transaction, so there the whole rebuild holds the write lock, as before.
        self.read_under_write_lock = isinstance(engine.pool, StaticPool)
        self.before_write = lambda: None  # a test's hook between the two steps

    def run(self) -> int:
        """Rebuild the minutes marked dirty and their hours; the number of minutes read."""
        with self._running:
            if self.read_under_write_lock:
                with self.write_lock:
                    return self._run()
            return self._run()

    def _run(self) -> int:
        plans = self._read()
        if not plans:
            return 0
        self.before_write()
        # One transaction per hour: a backlog (after a restart, an import) is many hours, and one
        # transaction for all of them would hold ingest back for as long as it takes to write.
        for hour, plan in sorted(plans.items()):
            with self._write_lock_unless_held(), self.engine.begin() as conn:
                self._write(conn, {hour: plan})
        return sum(len(p.marks) for p in plans.values())

    def _write_lock_unless_held(self):
        return _NoLock() if self.read_under_write_lock else self.write_lock

    # ------------------------------------------------------------------ step 1
    def _read(self) -> dict[int, HourPlan]:
        t = self.t
        plans: dict[int, HourPlan] = {}
        with self.engine.connect() as conn:
            for minute, version in conn.execute(select(t.dirty_minutes.c.minute, t.dirty_minutes.c.version)):
                plans.setdefault(minute - minute % HOUR, HourPlan()).marks[minute] = version
            if not plans:
                return {}
            self._minute_aggregates(conn, plans)
            oldest = conn.execute(select(func.min(t.requests.c.minute))).scalar()
            for hour, plan in plans.items():
                self._hour_aggregates(conn, hour, plan)
                plan.model_rows = _model_rows(conn, t.requests, hour, oldest)
        return plans

    def _minute_aggregates(self, conn: Connection, plans: dict[int, HourPlan]) -> None:
        """Per minute and team: the counts and sums added up by the database (MINUTE_SUMS), the
        latency sketch from one number per request. Building a Request per row and adding it up
        here cost ~20 µs a row, and a busy minute is re-read by every cycle while it fills."""
        sql = Sql(conn)
        minutes = sorted(m for plan in plans.values() for m in plan.marks)
        for chunk in chunks(minutes):
            where = f"FROM requests WHERE minute IN ({sql.marks(len(chunk))})"
            for row in conn.exec_driver_sql(f"SELECT minute, team, {MINUTE_SUMS} {where} GROUP BY minute, team",
                                            tuple(chunk)):
                minute, team, sums = row[0], row[1], row[2:]
                aggregate = _minute_aggregate(plans, minute, team)
                for position, name in enumerate(COUNT_FIELDS):
                    setattr(aggregate, name, getattr(aggregate, name) + sums[position])
                cost, attributed, first_start, last_end = sums[len(COUNT_FIELDS):]
                aggregate.cost_usd += cost
                aggregate.attributed_cost_usd += attributed
                aggregate.first_start = first_start if aggregate.first_start is None else min(aggregate.first_start, first_start)
                aggregate.last_end = last_end if aggregate.last_end is None else max(aggregate.last_end, last_end)
            end = sql.quote("end")
            for minute, team, latency in conn.exec_driver_sql(f"SELECT minute, team, {end} - start {where}", tuple(chunk)):
                _minute_aggregate(plans, minute, team).latency.add(latency)

    def _hour_aggregates(self, conn: Connection, hour: int, plan: HourPlan) -> None:
        """The hour's buckets: the minutes rebuilt now, plus the stored buckets of its other minutes."""
        b = self.t.buckets.c
        stored = conn.execute(select(self.t.buckets).where(and_(
            b.resolution == MINUTE, b.bucket_start >= hour, b.bucket_start < hour + HOUR)))
        parts = [(row.team, _aggregate_from_row(row)) for row in stored if row.bucket_start not in plan.marks]
        parts += [(team, aggregate) for (_, team), aggregate in plan.minutes.items()]
        for team, aggregate in parts:
            total = plan.teams.get(team)
            if total is None:  # a new aggregate: the minutes' own are written as they are
                total = plan.teams[team] = GatewayAggregate(latency=SketchDistribution())
            total.merge(aggregate)

    # ------------------------------------------------------------------ step 2
    def _write(self, conn: Connection, plans: dict[int, HourPlan]) -> None:
        t, sql = self.t, Sql(conn)
        if not sql.postgresql:
            # SQLite starts its write transaction at the first write; take it now, so the marks
            # read next cannot change before this transaction commits.
            conn.exec_driver_sql("UPDATE dirty_minutes SET version = version WHERE 1 = 0")
        current: dict[int, int] = {}
        lock = " FOR UPDATE" if sql.postgresql else ""
        for chunk in chunks(sorted(m for plan in plans.values() for m in plan.marks)):
            current.update((minute, version) for minute, version in conn.exec_driver_sql(
                f"SELECT minute, version FROM dirty_minutes WHERE minute IN ({sql.marks(len(chunk))}){lock}",
                tuple(chunk)))
        b = t.buckets.c
        for hour, plan in sorted(plans.items()):
            if any(minute not in current for minute in plan.marks):
                continue  # another rebuild wrote this hour after this one read it
            minutes = sorted(plan.marks)
            for chunk in chunks(minutes):
                conn.execute(delete(t.buckets).where(and_(b.resolution == MINUTE, b.bucket_start.in_(chunk))))
            conn.execute(delete(t.buckets).where(and_(b.resolution == HOUR, b.bucket_start == hour)))
            rows = [_bucket_row(MINUTE, m, team, a) for (m, team), a in plan.minutes.items()]
            rows += [_bucket_row(HOUR, hour, team, a) for team, a in plan.teams.items()]
            if rows:
                conn.execute(insert(t.buckets), rows)
            if plan.model_rows is not None:
                conn.execute(delete(model_mix.model_hours).where(model_mix.model_hours.c.hour == hour))
                if plan.model_rows:
                    conn.execute(insert(model_mix.model_hours), plan.model_rows)
            matched = [(m, v) for m, v in plan.marks.items() if current[m] == v]
            if matched:
                conn.exec_driver_sql(f"DELETE FROM dirty_minutes WHERE minute = {sql.mark} AND version = {sql.mark}",
                                     matched)


def _minute_aggregate(plans: dict[int, HourPlan], minute: int, team: str | None) -> GatewayAggregate:
    """The aggregate of (minute, team); no team and an empty one are both `unattributed`."""
    per_minute = plans[minute - minute % HOUR].minutes
    key = (minute, team or UNATTRIBUTED)
    aggregate = per_minute.get(key)
    if aggregate is None:
        aggregate = per_minute[key] = GatewayAggregate(latency=SketchDistribution())
    return aggregate


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None


def _model_rows(conn: Connection, requests_table, hour: int, oldest: int | None) -> list[dict] | None:
    """The hour's model-mix rows from its request rows, or None to keep what it has: an hour whose
    first request rows were already pruned (it straddles the raw-retention horizon) would lose the
    pruned requests if rebuilt from what is left (the rule of model_mix.rebuild_hour)."""
    hours = model_mix.model_hours
    if oldest is not None and oldest > hour and conn.execute(
            select(func.count()).select_from(hours).where(hours.c.hour == hour)).scalar():
        return None
    # model_mix's own aggregation, so the two rebuild paths cannot drift apart.
    totals = model_mix._fold(conn.execute(model_mix._aggregate_requests(requests_table, hour, hour + HOUR)), {})
    return [{"hour": hour, "team": team, "model_group": group, **vars(v)} for (team, group), v in totals.items()]


def _bucket_row(resolution: int, bucket_start: int, team: str, a: GatewayAggregate) -> dict:
    row = {name: getattr(a, name) for name in COUNT_FIELDS}
    row.update(resolution=resolution, bucket_start=bucket_start, team=team, cost_usd=a.cost_usd,
               attributed_cost_usd=a.attributed_cost_usd, first_start=a.first_start, last_end=a.last_end,
               latency=a.latency.to_bytes())
    return row


def _aggregate_from_row(row, with_latency: bool = True) -> GatewayAggregate:
    latency = sketch_from_bytes(row.latency) if with_latency else SketchDistribution()
    return GatewayAggregate(
        **{name: getattr(row, name) for name in COUNT_FIELDS},
        cost_usd=row.cost_usd, attributed_cost_usd=row.attributed_cost_usd,
        first_start=row.first_start, last_end=row.last_end, latency=latency,
    )


# ------------------------------------------------------------------ stored sketches, read back fast
# ddsketch's own `from_proto` adds the stored bins one by one to an empty store, which re-centres the
# store's list as it grows: most of a cycle's CPU went there (a day's minute buckets are ~500k bins).
# This builds the same store directly from the contiguous bins: the same keys, counts, min and max
# key, so quantiles and merges are the same (tests/collectors/litellm/test_sketch_codec.py).
def _dense_store(proto) -> DenseStore:
    store = DenseStore()
    counts = [float(c) for c in proto.contiguousBinCounts]
    store.offset = proto.contiguousBinIndexOffset
    if counts:  # as ddsketch's from_proto: every stored bin, zeros included, is inside [min_key, max_key]
        store.bins = counts
        store.min_key = store.offset
        store.max_key = store.offset + len(counts) - 1
        store.count = sum(counts)
    return store


def sketch_from_bytes(data: bytes | None) -> SketchDistribution:
    """What SketchDistribution.from_bytes gives, without its per-bin cost."""
    if not data:
        return SketchDistribution()
    message = DDSketchMessage()
    message.ParseFromString(data)
    return SketchDistribution(BaseDDSketch(mapping=KeyMappingProto.from_proto(message.mapping),
                                           store=_dense_store(message.positiveValues),
                                           negative_store=_dense_store(message.negativeValues),
                                           zero_count=message.zeroCount))
