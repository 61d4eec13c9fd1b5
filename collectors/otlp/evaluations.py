"""Evaluation results received as OTLP log records, joined to their traces at each cycle.

A log record and the span it evaluates travel separately (a span exporter and a log exporter, each
batching on its own), so either may arrive first. A record is therefore stored as it arrives
(`otlp_pending_evaluations`) and joined at the start of the next cycle to the trace it names: by
its trace context, or by `gen_ai.response.id` through `otlp_response_ids` (the response id of every
GenAI span that has one, written with the span, tables.write_batch). Once joined it counts exactly
as the same result sent as a span event does: the trace is marked scored (escalated, for an
escalation score of at least 0.5), the score is added in the record's minute under the trace's team
(else the record's own, else `unattributed`), and the trace's minute is recomputed. A record whose
trace never arrives is never counted; it is dropped with the other per-trace rows after
`retention`, and `pending_evaluations` in the collector's info says how many wait.
"""
from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, and_, bindparam, delete, func, select

from collectors.otlp import tables
from collectors.otlp.decode import ESCALATED, SCORED
from collectors.otlp.logs import LogBatch, summarise_logs
from collectors.sql import chunks
from signals.teams import UNATTRIBUTED

metadata = MetaData()
# no index on minute: only the hourly prune reads by it
response_ids = Table("otlp_response_ids", metadata, Column("id", String, primary_key=True),
                     Column("trace_id", String, nullable=False), Column("minute", Integer, nullable=False),
                     sqlite_with_rowid=False)  # SQLite: one b-tree, not a rowid table plus a key index
pending = Table("otlp_pending_evaluations", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                Column("minute", Integer, nullable=False), Column("trace_id", String), Column("response_id", String),
                Column("team", String), Column("name", String, nullable=False), Column("value", Float))


def write_logs(engine, batch: LogBatch) -> LogBatch:
    """One transaction per request body. The records' keys are claimed first (tables.claim, the
    spans' table): when some were stored before (an exporter's retry), the batch is summarised again
    from only the new records. Returns the batch that was stored."""
    with engine.begin() as conn:
        if batch.keys:
            new = tables.claim(conn, batch.keys)
            if len(new) < len(batch.keys):
                batch = summarise_logs(batch.request, batch.settings, only=new)
        if batch.evaluations:
            conn.execute(pending.insert(), [
                {"minute": m, "trace_id": t, "response_id": r, "team": team, "name": name, "value": value}
                for m, t, r, team, name, value in batch.evaluations])
    return batch


def resolve(engine, escalation_names: frozenset[str]) -> int:
    """Apply the pending evaluations whose trace is now known; returns how many were applied. Rows
    added while this runs stay for the next cycle (only the rows read are deleted)."""
    traces, route = tables.traces, response_ids
    target = func.coalesce(pending.c.trace_id, route.c.trace_id)
    query = (select(pending.c.id, pending.c.minute, pending.c.team, pending.c.name, pending.c.value,
                    traces.c.trace_id, traces.c.minute, traces.c.team)
             .select_from(pending.outerjoin(route, and_(pending.c.trace_id.is_(None), route.c.id == pending.c.response_id))
                          .join(traces, traces.c.trace_id == target)))
    with engine.begin() as conn:
        rows = conn.execute(query).all()
        if not rows:
            return 0
        flags: dict[str, int] = {}
        per_minute: dict[tuple, list] = {}
        per_hour: dict[tuple, list] = {}
        for _id, minute, own_team, name, value, trace, _trace_minute, trace_team in rows:
            bits = SCORED
            if value is not None:
                team = trace_team or own_team or UNATTRIBUTED
                for into, key in ((per_minute, (minute, team, name)), (per_hour, (minute - minute % 3600, team, name))):
                    entry = into.setdefault(key, [0, 0.0])
                    entry[0] += 1
                    entry[1] += value
                if name in escalation_names and value >= 0.5:
                    bits |= ESCALATED
            flags[trace] = flags.get(trace, 0) | bits
        tables.add_scores(conn, per_minute, per_hour)
        # sorted: concurrent writers (span batches OR-ing flags too) lock the rows in one order
        conn.execute(traces.update().where(traces.c.trace_id == bindparam("trace"))
                     .values(flags=traces.c.flags.op("|")(bindparam("bits"))),
                     [{"trace": t, "bits": b} for t, b in sorted(flags.items())])
        tables.mark_dirty(conn, {r[6] for r in rows})  # the traces' minutes: their scored/escalated counts
        for chunk in chunks([r[0] for r in rows]):
            conn.execute(delete(pending).where(pending.c.id.in_(chunk)))
    return len(rows)


def waiting(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(pending)).scalar_one())


def prune(engine, minute_horizon: float) -> None:
    with engine.begin() as conn:
        for table in (response_ids, pending):
            conn.execute(delete(table).where(table.c.minute < minute_horizon))
