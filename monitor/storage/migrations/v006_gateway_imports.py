"""Version 6: progress of the importers into the gateway store (the LiteLLM database source): one
row per importer, its watermark and what it decided at the start of its backfill, written in the
same transaction as the requests it imported. A frozen copy: a later change is a new step."""
from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Text
from sqlalchemy.engine import Connection


def _tables() -> MetaData:
    metadata = MetaData()
    Table("gateway_import_state", metadata,
          Column("key", String(120), primary_key=True),
          Column("value", Text, nullable=False))
    return metadata


def upgrade(conn: Connection) -> None:
    _tables().create_all(conn, checkfirst=False)
