"""Version 9: the latest snapshot, published by the replica that runs the collection cycle and
served by every replica (monitor/runtime/shared_snapshot.py). A frozen copy: a later change is a
new step."""
from __future__ import annotations

from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table
from sqlalchemy.engine import Connection


def _tables() -> MetaData:
    metadata = MetaData()
    Table("shared_snapshot", metadata,
          Column("id", Integer, primary_key=True, autoincrement=False),
          Column("taken_at", Float, nullable=False),
          Column("format", Integer, nullable=False),
          Column("leader", String, nullable=False),
          Column("payload", LargeBinary, nullable=False))
    return metadata


def upgrade(conn: Connection) -> None:
    _tables().create_all(conn, checkfirst=False)
