"""The OTLP receiver's own tables in the history database, and how batches and cycles use them.

- `otlp_span_stats`: spans, GenAI spans, errors, cost and latency per minute, team, service, model.
- `otlp_traces`: one row per GenAI trace (minute of its first span, team, flags) and `otlp_ids`:
  the other ids a gateway request can be matched by (litellm call ids, normalised). These are the only
  per-trace rows; they live for `retention` seconds (the evaluation window needs them).
- `otlp_scores` (per minute) and `otlp_hourly` (per hour, for the week-over-week KPIs; cost is
  kept there under the name `__cost__`): evaluation score count and sum per team and score name.
- `otlp_seen`: the start time (ns) and key (trace id + span id) of every span counted, kept like the
  per-trace rows: a span posted again (exporters retry on timeouts and 5xx), also by two concurrent
  requests, is counted once. Batches claim their keys with INSERT ... ON CONFLICT DO NOTHING
  RETURNING in the transaction that writes them, and only the claimed spans are counted. The start
  time leads the primary key (a retry sends the same span, so the same start): new rows land near
  the end of the b-tree instead of dirtying pages all over it (random ids), and pruning is a range delete.
- `otlp_rollup`: per minute and team, the trace KPIs' counts and the coverage join's result. A
  cycle recomputes only the minutes touched since the last cycle (marked in `otlp_dirty`), the
  last `settle` seconds, and minutes whose gateway request count changed, so its cost follows
  what is new, not the window. A span batch marks every minute its traces cover (a gateway
  request joined by trace id may lie in any of them), an evaluation joined later its trace's.
- `otlp_response_ids` (collectors.otlp.evaluations, written here with the spans): the
  `gen_ai.response.id` of GenAI spans, by which an evaluation sent as a log record names its trace.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger, Column, Float, Integer, LargeBinary, MetaData, String, Table, and_, case, delete, func, literal_column, select,
)

from collectors.otlp.decode import ESCALATED, GENAI, MEMORY_ENABLED, MEMORY_USED, SCORED, Batch, summarise
from collectors.observability_kpis import TeamCounts, WeeklyCounts
from signals.teams import UNATTRIBUTED
from collectors.sql import chunks, upsert
from signals.trace_ids import request_ids

COST = "__cost__"
MAX_TRACE_MINUTES = 24 * 60  # a trace's minutes marked for the coverage join (its last day, if longer)
metadata = MetaData()
span_stats = Table("otlp_span_stats", metadata, Column("minute", Integer, primary_key=True),
                   Column("team", String, primary_key=True), Column("service", String, primary_key=True),
                   Column("model", String, primary_key=True), Column("spans", Integer), Column("genai_spans", Integer),
                   Column("errors", Integer), Column("cost", Float), Column("latency_s", Float))
traces = Table("otlp_traces", metadata, Column("trace_id", String, primary_key=True),
               Column("minute", Integer, index=True), Column("team", String), Column("flags", Integer))
# no index on minute: only the hourly prune reads by minute; every span batch writes here
ids = Table("otlp_ids", metadata, Column("id", String, primary_key=True), Column("minute", Integer))
seen = Table("otlp_seen", metadata, Column("start_ns", BigInteger, primary_key=True),
             Column("span_key", LargeBinary, primary_key=True), sqlite_with_rowid=False)  # 24 bytes: trace + span id
scores = Table("otlp_scores", metadata, Column("minute", Integer, primary_key=True), Column("team", String, primary_key=True),
               Column("name", String, primary_key=True), Column("count", Integer), Column("total", Float))
hourly = Table("otlp_hourly", metadata, Column("hour", Integer, primary_key=True), Column("team", String, primary_key=True),
               Column("name", String, primary_key=True), Column("count", Integer), Column("total", Float))
dirty = Table("otlp_dirty", metadata, Column("minute", Integer, primary_key=True), Column("version", Integer))
ROLLUP_FIELDS = ("traces", "scored", "escalated", "memory_enabled", "memory_used", "requests", "traced")
rollup = Table("otlp_rollup", metadata, Column("minute", Integer, primary_key=True), Column("team", String, primary_key=True),
               *(Column(name, Integer) for name in ROLLUP_FIELDS))


def _add(stmt, table: Table, keys: list[str], fields: list[str]):
    return stmt.on_conflict_do_update(index_elements=keys, set_={f: table.c[f] + stmt.excluded[f] for f in fields})


def _native(conn, sql: str) -> str:
    """SQL written with `?` placeholders in the driver's own paramstyle (psycopg wants %s)."""
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


