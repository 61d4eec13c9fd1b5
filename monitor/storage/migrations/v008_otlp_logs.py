"""Version 8: evaluation results received as OTLP log records (`/v1/logs`): the records waiting to
be joined to their trace, and the `gen_ai.response.id` of GenAI spans, by which a record without
trace context names the completion it evaluates (collectors.otlp.evaluations). A frozen copy: a
later change is a new step."""
from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table
from sqlalchemy.engine import Connection


def _tables() -> MetaData:
    metadata = MetaData()
    Table("otlp_response_ids", metadata,
          Column("id", String, primary_key=True),
          Column("trace_id", String, nullable=False),
          Column("minute", Integer, nullable=False),
          sqlite_with_rowid=False)
    Table("otlp_pending_evaluations", metadata,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("minute", Integer, nullable=False),
          Column("trace_id", String),
          Column("response_id", String),
          Column("team", String),
          Column("name", String, nullable=False),
          Column("value", Float))
    return metadata


def upgrade(conn: Connection) -> None:
    _tables().create_all(conn, checkfirst=False)
