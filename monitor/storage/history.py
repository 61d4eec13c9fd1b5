"""Snapshot history: the level, score and every KPI's value, status, targets and evidence, per model
and team, kept in the history database at a fixed cadence.

A snapshot belongs to a cadence slot (`floor(taken_at / cadence) * cadence`); (model, team, slot) is
unique, so a restart or a second replica on the same database never records a slot twice. One
report (the organisation and every team) is written in one transaction: after a crash a slot is
either complete or absent. Retention: snapshots older than `daily_after` are thinned to the last
one per UTC day, and those older than `retention` are deleted.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Any, Iterable

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import (BigInteger, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, and_, delete, exists, func, select)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from metrics.engine import Assessment
from metrics.report import Report
from signals.teams import ALL
from monitor.storage.migrations import write_transaction
from signals.durations import Duration

log = logging.getLogger("aiops_maturity")
DAY = 86400
ASSESSMENT_PREFIX = "assessment:"  # model names of the self-assessment's results in the history
_CHUNK = 500

metadata = MetaData()
snapshots = Table(
    "snapshots", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(64), nullable=False),
    Column("team", String(200), nullable=False),
    Column("slot", BigInteger, nullable=False),
    Column("taken_at", Float, nullable=False),
    Column("level", Integer, nullable=False),
    Column("score", Float, nullable=False),
    Column("window_start", Float, nullable=True),
    Column("window_end", Float, nullable=True),
    Column("dimensions", Text, nullable=True),  # JSON {dimension: level}
    Column("source", String(16), nullable=False),  # live | synthetic (the demo's replayed weeks)
    UniqueConstraint("model", "team", "slot", name="uq_snapshots_slot"),
    Index("ix_snapshots_taken_at", "taken_at"),
    Index("ix_snapshots_team_taken_at", "team", "taken_at"),
)
snapshot_kpis = Table(
    "snapshot_kpis", metadata,
    Column("snapshot_id", Integer, ForeignKey("snapshots.id", ondelete="CASCADE"), primary_key=True),
    Column("kpi", String(100), primary_key=True),
    Column("value", Float, nullable=True),
    Column("status", String(8), nullable=False),  # of the headline check (the first target not met)
    Column("level", Integer, nullable=False),
    Column("target", Float, nullable=True),
    Column("comparator", String(2), nullable=True),
    Column("gap", Float, nullable=True),
    Column("samples", Integer, nullable=False),
    Column("min_samples", Integer, nullable=True),
    Column("targets", Text, nullable=True),  # JSON: every level's check
    Column("evidence", Text, nullable=True),  # JSON: the numbers the value came from
)


class HistoryConfig(BaseModel):
    """`history:` section. Durations accept 90s, 15m, 1h, 35d."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=True, description=(
        "Whether each cycle's results are recorded as snapshots; false keeps no history."))
    cadence: Duration = Field(default=3600, description=(
        "Length of a snapshot slot: one snapshot per model and team is kept per slot (at least 1s)."))
    daily_after: Duration = Field(default=35 * DAY, description=(
        "Age after which snapshots are thinned to the last one of each UTC day; at most `retention`."))
    retention: Duration = Field(default=400 * DAY, description="Age after which snapshots are deleted.")


    @model_validator(mode="after")
    def _ordered(self) -> "HistoryConfig":
        if self.cadence < 1:
            raise ValueError("cadence must be at least 1s")
        if self.daily_after > self.retention:
            raise ValueError("daily_after must not exceed retention")
        return self


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str).decode()


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _kpi_rows(assessment: Assessment) -> list[dict[str, Any]]:
    rows = []
    for kpi_id, result in assessment.kpis.items():
        head = result.headline
        rows.append({
            "kpi": kpi_id, "value": _float(result.value), "status": head.status, "level": head.level,
            "target": _float(head.target), "comparator": head.comparator, "gap": _float(head.gap),
            "samples": int(result.samples), "min_samples": int(result.min_samples),
            "targets": _json([{"level": c.level, "comparator": c.comparator, "target": c.target,
                               "status": c.status, "gap": c.gap} for c in result.checks]),
            "evidence": _json(result.evidence),
        })
    return rows


