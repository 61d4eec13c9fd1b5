"""Version 1: the core store tables exactly as the first release created them (frozen here: later
changes are later steps). Tables that exist already are kept as they are, so a database made by
`metadata.create_all` before versioning is adopted without touching its rows."""
from __future__ import annotations

from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table
from sqlalchemy.engine import Connection

COUNT_FIELDS_V1 = ("requests", "failed_requests", "cache_hit_requests", "attempts", "provider_attempts",
                   "provider_successes")


def _tables() -> MetaData:
    metadata = MetaData()
    Table(
        "seen_attempts", metadata,
        Column("id", String, primary_key=True),
        Column("minute", Integer, nullable=False, index=True),
    )
    Table(
        "requests", metadata,
        Column("call_id", String, primary_key=True),
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
    )
    Table(
        "dirty_minutes", metadata,
        Column("minute", Integer, primary_key=True),
        Column("version", Integer, nullable=False),
    )
    Table(
        "buckets", metadata,
        Column("resolution", Integer, primary_key=True),
        Column("bucket_start", Integer, primary_key=True),
        Column("team", String, primary_key=True),
        *(Column(name, Integer, nullable=False) for name in COUNT_FIELDS_V1),
        Column("cost_usd", Float, nullable=False),
        Column("attributed_cost_usd", Float, nullable=False),
        Column("first_start", Float, nullable=True),
        Column("last_end", Float, nullable=True),
        Column("latency", LargeBinary, nullable=True),
    )
    return metadata


def upgrade(conn: Connection) -> None:
    _tables().create_all(conn, checkfirst=True)
