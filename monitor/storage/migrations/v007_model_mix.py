"""Version 7: the model group that answered each request (requests.model_group, NULL for older
rows) and the hourly totals per team and model group (model_hours) behind the KPI dashboard's
model mix and cache savings. A frozen copy: a later change is a new step."""
from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, inspect
from sqlalchemy.engine import Connection


def _tables() -> MetaData:
    metadata = MetaData()
    Table("model_hours", metadata,
          Column("hour", Integer, primary_key=True),
          Column("team", String, primary_key=True),
          Column("model_group", String, primary_key=True),
          Column("requests", Integer, nullable=False),
          Column("cost_usd", Float, nullable=False),
          Column("cache_hit_requests", Integer, nullable=False),
          Column("uncached_requests", Integer, nullable=False),
          Column("uncached_cost_usd", Float, nullable=False))
    return metadata


def upgrade(conn: Connection) -> None:
    if "model_group" not in {c["name"] for c in inspect(conn).get_columns("requests")}:
        quote = conn.dialect.identifier_preparer.quote
        conn.exec_driver_sql(f"ALTER TABLE {quote('requests')} ADD COLUMN {quote('model_group')} VARCHAR")
    _tables().create_all(conn, checkfirst=False)
