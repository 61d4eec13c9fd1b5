"""Version 3: the snapshot history (monitor/storage/history.py). One `snapshots` row per model, team and
cadence slot (unique: replicas and restarts never record a slot twice), and one `snapshot_kpis` row
per KPI of that snapshot with its value, status, targets and evidence."""
from __future__ import annotations

from sqlalchemy import (BigInteger, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.engine import Connection


def _tables() -> MetaData:
    metadata = MetaData()
    Table(
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
        Column("dimensions", Text, nullable=True),
        Column("source", String(16), nullable=False),
        UniqueConstraint("model", "team", "slot", name="uq_snapshots_slot"),
        Index("ix_snapshots_taken_at", "taken_at"),
        Index("ix_snapshots_team_taken_at", "team", "taken_at"),
    )
    Table(
        "snapshot_kpis", metadata,
        Column("snapshot_id", Integer, ForeignKey("snapshots.id", ondelete="CASCADE"), primary_key=True),
        Column("kpi", String(100), primary_key=True),
        Column("value", Float, nullable=True),
        Column("status", String(8), nullable=False),
        Column("level", Integer, nullable=False),
        Column("target", Float, nullable=True),
        Column("comparator", String(2), nullable=True),
        Column("gap", Float, nullable=True),
        Column("samples", Integer, nullable=False),
        Column("min_samples", Integer, nullable=True),
        Column("targets", Text, nullable=True),
        Column("evidence", Text, nullable=True),
    )
    return metadata


def upgrade(conn: Connection) -> None:
    _tables().create_all(conn, checkfirst=False)
