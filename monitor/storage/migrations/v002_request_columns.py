"""Version 2: the columns releases before versioning added to the core tables (each only if it is
missing: databases of any of those releases end at the same schema).

- requests.flags (authenticated, guardrail run, budget exceeded bits), 0 for older rows;
- requests.trace_id (joined with traces for trace coverage) and its index, NULL for older rows;
- buckets: the fallback, authentication, guardrail and budget counts, 0 for older buckets.
"""
from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, String, Table, inspect
from sqlalchemy.engine import Connection

NEW_BUCKET_COUNTS = ("fallback_requests", "fallback_successes", "authenticated_requests", "guardrail_requests",
                     "budget_blocked_requests")


def _add_column(conn: Connection, table: str, ddl: str) -> None:
    preparer = conn.dialect.identifier_preparer
    conn.exec_driver_sql(f"ALTER TABLE {preparer.quote(table)} ADD COLUMN {ddl}")


def upgrade(conn: Connection) -> None:
    inspector = inspect(conn)
    quote = conn.dialect.identifier_preparer.quote
    columns = {c["name"] for c in inspector.get_columns("requests")}
    if "flags" not in columns:
        _add_column(conn, "requests", f"{quote('flags')} INTEGER NOT NULL DEFAULT 0")
    if "trace_id" not in columns:
        _add_column(conn, "requests", f"{quote('trace_id')} VARCHAR")
    if "ix_requests_trace_id" not in {i["name"] for i in inspect(conn).get_indexes("requests")}:
        requests = Table("requests", MetaData(), Column("trace_id", String))
        Index("ix_requests_trace_id", requests.c.trace_id).create(conn)
    bucket_columns = {c["name"] for c in inspector.get_columns("buckets")}
    for name in NEW_BUCKET_COUNTS:
        if name not in bucket_columns:
            _add_column(conn, "buckets", f"{quote(name)} INTEGER NOT NULL DEFAULT 0")