def _driver(conn, sql: str, params):
    """The per-trace rows go through the driver's executemany: SQLAlchemy's per-row overhead is
    most of the receiver's cost otherwise. The SQL is the same on SQLite and PostgreSQL."""
    return conn.exec_driver_sql(_native(conn, sql), params)


def claim(conn, keys: dict[bytes, int]) -> set[bytes]:
    """Insert the span keys not stored yet; returns those (the spans this batch may count). One
    multi-row statement per chunk (executemany cannot return rows). Another transaction inserting
    the same key first makes ours skip it (PostgreSQL waits for its commit; SQLite has one writer).
    Keys go in sorted, so concurrent transactions lock them in one order (no deadlock on PostgreSQL).
    The rows are read from the driver's cursor (same connection, same transaction): SQLAlchemy's
    result rows cost more per span than the insert itself."""
    new: set[bytes] = set()
    cursor = conn.connection.cursor()
    try:
        for chunk in chunks(sorted((start, key) for key, start in keys.items())):
            sql = (f"INSERT INTO otlp_seen (start_ns, span_key) VALUES {','.join(['(?, ?)'] * len(chunk))} "
                   "ON CONFLICT (start_ns, span_key) DO NOTHING RETURNING span_key")
            cursor.execute(_native(conn, sql), tuple(v for row in chunk for v in row))
            new.update(bytes(k) for (k,) in cursor.fetchall())
    finally:
        cursor.close()
    return new


