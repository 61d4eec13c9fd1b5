"""History store: request rows, per-minute and per-hour per-team buckets, dirty-minute marks.

SQLite by default (WAL, survives restarts), any SQLAlchemy URL otherwise. Payloads are merged into
request rows on arrival (collectors.litellm.merge), batches of concurrent callers in one transaction
(collectors.litellm.group_commit); a cycle rebuilds only the minutes touched since the last cycle
(and their hours) without holding ingest back (collectors.litellm.rebuild), so its cost follows what
is new, not the history. A window is then a sum of hour buckets plus the minute buckets at its edges.
"""
from __future__ import annotations

import math
import threading
import time
from types import SimpleNamespace

from sqlalchemy import (
    Column, Float, Integer, LargeBinary, MetaData, String, Table, and_, delete, func, select, tuple_,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from collectors.litellm import model_mix
from collectors.litellm.group_commit import GroupCommit
from collectors.litellm.merge import (  # noqa: F401 - re-exported: the importer and tools use these names
    IMPORTED, BatchCounts, Sql, bump_marks, chunks as _chunks, merge_group, minute_of as _minute,
)
from collectors.litellm.payload import Attempt
from collectors.litellm.rebuild import (  # noqa: F401 - re-exported, as above
    BucketRebuild, _aggregate_from_row, _bucket_row,
)
from collectors.litellm.requests import COUNT_FIELDS, GatewayAggregate, Request

MINUTE, HOUR, DAY = 60, 3600, 86400
_RETRIES = 5
_PRUNE_SLICE = 10 * MINUTE  # prune deletes this much at a time, so ingest can write in between

metadata = MetaData()

seen_attempts = Table(
    "seen_attempts", metadata,
    Column("id", String, primary_key=True),
    Column("minute", Integer, nullable=False, index=True),
)
requests = Table(
    "requests", metadata,
    Column("call_id", String, primary_key=True),
    Column("trace_id", String, nullable=True, index=True),  # joined with traces/spans for trace_coverage
    Column("team", String, nullable=True),
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    Column("minute", Integer, nullable=False, index=True),
    Column("success", Integer, nullable=False),
    Column("cache_hit", Integer, nullable=False),
    Column("cost", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("provider_attempts", Integer, nullable=False),
    Column("provider_successes", Integer, nullable=False),
    Column("flags", Integer, nullable=False, default=0),  # bit set: authenticated, guardrail run, budget exceeded, imported
    Column("model_group", String, nullable=True),  # the group that answered (collectors.litellm.model_mix)
)
dirty_minutes = Table(
    "dirty_minutes", metadata,
    Column("minute", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)
buckets = Table(
    "buckets", metadata,
    Column("resolution", Integer, primary_key=True),
    Column("bucket_start", Integer, primary_key=True),
    Column("team", String, primary_key=True),
    *(Column(name, Integer, nullable=False) for name in COUNT_FIELDS),
    Column("cost_usd", Float, nullable=False),
    Column("attributed_cost_usd", Float, nullable=False),
    Column("first_start", Float, nullable=True),
    Column("last_end", Float, nullable=True),
    Column("latency", LargeBinary, nullable=True),
)


# Column sums of a bucket range, labelled like the bucket columns so a result row reads as a bucket.
_SUMS = (
    *(func.sum(buckets.c[name]).label(name) for name in (*COUNT_FIELDS, "cost_usd", "attributed_cost_usd")),
    func.min(buckets.c.first_start).label("first_start"),
    func.max(buckets.c.last_end).label("last_end"),
)


class Store:
    """The push source's tables. The engine is the monitor's history database, opened, checked and
    migrated by the service (its versioned migrations create these tables) and shared with the
    other sources and the history."""

    def __init__(self, engine: Engine, raw_retention: float = 2 * 86400, minute_retention: float = 3 * 86400,
                 hour_retention: float = 400 * 86400) -> None:
        self.engine = engine
        self.raw_retention = raw_retention
        self.minute_retention = max(minute_retention, raw_retention + HOUR)
        self.hour_retention = hour_retention
        # Writers of these tables in this process take turns: SQLite would refuse a stale read
        # transaction's write, and two merges of one request would lose an attempt. Held for short
        # transactions only (a group of ingest batches, a rebuild's write step, a prune slice).
        self._write_lock = threading.Lock()
        self._ingest_conn = None
        self.group_commit: GroupCommit[dict[str, Attempt], BatchCounts] = GroupCommit(self._write_group)
        self.rebuild = BucketRebuild(engine, self._write_lock, SimpleNamespace(
            requests=requests, buckets=buckets, dirty_minutes=dirty_minutes))

    def close(self) -> None:
        with self._write_lock:
            if self._ingest_conn is not None:
                self._ingest_conn.close()
                self._ingest_conn = None
        # Release the pooled connections (a closed store must not hold the database open; the
        # engine reconnects if the service still uses it, e.g. while closing other sources).
        self.engine.dispose()

    # ------------------------------------------------------------------ ingest
    def add_attempts(self, attempts: list[Attempt], now: float | None = None) -> tuple[int, int, int]:
        """Merge attempts into request rows. Returns (accepted, duplicates, too_old) once the
        transaction holding them has committed; it may hold other callers' batches too.

        Health probes must be filtered out before; attempts older than the raw retention are
        refused, because their request rows (needed to rebuild their minute) are gone."""
        now = time.time() if now is None else now
        horizon = now - self.raw_retention
        fresh: dict[str, Attempt] = {}
        too_old = duplicates = 0
        for attempt in attempts:
            assert not attempt.health_check, "health probes are filtered before the store"
            if attempt.start < horizon:
                too_old += 1
            elif attempt.key in fresh:
                duplicates += 1
            else:
                fresh[attempt.key] = attempt
        if not fresh:
            return 0, duplicates, too_old
        accepted, known = self.group_commit.submit(fresh)
        return accepted, duplicates + known, too_old

    def _write_group(self, batches: list[dict[str, Attempt]]) -> list[BatchCounts]:
        """One transaction for the group. Another process (a second replica, or a backfill beside
        the service) may merge the same requests at the same time; its commit makes ours fail on a
        unique key or a stale read. Retrying is safe: the attempt keys already stored are then
        counted as duplicates."""
        for attempt_number in range(_RETRIES):
            try:
                with self._write_lock:
                    return self._merge(batches)
            except (IntegrityError, OperationalError):
                if attempt_number == _RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt_number)
        raise AssertionError("unreachable")

    def _merge(self, batches: list[dict[str, Attempt]]) -> list[BatchCounts]:
        # Ingest keeps one connection (used under the write lock only): checking one out of the
        # pool for every batch cost as much as the merge itself.
        if self._ingest_conn is None or self._ingest_conn.closed or self._ingest_conn.invalidated:
            self._ingest_conn = self.engine.connect()
        with self._ingest_conn.begin():
            return merge_group(self._ingest_conn, batches)

    def _mark_dirty(self, conn, minutes: set[int]) -> None:
        """Bump the dirty-minute marks of `minutes` in the caller's transaction (the importer)."""
        if minutes:
            bump_marks(conn, Sql(conn), set(minutes))

    # ------------------------------------------------------------------ buckets
    def rebuild_dirty(self) -> int:
        """Rebuild the minute buckets touched since the last call, then their hours."""
        return self.rebuild.run()

    def window(self, start: float, end: float, with_latency: bool = True) -> dict[str, GatewayAggregate]:
        """Per-team aggregates over [start, end): whole hours from hour buckets, edges from minutes."""
        start_minute, end_minute = _minute(start), _minute(end) + MINUTE
        first_hour = int(math.ceil(start_minute / HOUR)) * HOUR
        last_hour = (end_minute // HOUR) * HOUR  # hour buckets end before this
        ranges = []
        if first_hour < last_hour:
            ranges.append((HOUR, first_hour, last_hour))
            ranges.append((MINUTE, start_minute, first_hour))
            ranges.append((MINUTE, last_hour, end_minute))
        else:
            ranges.append((MINUTE, start_minute, end_minute))
        per_team: dict[str, GatewayAggregate] = {}
        with self.engine.connect() as conn:
            for resolution, low, high in ranges:
                if low >= high:
                    continue
                in_range = and_(buckets.c.resolution == resolution, buckets.c.bucket_start >= low,
                                buckets.c.bucket_start < high)
                if with_latency:
                    rows = conn.execute(select(buckets).where(in_range))
                else:
                    # No sketches needed (the 30-day spend window): let the database add the rows
                    # up, so a long window costs one row per team, not one object per bucket.
                    rows = conn.execute(select(buckets.c.team, *_SUMS).where(in_range).group_by(buckets.c.team))
                for row in rows:
                    aggregate = _aggregate_from_row(row, with_latency)
                    if row.team in per_team:
                        per_team[row.team].merge(aggregate)
                    else:
                        per_team[row.team] = aggregate
        return per_team

    # ------------------------------------------------------------------ read-only port (signals.source.GatewayRequests)
    def requests_in_minutes(self, minutes: list[int]) -> list:
        """(call_id, trace_id, team, minute) of the requests that started in these minutes."""
        rows = []
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(minutes)):
                rows.extend(conn.execute(select(requests.c.call_id, requests.c.trace_id, requests.c.team,
                                                requests.c.minute).where(requests.c.minute.in_(chunk))).all())
        return rows

    def request_counts(self, start_minute: int, end_minute: int) -> dict[int, int]:
        """Requests per minute: an index-only count, used to notice gateway data that came in late."""
        with self.engine.connect() as conn:
            return dict(conn.execute(select(requests.c.minute, func.count()).where(
                and_(requests.c.minute >= start_minute, requests.c.minute < end_minute)).group_by(requests.c.minute)).all())

    def requests_after(self, mark: dict | None, not_before: float, until: float, limit: int) -> list:
        """Requests that started in [not_before, until) after the (start, call_id) mark, in that
        order: a keyset read, so requests with the same start are neither lost nor repeated."""
        conditions = [requests.c.start >= not_before, requests.c.start < until]
        if mark:
            conditions.append(tuple_(requests.c.start, requests.c.call_id) > tuple_(mark["start"], mark["call_id"]))
        with self.engine.connect() as conn:
            return conn.execute(select(requests.c.call_id, requests.c.trace_id, requests.c.team, requests.c.start)
                                .where(and_(*conditions)).order_by(requests.c.start, requests.c.call_id)
                                .limit(limit)).all()

    def model_window(self, start: float, end: float) -> dict:
        """(team, model group) -> requests, cost and cache figures over [start, end) (model_mix)."""
        with self.engine.connect() as conn:
            return model_mix.window(conn, requests, start, end)

    def hourly_cost(self, start: float, end: float) -> list[tuple[int, str, float]]:
        """(hour start, team, cost in USD) of the hour buckets in [start, end)."""
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(buckets.c.bucket_start, buckets.c.team, buckets.c.cost_usd).where(
                and_(buckets.c.resolution == HOUR, buckets.c.bucket_start >= start, buckets.c.bucket_start < end)))]

    # ------------------------------------------------------------------ upkeep
    def prune(self, now: float | None = None) -> None:
        """Drop what is past its retention, a slice of minutes per transaction: one large delete
        would hold SQLite's one write lock, and so ingest, for as long as it runs."""
        now = time.time() if now is None else now
        raw_horizon = _minute(now - self.raw_retention)
        while True:
            with self.engine.connect() as conn:  # index-only: where the oldest rows are
                starts = [m for m in (conn.execute(select(func.min(t.c.minute))).scalar()
                                      for t in (requests, seen_attempts)) if m is not None]
            if not starts or min(starts) >= raw_horizon:
                break
            low = min(starts)
            high = min(low + _PRUNE_SLICE, raw_horizon)
            with self._write_lock, self.engine.begin() as conn:
                for table in (requests, seen_attempts):
                    conn.execute(delete(table).where(and_(table.c.minute >= low, table.c.minute < high)))
        with self._write_lock, self.engine.begin() as conn:
            conn.execute(delete(buckets).where(and_(buckets.c.resolution == MINUTE,
                                                    buckets.c.bucket_start < _minute(now - self.minute_retention))))
            conn.execute(delete(buckets).where(and_(buckets.c.resolution == HOUR,
                                                    buckets.c.bucket_start < now - self.hour_retention)))
            conn.execute(delete(model_mix.model_hours).where(model_mix.model_hours.c.hour < now - self.hour_retention))

    def latest_attempt_minute(self) -> int | None:
        """The start minute of the newest attempt received on the push route, by any process
        sharing the store (an index-only read)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(seen_attempts.c.minute))).scalar()

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in (requests, seen_attempts, buckets, dirty_minutes)}


def _request_row(r: Request) -> dict:
    return {
        "call_id": r.call_id, "trace_id": r.trace_id, "team": r.team, "start": r.start, "end": r.end, "minute": _minute(r.start),
        "success": int(r.success), "cache_hit": int(r.cache_hit), "cost": r.cost, "attempts": r.attempts,
        "provider_attempts": r.provider_attempts, "provider_successes": r.provider_successes,
        "flags": int(r.authenticated) | int(r.guardrail_run) << 1 | int(r.budget_exceeded) << 2,
        "model_group": r.model_group or None,
    }


def _request_from_row(row) -> Request:
    return Request(row.call_id, row.team, row.start, row.end, bool(row.success), bool(row.cache_hit), row.cost,
                   row.attempts, row.provider_attempts, row.provider_successes,
                   authenticated=bool(row.flags & 1), guardrail_run=bool(row.flags & 2),
                   budget_exceeded=bool(row.flags & 4), trace_id=row.trace_id, model_group=row.model_group or "")
