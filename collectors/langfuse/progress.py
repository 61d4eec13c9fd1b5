"""What the Langfuse collector keeps between cycles, in its own tables of the history database.

Two ratios need rows rather than aggregates (the metrics API cannot count "traces with a score"
or join with the gateway's request ids), so they are read incrementally behind persisted
watermarks and folded into per-minute, per-team counts on arrival:
- `lf_coverage`: gateway requests checked against Langfuse, and how many were found.
- `lf_evaluated`: Langfuse traces examined for scores, and how many had at least one.
- `lf_state`: the watermarks (gateway: (start, call_id) of the last checked request; traces: the
  end of the last time slice read). A restart resumes from them: nothing is read twice (the
  counts are written in the same transaction as the watermark) and nothing is skipped, except
  where a watermark lags by more than `max_lag` and jumps ahead on purpose (then the counts are
  a sample, and the info says how many seconds were skipped).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import Column, Integer, MetaData, String, Table, and_, delete, func, select

from collectors.observability_kpis import TeamCounts
from signals.teams import UNATTRIBUTED
from collectors.sql import chunks, upsert

metadata = MetaData()
state = Table("lf_state", metadata, Column("key", String, primary_key=True), Column("value", String))
coverage = Table("lf_coverage", metadata, Column("minute", Integer, primary_key=True), Column("team", String, primary_key=True),
                 Column("checked", Integer), Column("traced", Integer))
evaluated = Table("lf_evaluated", metadata, Column("minute", Integer, primary_key=True),
                  Column("team", String, primary_key=True), Column("examined", Integer), Column("scored", Integer))
# v4 only: traces known to have a score (read from /v3/scores behind their own watermark), since
# v4's observation rows do not say whether a trace was scored. One row per scored trace, pruned.
scored = Table("lf_scored", metadata, Column("trace_id", String, primary_key=True), Column("minute", Integer, index=True))


@dataclass
class Pending:
    """One cycle's progress, written in one transaction at the end of a successful cycle."""

    watermarks: dict[str, dict] = field(default_factory=dict)
    coverage: dict[tuple, list] = field(default_factory=dict)   # (minute, team) -> [checked, traced]
    evaluated: dict[tuple, list] = field(default_factory=dict)  # (minute, team) -> [examined, scored]
    scored: dict[str, int] = field(default_factory=dict)         # v4: trace id -> minute of its score

    def add(self, into: dict, ts: float, team: str | None, hit: bool) -> None:
        entry = into.setdefault((int(ts // 60) * 60, team or UNATTRIBUTED), [0, 0])
        entry[0] += 1
        entry[1] += int(hit)


class Progress:
    def __init__(self, engine, name: str) -> None:
        self.engine, self.name = engine, name

    def watermark(self, key: str) -> dict | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(state.c.value).where(state.c.key == f"{self.name}:{key}")).scalar()
        return json.loads(value) if value else None

    def commit(self, pending: Pending) -> None:
        with self.engine.begin() as conn:
            for table, counts, names in ((coverage, pending.coverage, ("checked", "traced")),
                                         (evaluated, pending.evaluated, ("examined", "scored"))):
                if counts:
                    stmt = upsert(conn, table)
                    conn.execute(stmt.on_conflict_do_update(index_elements=["minute", "team"], set_={
                        n: table.c[n] + stmt.excluded[n] for n in names}),
                        [{"minute": m, "team": t, names[0]: v[0], names[1]: v[1]} for (m, t), v in counts.items()])
            if pending.scored:
                conn.execute(upsert(conn, scored).on_conflict_do_nothing(),
                             [{"trace_id": t, "minute": m} for t, m in pending.scored.items()])
            for key, value in pending.watermarks.items():
                stmt = upsert(conn, state)
                conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value}),
                             [{"key": f"{self.name}:{key}", "value": json.dumps(value)}])

    def scored_among(self, trace_ids: list[str], pending: Pending) -> set[str]:
        found = {t for t in trace_ids if t in pending.scored}
        with self.engine.connect() as conn:
            for chunk in chunks([t for t in trace_ids if t not in found]):
                found.update(conn.execute(select(scored.c.trace_id).where(scored.c.trace_id.in_(chunk))).scalars())
        return found

    def window(self, start_minute: int, end: float) -> dict[str, TeamCounts]:
        per_team: dict[str, TeamCounts] = {}
        with self.engine.connect() as conn:
            for team, checked, traced in conn.execute(
                    select(coverage.c.team, func.sum(coverage.c.checked), func.sum(coverage.c.traced))
                    .where(and_(coverage.c.minute >= start_minute, coverage.c.minute < end)).group_by(coverage.c.team)):
                counts = per_team.setdefault(team, TeamCounts())
                counts.gateway_requests, counts.traced_requests = int(checked or 0), int(traced or 0)
            for team, examined, scored in conn.execute(
                    select(evaluated.c.team, func.sum(evaluated.c.examined), func.sum(evaluated.c.scored))
                    .where(and_(evaluated.c.minute >= start_minute, evaluated.c.minute < end)).group_by(evaluated.c.team)):
                counts = per_team.setdefault(team, TeamCounts())
                counts.evaluated_pool, counts.scored_traces = int(examined or 0), int(scored or 0)
        return per_team

    def prune(self, horizon: float) -> None:
        with self.engine.begin() as conn:
            for table in (coverage, evaluated, scored):
                conn.execute(delete(table).where(table.c.minute < horizon))
