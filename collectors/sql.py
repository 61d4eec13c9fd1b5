"""SQL helpers every source's own tables use: bounded IN lists and INSERT ... ON CONFLICT."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

IN_CHUNK = 500  # bound the size of IN (...) lists


def chunks(items: list, size: int = IN_CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def upsert(engine_or_conn, table: Table):
    """INSERT ... ON CONFLICT for the dialects the store supports (SQLite, PostgreSQL)."""
    dialect = engine_or_conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {dialect!r} (use SQLite or PostgreSQL)")