class History:
    def __init__(self, engine: Engine, config: HistoryConfig | None = None) -> None:
        self.engine = engine
        self.config = config or HistoryConfig()
        self._last_slot: int | None = None
        self._last_prune = 0.0

    def slot(self, ts: float) -> int:
        return int(ts // self.config.cadence * self.config.cadence)

    # ------------------------------------------------------------------ writing
    def maybe_record(self, report: Report, now: float | None = None, models: dict[str, Any] | None = None) -> bool:
        """The cycle's hook: record the report (and the self-assessment's models) if its cadence
        slot has no snapshot yet; prune hourly."""
        if not self.config.enabled:
            return False
        now = time.time() if now is None else now
        recorded = False
        try:
            if self.slot(now) != self._last_slot:
                recorded = self.record(report, now, models=models) is not None
            if now - self._last_prune >= 3600:
                self.prune(now)
                self._last_prune = now
        except Exception:  # noqa: BLE001 - the cycle's snapshot is still served; the next slot retries
            log.exception("recording the snapshot history failed")
        return recorded

    def record(self, report: Report, now: float | None = None, source: str = "live",
               models: dict[str, Any] | None = None) -> int | None:
        """Write the report (organisation and teams) as one slot. Returns the number of snapshots
        written, or None when the slot already had one (another replica, or an earlier cycle).

        `models`: the self-assessment's results by model name (metrics.assessment ModelResult, or
        their as_dict()); each is kept as model `assessment:<name>`, team `all`, level, score and
        dimensions only (source `assessment`)."""
        now = report.generated_at if now is None else now
        slot = self.slot(now)
        window = report.notes.get("window") or {}
        assessments: dict[str, Assessment] = {ALL: report.org, **report.teams}
        try:
            with write_transaction(self.engine) as conn:
                taken = conn.execute(select(exists().where(and_(
                    snapshots.c.model == report.model, snapshots.c.team == ALL, snapshots.c.slot == slot)))).scalar()
                if taken:
                    self._last_slot = slot
                    return None
                for team, assessment in assessments.items():
                    snapshot_id = conn.execute(snapshots.insert().values(
                        model=report.model, team=team, slot=slot, taken_at=now, level=assessment.level,
                        score=float(assessment.score), window_start=_float(window.get("start")),
                        window_end=_float(window.get("end")), dimensions=_json(assessment.dimensions), source=source,
                    )).inserted_primary_key[0]
                    rows = _kpi_rows(assessment)
                    for row in rows:
                        row["snapshot_id"] = snapshot_id
                    if rows:
                        conn.execute(snapshot_kpis.insert(), rows)
                for name, result in (models or {}).items():
                    get = result.get if isinstance(result, dict) else lambda key, r=result: getattr(r, key)
                    conn.execute(snapshots.insert().values(
                        model=f"{ASSESSMENT_PREFIX}{name}", team=ALL, slot=slot, taken_at=now, level=int(get("level")),
                        score=float(get("score")), dimensions=_json(dict(get("dimensions") or {})), source="assessment"))
        except IntegrityError:  # a replica recorded the same slot between our check and our insert
            self._last_slot = slot
            return None
        self._last_slot = slot
        return len(assessments) + len(models or {})

    def prune(self, now: float | None = None) -> int:
        """Thin snapshots older than `daily_after` to the last per UTC day, delete those older than
        `retention`. Returns the number of snapshots deleted."""
        now = time.time() if now is None else now
        doomed: list[int] = []
        with self.engine.connect() as conn:
            doomed += conn.execute(select(snapshots.c.id).where(snapshots.c.taken_at < now - self.config.retention)).scalars()
            rows = conn.execute(select(snapshots.c.id, snapshots.c.model, snapshots.c.team, snapshots.c.taken_at)
                                .where(snapshots.c.taken_at >= now - self.config.retention,
                                       snapshots.c.taken_at < now - self.config.daily_after)
                                .order_by(snapshots.c.taken_at)).all()
        last_of_day: dict[tuple, int] = {}
        for row in rows:
            key = (row.model, row.team, int(row.taken_at // DAY))
            if key in last_of_day:
                doomed.append(last_of_day[key])
            last_of_day[key] = row.id
        for i in range(0, len(doomed), _CHUNK):
            chunk = doomed[i:i + _CHUNK]
            with write_transaction(self.engine) as conn:
                conn.execute(delete(snapshot_kpis).where(snapshot_kpis.c.snapshot_id.in_(chunk)))
                conn.execute(delete(snapshots).where(snapshots.c.id.in_(chunk)))
        return len(doomed)

    # ------------------------------------------------------------------ reading
    def snapshots_between(self, start: float, end: float, model: str | None = None,
                          teams: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Snapshot rows (no KPIs) with start <= taken_at < end, oldest first."""
        query = select(snapshots).where(snapshots.c.taken_at >= start, snapshots.c.taken_at < end)
        if model is not None:
            query = query.where(snapshots.c.model == model)
        if teams is not None:
            query = query.where(snapshots.c.team.in_(list(teams)))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(snapshots.c.taken_at, snapshots.c.id)).mappings().all()
        return [{**row, "dimensions": orjson.loads(row["dimensions"]) if row["dimensions"] else {}} for row in rows]

    def kpis_between(self, start: float, end: float, model: str | None = None, teams: Iterable[str] | None = None,
                     kpis: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """KPI rows joined with their snapshot (model, team, taken_at, source), oldest first; no evidence."""
        columns = [snapshots.c.model, snapshots.c.team, snapshots.c.taken_at, snapshots.c.source,
                   *(c for c in snapshot_kpis.c if c.name not in ("evidence", "targets"))]
        query = (select(*columns).join(snapshots, snapshots.c.id == snapshot_kpis.c.snapshot_id)
                 .where(snapshots.c.taken_at >= start, snapshots.c.taken_at < end))
        if model is not None:
            query = query.where(snapshots.c.model == model)
        if teams is not None:
            query = query.where(snapshots.c.team.in_(list(teams)))
        if kpis is not None:
            query = query.where(snapshot_kpis.c.kpi.in_(list(kpis)))
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query.order_by(snapshots.c.taken_at, snapshots.c.id)).mappings()]

    def latest_before(self, end: float, start: float | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """The last snapshot of each (model, team) taken before `end` (and at or after `start`),
        with its KPIs (targets and evidence decoded) under "kpis"."""
        last = select(snapshots.c.model, snapshots.c.team, func.max(snapshots.c.taken_at).label("taken_at")) \
            .where(snapshots.c.taken_at < end)
        if start is not None:
            last = last.where(snapshots.c.taken_at >= start)
        last = last.group_by(snapshots.c.model, snapshots.c.team).subquery()
        query = select(snapshots).join(last, and_(snapshots.c.model == last.c.model, snapshots.c.team == last.c.team,
                                                  snapshots.c.taken_at == last.c.taken_at))
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query.order_by(snapshots.c.id)).mappings():
                latest[(row["model"], row["team"])] = dict(row)
            ids = [s["id"] for s in latest.values()]
            kpi_rows: dict[int, dict[str, dict]] = {}
            for i in range(0, len(ids), _CHUNK):
                for row in conn.execute(select(snapshot_kpis).where(snapshot_kpis.c.snapshot_id.in_(ids[i:i + _CHUNK]))).mappings():
                    kpi = dict(row)
                    kpi["targets"] = orjson.loads(kpi["targets"]) if kpi["targets"] else []
                    kpi["evidence"] = orjson.loads(kpi["evidence"]) if kpi["evidence"] else {}
                    kpi_rows.setdefault(kpi.pop("snapshot_id"), {})[kpi.pop("kpi")] = kpi
        for snapshot in latest.values():
            snapshot["dimensions"] = orjson.loads(snapshot["dimensions"]) if snapshot["dimensions"] else {}
            snapshot["kpis"] = kpi_rows.get(snapshot["id"], {})
        return latest

    def last_taken_at(self) -> float | None:
        with self.engine.connect() as conn:
            return conn.execute(select(snapshots.c.taken_at).order_by(snapshots.c.taken_at.desc()).limit(1)).scalar()