def write_batch(engine, batch: Batch) -> Batch:
    """One transaction per request body; counts are added, trace flags OR-ed. The batch's span keys
    are claimed first, in the same transaction: if some were stored before, the batch is summarised
    again from only the new spans. Returns the batch that was counted (its `duplicates` say how many
    spans were not)."""
    with engine.begin() as conn:
        if batch.keys:
            new = claim(conn, batch.keys)
            if len(new) < len(batch.keys):  # a retry (or a concurrent post) of spans already counted
                batch = summarise(batch.request, batch.settings, only=new)
        known: dict[str, tuple] = {}
        for chunk in chunks(list(batch.traces)):
            rows = _driver(conn, f"SELECT trace_id, minute, team FROM otlp_traces WHERE trace_id IN "
                                 f"({','.join('?' * len(chunk))})", tuple(chunk))
            known.update((t, (m, team)) for t, m, team in rows)
        touched = {m for m, _ in known.values()}
        if batch.stats:
            rows = [{"minute": k[0], "team": k[1], "service": k[2], "model": k[3], "spans": v[0], "genai_spans": v[1],
                     "errors": v[2], "cost": v[3], "latency_s": v[4]} for k, v in batch.stats.items()]
            stmt = upsert(conn, span_stats)
            conn.execute(_add(stmt, span_stats, ["minute", "team", "service", "model"],
                              ["spans", "genai_spans", "errors", "cost", "latency_s"]), rows)
        if batch.traces:
            _driver(conn, "INSERT INTO otlp_traces (trace_id, minute, team, flags) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (trace_id) DO UPDATE SET flags = otlp_traces.flags | excluded.flags, "
                          "team = COALESCE(otlp_traces.team, excluded.team)",
                    [(t, m, team, f) for t, (m, team, f) in batch.traces.items()])
            touched.update(m for m, _, _ in batch.traces.values())
        if batch.ids:
            _driver(conn, "INSERT INTO otlp_ids (id, minute) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                    list(batch.ids.items()))
        if batch.responses:  # for evaluations sent as log records that name the response, not the trace
            _driver(conn, "INSERT INTO otlp_response_ids (id, trace_id, minute) VALUES (?, ?, ?) "
                          "ON CONFLICT (id) DO NOTHING", [(r, t, m) for r, (t, m) in batch.responses.items()])
        touched.update(_join_minutes(batch, known))
        _write_scores(conn, batch, known)
        mark_dirty(conn, touched)
    return batch


def _join_minutes(batch: Batch, known: dict) -> set[int]:
    """The minutes whose gateway requests these spans may join, so their coverage is recomputed.
    A request joined by trace id started somewhere within its trace, not necessarily in the trace's
    first minute (an agent run that began the minute before the request); one joined by call id
    started at most a minute before the span naming it. So: every minute from the trace's first
    (stored before, or in this batch) to the end of its last span here, a minute more on each side
    for clocks that differ between the gateway and the application, and at most MAX_TRACE_MINUTES."""
    minutes: set[int] = set()
    for trace, (first, last) in batch.ranges.items():
        if trace in known:
            first = min(first, known[trace][0])
        first = max(first, last - MAX_TRACE_MINUTES * 60)
        minutes.update(range(first - 60, last + 120, 60))
    return minutes


def _write_scores(conn, batch: Batch, known: dict) -> None:
    per_minute: dict[tuple, list] = {}
    per_hour: dict[tuple, list] = {}
    for minute, trace, team, name, value in batch.scores:
        team = team or (batch.traces.get(trace) or [None, None])[1] or (known.get(trace) or (None, None))[1] or UNATTRIBUTED
        for into, key in ((per_minute, (minute, team, name)), (per_hour, (minute - minute % 3600, team, name))):
            entry = into.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += value
    for (minute, team, _service, _model), stat in batch.stats.items():
        if stat[3]:
            entry = per_hour.setdefault((minute - minute % 3600, team, COST), [0, 0.0])
            entry[0] += stat[1]
            entry[1] += stat[3]
    add_scores(conn, per_minute, per_hour)


def add_scores(conn, per_minute: dict[tuple, list], per_hour: dict[tuple, list]) -> None:
    """Score counts and sums added: per (minute, team, name) and per (hour, team, name) -> [count, total]."""
    if per_minute:
        conn.execute(_add(upsert(conn, scores), scores, ["minute", "team", "name"], ["count", "total"]),
                     [{"minute": k[0], "team": k[1], "name": k[2], "count": v[0], "total": v[1]} for k, v in per_minute.items()])
    if per_hour:
        conn.execute(_add(upsert(conn, hourly), hourly, ["hour", "team", "name"], ["count", "total"]),
                     [{"hour": k[0], "team": k[1], "name": k[2], "count": v[0], "total": v[1]} for k, v in per_hour.items()])


def mark_dirty(conn, minutes: set[int]) -> None:
    if minutes:
        stmt = upsert(conn, dirty)
        conn.execute(stmt.on_conflict_do_update(index_elements=["minute"], set_={"version": dirty.c.version + 1}),
                     [{"minute": m, "version": 1} for m in sorted(minutes)])


def refresh_rollup(engine, gateway, start_minute: int, now: float, settle: float) -> int:
    """Recompute the rollup of minutes that changed; returns how many minutes were recomputed."""
    end_minute = int(now // 60) * 60 + 60
    with engine.connect() as conn:
        marks = dict(conn.execute(select(dirty.c.minute, dirty.c.version)).all())
        rolled = dict(conn.execute(select(rollup.c.minute, func.sum(rollup.c.requests)).where(
            rollup.c.minute >= start_minute).group_by(rollup.c.minute)).all())
    gateway_counts = gateway.request_counts(start_minute, end_minute) if gateway is not None else {}
    recent = set(range(int((now - settle) // 60) * 60, end_minute, 60))
    changed = {m for m, n in gateway_counts.items() if rolled.get(m) != n}
    minutes = sorted(m for m in set(marks) | recent | changed if m >= start_minute)
    with engine.begin() as conn:
        for chunk in chunks(minutes):
            rows = _rollup_rows(conn, gateway, chunk)
            conn.execute(delete(rollup).where(rollup.c.minute.in_(chunk)))
            if rows:
                conn.execute(rollup.insert(), rows)
        for minute, version in marks.items():  # marks added while we worked stay for the next cycle
            conn.execute(delete(dirty).where(and_(dirty.c.minute == minute, dirty.c.version == version)))
    return len(minutes)


def _flag(bit: int):
    return func.sum(case((traces.c.flags.op("&")(bit) != 0, 1), else_=0))


def _rollup_rows(conn, gateway, minutes: list[int]) -> list[dict]:
    acc: dict[tuple, dict] = {}

    def row(minute: int, team: str | None) -> dict:
        key = (minute, team or UNATTRIBUTED)
        return acc.setdefault(key, {"minute": key[0], "team": key[1], **{f: 0 for f in ROLLUP_FIELDS}})

    genai_only = and_(traces.c.minute.in_(minutes), traces.c.flags.op("&")(GENAI) != 0)
    for r in conn.execute(select(traces.c.minute, traces.c.team, func.count(), _flag(SCORED), _flag(ESCALATED),
                                 _flag(MEMORY_ENABLED), _flag(MEMORY_USED)).where(genai_only)
                          .group_by(traces.c.minute, traces.c.team)):
        target = row(r[0], r[1])
        for name, value in zip(ROLLUP_FIELDS[:5], r[2:]):
            target[name] += int(value or 0)
    requests = gateway.requests_in_minutes(minutes) if gateway is not None else []
    wanted = sorted({i for r in requests for i in request_ids(r.call_id, r.trace_id)})
    found: set[str] = set()
    for chunk in chunks(wanted):
        found.update(conn.execute(select(ids.c.id).where(ids.c.id.in_(chunk))).scalars())
        found.update(conn.execute(select(traces.c.trace_id).where(traces.c.trace_id.in_(chunk))).scalars())
    for r in requests:
        target = row(r.minute, r.team)
        target["requests"] += 1
        target["traced"] += int(bool(request_ids(r.call_id, r.trace_id) & found))
    return list(acc.values())


def window_counts(engine, start_minute: int, end: float) -> dict[str, TeamCounts]:
    per_team: dict[str, TeamCounts] = {}
    window = and_(rollup.c.minute >= start_minute, rollup.c.minute < end)
    with engine.connect() as conn:
        for r in conn.execute(select(rollup.c.team, *(func.sum(rollup.c[f]) for f in ROLLUP_FIELDS))
                              .where(window).group_by(rollup.c.team)):
            t, s, e, me, mu, req, tr = (int(v or 0) for v in r[1:])
            per_team[r.team] = TeamCounts(traces=t, evaluated_pool=t, scored_traces=s, gateway_requests=req,
                                          traced_requests=tr, escalated=e, memory_enabled=me, memory_used=mu)
        for r in conn.execute(select(scores.c.team, scores.c.name, func.sum(scores.c.count), func.sum(scores.c.total))
                              .where(and_(scores.c.minute >= start_minute, scores.c.minute < end))
                              .group_by(scores.c.team, scores.c.name)):
            per_team.setdefault(r[0], TeamCounts()).add_score(r[1], float(r[2] or 0), float(r[3] or 0))
    return per_team


def weekly_counts(engine, now: float) -> dict[str, WeeklyCounts]:
    """Per team: cost and quality score sums of the trailing 7 days and of the 7 days before."""
    week = 7 * 86400
    this_week = case((hourly.c.hour >= now - week, 1), else_=0).label("this_week")
    per_team: dict[str, WeeklyCounts] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(hourly.c.team, hourly.c.name, this_week, func.sum(hourly.c.count), func.sum(hourly.c.total))
                            .where(and_(hourly.c.hour >= now - 2 * week, hourly.c.hour < now))
                            .group_by(hourly.c.team, hourly.c.name, literal_column("this_week")))
        for team, name, this, count, total in rows:
            w = per_team.setdefault(team, WeeklyCounts())
            if name == COST:
                if this:
                    w.this_cost += float(total or 0)
                else:
                    w.last_cost += float(total or 0)
                continue
            entry = (w.this_scores if this else w.last_scores).setdefault(name, [0.0, 0.0])
            entry[0] += float(count or 0)
            entry[1] += float(total or 0)
    return per_team


def prune(engine, minute_horizon: float, hour_horizon: float) -> None:
    with engine.begin() as conn:
        for table in (span_stats, traces, ids, scores, rollup, dirty):
            conn.execute(delete(table).where(table.c.minute < minute_horizon))
        conn.execute(delete(seen).where(seen.c.start_ns < int(minute_horizon) * 10**9))
        conn.execute(delete(hourly).where(hourly.c.hour < hour_horizon))
