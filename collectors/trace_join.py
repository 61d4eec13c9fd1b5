"""The gateway side of trace_coverage: the monitor's `requests` table, read-only.

The table is declared here with only the columns the join needs, so collectors do not import the
monitor's store. Request ids are compared normalised (lower case, no dashes): LiteLLM's call ids
and trace ids are UUIDs, while an OTel trace id is the same 128 bits written as 32 hex digits.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

IN_CHUNK = 500  # bound the size of IN (...) lists

_gateway = MetaData()
requests = Table(
    "requests", _gateway,
    Column("call_id", String, primary_key=True),
    Column("trace_id", String),
    Column("team", String),
    Column("start", Float),
    Column("minute", Integer),
)


def normalise_id(value: str) -> str:
    return value.replace("-", "").strip().lower()


def chunks(items: list, size: int = IN_CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def request_ids(call_id: str, trace_id: str | None) -> set[str]:
    ids = {normalise_id(call_id)}
    if trace_id:
        ids.add(normalise_id(trace_id))
    return ids


def requests_in_minutes(conn: Connection, minutes: list[int]) -> list:
    """(call_id, trace_id, team, minute) of the gateway requests that started in these minutes."""
    rows = []
    for chunk in chunks(minutes):
        rows.extend(conn.execute(select(requests.c.call_id, requests.c.trace_id, requests.c.team, requests.c.minute)
                                 .where(requests.c.minute.in_(chunk))).all())
    return rows


def request_counts(conn: Connection, start_minute: int, end_minute: int) -> dict[int, int]:
    """Requests per minute: an index-only count, used to notice gateway data that came in late."""
    return dict(conn.execute(select(requests.c.minute, func.count()).where(
        and_(requests.c.minute >= start_minute, requests.c.minute < end_minute)).group_by(requests.c.minute)).all())


def upsert(engine_or_conn, table: Table):
    """INSERT ... ON CONFLICT for the dialects the store supports (SQLite, PostgreSQL)."""
    dialect = engine_or_conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {dialect!r} (use SQLite or PostgreSQL)")


def gateway_table_exists(engine: Engine) -> bool:
    from sqlalchemy import inspect

    return inspect(engine).has_table("requests")
