"""Versioned schema migrations of the history database (SQLite or PostgreSQL).

Each step is a function of a connection, applied once, in order, inside one transaction that also
records it in `aiops_schema_version`; a failing step rolls back and leaves the database at the
version it had. Steps only ever add (tables, columns, indexes): an upgrade never drops history.

Several processes may open the same database at once (replicas on one PostgreSQL, a CLI next to
the service): the whole upgrade runs under a lock — `pg_advisory_xact_lock` on PostgreSQL,
`BEGIN IMMEDIATE` on SQLite — so one process migrates and the others then find nothing to do.

Databases created before versioning (the first releases called `metadata.create_all`) are adopted:
step 1 creates only the core tables that are missing and step 2 adds the columns later releases
added, so an old database and a new one end at the same schema with their rows untouched.

To change the schema: add a module `vNNN_what.py` with `upgrade(conn)`, append it to `STEPS`,
and change the table definitions in the code to match (a test compares the two).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, func, insert, inspect, select, text
from sqlalchemy.engine import Connection, Engine

from monitor.storage.migrations import (
    v001_core, v002_request_columns, v003_history, v004_deliveries, v005_source_tables, v006_gateway_imports, v007_model_mix,
    v008_otlp_logs, v009_shared_snapshot,
)
from signals.errors import AiopsError

Step = Callable[[Connection], None]
STEPS: list[tuple[int, str, Step]] = [
    (1, "core tables: seen_attempts, requests, dirty_minutes, buckets", v001_core.upgrade),
    (2, "requests.flags and requests.trace_id (added before versioning)", v002_request_columns.upgrade),
    (3, "snapshot history: snapshots, snapshot_kpis", v003_history.upgrade),
    (4, "digest deliveries with idempotency keys", v004_deliveries.upgrade),
    (5, "the sources' own tables (otlp, langfuse, incidents, litellm scrape, deployments, forecast)",
     v005_source_tables.upgrade),
    (6, "progress of the importers into the gateway store (the LiteLLM database source)",
     v006_gateway_imports.upgrade),
    (7, "requests.model_group and hourly totals per model group (model_hours)", v007_model_mix.upgrade),
    (8, "OTLP evaluation results sent as log records: pending joins and span response ids", v008_otlp_logs.upgrade),
    (9, "replicas: the latest snapshot shared by them, the scheduler's job table", v009_shared_snapshot.upgrade),
]
HEAD = STEPS[-1][0]
PG_LOCK_KEY = 0x41_49_4F_50  # "AIOP": one advisory lock id for schema upgrades

version_table = Table(
    "aiops_schema_version", MetaData(),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", Float, nullable=False),
)


class SchemaError(AiopsError, RuntimeError):
    """The database cannot be used by this version of the program."""


@contextmanager
def write_transaction(engine: Engine, pg_lock: int | None = None) -> Iterator[Connection]:
    """A transaction that holds the write lock from its start.

    SQLite: `BEGIN IMMEDIATE` (waits up to busy_timeout for other writers, and never fails later on
    upgrading a read lock). PostgreSQL: an optional transaction-scoped advisory lock."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif engine.dialect.name == "postgresql" and pg_lock is not None:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": pg_lock})
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(version_table.name):
        return 0
    return int(conn.execute(select(func.coalesce(func.max(version_table.c.version), 0))).scalar_one())


def database_version(engine: Engine) -> int:
    with engine.connect() as conn:
        return current_version(conn)


def upgrade(engine: Engine, target: int | None = None) -> list[int]:
    """Bring the database to `target` (default: the newest version). Returns the steps applied."""
    target = HEAD if target is None else target
    if not 0 <= target <= HEAD:
        raise ValueError(f"no schema version {target} (newest is {HEAD})")
    applied: list[int] = []
    with write_transaction(engine, pg_lock=PG_LOCK_KEY) as conn:
        version_table.create(conn, checkfirst=True)
        current = current_version(conn)
        if current > HEAD:
            raise SchemaError(f"the history database is at schema version {current}, newer than this program "
                              f"understands ({HEAD}): upgrade aiops-maturity")
        for version, name, step in STEPS:
            if current < version <= target:
                step(conn)
                conn.execute(insert(version_table).values(version=version, name=name, applied_at=time.time()))
                applied.append(version)
    return applied
