"""Version 9: replicas on one database. The latest snapshot, published by the replica that runs
the collection cycle and served by every replica (monitor/runtime/shared_snapshot.py); and the
scheduler's job table (APScheduler's SQLAlchemyJobStore, monitor/runtime/scheduling.py), made here
because replicas starting together on a new database each had the job store create it and all but
one failed on the duplicate table. An existing job table (made by the job store before this
version) is kept. A frozen copy: a later change is a new step."""
from __future__ import annotations

from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table, Unicode
from sqlalchemy.engine import Connection


def _tables() -> MetaData:
    metadata = MetaData()
    Table("shared_snapshot", metadata,
          Column("id", Integer, primary_key=True, autoincrement=False),
          Column("taken_at", Float, nullable=False),
          Column("format", Integer, nullable=False),
          Column("leader", String, nullable=False),
          Column("payload", LargeBinary, nullable=False))
    # As APScheduler 3's SQLAlchemyJobStore defines it (its start() then finds it and adds nothing).
    Table("aiops_scheduler_jobs", metadata,
          Column("id", Unicode(191), primary_key=True),
          Column("next_run_time", Float(25), index=True),
          Column("job_state", LargeBinary, nullable=False))
    return metadata


def upgrade(conn: Connection) -> None:
    _tables().create_all(conn, checkfirst=True)
